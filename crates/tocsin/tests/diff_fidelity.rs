//! Backtest fidelity: the firing intervals `tocsin diff` reports agree with Prometheus's own
//! rule evaluation at every step.
//!
//! Method: the scenario (diff_support: four latency series, 30 s apart, 190 minutes) is
//! written into a real Prometheus 2.42 and replayed by `tocsin diff` over its whole length.
//! The same values become the `input_series` of a generated `promtool test rules` file
//! (promtool's time 0 = the first sample, a whole minute, so its 1-minute evaluation grid is
//! the backtest's slot grid). For every slot and both alerting rules — one with `for` and a
//! templated label, one with `keep_firing_for` over a flapping series — the file expects
//! exactly the alerts (labels and annotations) the backtest reported firing at that slot.
//! promtool evaluates the rules itself with Prometheus's rule manager and fails on any
//! difference. Tolerance: none — every slot, every label, every annotation.

mod common;
mod diff_support;

use std::process::Command;

use diff_support::{run_tocsin, sample_offsets, scenario, History, LEAD_MIN, WINDOW_MIN};
use serde_json::{json, Value};

const RULES: &str = r#"groups:
  - name: fidelity
    interval: 1m
    rules:
      - alert: HighLatency
        expr: app_latency_seconds{job="api"} > 0.8
        for: 2m
        labels:
          severity: page
          tier: '{{ if gt $value 0.85 }}hot{{ else }}warm{{ end }}'
        annotations:
          summary: "{{ $labels.instance }} is slow"
      - alert: LatencyFlapping
        expr: app_latency_seconds{job="api"} > 0.5
        keep_firing_for: 3m
        labels:
          severity: ticket
        annotations:
          summary: "{{ $labels.instance }} above 0.5"
"#;

#[test]
fn backtest_firing_intervals_equal_promtool_test_rules_at_every_slot() {
    let h = History::start();
    let rules = h.rules("rules.yaml", RULES);
    let minutes = LEAD_MIN + WINDOW_MIN;
    let data_start_ms = h.start_ms - LEAD_MIN * 60_000;
    let out = run_tocsin(&[
        "diff".into(),
        "--datasource".into(),
        h.prom.url(),
        "--old".into(),
        rules.display().to_string(),
        "--new".into(),
        rules.display().to_string(),
        "--range".into(),
        format!("{minutes}m"),
        "--end".into(),
        format!("{}", h.end_ms / 1000),
        "--format".into(),
        "json".into(),
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();

    // The generated promtool unit test: one alert_rule_test per slot and rule.
    let mut tests = Vec::new();
    let mut firing_slots = [0usize; 2];
    for (r, name) in ["HighLatency", "LatencyFlapping"].iter().enumerate() {
        let rule = report["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .find(|x| x["name"] == *name)
            .unwrap_or_else(|| panic!("{name} in {report:#}"));
        let firing = rule["new"]["firing"].as_array().expect("firing");
        for slot in 0..=minutes {
            let at_ms = data_start_ms + slot * 60_000;
            let mut exp = Vec::new();
            for alert in firing {
                let on = alert["intervals"]
                    .as_array()
                    .expect("intervals")
                    .iter()
                    .any(|i| {
                        let s = ms(&i["start"]);
                        let e = ms(&i["end"]);
                        s <= at_ms && at_ms <= e
                    });
                if on {
                    let mut labels = alert["labels"].clone();
                    labels.as_object_mut().expect("labels").remove("alertname");
                    exp.push(
                        json!({"exp_labels": labels, "exp_annotations": alert["annotations"]}),
                    );
                }
            }
            if !exp.is_empty() {
                firing_slots[r] += 1;
            }
            tests.push(
                json!({"eval_time": format!("{slot}m"), "alertname": name, "exp_alerts": exp}),
            );
        }
    }
    // The scenario makes both rules fire for a good part of the window.
    assert!(
        firing_slots[0] >= 20 && firing_slots[1] >= 40,
        "{firing_slots:?}"
    );

    let input_series: Vec<Value> = scenario()
        .iter()
        .map(|s| {
            let values: Vec<String> = sample_offsets()
                .map(|off| format!("{}", (s.value)(off as f64 / 60.0 - LEAD_MIN as f64)))
                .collect();
            json!({
                "series": format!("app_latency_seconds{{job=\"api\",instance=\"{}\"}}", s.instance),
                "values": values.join(" "),
            })
        })
        .collect();
    let unit = json!({
        "rule_files": [rules.display().to_string()],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "30s",
            "input_series": input_series,
            "alert_rule_test": tests,
        }],
    });
    let unit_path = h.rules(
        "fidelity_test.yaml",
        &serde_json::to_string_pretty(&unit).expect("json"),
    );
    let promtool = Command::new("promtool")
        .args(["test", "rules"])
        .arg(&unit_path)
        .output()
        .expect("promtool is installed (apt-get install prometheus)");
    assert!(
        promtool.status.success(),
        "promtool disagrees with the backtest:\n{}\n{}",
        String::from_utf8_lossy(&promtool.stdout),
        String::from_utf8_lossy(&promtool.stderr)
    );
}

fn ms(v: &Value) -> i64 {
    let s = v.as_str().expect("time string");
    tocsin_diff::report::parse_rfc3339(s).unwrap_or_else(|| panic!("bad time {s}"))
}
