//! Issue 9, item 6: failures are visible. A rule whose evaluation fails is logged at warn
//! once per change of its error (not at every evaluation), with the query error's kind;
//! alert transitions pending → firing → inactive are logged at debug. Against a real
//! Prometheus, `tocsin run --log.level=debug`.

mod common;

use std::time::Duration;

use common::Daemon;
use tocsin_testkit::{Prometheus, PrometheusOptions, TempDir};

/// Two series on the right of a one-to-one match on no labels: Prometheus fails the
/// query at execution time (HTTP 422, `execution`), at every evaluation.
const BROKEN: &str = r#"vector(1) + on() (label_replace(vector(1), "a", "x", "", "") or label_replace(vector(1), "a", "y", "", ""))"#;

#[test]
fn a_failing_rule_is_warned_once_per_error_and_alert_transitions_are_logged_at_debug() {
    let prom = Prometheus::start(PrometheusOptions::default());
    let dir = TempDir::new("tocsin-rule-logging").expect("temp dir");
    let rules = dir.path().join("rules.yaml");
    // `Flapping` holds for 3 s of every 6: pending, firing after 1 s, then inactive.
    std::fs::write(
        &rules,
        format!(
            r#"groups:
  - name: logging
    interval: 1s
    rules:
      - alert: AlwaysBroken
        expr: '{BROKEN}'
      - alert: Flapping
        expr: vector(1) and on() (vector(time()) % 6 < 3)
        for: 1s
"#
        ),
    )
    .expect("write rules");
    let daemon = Daemon::start(
        &[
            format!("--datasource={}", prom.url()),
            format!("--rules={}", rules.display()),
            "--log.level=debug".to_string(),
        ],
        dir.path().join("tocsin.log"),
    );
    let failures = || {
        let (_, body) = tocsin_testkit::http_get(&format!("{}/metrics", daemon.url));
        body.lines()
            .filter(|l| l.starts_with("tocsin_rule_evaluation_failures_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    let flapping = |what: &str| {
        daemon
            .log_text()
            .lines()
            .any(|l| l.contains("level=debug") && l.contains(what) && l.contains("Flapping"))
    };
    daemon.wait_for(
        "five failed evaluations and a whole pending → firing → inactive cycle",
        Duration::from_secs(60),
        || {
            failures() >= 5.0
                && flapping("alert pending")
                && flapping("alert firing")
                && flapping("alert inactive (resolved)")
        },
    );
    let log = daemon.log_text();
    let warned: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("evaluating rule failed") && l.contains("AlwaysBroken"))
        .collect();
    assert_eq!(
        warned.len(),
        1,
        "warned once for one unchanging error:\n{log}"
    );
    assert!(warned[0].contains("level=warn"), "{}", warned[0]);
    assert!(warned[0].contains("kind=bad_query"), "{}", warned[0]);
    assert!(
        warned[0].contains("many-to-many matching not allowed"),
        "Prometheus's own error text: {}",
        warned[0]
    );
    assert!(
        !log.lines()
            .any(|l| l.contains("evaluating rule failed") && l.contains("Flapping")),
        "a rule that never fails is never warned about:\n{log}"
    );
}
