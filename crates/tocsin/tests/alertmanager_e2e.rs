//! tocsin as Prometheus's rule evaluator in front of a real Alertmanager: the alert a rule
//! fires shows in `amtool alert query` with its labels, stays active while tocsin keeps
//! re-sending it (its `endsAt` moves forward, as Prometheus's resend does), and once the
//! rule stops firing Alertmanager sees it resolved (it leaves the active list and
//! Alertmanager's own webhook reports it `resolved`).

mod common;

use std::process::Command;
use std::time::Duration;

use common::{wait_until, Daemon};
use serde_json::Value;
use tocsin_notify::time::Timestamp;
use tocsin_testkit::{
    Alertmanager, CannedResponse, Prometheus, PrometheusOptions, Recorder, TempDir,
};

/// How long the rule fires: long enough for several resends (resend_delay 2s).
const FIRING_FOR: Duration = Duration::from_secs(25);
/// How long any one wait may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// Runs amtool against `am_url` and returns its stdout.
fn amtool(am_url: &str, args: &[&str]) -> String {
    let out = Command::new("amtool")
        .arg(format!("--alertmanager.url={am_url}"))
        .args(args)
        .output()
        .expect("amtool comes with Debian's prometheus-alertmanager package");
    assert!(
        out.status.success(),
        "amtool {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn active_alert(am: &Alertmanager) -> Option<Value> {
    let out = amtool(
        &am.url(),
        &["alert", "query", "-o", "json", "alertname=TocsinDemo"],
    );
    let list: Value = serde_json::from_str(&out).expect("amtool JSON");
    list.as_array().and_then(|a| a.first().cloned())
}

fn ends_at(alert: &Value) -> i64 {
    alert["endsAt"]
        .as_str()
        .and_then(Timestamp::parse_rfc3339)
        .map_or(0, Timestamp::unix_millis)
}

/// Alertmanager's webhook payloads for TocsinDemo, as `status` values in order.
fn webhook_statuses(recorder: &Recorder) -> Vec<String> {
    recorder
        .requests()
        .iter()
        .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .filter(|v| v["commonLabels"]["alertname"] == "TocsinDemo")
        .filter_map(|v| v["status"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn real_alertmanager_shows_tocsins_alert_while_firing_and_then_resolved() {
    let dir = TempDir::new("tocsin-am").expect("temp dir");
    let recorder = Recorder::start(CannedResponse::json("{}"));
    let am = Alertmanager::start(&format!(
        "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: '{}/hook'\n        send_resolved: true\n",
        recorder.url()
    ));
    let prom = Prometheus::start(PrometheusOptions::default());
    let until = (Timestamp::now().unix_millis() + FIRING_FOR.as_millis() as i64) / 1000;
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        format!(
            r#"groups:
  - name: demo
    interval: 1s
    rules:
      - alert: TocsinDemo
        expr: label_replace(vector(1), "instance", "web-3:80", "", "") and on() (vector(time()) < {until})
        labels:
          severity: ticket
        annotations:
          summary: "{{{{ $labels.instance }}}} is down"
"#
        ),
    )
    .expect("rules");
    let config = dir.path().join("tocsin.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{resend_delay: 2s}}\ndatasource: {{url: '{}'}}\nrule_files: ['{}']\nnotify:\n  route: {{receiver: am, group_wait: 1s, group_interval: 1s}}\n  receivers:\n    - name: am\n      alertmanager: {{url: '{}'}}\n",
            prom.url(),
            rules.display(),
            am.url()
        ),
    )
    .expect("config");
    let run = Daemon::start(
        &[format!("--config={}", config.display())],
        dir.path().join("run.log"),
    );
    let logs = || run.log_text();
    let wait_for = |what: &str, logs: &dyn Fn() -> String, done: &mut dyn FnMut() -> bool| {
        wait_until(what, PATIENCE, done, logs)
    };

    wait_for("amtool to list TocsinDemo", &logs, &mut || {
        active_alert(&am).is_some()
    });
    let first = active_alert(&am).expect("listed");
    assert_eq!(first["labels"]["instance"], "web-3:80", "{first}");
    assert_eq!(first["labels"]["severity"], "ticket", "{first}");
    assert_eq!(
        first["annotations"]["summary"], "web-3:80 is down",
        "{first}"
    );
    assert_eq!(first["status"]["state"], "active", "{first}");
    // While firing, endsAt lies ahead (Prometheus's 4 × resend delay) ...
    let first_end = ends_at(&first);
    assert!(first_end > Timestamp::now().unix_millis(), "{first}");
    // ... and moves forward with each resend, so the alert never lapses while it fires.
    wait_for("a resend to push endsAt forward", &logs, &mut || {
        active_alert(&am).is_some_and(|a| ends_at(&a) > first_end)
    });
    wait_for(
        "Alertmanager's webhook to report it firing",
        &logs,
        &mut || webhook_statuses(&recorder).first().map(String::as_str) == Some("firing"),
    );

    // The rule stops firing: tocsin sends the resolution.
    wait_for(
        "TocsinDemo to leave amtool's active list",
        &logs,
        &mut || active_alert(&am).is_none(),
    );
    wait_for(
        "Alertmanager's webhook to report it resolved",
        &logs,
        &mut || webhook_statuses(&recorder).last().map(String::as_str) == Some("resolved"),
    );
    // Resolved, not expired: the resolution came before the last endsAt tocsin promised.
    let statuses = webhook_statuses(&recorder);
    assert_eq!(
        statuses.iter().filter(|s| *s == "resolved").count(),
        1,
        "{statuses:?}"
    );
    let resolved = recorder
        .requests()
        .iter()
        .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .find(|v| v["status"] == "resolved")
        .expect("resolved payload");
    let end = resolved["alerts"][0]["endsAt"]
        .as_str()
        .and_then(Timestamp::parse_rfc3339)
        .expect("endsAt");
    assert!(
        end.unix_millis() <= until * 1000 + 5_000,
        "resolved at {end}, the rule stopped at {until}: {resolved}"
    );
}
