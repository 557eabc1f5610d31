//! The notification count in a diff equals what the live pipeline sends for the same
//! alerts, same route, same limits (issue 12).
//!
//! Method: a real Prometheus 2.42 takes samples through its remote-write receiver while
//! `tocsin run` evaluates two alerting rules against it every 5 s and sends through a
//! `notify:` section to `tocsin sink dingtalk`: two robots (told apart by their tokens), one
//! with a tight rate limit (3 messages per 17 s) that a burst of five alerts at once turns
//! into a storm digest; grouping per alert on one route and per rule on the other,
//! group_wait, group_interval, repeat_interval and resolved notifications all take part.
//! Each sample is written a few seconds before its timestamp comes (while the daemon
//! runs), so every evaluation sees it as the backtest later does. After the scenario the
//! daemon is stopped and `tocsin diff --config` (same config file, same rule file on both
//! sides) backtests exactly the daemon's lifetime; the messages it reports per robot must
//! equal the messages the sink accepted per token, and both sides of the diff must agree.
//!
//! Tolerance: none. Slot alignment does not move counts: the daemon evaluates on
//! Prometheus's slots (`k·5s + phase`), the backtest on `k·5s`, and the data only changes
//! at multiples of 5 s, so both see the same state sequence, shifted by the phase; group
//! timers (2 s, 10 s) and the rate window (17 s) never coincide with an evaluation instant,
//! so arrival jitter cannot reorder a flush and an evaluation. The window's edges are
//! quiet (nothing fires in the first 20 s of data, nothing is sent in the last 40 s), so
//! cutting the window at the daemon's start and stop loses nothing on either side.

mod common;
mod diff_support;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{now_millis, remote_write, Daemon, Sink};
use serde_json::Value;
use tocsin_query::Labels;
use tocsin_testkit::{free_port, Prometheus, PrometheusOptions, TempDir};

const PAGE_TOKEN: &str = "page-robot-token-0000000000000000000000000000000000000000000001";
const TICKET_TOKEN: &str = "ticket-robot-token-000000000000000000000000000000000000000002";

const RULES: &str = r#"groups:
  - name: probes
    interval: 5s
    rules:
      - alert: ProbeDown
        expr: probe_up == 0
        for: 10s
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} does not answer"
      - alert: ProbeSlow
        expr: probe_latency_seconds > 1
        labels:
          severity: ticket
        annotations:
          summary: "{{ $labels.instance }} answers in {{ $value }}s"
"#;

/// Seconds after the scenario's start: data begins there; alerts fire from 30 s.
const SCENARIO_S: i64 = 140;

/// `probe_up` of host `i` at second `t` of the scenario: h0 down 20–90 s, h1–h5 down
/// 40–65 s (a burst of five at once).
fn probe_up(i: usize, t: i64) -> f64 {
    let down = if i == 0 {
        (20..90).contains(&t)
    } else {
        (40..65).contains(&t)
    };
    if down {
        0.0
    } else {
        1.0
    }
}

/// `probe_latency_seconds` of h0: slow 30–75 s.
fn latency(t: i64) -> f64 {
    if (30..75).contains(&t) {
        2.0
    } else {
        0.5
    }
}

fn samples_at(t0_ms: i64, t: i64) -> Vec<(Labels, f64, i64)> {
    let at = t0_ms + t * 1000;
    let mut out = Vec::new();
    for i in 0..6 {
        let instance = format!("h{i}");
        let labels: Labels = [
            ("__name__", "probe_up"),
            ("job", "probe"),
            ("instance", instance.as_str()),
        ]
        .into_iter()
        .collect();
        out.push((labels, probe_up(i, t), at));
    }
    let labels: Labels = [
        ("__name__", "probe_latency_seconds"),
        ("job", "probe"),
        ("instance", "h0"),
    ]
    .into_iter()
    .collect();
    out.push((labels, latency(t), at));
    out
}

fn sleep_until_ms(at_ms: i64) {
    let now = now_millis();
    if at_ms > now {
        std::thread::sleep(Duration::from_millis((at_ms - now) as u64));
    }
}

#[test]
fn diff_config_counts_the_messages_the_live_pipeline_sent_per_robot() {
    let dir = TempDir::new("diff-notifications").expect("temp dir");
    let path = |name: &str| dir.path().join(name);
    std::fs::write(path("page.token"), PAGE_TOKEN).expect("token");
    std::fs::write(path("ticket.token"), TICKET_TOKEN).expect("token");
    std::fs::write(path("rules.yaml"), RULES).expect("rules");

    let prom = Prometheus::start(PrometheusOptions {
        remote_write_receiver: true,
        ..Default::default()
    });
    let sink = Sink::start(free_port(), path("sink.jsonl"), &[]);
    let config = format!(
        r#"global:
  evaluation_interval: 5s
datasource:
  url: {prom}
rule_files: ["{rules}"]
notify:
  route:
    receiver: pages
    group_by: [alertname, instance]
    group_wait: 2s
    group_interval: 10s
    repeat_interval: 30s
    routes:
      - matchers: ['severity="ticket"']
        receiver: tickets
        group_by: [alertname]
  receivers:
    - name: pages
      send_resolved: true
      dingtalk:
        url: {sink}
        access_token_file: "{page}"
        rate_limit: {{messages: 3, per: 17s}}
    - name: tickets
      send_resolved: true
      dingtalk:
        url: {sink}
        access_token_file: "{ticket}"
"#,
        prom = prom.url(),
        rules = path("rules.yaml").display(),
        sink = sink.url(),
        page = path("page.token").display(),
        ticket = path("ticket.token").display(),
    );
    std::fs::write(path("tocsin.yaml"), &config).expect("config");

    // The scenario starts on a whole 10 s a little after the daemon is up.
    let started_ms = now_millis();
    let mut daemon = Daemon::start(
        &[format!("--config={}", path("tocsin.yaml").display())],
        path("run.log"),
    );
    let t0_ms = (now_millis() / 10_000 + 2) * 10_000;
    // Each second's samples, written 3 s before their time.
    for t in 0..=SCENARIO_S {
        sleep_until_ms(t0_ms + t * 1000 - 3000);
        remote_write(&prom.url(), &samples_at(t0_ms, t));
    }
    sleep_until_ms(t0_ms + SCENARIO_S * 1000);
    daemon.kill_9();
    let stopped_ms = now_millis();

    // What the robots got, per token.
    let store = std::fs::read_to_string(path("sink.jsonl")).unwrap_or_default();
    let mut received: BTreeMap<String, u64> = BTreeMap::new();
    for line in store.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let suffix = v["token_suffix"].as_str().unwrap_or_default().to_string();
        let robot = if PAGE_TOKEN.ends_with(&suffix) && !suffix.is_empty() {
            "dingtalk:pages"
        } else if TICKET_TOKEN.ends_with(&suffix) && !suffix.is_empty() {
            "dingtalk:tickets"
        } else {
            panic!("a message for an unknown robot: {line}")
        };
        *received.entry(robot.to_string()).or_default() += 1;
    }

    // The diff over the daemon's lifetime.
    let range_s = (stopped_ms - started_ms + 999) / 1000;
    let diff = |extra: &[String]| {
        let mut args: Vec<String> = vec![
            "diff".into(),
            "--datasource".into(),
            prom.url(),
            "--old".into(),
            path("rules.yaml").display().to_string(),
            "--new".into(),
            path("rules.yaml").display().to_string(),
            "--range".into(),
            format!("{range_s}s"),
            "--end".into(),
            format!("{}.{:03}", stopped_ms / 1000, stopped_ms % 1000),
            "--config".into(),
            path("tocsin.yaml").display().to_string(),
        ];
        args.extend(extra.iter().cloned());
        diff_support::run_tocsin(&args)
    };
    let out = diff(&["--format".into(), "json".into()]);
    let context = || {
        format!(
            "sink: {received:?}\ndiff stderr: {}\ndaemon log:\n{}",
            out.stderr,
            daemon.log_text()
        )
    };
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, context());
    let report: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("diff printed no JSON ({e}): {}\n{}", out.stdout, context()));
    let n = &report["notifications"];
    let mut simulated: BTreeMap<String, u64> = BTreeMap::new();
    for (lane, r) in n["new"]["receivers"].as_object().expect("receivers") {
        simulated.insert(
            lane.clone(),
            r["dingtalk_messages"].as_u64().expect("count"),
        );
    }
    assert_eq!(simulated, received, "{n:#}\n{}", context());
    assert_eq!(n["old"], n["new"], "same rules on both sides");
    assert_eq!(n["dingtalk_messages_added"], 0);

    // The same figures in the text report and the HTML page.
    let html = path("report.html");
    let text = diff(&["--html".into(), html.display().to_string()]);
    assert_eq!(text.code, 0, "{}\n{}", text.stdout, text.stderr);
    let headline = "this change adds 0 alerts and adds 0 DingTalk messages";
    let pages = format!(
        "dingtalk:pages: old {} notification(s), {} DingTalk message(s)",
        n["old"]["receivers"]["dingtalk:pages"]["notifications"], received["dingtalk:pages"]
    );
    for (what, body) in [
        ("text", text.stdout.clone()),
        ("html", std::fs::read_to_string(&html).expect("html report")),
    ] {
        assert!(body.contains(headline), "{what}:\n{body}");
        assert!(body.contains(&pages), "{what} lacks {pages:?}:\n{body}");
    }

    // The scenario exercised what it is meant to: both robots, a digest, repeats.
    assert_eq!(received.len(), 2, "{}", context());
    assert!(
        n["new"]["total"]["digest_messages"].as_u64() > Some(0),
        "no storm digest: {n:#}"
    );
    assert!(
        received["dingtalk:pages"] >= 4 && received["dingtalk:tickets"] >= 2,
        "{}",
        context()
    );
}
