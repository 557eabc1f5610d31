//! `tocsin check` as a user runs it: exit codes, promtool-shaped text, JSON, layout warnings.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rules(rel: &str) -> String {
    let p: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/rules")
        .join(rel);
    p.to_string_lossy().into_owned()
}

fn tocsin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(args)
        .output()
        .expect("run tocsin")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn valid_file_exits_zero_and_counts_its_rules_like_promtool() {
    let file = rules("good/alerting_rule_flink_job.yaml");
    let out = tocsin(&["check", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(&format!("Checking {file}\n  SUCCESS: ")),
        "{stdout}"
    );
    assert!(stdout.contains(" rules found\n"), "{stdout}");
}

#[test]
fn invalid_file_exits_one_and_names_file_line_column_group_and_rule() {
    let file = rules("bad/record_with_for.yaml");
    let out = tocsin(&["check", &file]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("  FAILED:\n"), "{stderr}");
    let line = stderr.lines().nth(1).expect("an error line");
    assert!(line.starts_with(&format!("{file}:")), "{line}");
    assert!(
        line.contains("invalid field 'for' in recording rule"),
        "{line}"
    );
    assert!(line.contains("group \""), "{line}");
    assert!(line.contains(", rule 1, \""), "{line}");
}

#[test]
fn a_missing_path_is_a_usage_error() {
    let out = tocsin(&["check", "/nonexistent/rules.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("does not exist"));
}

#[test]
fn an_unknown_flag_is_a_usage_error() {
    let out = tocsin(&["check", "--no-such-flag", &rules("good/empty.yaml")]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn one_bad_file_fails_the_run_but_every_file_is_checked() {
    let good = rules("good/alerting_rule_flink_job.yaml");
    let bad = rules("bad/record_with_for.yaml");
    let out = tocsin(&["check", &bad, &good]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(&format!("Checking {bad}")), "{stdout}");
    assert!(
        stdout.contains(&format!("Checking {good}\n  SUCCESS:")),
        "{stdout}"
    );
}

#[test]
fn globs_and_directories_expand_in_sorted_order() {
    let out = tocsin(&["check", &rules("good/alerting_rule_flink_*.yaml")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let checked: Vec<String> = text(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("Checking ").map(str::to_string))
        .collect();
    assert!(checked.len() >= 3, "{checked:?}");
    let mut sorted = checked.clone();
    sorted.sort();
    assert_eq!(checked, sorted);
    assert!(checked.iter().all(|f| f.contains("alerting_rule_flink_")));
}

#[test]
fn json_output_lists_findings_with_positions() {
    let out = tocsin(&[
        "check",
        "--format",
        "json",
        &rules("bad/multiple_errors.yaml"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(doc["valid"], false);
    let diagnostics = doc["files"][0]["diagnostics"]
        .as_array()
        .expect("diagnostics");
    assert!(diagnostics.len() >= 2, "{diagnostics:?}");
    for d in diagnostics {
        assert_eq!(d["severity"], "error");
        assert!(d["line"].as_u64().is_some_and(|l| l > 0), "{d}");
        assert!(d["column"].as_u64().is_some_and(|c| c > 0), "{d}");
        assert!(d["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[test]
fn duplicate_rules_warn_but_pass_unless_lint_is_off() {
    let file = rules("good/rulefmt_test_counterpart.yaml");
    let out = tocsin(&["check", &file]);
    assert_eq!(out.status.code(), Some(0));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("warning: duplicate rule"), "{stderr}");
    let quiet = tocsin(&["check", "--lint", "none", &file]);
    assert_eq!(quiet.status.code(), Some(0));
    assert!(!text(&quiet.stderr).contains("duplicate rule"));
}

#[test]
fn ack_layout_warns_about_files_the_pod_would_skip_or_misfile() {
    let dir = rules("layout");
    let plain = tocsin(&["check", &dir]);
    assert_eq!(plain.status.code(), Some(0));
    assert!(
        !text(&plain.stderr).contains("warning"),
        "{}",
        text(&plain.stderr)
    );

    let out = tocsin(&["check", "--layout", "ack", &dir]);
    assert_eq!(out.status.code(), Some(0), "warnings do not fail the check");
    let stderr = text(&out.stderr);
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("warning:")).collect();
    assert_eq!(warnings.len(), 4, "{stderr}");
    assert!(stderr.contains(
        "recoding_rules-flink-job.yaml: warning: the in-pod Prometheus would not load this file"
    ));
    assert!(stderr.contains("rename it to recording_rules-flink-job.yaml"));
    assert!(stderr.contains("alerting_rule_x.yml: warning:"));
    assert!(stderr.contains("alerting_rule_mixed.yaml:11:9: warning: recording rule"));
    assert!(stderr.contains("recording_rule_mixed.yaml:7:9: warning: alerting rule"));
}
