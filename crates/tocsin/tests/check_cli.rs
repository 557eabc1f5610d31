//! `tocsin check` as a user runs it: exit codes, promtool-shaped text, JSON, layout warnings.

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{text, tocsin};

mod common;

fn rules(rel: &str) -> String {
    let p: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/rules")
        .join(rel);
    p.to_string_lossy().into_owned()
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

#[test]
fn strict_turns_the_layout_warning_for_a_misspelled_file_into_exit_one() {
    let file = rules("layout/recoding_rules-flink-job.yaml");
    let lenient = tocsin(&["check", "--layout", "ack", &file]);
    assert_eq!(lenient.status.code(), Some(0), "{}", text(&lenient.stderr));
    let strict = tocsin(&["check", "--layout", "ack", "--strict", &file]);
    assert_eq!(strict.status.code(), Some(1), "{}", text(&strict.stderr));
    assert!(text(&strict.stderr).contains("warning: the in-pod Prometheus would not load"));
    // Without a warning, --strict passes.
    let clean = tocsin(&[
        "check",
        "--strict",
        &rules("good/alerting_rule_flink_job.yaml"),
    ]);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean.stderr));
}

#[test]
fn lint_fatal_and_lint_modes_exit_as_promtool_does() {
    let dir = tocsin_testkit::TempDir::new("lint-fatal").expect("temp dir");
    let path = dir.path().join("dup.yaml");
    std::fs::write(
        &path,
        "groups:\n- name: g\n  rules:\n  - record: a:b:sum\n    expr: up\n  - record: a:b:sum\n    expr: up\n",
    )
    .expect("write");
    let file = path.to_string_lossy().into_owned();
    for flags in [
        vec![],
        vec!["--lint-fatal"],
        vec!["--lint=all", "--lint-fatal"],
        vec!["--lint=duplicate-rules", "--lint-fatal"],
        vec!["--lint=none", "--lint-fatal"],
    ] {
        let mut theirs_args = vec!["check", "rules"];
        theirs_args.extend(&flags);
        theirs_args.push(&file);
        let theirs = Command::new("promtool")
            .args(&theirs_args)
            .output()
            .expect("run promtool (Debian's prometheus package)");
        let mut ours_args = vec!["check"];
        ours_args.extend(&flags);
        ours_args.push(&file);
        let ours = tocsin(&ours_args);
        assert_eq!(
            ours.status.code(),
            theirs.status.code(),
            "{flags:?}: {}",
            text(&ours.stderr)
        );
    }
}

#[test]
fn github_format_prints_workflow_annotations() {
    let bad = rules("bad/record_with_for.yaml");
    let out = tocsin(&["check", "--format", "github", &bad]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let line = stdout.lines().next().expect("an annotation");
    assert!(
        line.starts_with(&format!("::error file={bad},line=")),
        "{line}"
    );
    assert!(line.contains(",col="), "{line}");
    assert!(
        line.contains("::group \"") && line.contains("invalid field 'for' in recording rule"),
        "{line}"
    );

    let misspelled = rules("layout/recoding_rules-flink-job.yaml");
    let out = tocsin(&[
        "check",
        "--format",
        "github",
        "--layout",
        "ack",
        &misspelled,
    ]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(&format!(
            "::warning file={misspelled},title=layout/not-loaded::the in-pod Prometheus"
        )),
        "{stdout}"
    );
}

#[test]
fn a_rule_reading_a_recording_series_no_checked_file_records_is_warned_about() {
    let dir = tocsin_testkit::TempDir::new("cross-file").expect("temp dir");
    let alerting = dir.path().join("alerting_rule_a.yaml");
    let recording = dir.path().join("recording_rule_a.yaml");
    std::fs::write(
        &alerting,
        "groups:\n- name: a\n  rules:\n  - alert: Slow\n    expr: job:flink_records:rate5m < 1\n  - alert: Typo\n    expr: job:flink_record:rate5m < 1\n",
    )
    .expect("write");
    std::fs::write(
        &recording,
        "groups:\n- name: r\n  rules:\n  - record: job:flink_records:rate5m\n    expr: sum by (job) (rate(flink_records_total[5m]))\n",
    )
    .expect("write");
    let (a, r) = (
        alerting.to_string_lossy().into_owned(),
        recording.to_string_lossy().into_owned(),
    );

    let alone = tocsin(&["check", &a]);
    assert_eq!(alone.status.code(), Some(0), "a warning, not an error");
    let stderr = text(&alone.stderr);
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("warning:")).collect();
    assert_eq!(warnings.len(), 2, "{stderr}");
    assert!(stderr.contains(&format!(
        "{a}:5:11: warning: group \"a\", rule 1, \"Slow\": reads job:flink_records:rate5m"
    )));

    let together = tocsin(&["check", "--strict", &a, &r]);
    let stderr = text(&together.stderr);
    assert_eq!(
        together.status.code(),
        Some(1),
        "the typo remains: {stderr}"
    );
    assert!(stderr.contains("reads job:flink_record:rate5m, named like a recording rule"));
    assert!(
        !stderr.contains("reads job:flink_records:rate5m"),
        "{stderr}"
    );

    // A comment above the rule turns the check off for that rule only.
    let text_with_comment = std::fs::read_to_string(&alerting).expect("read").replace(
        "  - alert: Typo",
        "  # tocsin disable rules/missing-recording\n  - alert: Typo",
    );
    std::fs::write(&alerting, text_with_comment).expect("write");
    let quiet = tocsin(&["check", "--strict", &a, &r]);
    assert_eq!(quiet.status.code(), Some(0), "{}", text(&quiet.stderr));
}

#[test]
fn a_disable_comment_turns_off_a_file_level_warning() {
    let dir = tocsin_testkit::TempDir::new("disable").expect("temp dir");
    let path = dir.path().join("recoding_rules-x.yaml");
    let body =
        std::fs::read_to_string(rules("layout/recoding_rules-flink-job.yaml")).expect("read");
    std::fs::write(&path, format!("# tocsin disable layout/not-loaded\n{body}")).expect("write");
    let file = path.to_string_lossy().into_owned();
    let out = tocsin(&["check", "--layout", "ack", "--strict", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}
