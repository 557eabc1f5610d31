//! The runner against a real Prometheus 2.42 (Debian's `prometheus`), through
//! `tocsin_query::PrometheusClient`. Prometheus loads the same rule file, so its alerts are
//! a differential reference for the slot grid. Waits poll with bounds; assertions are on
//! slot timestamps, never on elapsed time.

use std::future::ready;
use std::sync::Arc;
use std::time::Duration;

use tocsin_engine::runner::{AlertStatus, Clock, EngineOptions, OutgoingState};
use tocsin_engine::{AlertState, GroupSchedule, Health, Timestamp};
use tocsin_query::{HttpClientConfig, PrometheusClient};
use tocsin_testkit::engine::RunningEngine;
use tocsin_testkit::{eventually_async, Prometheus, PrometheusOptions, TempDir};

const INTERVAL: Duration = Duration::from_secs(2);

const RULES: &str = r#"groups:
  - name: live
    interval: 2s
    rules:
      - alert: Always
        expr: vector(1)
        for: 4s
        labels:
          severity: page
      - alert: Labelled
        expr: label_replace(vector(2), "instance", "tm-1", "", "")
        annotations:
          summary: "{{ $labels.instance }} is {{ $value }}"
      - alert: Slow
        expr: vector(3)
        for: 1h
"#;

/// The engine over a `PrometheusClient` for `url`, on the system clock.
fn start(url: &str, opts: EngineOptions, files: &[String]) -> RunningEngine {
    let client = PrometheusClient::new(HttpClientConfig::new(url)).expect("client");
    RunningEngine::start(opts, Clock::System, Arc::new(client), files)
}

fn alert<'a>(alerts: &'a [AlertStatus], name: &str) -> Option<&'a AlertStatus> {
    alerts
        .iter()
        .find(|a| a.labels.get("alertname") == Some(name))
}

/// How long the waits below allow.
const PATIENCE: Duration = Duration::from_secs(30);

/// Go's RFC 3339 (UTC) as Prometheus prints `activeAt`.
fn parse_rfc3339(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap_or_else(|| panic!("bad time {s}"))
}

async fn prometheus_active_at(prom: &PrometheusClient, name: &str) -> Option<Timestamp> {
    let alerts = prom.alerts().await.ok()?;
    let alert = alerts
        .iter()
        .find(|a| a.labels.get("alertname") == Some(name))?;
    alert.active_at.as_deref().map(parse_rfc3339)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_over_a_live_prometheus_fire_on_its_slots_survive_reloads_and_restarts() {
    let dir = TempDir::new("tocsin-runner").expect("temp dir");
    let path = dir.path().join("alerting_rule_live.yaml");
    std::fs::write(&path, RULES).expect("rule file");
    let file = path.to_string_lossy().into_owned();
    let prom = Prometheus::start(PrometheusOptions {
        rule_files: vec![path.clone()],
        ..PrometheusOptions::default()
    });
    let state_file = dir.path().join("state.json");
    let opts = EngineOptions {
        default_interval: INTERVAL,
        external_url: "http://tocsin.test".into(),
        state_file: Some(state_file.clone()),
        query_timeout: Duration::from_secs(10),
        ..EngineOptions::default()
    };
    let schedule = GroupSchedule::new(&file, "live", INTERVAL);

    // 1. `for: 4s` fires exactly two slots after it became pending.
    let run = start(&prom.url(), opts.clone(), std::slice::from_ref(&file));
    let fired = eventually_async("Always to fire", PATIENCE, || {
        let alerts = run.engine.active_alerts();
        ready(
            alert(&alerts, "Always")
                .filter(|a| a.state == AlertState::Firing)
                .cloned(),
        )
    })
    .await;
    assert_eq!(
        schedule.eval_timestamp(fired.active_at),
        fired.active_at,
        "activeAt on the slot grid"
    );
    let sent = run.collected.sent();
    let always = sent
        .iter()
        .find(|a| a.labels.get("alertname") == Some("Always"))
        .expect("Always sent");
    assert_eq!(always.state, OutgoingState::Firing);
    assert_eq!(
        always.starts_at,
        fired.active_at + Duration::from_secs(4),
        "fired at the slot `for` elapsed"
    );
    let alerts = run.engine.active_alerts();
    let labelled = alert(&alerts, "Labelled").expect("Labelled");
    assert_eq!(labelled.labels.get("instance"), Some("tm-1"));
    assert_eq!(labelled.annotations.get("summary"), Some("tm-1 is 2"));
    assert_eq!(labelled.value_string(), "2e+00");

    // Differential: Prometheus evaluates the same file on the same grid.
    let prom_api = PrometheusClient::new(HttpClientConfig::new(prom.url())).expect("client");
    let prom_api = &prom_api;
    let theirs = eventually_async("Prometheus's Always", PATIENCE, || {
        prometheus_active_at(prom_api, "Always")
    })
    .await;
    assert_eq!(
        schedule.eval_timestamp(theirs),
        theirs,
        "Prometheus's activeAt {theirs} on our grid"
    );
    assert_eq!(
        theirs.since(fired.active_at) % INTERVAL.as_nanos() as i64,
        0
    );

    // 2. A reload with a bad file changes nothing.
    let bad = dir.path().join("alerting_rule_bad.yaml");
    std::fs::write(
        &bad,
        "groups:\n  - name: bad\n    rules:\n      - alert: X\n        expr: vector(1) +\n",
    )
    .expect("bad file");
    let bad = bad.to_string_lossy().into_owned();
    let reports = run
        .engine
        .apply(&[file.clone(), bad.clone()])
        .expect_err("bad file rejected");
    assert_eq!(
        reports.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        [bad.as_str()]
    );
    assert_eq!(
        run.engine.group_keys().into_iter().collect::<Vec<_>>(),
        [format!("{file};live")]
    );
    let alerts = run.engine.active_alerts();
    assert_eq!(
        alert(&alerts, "Always").map(|a| (a.state, a.active_at)),
        Some((AlertState::Firing, fired.active_at))
    );

    // 3. An edited file keeps the unchanged rules' alerts.
    let edited = RULES.replace(
        "      - alert: Slow\n",
        "      - alert: Added\n        expr: vector(4)\n      - alert: Slow\n",
    );
    std::fs::write(&path, edited).expect("edit");
    let summary = run
        .engine
        .apply(std::slice::from_ref(&file))
        .expect("edited file loads");
    assert_eq!(summary.changed, 1);
    eventually_async("the added rule to evaluate", PATIENCE, || {
        let groups = run.engine.rules_status();
        ready(
            groups[0]
                .rules
                .iter()
                .find(|r| r.name == "Added")
                .filter(|r| r.health == Health::Ok)
                .map(|_| ()),
        )
    })
    .await;
    let alerts = run.engine.active_alerts();
    assert_eq!(
        alert(&alerts, "Always").map(|a| a.active_at),
        Some(fired.active_at),
        "activeAt kept over the reload"
    );
    let slow_before = alert(&alerts, "Slow").expect("Slow pending").clone();
    assert_eq!(slow_before.state, AlertState::Pending);
    run.shutdown().await;

    // 4. A restart from the state file keeps the pending alert's timer.
    let run = start(&prom.url(), opts, std::slice::from_ref(&file));
    let alerts = run.engine.active_alerts();
    let restored = alert(&alerts, "Slow").expect("Slow restored before any evaluation");
    assert_eq!(restored.state, AlertState::Pending);
    assert!(
        restored.active_at >= slow_before.active_at && restored.active_at < Timestamp::now(),
        "activeAt {} moved by the outage only (was {}), not reset",
        restored.active_at,
        slow_before.active_at
    );
    let restored_at = restored.active_at;
    let group_slot = eventually_async("an evaluation after the restart", PATIENCE, || {
        ready(run.engine.rules_status()[0].last_slot)
    })
    .await;
    let alerts = run.engine.active_alerts();
    assert_eq!(
        alert(&alerts, "Slow").map(|a| a.active_at),
        Some(restored_at),
        "evaluation at {group_slot} kept it"
    );
    let resent_always = run.collected.sent().iter().any(|a| {
        a.labels.get("alertname") == Some("Always")
            && a.starts_at != fired.active_at + Duration::from_secs(4)
    });
    assert!(
        !resent_always,
        "Always keeps its startsAt after the restart"
    );
    run.shutdown().await;
}
