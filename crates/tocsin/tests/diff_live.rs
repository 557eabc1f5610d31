//! `tocsin diff --live` against a real Prometheus 2.42 evaluating the same rules on a 2 s
//! interval, with a series feed written through its remote-write receiver every 500 ms at
//! the current time: `app_load{job="api"}` is 0.9 on instance `a`, 0.5 on `b`, 0.1 on `c`,
//! and 0.1 on `d` until 9 s after the feed started, 0.9 after — so that an alert becomes
//! active while `tocsin diff --live` watches, and its activeAt is compared too.
//!
//! Samples are timestamped on a 500 ms grid placed 250 ms away from the group's slots
//! (computed as Prometheus computes them), so that a sample never lands just before a slot:
//! Prometheus (evaluating right at the slot) and `tocsin diff` (querying the same slot a
//! little later) then see the same samples, including at the slot where `d` changes.
//!
//! Nothing here measures time: each run lasts what `--live` says and the assertions are on
//! the report only.

mod common;
mod diff_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::remote_write;
use diff_support::{run_tocsin, Outcome};
use tocsin_engine::GroupSchedule;
use tocsin_query::Labels;
use tocsin_testkit::{Prometheus, PrometheusOptions, TempDir};

/// The deployed rules: `a` fires (after `for: 4s`), `b` and `c` never.
const RULES: &str = r#"groups:
  - name: live
    interval: 2s
    rules:
      - alert: HighLoad
        expr: app_load{job="api"} > 0.8
        for: 4s
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} is loaded"
      - record: job:app_load:max
        expr: max by (job) (app_load)
"#;

struct Live {
    prom: Prometheus,
    dir: TempDir,
    stop: Arc<AtomicBool>,
    feed: Option<JoinHandle<()>>,
}

impl Drop for Live {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(f) = self.feed.take() {
            let _ = f.join();
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

impl Live {
    /// Prometheus running [`RULES`], fed, and having evaluated them with the feed in place.
    fn start() -> Live {
        let dir = TempDir::new("tocsin-diff-live").expect("temp dir");
        let rules = dir.path().join("deployed.yaml");
        std::fs::write(&rules, RULES).expect("write rules");
        let prom = Prometheus::start(PrometheusOptions {
            rule_files: vec![rules.clone()],
            remote_write_receiver: true,
            ..Default::default()
        });
        let stop = Arc::new(AtomicBool::new(false));
        let phase = GroupSchedule::new(&rules.display().to_string(), "live", Duration::from_secs(2))
            .offset()
            .as_millis() as i64;
        let feed_to = Feed {
            url: prom.url(),
            grid_phase_ms: (phase + 250).rem_euclid(500),
        };
        let flag = stop.clone();
        // The first batch before anyone evaluates with it in mind.
        let started = now_ms();
        write_now(&feed_to, started);
        let feed = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                write_now(&feed_to, started);
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        Live {
            prom,
            dir,
            stop,
            feed: Some(feed),
        }
    }

    fn candidate(&self, text: &str) -> String {
        let path = self.dir.path().join("candidate.yaml");
        std::fs::write(&path, text).expect("write candidate");
        path.display().to_string()
    }

    fn diff(&self, args: &[&str]) -> Outcome {
        let mut all = vec![
            "diff".to_string(),
            "--datasource".to_string(),
            self.prom.url(),
            "--format".to_string(),
            "json".to_string(),
        ];
        all.extend(args.iter().map(|s| s.to_string()));
        run_tocsin(&all)
    }
}

/// Where the feed writes (the feed thread cannot borrow the `Prometheus`) and the phase of
/// its 500 ms timestamp grid.
struct Feed {
    url: String,
    grid_phase_ms: i64,
}

fn write_now(feed: &Feed, started: i64) {
    // The latest grid point: 250 ms from every slot of the group.
    let now = now_ms();
    let ts = now - (now - feed.grid_phase_ms).rem_euclid(500);
    let d = if ts - started >= 9_000 { 0.9 } else { 0.1 };
    let samples: Vec<(Labels, f64, i64)> = [("a", 0.9), ("b", 0.5), ("c", 0.1), ("d", d)]
        .into_iter()
        .map(|(instance, v)| {
            let labels: Labels = [
                ("__name__", "app_load"),
                ("job", "api"),
                ("instance", instance),
            ]
            .into_iter()
            .collect();
            (labels, v, ts)
        })
        .collect();
    remote_write(&feed.url, &samples);
}

#[test]
fn live_diff_of_the_deployed_rules_against_prometheus_reports_no_difference_after_warm_up() {
    let live = Live::start();
    let same = live.candidate(RULES);
    let out = live.diff(&["--live", "24s", "--baseline", "prometheus", "--new", &same]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["regressed"], false, "{report:#}");
    let l = &report["live"];
    assert_eq!(l["baseline"], "prometheus");
    // for 4s + keep_firing_for 0s + interval 2s.
    assert_eq!(l["warm_up"], "6s", "{l:#}");
    assert!(
        l["warm_up_reason"]
            .as_str()
            .unwrap_or_default()
            .contains("live/HighLoad"),
        "{l:#}"
    );
    assert_eq!(l["state_mismatches"], 0, "{l:#}");
    // Both sides saw slots after the warm-up; `a` fired on both, and `d` began firing on
    // both (pending from the same slot: its activeAt was compared at every slot).
    assert!(l["slots_old"].as_u64().unwrap_or(0) > 0, "{l:#}");
    assert!(l["slots_new"].as_u64().unwrap_or(0) > 0, "{l:#}");
    // The candidate evaluated at the server's own slots (its group's phase, from the
    // server's file name): states were compared at the same instants.
    assert!(l["slots_compared"].as_u64().unwrap_or(0) > 0, "{l:#}");
    let rule = &report["rules"][0];
    assert_eq!(rule["name"], "HighLoad");
    for side in ["old", "new"] {
        assert_eq!(rule[side]["alerts"], 2, "{side}: {rule:#}");
        assert_eq!(
            rule[side]["firing"][0]["labels"]["instance"], "a",
            "{rule:#}"
        );
        assert_eq!(
            rule[side]["firing"][1]["labels"]["instance"], "d",
            "{rule:#}"
        );
        assert_eq!(
            rule[side]["firing"][0]["annotations"]["summary"], "a is loaded",
            "{rule:#}"
        );
    }
    assert_eq!(report["summary"]["alerts_added"], 0);
    assert_eq!(report["summary"]["alerts_removed"], 0);
}

#[test]
fn live_diff_of_a_lowered_threshold_against_prometheus_reports_the_added_alert_and_exits_1() {
    let live = Live::start();
    let lower = live.candidate(&RULES.replace("> 0.8", "> 0.4"));
    let out = live.diff(&["--live", "14s", "--baseline", "prometheus", "--new", &lower]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    let regressions: Vec<(String, String)> = out.regressions();
    assert_eq!(
        regressions,
        vec![("HighLoad".to_string(), "alerts_added".to_string())],
        "{report:#}"
    );
    let added = &report["rules"][0]["alerts"]["added"];
    assert_eq!(added.as_array().map(Vec::len), Some(1), "{added:#}");
    assert_eq!(added[0]["labels"]["instance"], "b");
    // `a` fires on both sides in the same states.
    assert_eq!(
        report["live"]["state_mismatches"], 0,
        "{:#}",
        report["live"]
    );
}

#[test]
fn live_diff_with_old_rules_evaluates_both_sets_on_the_same_slots_and_reports_annotation_changes() {
    let live = Live::start();
    let old = live.candidate(RULES);
    let new_path = live.dir.path().join("new.yaml");
    std::fs::write(&new_path, RULES.replace("is loaded", "is busy")).expect("write");
    let new = new_path.display().to_string();
    let out = live.diff(&["--live", "14s", "--old", &old, "--new", &new]);
    // Same states on both sides: an annotation change is reported, not a regression.
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    let l = &report["live"];
    assert_eq!(l["baseline"], "rules");
    assert_eq!(l["state_mismatches"], 0, "{l:#}");
    assert_eq!(l["slots_old"], l["slots_new"], "{l:#}");
    assert!(l["slots_compared"].as_u64().unwrap_or(0) > 0, "{l:#}");
    let rule = &report["rules"][0];
    assert_eq!(rule["status"], "changed");
    assert_eq!(
        rule["definition_changes"][0], "annotations changed",
        "{rule:#}"
    );
    let change = &rule["alerts"]["annotation_changes"][0];
    assert_eq!(change["labels"]["instance"], "a", "{rule:#}");
    assert_eq!(change["old"], "a is loaded");
    assert_eq!(change["new"], "a is busy");
}

#[test]
fn a_live_run_no_longer_than_the_warm_up_is_a_usage_error() {
    let live = Live::start();
    let same = live.candidate(RULES);
    let out = live.diff(&["--live", "5s", "--baseline", "prometheus", "--new", &same]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("not longer than the warm-up (6s"),
        "{}",
        out.stderr
    );
}
