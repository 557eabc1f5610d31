//! A candidate's recording rules are evaluated before the rules that read them: an alerting
//! rule reading a series only the candidate records (through a chain of two recording
//! rules, or next to a stored series read over a range) fires exactly when the same
//! condition written out inline does, though the server holds no such series.

mod common;
mod diff_support;

use diff_support::{History, BASE_RULES};
use serde_json::Value;

const CANDIDATE_EXTRA: &str = r#"      - record: job:app_latency_seconds:worst
        expr: max by (job) (app_latency_seconds)
      - record: job:app_latency_seconds:worst_doubled
        expr: job:app_latency_seconds:worst * 2
      - alert: WorstSlow
        expr: job:app_latency_seconds:worst_doubled > 1.6
        for: 2m
      - alert: WorstSlowInline
        expr: max by (job) (app_latency_seconds) * 2 > 1.6
        for: 2m
      - alert: WorstSlowWhileARecentlySlow
        expr: job:app_latency_seconds:worst > 0.8 and on (job) max_over_time(app_latency_seconds{instance="a"}[5m]) > 0.85
      - alert: WorstSlowWhileARecentlySlowInline
        expr: max by (job) (app_latency_seconds) > 0.8 and on (job) max_over_time(app_latency_seconds{instance="a"}[5m]) > 0.85
"#;

/// The firing intervals of `rule`'s new side, by labels without `alertname`.
fn intervals(report: &Value, rule: &str) -> Vec<(String, Vec<(String, String)>)> {
    let r = report["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["name"] == rule)
        .unwrap_or_else(|| panic!("{rule} in {report:#}"));
    r["new"]["firing"]
        .as_array()
        .expect("firing")
        .iter()
        .map(|a| {
            let mut labels = a["labels"].clone();
            labels.as_object_mut().expect("labels").remove("alertname");
            let spans = a["intervals"]
                .as_array()
                .expect("intervals")
                .iter()
                .map(|i| (i["start"].to_string(), i["end"].to_string()))
                .collect();
            (labels.to_string(), spans)
        })
        .collect()
}

#[test]
fn an_alert_reading_a_record_only_the_candidate_makes_fires_as_the_inline_condition_does() {
    let h = History::start();
    let (old, new) = h.candidate(&format!("{BASE_RULES}{CANDIDATE_EXTRA}"));
    let out = h.diff(&old, &new, &["--format", "json"]);
    let report = out.json();
    let via_records = intervals(&report, "WorstSlow");
    let inline = intervals(&report, "WorstSlowInline");
    assert!(
        !inline.is_empty() && !inline[0].1.is_empty(),
        "the scenario makes the inline rule fire: {report:#}"
    );
    assert_eq!(via_records, inline, "{report:#}");
    // Recorded and stored series side by side (the stored one fetched raw, over a range).
    let mixed = intervals(&report, "WorstSlowWhileARecentlySlow");
    let mixed_inline = intervals(&report, "WorstSlowWhileARecentlySlowInline");
    assert!(!mixed_inline.is_empty(), "{report:#}");
    assert_eq!(mixed, mixed_inline, "{report:#}");
    let rule = report["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["name"] == "WorstSlow")
        .expect("WorstSlow");
    let notes = rule["notes"].to_string();
    assert!(
        notes.contains("job:app_latency_seconds:worst_doubled")
            && notes.contains("evaluated first"),
        "{notes}"
    );
    // Reading a series the server does not hold is no regression when the candidate
    // records it.
    let kinds = out.regressions();
    assert!(
        !kinds
            .iter()
            .any(|(rule, kind)| rule == "WorstSlow" && kind == "selector_matches_nothing"),
        "{kinds:?}"
    );
}
