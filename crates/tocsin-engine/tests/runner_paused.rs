//! The runner under tokio's paused clock with the in-process datasource: whole minutes of
//! slots run without sleeping, and every assertion is on slot timestamps.

use std::sync::Arc;
use std::time::Duration;

use tocsin_engine::runner::memory::MemorySource;
use tocsin_engine::runner::{Clock, Engine, EngineOptions, OutgoingState};
use tocsin_engine::stale::is_stale_marker;
use tocsin_engine::{AlertState, GroupSchedule, Health, Sample, Timestamp};
use tocsin_testkit::engine::{Collected, RunningEngine};
use tocsin_testkit::TempDir;

const START: Timestamp = Timestamp::from_secs(1_700_000_000);

/// A rule file `name` in `dir`, written; its path.
fn file(dir: &TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).expect("write rule file");
    p.to_string_lossy().into_owned()
}

/// The harness's engine on the virtual clock from `at`, with the in-memory datasource
/// behind it and the paused-clock origin.
struct Running {
    engine: Engine,
    ds: Arc<MemorySource>,
    sink: Arc<Collected>,
    inner: RunningEngine,
    origin: tokio::time::Instant,
    at: Timestamp,
}

fn options() -> EngineOptions {
    EngineOptions {
        default_interval: Duration::from_secs(10),
        external_labels: [("cluster".to_string(), "ack".to_string())].into(),
        external_url: "http://tocsin.example:9096".into(),
        ..EngineOptions::default()
    }
}

/// An engine on the virtual clock from `at` over `ds`, its rules loaded and running.
fn spawn_engine(
    opts: EngineOptions,
    ds: Arc<dyn tocsin_query::Datasource>,
    files: &[String],
    at: Timestamp,
) -> RunningEngine {
    RunningEngine::start(opts, Clock::Virtual { start: at }, ds, files)
}

fn start_with(
    opts: EngineOptions,
    ds: Arc<MemorySource>,
    files: &[String],
    at: Timestamp,
) -> Running {
    let origin = tokio::time::Instant::now();
    let inner = spawn_engine(opts, ds.clone(), files, at);
    Running {
        engine: inner.engine.clone(),
        sink: inner.collected.clone(),
        inner,
        ds,
        origin,
        at,
    }
}

impl Running {
    /// Sleeps (paused clock) until just after `slot`, so its evaluation has run.
    async fn until(&self, slot: Timestamp) {
        let ahead = Duration::from_nanos(slot.since(self.at) as u64) + Duration::from_millis(1);
        tokio::time::sleep_until(self.origin + ahead).await;
    }

    async fn shutdown(self) -> (Arc<Collected>, Arc<MemorySource>) {
        (self.inner.shutdown().await, self.ds)
    }
}

const ALERT_RULES: &str = r#"groups:
  - name: flink
    interval: 10s
    rules:
      - alert: JobDown
        expr: flink_up == 0
        for: 30s
        labels:
          severity: page
          instance: "{{ $labels.instance }}"
        annotations:
          summary: "{{ $labels.job }} on {{ $labels.instance }} is {{ $value }} in {{ $externalLabels.cluster }}"
          link: "{{ $externalURL }}/alerts"
          broken: "{{ .Foo }}"
      - record: flink:up:copy
        expr: flink_up
"#;

fn flink_down(ds: &MemorySource) {
    ds.set(
        "flink_up == 0",
        [(
            &[
                ("__name__", "flink_up"),
                ("job", "wordcount"),
                ("instance", "tm-1"),
            ][..],
            0.0,
        )],
    );
    ds.set(
        "flink_up",
        [(
            &[
                ("__name__", "flink_up"),
                ("job", "wordcount"),
                ("instance", "tm-1"),
            ][..],
            0.0,
        )],
    );
}

#[tokio::test(start_paused = true)]
async fn alert_with_for_fires_at_the_slot_for_elapses_and_every_query_runs_at_a_slot() {
    let dir = TempDir::new("tocsin-runner-fires").expect("temp dir");
    let path = file(&dir, "alerting_rule_flink.yaml", ALERT_RULES);
    let ds = Arc::new(MemorySource::new());
    flink_down(&ds);
    let run = start_with(options(), ds, std::slice::from_ref(&path), START);
    let schedule = GroupSchedule::new(&path, "flink", Duration::from_secs(10));
    let first = schedule.first_evaluation(START);
    let slot = |k: u64| first + Duration::from_secs(10 * k);

    run.until(slot(2)).await;
    let g = &run.engine.rules_status()[0];
    assert_eq!(g.last_slot, Some(slot(2)));
    let alert = &g.rules[0].alerts[0];
    assert_eq!((alert.state, alert.active_at), (AlertState::Pending, first));
    assert!(run.sink.sent().is_empty(), "nothing sent while pending");

    run.until(slot(3)).await;
    let alerts = run.engine.active_alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].state, alerts[0].active_at),
        (AlertState::Firing, first)
    );
    assert_eq!(alerts[0].value_string(), "0e+00");
    let sent = run.sink.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].state, OutgoingState::Firing);
    assert_eq!(sent[0].starts_at, slot(3), "startsAt is firedAt");
    assert_eq!(sent[0].ends_at, slot(3) + Duration::from_secs(4 * 60));
    assert_eq!(
        sent[0].labels.get("cluster"),
        Some("ack"),
        "external label added"
    );
    assert_eq!(
        sent[0].generator_url,
        "http://tocsin.example:9096/graph?g0.expr=flink_up+%3D%3D+0&g0.tab=1"
    );

    let (sink, ds) = run.shutdown().await;
    let times: Vec<Timestamp> = ds
        .queries()
        .into_iter()
        .filter(|(e, _)| e == "flink_up == 0")
        .map(|(_, t)| t)
        .collect();
    assert_eq!(times, (0..=3).map(slot).collect::<Vec<_>>());
    assert_eq!(sink.sent().len(), 1, "resend delay not yet passed");
}

#[tokio::test(start_paused = true)]
async fn templates_see_labels_value_external_labels_and_url_and_errors_read_like_prometheus() {
    let dir = TempDir::new("tocsin-runner-templates").expect("temp dir");
    let path = file(&dir, "alerting_rule_flink.yaml", ALERT_RULES);
    let ds = Arc::new(MemorySource::new());
    flink_down(&ds);
    let run = start_with(options(), ds, std::slice::from_ref(&path), START);
    let first = GroupSchedule::new(&path, "flink", Duration::from_secs(10)).first_evaluation(START);
    run.until(first).await;
    let alerts = run.engine.active_alerts();
    let a = &alerts[0];
    assert_eq!(a.labels.get("instance"), Some("tm-1"));
    assert_eq!(a.labels.get("alertname"), Some("JobDown"));
    assert_eq!(
        a.annotations.get("summary"),
        Some("wordcount on tm-1 is 0 in ack")
    );
    assert_eq!(
        a.annotations.get("link"),
        Some("http://tocsin.example:9096/alerts")
    );
    let broken = a.annotations.get("broken").unwrap_or_default();
    assert!(
        broken.starts_with(
            "<error expanding template: error executing template __alert_JobDown: template: __alert_JobDown:1:115: executing \"__alert_JobDown\" at <.Foo>:"
        ),
        "{broken}"
    );
    run.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn template_query_runs_on_the_datasource_at_the_slot_time() {
    let dir = TempDir::new("tocsin-runner-tquery").expect("temp dir");
    let rules = r#"groups:
  - name: q
    interval: 10s
    rules:
      - alert: Lag
        expr: vector(1)
        annotations:
          peers: '{{ with query "count(up)" }}{{ . | first | value }}{{ end }}'
"#;
    let path = file(&dir, "alerting_rule_q.yaml", rules);
    let ds = Arc::new(MemorySource::new());
    ds.set("vector(1)", [(&[][..], 1.0)]);
    ds.set("count(up)", [(&[][..], 7.0)]);
    let run = start_with(options(), ds, std::slice::from_ref(&path), START);
    let first = GroupSchedule::new(&path, "q", Duration::from_secs(10)).first_evaluation(START);
    run.until(first).await;
    let alerts = run.engine.active_alerts();
    assert_eq!(alerts[0].annotations.get("peers"), Some("7"));
    let (_, ds) = run.shutdown().await;
    assert!(ds.queries().contains(&("count(up)".to_string(), first)));
}

#[tokio::test(start_paused = true)]
async fn query_error_marks_the_rule_err_changes_no_alert_and_the_next_rule_runs() {
    let dir = TempDir::new("tocsin-runner-qerr").expect("temp dir");
    let path = file(&dir, "alerting_rule_flink.yaml", ALERT_RULES);
    let ds = Arc::new(MemorySource::new());
    flink_down(&ds);
    let run = start_with(options(), ds.clone(), std::slice::from_ref(&path), START);
    let first = GroupSchedule::new(&path, "flink", Duration::from_secs(10)).first_evaluation(START);
    let slot = |k: u64| first + Duration::from_secs(10 * k);
    run.until(slot(1)).await;
    ds.fail(
        "flink_up == 0",
        "query processing would load too many samples into memory in query execution",
    );
    run.until(slot(4)).await;
    let g = &run.engine.rules_status()[0];
    assert_eq!(g.rules[0].health, Health::Err);
    assert_eq!(
        g.rules[0].last_error.as_deref(),
        Some("query processing would load too many samples into memory in query execution")
    );
    let a = &g.rules[0].alerts[0];
    assert_eq!(
        (a.state, a.active_at),
        (AlertState::Pending, first),
        "frozen: for elapsed during the outage but no evaluation succeeded"
    );
    assert_eq!(
        g.rules[1].health,
        Health::Ok,
        "the recording rule still ran"
    );
    flink_down(&ds);
    run.until(slot(5)).await;
    assert_eq!(
        run.engine.active_alerts()[0].state,
        AlertState::Firing,
        "fires on recovery"
    );
    let m = run.engine.metrics();
    assert_eq!(m.groups[0].evaluation_failures, 3);
    assert_eq!(m.alerts_firing, 1);
    run.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn outputs_get_recordings_alerts_series_and_stale_markers_after_each_rule() {
    let dir = TempDir::new("tocsin-runner-outputs").expect("temp dir");
    let path = file(&dir, "alerting_rule_flink.yaml", ALERT_RULES);
    let ds = Arc::new(MemorySource::new());
    flink_down(&ds);
    let run = start_with(options(), ds.clone(), std::slice::from_ref(&path), START);
    let first = GroupSchedule::new(&path, "flink", Duration::from_secs(10)).first_evaluation(START);
    run.until(first).await;
    ds.set("flink_up == 0", []);
    ds.set("flink_up", []);
    run.until(first + Duration::from_secs(10)).await;
    let (sink, _) = run.shutdown().await;
    let written = sink.written();
    let key = format!("{path};flink");
    let at_first: Vec<String> = written
        .iter()
        .filter(|(_, ts, _)| *ts == first)
        .inspect(|(g, _, _)| assert_eq!(g, &key))
        .map(|(_, _, s)| {
            s.iter()
                .map(|s| s.labels.get("__name__").unwrap_or("").to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    assert_eq!(
        at_first,
        ["ALERTS,ALERTS_FOR_STATE", "flink:up:copy"],
        "one write per rule, in rule order"
    );
    let second: Vec<&Sample> = written
        .iter()
        .filter(|(_, ts, _)| *ts == first + Duration::from_secs(10))
        .flat_map(|(_, _, s)| s)
        .collect();
    assert_eq!(
        second.len(),
        3,
        "ALERTS, ALERTS_FOR_STATE and the recording go stale"
    );
    assert!(second.iter().all(|s| is_stale_marker(s.value)));
}

#[tokio::test(start_paused = true)]
async fn reload_with_a_bad_file_changes_nothing_and_an_edit_keeps_unchanged_alerts() {
    let dir = TempDir::new("tocsin-runner-reload").expect("temp dir");
    let path = file(&dir, "alerting_rule_flink.yaml", ALERT_RULES);
    let ds = Arc::new(MemorySource::new());
    flink_down(&ds);
    let run = start_with(options(), ds.clone(), std::slice::from_ref(&path), START);
    let first = GroupSchedule::new(&path, "flink", Duration::from_secs(10)).first_evaluation(START);
    run.until(first + Duration::from_secs(10)).await;

    let bad = file(
        &dir,
        "alerting_rule_bad.yaml",
        "groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: up ==\n",
    );
    let reports = run
        .engine
        .apply(&[path.clone(), bad.clone()])
        .expect_err("bad file rejected");
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].path, bad);
    assert_eq!(run.engine.group_keys().len(), 1);
    assert_eq!(run.engine.metrics().last_reload_successful, Some(false));

    // Edit: a new rule in the group; JobDown unchanged keeps its activeAt.
    let edited = ALERT_RULES.replace(
        "      - record: flink:up:copy",
        "      - alert: Extra\n        expr: vector(1)\n      - record: flink:up:copy",
    );
    std::fs::write(&path, edited).expect("edit");
    let summary = run
        .engine
        .apply(std::slice::from_ref(&path))
        .expect("edited file loads");
    assert_eq!((summary.changed, summary.added, summary.removed), (1, 0, 0));
    run.until(first + Duration::from_secs(60)).await;
    let g = &run.engine.rules_status()[0];
    assert_eq!(g.rules.len(), 3);
    let a = &g.rules[0].alerts[0];
    assert_eq!(
        (a.state, a.active_at),
        (AlertState::Firing, first),
        "activeAt kept"
    );
    assert_eq!(g.rules[1].health, Health::Ok, "the new rule evaluates");
    let (sink, _) = run.shutdown().await;
    assert_eq!(
        sink.sent()
            .iter()
            .filter(|a| a.labels.get("alertname") == Some("JobDown"))
            .count(),
        1,
        "fired once, not again after the reload"
    );
}

#[tokio::test(start_paused = true)]
async fn restart_from_the_state_file_keeps_a_pending_timer_and_does_not_resend_a_firing_alert() {
    let dir = TempDir::new("tocsin-runner-restart").expect("temp dir");
    let rules = ALERT_RULES.replace("for: 30s", "for: 15m");
    let path = file(&dir, "alerting_rule_flink.yaml", &rules);
    let both = rules.replace("  - name: flink\n", "  - name: fast\n    interval: 10s\n    rules:\n      - alert: Now\n        expr: flink_up == 0\n  - name: flink\n");
    std::fs::write(&path, both).expect("rules");
    let state = dir.path().join("state.json");
    let opts = EngineOptions {
        state_file: Some(state.clone()),
        resend_delay: Duration::from_secs(3600),
        ..options()
    };
    let ds = Arc::new(MemorySource::new());
    flink_down(&ds);
    let run = start_with(opts.clone(), ds.clone(), std::slice::from_ref(&path), START);
    let flink = GroupSchedule::new(&path, "flink", Duration::from_secs(10)).first_evaluation(START);
    run.until(flink + Duration::from_secs(5 * 60)).await;
    let (sink, _) = run.shutdown().await;
    assert_eq!(sink.sent().len(), 1, "Now fired once");
    assert!(state.exists(), "state written at shutdown");

    // Restart two minutes later (virtual clock), same files.
    let restart_at = START + Duration::from_secs(7 * 60);
    let run = start_with(opts, ds, std::slice::from_ref(&path), restart_at);
    let later =
        GroupSchedule::new(&path, "flink", Duration::from_secs(10)).first_evaluation(restart_at);
    run.until(later).await;
    let alerts = run.engine.active_alerts();
    let job_down = alerts
        .iter()
        .find(|a| a.labels.get("alertname") == Some("JobDown"))
        .expect("pending alert restored");
    assert_eq!(job_down.state, AlertState::Pending);
    // Pending 5m before the outage: the outage does not count, so 10m are left.
    let since = later.since(job_down.active_at);
    assert!(
        since < Duration::from_secs(10 * 60).as_nanos() as i64
            && since > Duration::from_secs(5 * 60).as_nanos() as i64,
        "activeAt {} shifted by the outage, not reset to {}",
        job_down.active_at,
        later
    );
    let (sink, _) = run.shutdown().await;
    assert!(
        sink.sent().is_empty(),
        "the firing alert is not announced again"
    );
}

/// A datasource whose every query takes `delay` of (paused) tokio time.
struct Slow {
    inner: Arc<MemorySource>,
    delay: Duration,
    in_flight: std::sync::atomic::AtomicUsize,
    max_in_flight: std::sync::atomic::AtomicUsize,
}

impl Slow {
    fn new(inner: Arc<MemorySource>, delay: Duration) -> Arc<Slow> {
        Arc::new(Slow {
            inner,
            delay,
            in_flight: Default::default(),
            max_in_flight: Default::default(),
        })
    }
}

impl tocsin_query::Datasource for Slow {
    fn instant_query<'a>(
        &'a self,
        expr: &'a str,
        at: std::time::SystemTime,
    ) -> tocsin_query::QueryFuture<'a> {
        use std::sync::atomic::Ordering::SeqCst;
        Box::pin(async move {
            let n = self.in_flight.fetch_add(1, SeqCst) + 1;
            self.max_in_flight.fetch_max(n, SeqCst);
            tokio::time::sleep(self.delay).await;
            self.in_flight.fetch_sub(1, SeqCst);
            self.inner.instant_query(expr, at).await
        })
    }
}

fn start_slow(opts: EngineOptions, ds: Arc<Slow>, files: &[String]) -> Running {
    let origin = tokio::time::Instant::now();
    let inner = spawn_engine(opts, ds.clone(), files, START);
    Running {
        engine: inner.engine.clone(),
        sink: inner.collected.clone(),
        inner,
        ds: ds.inner.clone(),
        origin,
        at: START,
    }
}

#[tokio::test(start_paused = true)]
async fn slow_group_skips_missed_slots_counts_them_and_shutdown_finishes_the_iteration_in_flight() {
    let dir = TempDir::new("tocsin-runner-missed").expect("temp dir");
    let rules = "groups:\n  - name: slow\n    interval: 10s\n    rules:\n      - record: r\n        expr: vector(1)\n";
    let path = file(&dir, "recording_rule_slow.yaml", rules);
    let mem = Arc::new(MemorySource::new());
    mem.set("vector(1)", [(&[][..], 1.0)]);
    let ds = Slow::new(mem, Duration::from_secs(25));
    let run = start_slow(options(), ds, std::slice::from_ref(&path));
    let first = GroupSchedule::new(&path, "slow", Duration::from_secs(10)).first_evaluation(START);
    // Queries take 25 s: slots first, first+20 s (one missed), first+50 s (two missed).
    run.until(first + Duration::from_secs(50)).await;
    let engine = run.engine.clone();
    let (sink, mem) = run.shutdown().await;
    let slots: Vec<i64> = mem
        .queries()
        .iter()
        .map(|(_, t)| t.since(first) / 1_000_000_000)
        .collect();
    assert_eq!(slots, [0, 20, 50]);
    let g = &engine.metrics().groups[0];
    assert_eq!((g.iterations, g.missed_iterations), (6, 3));
    assert_eq!(
        engine.rules_status()[0].last_slot,
        Some(first + Duration::from_secs(50)),
        "the iteration in flight at shutdown completed"
    );
    let written: Vec<Timestamp> = sink.written().iter().map(|(_, ts, _)| *ts).collect();
    assert_eq!(written.last(), Some(&(first + Duration::from_secs(50))));
}

#[tokio::test(start_paused = true)]
async fn queries_in_flight_never_exceed_max_concurrent_queries() {
    let dir = TempDir::new("tocsin-runner-permits").expect("temp dir");
    let rules = "groups:\n  - name: a\n    interval: 10s\n    rules:\n      - record: a\n        expr: vector(1)\n  - name: b\n    interval: 10s\n    rules:\n      - record: b\n        expr: vector(1)\n  - name: c\n    interval: 10s\n    rules:\n      - record: c\n        expr: vector(1)\n";
    let path = file(&dir, "recording_rule_abc.yaml", rules);
    let mem = Arc::new(MemorySource::new());
    let ds = Slow::new(mem, Duration::from_secs(1));
    let opts = EngineOptions {
        max_concurrent_queries: 1,
        ..options()
    };
    let run = start_slow(opts, ds.clone(), std::slice::from_ref(&path));
    tokio::time::sleep(Duration::from_secs(60)).await;
    let engine = run.engine.clone();
    run.shutdown().await;
    assert_eq!(
        ds.max_in_flight.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    assert!(engine
        .rules_status()
        .iter()
        .all(|g| g.rules[0].health == Health::Ok));
}

/// Holds each query until released, then answers `canceled`, as a Prometheus that is
/// shutting down answers the queries it was running.
#[derive(Default)]
struct CanceledOnRelease {
    release: tokio::sync::Notify,
    asked: std::sync::atomic::AtomicUsize,
}

impl tocsin_query::Datasource for CanceledOnRelease {
    fn instant_query<'a>(
        &'a self,
        _expr: &'a str,
        _at: std::time::SystemTime,
    ) -> tocsin_query::QueryFuture<'a> {
        Box::pin(async move {
            self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.release.notified().await;
            Err(tocsin_query::QueryError::Api {
                endpoint: "POST /api/v1/query".into(),
                status: 503,
                error_type: tocsin_query::ErrorType::Canceled,
                message: "query was canceled in query queue".into(),
                warnings: Vec::new(),
            })
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_query_cancelled_at_shutdown_is_no_failed_evaluation() {
    let dir = TempDir::new("tocsin-runner-cancel").expect("temp dir");
    let path = file(&dir,
        "slow.yaml",
        "groups:\n  - name: slow\n    interval: 10s\n    rules:\n      - alert: Slow\n        expr: slow_metric > 0\n",
    );
    let ds = Arc::new(CanceledOnRelease::default());
    let files = std::slice::from_ref(&path);
    let mut run = spawn_engine(options(), ds.clone(), files, START);
    let engine = run.engine.clone();
    let first = GroupSchedule::new(&path, "slow", Duration::from_secs(10)).first_evaluation(START);
    let origin_ahead = Duration::from_nanos(first.since(START) as u64) + Duration::from_millis(1);
    tokio::time::sleep(origin_ahead).await;
    assert_eq!(
        ds.asked.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the query is in flight"
    );
    run.stop();
    tokio::time::sleep(Duration::from_millis(1)).await; // the engine starts stopping
    ds.release.notify_one();
    run.shutdown().await; // panics unless the engine stops cleanly
    let m = engine.metrics();
    assert_eq!(m.groups[0].evaluation_failures, 0, "{m:?}");
    assert_eq!(m.rules_by_health.err, 0, "{m:?}");
    assert_eq!(engine.rules_status()[0].rules[0].health, Health::Unknown);
}
