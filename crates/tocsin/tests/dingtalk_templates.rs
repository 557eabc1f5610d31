//! A DingTalk receiver's own `title:` / `text:` templates (Alertmanager-style), through the
//! real notification pipeline to a real `tocsin sink dingtalk` process that checks the
//! signature: what the robot receives, the fallback when a template fails, and splitting
//! of a templated message over DingTalk's size limit.

mod common;

use std::time::Duration;

use serde_json::{json, Value};
use tocsin_notify::alert::{labels, NotifyAlert};
use tocsin_notify::config::NotifyConfig;
use tocsin_notify::pipeline::{Notifier, PipelineOptions};
use tocsin_notify::time::Timestamp;
use tocsin_testkit::{eventually_with, TempDir};

const TOKEN: &str = "7e1d0c2b9a8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a392817063a7e";
const SECRET: &str = "SEC0f9e2d1c0b7a6958473625140f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8";
const PATIENCE: Duration = Duration::from_secs(30);
/// 2026-08-20 08:21:00 UTC.
const START_SECS: i64 = 1_787_214_060;

/// A running sink that checks the token and signature; killed when dropped.
struct Sink {
    inner: common::Sink,
    _dir: TempDir,
}

impl Sink {
    fn start() -> Sink {
        let dir = TempDir::new("tocsin-tmpl-sink").expect("temp dir");
        let inner = common::Sink::start(
            0,
            dir.path().join("sink.jsonl"),
            &["--token", TOKEN, "--secret", SECRET],
        );
        Sink { inner, _dir: dir }
    }

    fn url(&self) -> String {
        self.inner.url()
    }

    /// Polls until the sink holds at least `n` messages; each as `{msgtype, title, body}`.
    fn wait_for(&self, n: usize) -> Vec<Value> {
        let m = eventually_with(
            &format!("{n} messages in the sink"),
            PATIENCE,
            || Some(self.inner.messages()).filter(|m| m.len() >= n),
            || format!("sink has only {:?}", self.inner.messages()),
        );
        m.into_iter()
            .map(|s| json!({"msgtype": s.msgtype, "title": s.title, "body": s.body}))
            .collect()
    }
}

/// A notifier whose one DingTalk receiver has `dingtalk_extra` (JSON members) set.
fn notifier(sink: &Sink, dir: &TempDir, dingtalk_extra: &str) -> Notifier {
    let token = dir.path().join("token");
    let secret = dir.path().join("secret");
    std::fs::write(&token, TOKEN).unwrap();
    std::fs::write(&secret, SECRET).unwrap();
    let cfg: NotifyConfig = serde_json::from_str(&format!(
        r#"{{"route": {{"receiver": "flink-oncall", "group_by": ["alertname"], "group_wait": "0s"}},
            "receivers": [{{"name": "flink-oncall", "dingtalk": {{"url": "{}",
                "access_token_file": {:?}, "secret_file": {:?} {dingtalk_extra}}}}}]}}"#,
        sink.url(),
        token.display().to_string(),
        secret.display().to_string(),
    ))
    .expect("config");
    Notifier::from_config(&cfg, &PipelineOptions::default(), false).expect("notifier")
}

fn alert(inst: &str, severity: &str, summary: &str) -> NotifyAlert {
    NotifyAlert::firing(
        labels([
            ("alertname", "HighCPU"),
            ("instance", inst),
            ("job", "node"),
            ("severity", severity),
        ]),
        labels([("summary", summary)]),
        Timestamp::from_secs(START_SECS),
    )
}

fn send(n: &mut Notifier, alerts: Vec<NotifyAlert>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    n.ingest(alerts, Timestamp::now());
    rt.block_on(n.flush(Timestamp::now())).expect("flush");
}

/// The issue's example, in YAML-free JSON form.
const TITLE: &str = r#"{{ define \"ding.title\" }}[{{ .Status | toUpper }}{{ if eq .Status \"firing\" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }}{{ end }}{{ template \"ding.title\" . }}"#;
const TEXT: &str = r#"{{ range .Alerts.Firing }}- **{{ .Labels.severity }}** {{ .Annotations.summary }} (since {{ .StartsAt.Format \"2006-01-02 15:04:05\" }})\n{{ end }}{{ range .Alerts }}{{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}\n{{ end }}"#;

#[test]
fn firing_group_is_sent_as_one_signed_markdown_message_from_the_receivers_templates() {
    let sink = Sink::start();
    let dir = TempDir::new("tocsin-tmpl").unwrap();
    let mut n = notifier(
        &sink,
        &dir,
        &format!(r#", "title": "{TITLE}", "text": "{TEXT}""#),
    );
    send(
        &mut n,
        vec![
            alert("node-1:9100", "critical", "CPU above 90%"),
            alert("node-2:9100", "warning", "CPU above 80%"),
        ],
    );
    let m = sink.wait_for(1);
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0]["msgtype"], "markdown");
    assert_eq!(m[0]["title"], "[FIRING:2] HighCPU");
    assert_eq!(
        m[0]["body"]["markdown"]["text"],
        "- **critical** CPU above 90% (since 2026-08-20 08:21:00)\n\
         - **warning** CPU above 80% (since 2026-08-20 08:21:00)\n\
         alertname=HighCPU instance=node-1:9100 job=node severity=critical \n\
         alertname=HighCPU instance=node-2:9100 job=node severity=warning \n"
    );
}

#[test]
fn only_a_title_template_keeps_the_default_text() {
    let sink = Sink::start();
    let dir = TempDir::new("tocsin-tmpl").unwrap();
    let mut n = notifier(
        &sink,
        &dir,
        r#", "title": "{{ .GroupLabels.alertname }} on {{ .CommonLabels.job }}""#,
    );
    send(
        &mut n,
        vec![alert("node-1:9100", "critical", "CPU above 90%")],
    );
    let m = sink.wait_for(1);
    assert_eq!(m[0]["title"], "HighCPU on node");
    let text = m[0]["body"]["markdown"]["text"].as_str().unwrap();
    // The default layout's heading (markdown-escaped) and the alert's summary.
    assert!(text.starts_with(r"#### \[FIRING:1\] HighCPU"), "{text}");
    assert!(text.contains("CPU above 90%"), "{text}");
}

#[test]
fn a_template_that_fails_to_render_still_delivers_the_default_layout() {
    let sink = Sink::start();
    let dir = TempDir::new("tocsin-tmpl").unwrap();
    // Parses, but there is no sixth alert to index.
    let mut n = notifier(
        &sink,
        &dir,
        r#", "title": "custom", "text": "{{ (index .Alerts 5).Labels.instance }}""#,
    );
    send(
        &mut n,
        vec![alert("node-1:9100", "critical", "CPU above 90%")],
    );
    let m = sink.wait_for(1);
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0]["title"], "[FIRING:1] HighCPU");
    let text = m[0]["body"]["markdown"]["text"].as_str().unwrap();
    assert!(text.contains("CPU above 90%"), "{text}");
    assert!(!text.contains("custom"), "{text}");
}

#[test]
fn a_templated_message_over_the_size_limit_is_split_into_numbered_parts_not_cut() {
    let sink = Sink::start();
    let dir = TempDir::new("tocsin-tmpl").unwrap();
    let mut n = notifier(
        &sink,
        &dir,
        r#", "title": "big", "text": "{{ range .Alerts }}{{ .Labels.instance }}: {{ .Annotations.summary }}\n\n{{ end }}""#,
    );
    // 40 alerts with 800-byte summaries: about 33 kB of text, over DingTalk's 20,000.
    let filler = "x".repeat(800);
    let alerts: Vec<NotifyAlert> = (0..40)
        .map(|i| alert(&format!("node-{i:02}:9100"), "warning", &filler))
        .collect();
    send(&mut n, alerts);
    let m = sink.wait_for(2);
    assert!(m.len() >= 2, "{m:?}");
    let texts: Vec<&str> = m
        .iter()
        .map(|x| x["body"]["markdown"]["text"].as_str().unwrap())
        .collect();
    for (i, x) in m.iter().enumerate() {
        let title = x["title"].as_str().unwrap();
        assert!(
            title.contains(&format!("({}/{})", i + 1, m.len())),
            "{title}"
        );
    }
    let all = texts.join("\n");
    for i in 0..40 {
        assert!(
            all.contains(&format!("node-{i:02}:9100: {filler}")),
            "alert {i} missing or cut"
        );
    }
}
