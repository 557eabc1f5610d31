//! `tocsin run --shadow` next to a real Prometheus 2.42 whose remote-write receiver is the
//! configured `remote_write`: the shadow writes nothing to it and labels what `/metrics`
//! exposes `shadow="true"`; the same daemon without `--shadow` does write (the control that
//! shows the check can fail). A webhook receiver (a request recorder) hears nothing from a
//! shadow, and with `--shadow-notify` hears alerts labelled `shadow="true"`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::Daemon;
use serde_json::Value;
use tocsin_testkit::{
    http_get, http_post, CannedResponse, Prometheus, PrometheusOptions, Recorder, TempDir,
};

const RULES: &str = r#"groups:
  - name: shadow
    interval: 1s
    rules:
      - record: shadow_test:time
        expr: time()
      - alert: AlwaysOn
        expr: vector(1)
        labels:
          severity: page
"#;

/// Series of `expr` in Prometheus now.
fn series_in(prom: &Prometheus, expr: &str) -> Vec<Value> {
    let body = format!("query={}", expr.replace(':', "%3A"));
    let (status, text) = http_post(
        &format!("{}/api/v1/query", prom.url()),
        "application/x-www-form-urlencoded",
        body.as_bytes(),
    );
    assert_eq!(status, 200, "{text}");
    let doc: Value = serde_json::from_str(&text).expect("query JSON");
    doc["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The `/metrics` lines of `name`'s series.
fn exposed(daemon: &Daemon, name: &str) -> Vec<String> {
    let (_, body) = http_get(&format!("{}/metrics", daemon.url));
    body.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .map(str::to_string)
        .collect()
}

fn start(dir: &Path, prom: &Prometheus, extra: &[&str], log: &str) -> Daemon {
    start_with(dir, prom, "", extra, log)
}

/// [`start`] with `more` appended to the config file.
fn start_with(dir: &Path, prom: &Prometheus, more: &str, extra: &[&str], log: &str) -> Daemon {
    let config = dir.join("tocsin.yml");
    std::fs::write(
        &config,
        format!("remote_write:\n  url: {}/api/v1/write\n{more}", prom.url()),
    )
    .expect("write config");
    let rules = dir.join("rules.yaml");
    std::fs::write(&rules, RULES).expect("write rules");
    let mut args = vec![
        format!("--config={}", config.display()),
        format!("--datasource={}", prom.url()),
        format!("--rules={}", rules.display()),
        "--evaluation-interval=1s".to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Daemon::start(&args, dir.join(log))
}

#[test]
fn a_shadow_never_remote_writes_and_labels_its_exposed_series_shadow_true() {
    let prom = Prometheus::start(PrometheusOptions {
        remote_write_receiver: true,
        ..Default::default()
    });
    let dir = TempDir::new("tocsin-shadow").expect("temp dir");

    let shadow = start(dir.path(), &prom, &["--shadow"], "shadow.log");
    // Two different values of `time()`: at least two evaluations, so the first one's
    // outputs would have been written by now (the engine waits for remote write to land
    // before the next evaluation).
    let mut seen: Vec<String> = Vec::new();
    shadow.wait_for("two evaluations", Duration::from_secs(30), || {
        for line in exposed(&shadow, "shadow_test:time") {
            if !seen.contains(&line) {
                seen.push(line);
            }
        }
        seen.len() >= 2
    });
    for line in &seen {
        assert!(
            line.starts_with("shadow_test:time{shadow=\"true\"} "),
            "{line}"
        );
    }
    let alerts = exposed(&shadow, "ALERTS");
    assert!(
        alerts.iter().any(|l| l.starts_with(
            "ALERTS{alertname=\"AlwaysOn\",alertstate=\"firing\",severity=\"page\",shadow=\"true\"} 1"
        )),
        "{alerts:#?}"
    );
    // The API lists alerts as Prometheus does, without external labels.
    let listed = shadow.alert("AlwaysOn").expect("AlwaysOn listed");
    assert_eq!(listed.labels.get("shadow"), None, "{listed:#?}");
    assert!(
        shadow
            .log_text()
            .contains("remote_write is ignored; a shadow never writes to remote storage"),
        "{}",
        shadow.log_text()
    );
    assert_eq!(
        series_in(&prom, "shadow_test:time"),
        Vec::<Value>::new(),
        "the shadow's recording rule reached Prometheus"
    );
    assert_eq!(
        series_in(&prom, "ALERTS"),
        Vec::<Value>::new(),
        "the shadow's ALERTS reached Prometheus"
    );
    drop(shadow);

    // The control: the same daemon without --shadow writes both, unlabelled.
    let normal = start(dir.path(), &prom, &[], "normal.log");
    let mut written = Vec::new();
    normal.wait_for(
        "the recording rule's series in Prometheus",
        Duration::from_secs(30),
        || {
            written = series_in(&prom, "shadow_test:time");
            !written.is_empty()
        },
    );
    assert_eq!(written[0]["metric"].get("shadow"), None, "{written:#?}");
}

/// A `notify:` section sending every alert to a webhook at `url`.
fn webhook(url: &str) -> String {
    format!(
        "notify:\n  route:\n    receiver: hook\n    group_wait: 1s\n  receivers:\n    - name: hook\n      webhook:\n        url: {url}/hook\n"
    )
}

#[test]
fn a_shadow_notifies_nobody_unless_asked_and_then_labels_the_alerts_shadow_true() {
    let prom = Prometheus::start(PrometheusOptions {
        remote_write_receiver: true,
        ..Default::default()
    });
    let dir = TempDir::new("tocsin-shadow-notify").expect("temp dir");
    let hook = Recorder::start(CannedResponse::json("{}"));

    let quiet = start_with(
        dir.path(),
        &prom,
        &webhook(&hook.url()),
        &["--shadow"],
        "quiet.log",
    );
    quiet.wait_for(
        "the notification the shadow logs instead of sending",
        Duration::from_secs(30),
        || quiet.log_text().contains("dry run: notification not sent"),
    );
    assert_eq!(hook.requests().len(), 0, "a shadow notified the webhook");
    drop(quiet);

    let loud = start_with(
        dir.path(),
        &prom,
        &webhook(&hook.url()),
        &["--shadow", "--shadow-notify"],
        "loud.log",
    );
    loud.wait_for(
        "the webhook to be notified",
        Duration::from_secs(30),
        || !hook.requests().is_empty(),
    );
    let request = &hook.requests()[0];
    let body: Value = serde_json::from_slice(&request.body).expect("webhook JSON");
    let alert = &body["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "AlwaysOn", "{body:#}");
    assert_eq!(alert["labels"]["shadow"], "true", "{body:#}");
}
