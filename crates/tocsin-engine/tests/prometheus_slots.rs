//! The slot grid against a real Prometheus 2.42 (Debian's `prometheus` package).
//!
//! Starts Prometheus (tocsin-testkit) on a free loopback port with a temporary TSDB and a rule
//! file of groups at 10s and 3s, waits for two evaluations of each, and checks that
//! `GroupSchedule` puts every evaluation Prometheus made on its grid: the pending alerts'
//! `activeAt` (the slot time, to the nanosecond), the recorded samples' timestamps (to the
//! millisecond) and each group's `lastEvaluation` (wall time, which falls just after the
//! slot we predict).

use std::time::{Duration, SystemTime};

use tocsin_engine::schedule::{group_hash, GroupSchedule};
use tocsin_engine::Timestamp;
use tocsin_query::{HttpClientConfig, PrometheusClient, Rule, RuleGroup};
use tocsin_testkit::{eventually, Prometheus, PrometheusOptions, TempDir};

const RULES: &str = r#"groups:
  - name: slots-a
    interval: 10s
    rules:
      - record: tocsin:slot_a
        expr: vector(1)
      - alert: SlotA
        expr: vector(1)
        for: 1h
  - name: slots-b
    interval: 10s
    rules:
      - alert: SlotB
        expr: vector(1)
        for: 1h
  - name: fast
    interval: 3s
    rules:
      - record: tocsin:slot_fast
        expr: vector(1)
      - alert: SlotFast
        expr: vector(1)
        for: 1h
"#;

/// Prometheus evaluating [`RULES`] (its temp dir holds the rule file), and the dir.
fn prometheus() -> (Prometheus, TempDir) {
    let dir = TempDir::new("tocsin-engine-slots").expect("temp dir");
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).expect("rule file");
    let prom = Prometheus::start(PrometheusOptions {
        rule_files: vec![rules],
        evaluation_interval: Duration::from_secs(10),
        extra_args: vec!["--log.level=warn".into()],
        ..Default::default()
    });
    (prom, dir)
}

/// RFC 3339 UTC time as Prometheus prints it (`2026-11-25T06:26:18.826202645Z`).
fn parse_rfc3339(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap_or_else(|| panic!("bad time {s}"))
}

struct GroupSeen {
    file: String,
    name: String,
    interval: Duration,
    last_evaluation: Timestamp,
    active_at: Timestamp,
}

/// The groups that have a pending alert, with their grid and times.
fn groups(rules: &[RuleGroup]) -> Vec<GroupSeen> {
    let mut out = Vec::new();
    for g in rules {
        let active_at = g
            .rules
            .iter()
            .filter_map(|r| match r {
                Rule::Alerting(a) => Some(a),
                Rule::Recording(_) => None,
            })
            .flat_map(|r| &r.alerts)
            .find_map(|a| a.active_at.as_deref());
        let Some(active_at) = active_at else {
            continue;
        };
        out.push(GroupSeen {
            file: g.file.clone(),
            name: g.name.clone(),
            interval: Duration::from_secs_f64(g.interval),
            last_evaluation: parse_rfc3339(&g.last_evaluation),
            active_at: parse_rfc3339(active_at),
        });
    }
    out
}

#[test]
fn eval_timestamps_match_a_live_prometheus() {
    let (prom, _dir) = prometheus();
    let api = PrometheusClient::new(HttpClientConfig::new(prom.url())).expect("API client");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    // Wait until every group has evaluated at least twice (lastEvaluation is past the slot
    // of the alert's first sighting).
    let seen = eventually(
        "Prometheus to evaluate all groups twice",
        Duration::from_secs(60),
        || {
            let seen = groups(&runtime.block_on(api.rules(None)).ok()?);
            let twice = seen.len() == 3
                && seen
                    .iter()
                    .all(|g| g.last_evaluation.since(g.active_at) >= g.interval.as_nanos() as i64);
            twice.then_some(seen)
        },
    );

    for g in &seen {
        let schedule = GroupSchedule::new(&g.file, &g.name, g.interval);
        assert!(g.file.ends_with("/rules.yml"), "file string {}", g.file);
        // activeAt is the slot of the first evaluation: on our grid to the nanosecond.
        assert_eq!(
            schedule.eval_timestamp(g.active_at),
            g.active_at,
            "{};{}: activeAt {} is not on the grid with offset {:?}",
            g.file,
            g.name,
            g.active_at,
            schedule.offset()
        );
        // lastEvaluation is wall time taken just after the slot it evaluated, and that
        // slot is on the same grid, a whole number of intervals after activeAt.
        let slot = schedule.eval_timestamp(g.last_evaluation);
        let steps = slot.since(g.active_at) / g.interval.as_nanos() as i64;
        assert!(steps >= 1, "{}: evaluated twice", g.name);
        assert_eq!(slot.since(g.active_at) % g.interval.as_nanos() as i64, 0);
        eprintln!(
            "{}: offset {:?}, lastEvaluation {} = predicted slot {} + {:.3} ms",
            g.name,
            schedule.offset(),
            g.last_evaluation,
            slot,
            g.last_evaluation.since(slot) as f64 / 1e6
        );

        // The 2.42 hash input is the slicelabels encoding; the length-prefixed
        // (stringlabels) encoding of newer official builds would put this group elsewhere.
        let mut prefixed = Vec::new();
        for s in ["file", &g.file, "name", &g.name] {
            prefixed.push(s.len() as u8);
            prefixed.extend_from_slice(s.as_bytes());
        }
        let other = xxhash_rust::xxh64::xxh64(&prefixed, 0) % g.interval.as_nanos() as u64;
        assert_ne!(
            other,
            group_hash(&g.file, &g.name) % g.interval.as_nanos() as u64,
            "the test would not tell the encodings apart"
        );
    }

    // Recorded samples carry the slot time in milliseconds.
    for (metric, group) in [("tocsin:slot_a", "slots-a"), ("tocsin:slot_fast", "fast")] {
        let g = seen.iter().find(|g| g.name == group).expect("group seen");
        let schedule = GroupSchedule::new(&g.file, &g.name, g.interval);
        let answer = runtime
            .block_on(api.instant_query(&format!("timestamp({metric})"), SystemTime::now()))
            .expect("query answered");
        let secs = answer
            .value
            .into_samples()
            .and_then(|v| v.first().map(|s| s.value))
            .expect("a timestamp sample");
        let millis = (secs * 1000.0).round() as i64;
        let slot =
            schedule.eval_timestamp(Timestamp::from_millis(millis) + Duration::from_millis(1));
        assert_eq!(
            slot.unix_millis(),
            millis,
            "{metric} written at {millis} ms"
        );
    }
}
