//! A pod rescheduled with an empty state directory: with remote write on, `tocsin run`
//! restores `for` timers from the `ALERTS_FOR_STATE` series it wrote into Prometheus, so a
//! pending alert keeps its `activeAt` (in whole seconds, as Prometheus's own restore).

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::Daemon;
use serde_json::Value;
use tocsin_query::AlertState;
use tocsin_testkit::{http_get, Prometheus, PrometheusOptions, TempDir};

const PATIENCE: Duration = Duration::from_secs(30);

const RULES: &str = r#"groups:
  - name: restore
    interval: 1s
    rules:
      - alert: PendingForAnHour
        expr: label_replace(vector(1), "instance", "host1:9100", "", "")
        for: 1h
        labels:
          severity: page
"#;

/// Unix seconds of an RFC 3339 UTC time such as `2026-12-04T16:40:01.123Z`.
fn unix_seconds(rfc3339: &str) -> i64 {
    common::rfc3339_millis(rfc3339).div_euclid(1000)
}

fn active_at(daemon: &Daemon) -> Option<String> {
    daemon
        .alert("PendingForAnHour")
        .filter(|a| a.state == AlertState::Pending)
        .and_then(|a| a.active_at)
}

#[test]
fn an_empty_state_dir_restores_for_timers_from_alerts_for_state() {
    let prom = Prometheus::start(PrometheusOptions {
        remote_write_receiver: true,
        ..PrometheusOptions::default()
    });
    let dir = TempDir::new("tocsin-restore").expect("temp dir");
    let rules = dir.path().join("alerting_rule_restore.yaml");
    std::fs::write(&rules, RULES).expect("rules");
    let state = dir.path().join("state");
    let config = dir.path().join("tocsin.yml");
    std::fs::write(
        &config,
        format!(
            "datasource: {{url: '{0}'}}\nremote_write: {{url: '{0}/api/v1/write'}}\nrule_files: ['{1}']\nstate: {{dir: '{2}'}}\n",
            prom.url(),
            rules.display(),
            state.display()
        ),
    )
    .expect("config");
    let args = [format!("--config={}", config.display())];

    let mut first = Daemon::start(&args, dir.path().join("first.log"));
    first.wait_for("the alert to be pending", PATIENCE, || {
        active_at(&first).is_some()
    });
    let original = active_at(&first).expect("pending");
    let for_state = || {
        let (_, body) = http_get(&format!(
            "{}/api/v1/query?query=ALERTS_FOR_STATE%7Balertname%3D%22PendingForAnHour%22%7D",
            prom.url()
        ));
        let doc: Value = serde_json::from_str(&body).unwrap_or_default();
        doc["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
    };
    first.wait_for("ALERTS_FOR_STATE in Prometheus", PATIENCE, || {
        for_state().is_some()
    });
    assert_eq!(for_state(), Some(unix_seconds(&original) as f64));
    // Two seconds past activeAt, so a timer started afresh could not match it.
    first.wait_for("two seconds to pass", PATIENCE, || {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        now >= unix_seconds(&original) + 2
    });
    first.kill_9();
    std::fs::remove_dir_all(&state).expect("delete the state dir");

    let second = Daemon::start(&args, dir.path().join("second.log"));
    second.wait_for("the restored alert", PATIENCE, || {
        active_at(&second).is_some()
    });
    let restored = active_at(&second).expect("pending");
    assert_eq!(
        unix_seconds(&restored),
        unix_seconds(&original),
        "activeAt {original} became {restored}"
    );
    assert!(second
        .log_text()
        .contains("for timers restored from ALERTS_FOR_STATE"));
    assert!(state.join("alerts.json").exists());
}
