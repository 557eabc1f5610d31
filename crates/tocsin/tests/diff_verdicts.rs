//! `tocsin diff`'s verdict against a real Prometheus 2.42 holding three hours of history
//! (diff_support): exit 1 naming the rule and the change for each kind of regression,
//! exit 0 for a candidate that changes nothing.
//!
//! The history: instance `a` is slow (0.9 > 0.8) for 20 minutes and again for 5 minutes,
//! `b` is somewhat slow (0.6) for 20 minutes, `c` never, `d` flaps around 0.7.

mod common;
mod diff_support;

use diff_support::{History, BASE_RULES};

#[test]
fn an_unchanged_candidate_exits_0_and_reports_the_alerts_it_replayed() {
    let h = History::start();
    let (old, new) = h.candidate(BASE_RULES);
    let out = h.diff(&old, &new, &["--format", "json"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["regressed"], false);
    assert_eq!(report["summary"]["unchanged"], 2);
    let rule = &report["rules"][0];
    assert_eq!(rule["name"], "HighLatency");
    // `a` fired twice (minutes 32–50 and 102–105 with `for: 2m`), nobody else.
    assert_eq!(rule["new"]["alerts"], 1, "{rule:#}");
    assert_eq!(rule["new"]["firing_intervals"], 2, "{rule:#}");
    assert_eq!(rule["new"]["firing"][0]["labels"]["instance"], "a");
    assert_eq!(
        rule["new"]["firing"][0]["annotations"]["summary"],
        "a is slow"
    );
    assert_eq!(report["rules"][1]["recording"]["points_changed"], 0);
    assert_eq!(report["rules"][1]["recording"]["series_new"], 1);
    // Prometheus reports what the replay read (stats=all): 4 series, 30 s apart, 190 minutes.
    let read = report["cost"]["issued"]["samples"]
        .as_u64()
        .unwrap_or_default();
    assert!(read >= 4 * 360, "{:#}", report["cost"]);
    // Identical expressions on one grid are queried once for both sets.
    assert_eq!(
        report["cost"]["issued"]["requests"],
        report["cost"]["new"]["requests"]
    );
}

#[test]
fn a_reformatted_candidate_exits_0() {
    let h = History::start();
    let (old, new) = h.candidate(
        r#"# the same rules, written differently
groups:
- name: api
  interval: 60s
  rules:
  - alert: "HighLatency"
    expr: |
      app_latency_seconds{job = "api"}
        >   0.8
    for: 120s
    annotations: {summary: "{{ $labels.instance }} is slow"}
    labels: {severity: "page"}
  - {record: "job:app_latency_seconds:max", expr: "max(app_latency_seconds) by (job)"}
"#,
    );
    let out = h.diff(&old, &new, &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("2 unchanged"), "{}", out.stdout);
    assert!(
        out.stdout.contains("OK: nothing regressed"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_renamed_label_is_an_identity_change_and_exits_1() {
    let h = History::start();
    let (old, new) = h.candidate(&BASE_RULES.replace("severity: page", "sev: page"));
    let out = h.diff(&old, &new, &[]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("api/HighLatency: identity_changed: alert labels change (-severity=\"page\", +sev=\"page\")"),
        "{}",
        out.stdout
    );
    // Same firing times: not counted as alerts added or removed.
    let json = h.diff(&old, &new, &["--format", "json"]);
    assert_eq!(
        json.regressions(),
        vec![("HighLatency".to_string(), "identity_changed".to_string())]
    );
}

#[test]
fn a_misspelled_metric_matches_nothing_and_exits_1() {
    let h = History::start();
    let (old, new) = h.candidate(&BASE_RULES.replace(
        "app_latency_seconds{job=\"api\"} > 0.8",
        "app_latncy_seconds{job=\"api\"} > 0.8",
    ));
    let out = h.diff(&old, &new, &[]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(
            "api/HighLatency: selector_matches_nothing: selector app_latncy_seconds{job=\"api\"} matches no series"
        ),
        "{}",
        out.stdout
    );
    let kinds = h.diff(&old, &new, &["--format", "json"]).regressions();
    assert!(
        kinds.contains(&("HighLatency".into(), "alerts_removed".into())),
        "{kinds:?}"
    );
    // The pull-request comment says the same.
    let md = h.diff(&old, &new, &["--format", "markdown"]);
    assert_eq!(md.code, 1);
    assert!(
        md.stdout.starts_with("### tocsin diff: ❌ regressed"),
        "{}",
        md.stdout
    );
    assert!(
        md.stdout.contains("| api | `HighLatency` | selector_matches_nothing | selector app_latncy_seconds{job=\"api\"} matches no series"),
        "{}",
        md.stdout
    );
}

#[test]
fn a_lowered_threshold_adds_alerts_and_exits_1_unless_allowed() {
    let h = History::start();
    let (old, new) = h.candidate(&BASE_RULES.replace("> 0.8", "> 0.5"));
    let out = h.diff(&old, &new, &["--format", "json"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        out.regressions(),
        vec![("HighLatency".to_string(), "alerts_added".to_string())]
    );
    let report = out.json();
    let alerts = &report["rules"][0]["alerts"];
    let added_instances: Vec<&str> = alerts["added"]
        .as_array()
        .expect("added")
        .iter()
        .map(|f| f["labels"]["instance"].as_str().unwrap_or_default())
        .collect();
    // b (0.6 for 20 minutes) now fires once; d (0.7 on for 2 minutes at a time) never
    // stays above 0.5 for the 2 minutes `for` needs.
    assert_eq!(added_instances, vec!["b"], "{alerts:#}");
    assert_eq!(report["summary"]["alerts_added"], 1);

    let allowed = h.diff(&old, &new, &["--allow-added", "1"]);
    assert_eq!(allowed.code, 0, "{}\n{}", allowed.stdout, allowed.stderr);
    assert!(
        allowed.stdout.contains("CHANGED alerting rule HighLatency"),
        "{}",
        allowed.stdout
    );
    assert!(
        allowed
            .stdout
            .contains("+ added {alertname=\"HighLatency\", instance=\"b\""),
        "{}",
        allowed.stdout
    );
}

#[test]
fn a_longer_for_removes_alerts_and_exits_1() {
    let h = History::start();
    let (old, new) = h.candidate(&BASE_RULES.replace("for: 2m", "for: 10m"));
    let out = h.diff(&old, &new, &[]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    // The 5-minute slowness of `a` no longer fires; the 20-minute one fires 8 minutes later.
    assert!(
        out.stdout.contains("api/HighLatency: alerts_removed: 1 firing interval(s) only in the old set, first {alertname=\"HighLatency\", instance=\"a\", job=\"api\", severity=\"page\"}"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("for 2m → 10m"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("1 firing interval(s) start or end at other slots"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_query_error_in_the_candidate_exits_1_naming_the_servers_message() {
    let h = History::start();
    // Four series on each side of a one-to-one match on no labels: Prometheus refuses.
    let (old, new) = h.candidate(&BASE_RULES.replace(
        "app_latency_seconds{job=\"api\"} > 0.8",
        "app_latency_seconds{job=\"api\"} > on () app_latency_seconds",
    ));
    let out = h.diff(&old, &new, &[]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("api/HighLatency: query_error: 181 of 181 evaluations failed: found duplicate series for the match group"),
        "{}",
        out.stdout
    );
}

#[test]
fn small_chunks_replay_exactly_what_one_request_replays() {
    let h = History::start();
    let (old, new) = h.candidate(&BASE_RULES.replace("> 0.8", "> 0.5"));
    let whole = h.diff(&old, &new, &["--format", "json"]).json();
    let chunked = h
        .diff(&old, &new, &["--format", "json", "--max-points", "7"])
        .json();
    // Everything but the cost is the same: 181 slots in chunks of 7 take 26 requests.
    let without_cost = |report: &serde_json::Value| {
        let mut rules = report["rules"].clone();
        for r in rules.as_array_mut().expect("rules") {
            for side in ["old", "new"] {
                r[side].as_object_mut().expect("side").remove("cost");
            }
        }
        rules
    };
    assert_eq!(without_cost(&whole), without_cost(&chunked));
    assert_eq!(
        whole["summary"]["alerts_added"], 1,
        "{:#}",
        whole["summary"]
    );
    assert_eq!(chunked["cost"]["issued"]["requests"], 3 * 26);
    assert_eq!(whole["cost"]["issued"]["requests"], 3);
}

#[test]
fn requests_the_server_refuses_for_too_many_samples_are_split_until_they_fit() {
    // 181 slots × 4 series do not fit in 200 samples; 45 slots do.
    let h = History::start_with_flags(&["--query.max-samples=200"]);
    let (old, new) = h.candidate(&BASE_RULES.replace("> 0.8", "> 0.5"));
    let out = h.diff(&old, &new, &["--format", "json", "--allow-added", "1"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    for rule in report["rules"].as_array().expect("rules") {
        for side in ["old", "new"] {
            assert_eq!(rule[side]["errors"]["failed_evaluations"], 0, "{rule:#}");
            assert_eq!(rule[side]["evaluations"], 181, "{rule:#}");
        }
    }
    assert_eq!(report["summary"]["alerts_added"], 1);
    let requests = report["cost"]["issued"]["requests"]
        .as_u64()
        .unwrap_or_default();
    assert!(
        requests > 3 * 4,
        "only {requests} requests: nothing was split"
    );
    let peak = report["cost"]["issued"]["peak_samples"]
        .as_u64()
        .unwrap_or(u64::MAX);
    assert!(peak <= 200, "{:#}", report["cost"]);
}

#[test]
fn a_changed_recording_rule_reports_value_changes_and_its_readers_are_told_they_read_its_new_output(
) {
    let h = History::start();
    let reader = r#"      - alert: AnyInstanceSlow
        expr: job:app_latency_seconds:max > 0.8
"#;
    let old = h.rules("old.yaml", &format!("{BASE_RULES}{reader}"));
    let new = h.rules(
        "new.yaml",
        &format!("{BASE_RULES}{reader}").replace(
            "max by (job) (app_latency_seconds)",
            "avg by (job) (app_latency_seconds)",
        ),
    );
    let out = h.diff(&old, &new, &["--format", "json"]);
    // A recording rule's new values are reported, not judged: nothing else changed.
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    let rules = report["rules"].as_array().expect("rules");
    let rec = rules
        .iter()
        .find(|r| r["name"] == "job:app_latency_seconds:max")
        .expect("recording rule");
    assert_eq!(rec["status"], "changed");
    let cmp = &rec["recording"];
    assert_eq!(cmp["series_old"], 1);
    assert_eq!(cmp["series_new"], 1);
    assert_eq!(cmp["points_compared"], 181);
    // max and avg of the four series differ at every slot (c and d are always lower).
    assert_eq!(cmp["points_changed"], 181, "{cmp:#}");
    let reader = rules
        .iter()
        .find(|r| r["name"] == "AnyInstanceSlow")
        .expect("reader");
    assert_eq!(reader["status"], "unchanged");
    assert!(
        reader["notes"][0]
            .as_str()
            .unwrap_or_default()
            .contains("reads job:app_latency_seconds:max, which this change records: the candidate's recording rule was evaluated first and its output replaced the stored series"),
        "{reader:#}"
    );
    // Evaluated over the substituted series at every slot, without an error.
    assert_eq!(reader["new"]["evaluations"], 181, "{reader:#}");
    assert_eq!(
        reader["new"]["errors"]["failed_evaluations"], 0,
        "{reader:#}"
    );
}
