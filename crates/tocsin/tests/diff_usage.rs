//! `tocsin diff` exit codes that need no history: 2 for usage errors (bad flags, flags of
//! parts not built, `--live` misuse, an unusable baseline, a datasource that does not answer), 1 with
//! `tocsin check`'s `FILE:LINE:COL` errors for a candidate that does not load.

mod common;
mod diff_support;

use diff_support::{run_tocsin, BASE_RULES};
use tocsin_testkit::{free_port, TempDir};

fn args(dir: &TempDir, old: &str, new: &str, extra: &[&str]) -> Vec<String> {
    let o = dir.path().join("old.yaml");
    let n = dir.path().join("new.yaml");
    std::fs::write(&o, old).expect("write");
    std::fs::write(&n, new).expect("write");
    let mut v: Vec<String> = vec![
        "diff".into(),
        "--datasource".into(),
        format!("http://127.0.0.1:{}", free_port()),
        "--old".into(),
        o.display().to_string(),
        "--new".into(),
        n.display().to_string(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

#[test]
fn usage_errors_exit_2() {
    let dir = TempDir::new("tocsin-diff-usage").expect("temp dir");
    let bad_range = run_tocsin(&args(&dir, BASE_RULES, BASE_RULES, &["--range", "7 days"]));
    assert_eq!(bad_range.code, 2, "{}", bad_range.stderr);
    assert!(bad_range.stderr.contains("--range"), "{}", bad_range.stderr);

    // Not built yet (issue 12, the --config part of item 1): clap refuses it.
    let out = run_tocsin(&args(&dir, BASE_RULES, BASE_RULES, &["--config", "x"]));
    assert_eq!(out.code, 2, "--config: {}", out.stderr);

    // --live: a bad duration; --baseline without --live; history-only flags with --live.
    let bad_live = run_tocsin(&args(&dir, BASE_RULES, BASE_RULES, &["--live", "x"]));
    assert_eq!(bad_live.code, 2, "{}", bad_live.stderr);
    assert!(bad_live.stderr.contains("--live"), "{}", bad_live.stderr);
    let mut no_live = args(&dir, BASE_RULES, BASE_RULES, &[]);
    no_live.retain(|a| !a.ends_with("old.yaml") && a != "--old");
    no_live.extend(["--baseline".to_string(), "prometheus".to_string()]);
    let out = run_tocsin(&no_live);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--live"), "{}", out.stderr);
    let out = run_tocsin(&args(
        &dir,
        BASE_RULES,
        BASE_RULES,
        &["--live", "10m", "--range", "1h"],
    ));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--range"), "{}", out.stderr);

    let missing = run_tocsin(&[
        "diff".into(),
        "--datasource".into(),
        "http://127.0.0.1:9".into(),
        "--old".into(),
        "/nonexistent/rules.yaml".into(),
        "--new".into(),
        "/nonexistent/rules.yaml".into(),
    ]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("does not exist"),
        "{}",
        missing.stderr
    );
}

#[test]
fn an_unreachable_datasource_exits_2_rather_than_passing_and_keeps_its_password() {
    let dir = TempDir::new("tocsin-diff-usage").expect("temp dir");
    let mut a = args(&dir, BASE_RULES, BASE_RULES, &["--query-timeout", "2s"]);
    a[2] = format!("http://ops:s3cr3t-pw@127.0.0.1:{}", free_port());
    let out = run_tocsin(&a);
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains("s3cr3t-pw"), "{text}");
    }
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("--datasource"), "{}", out.stderr);
}

#[test]
fn a_candidate_that_does_not_load_exits_1_with_check_errors_and_a_bad_baseline_2() {
    let dir = TempDir::new("tocsin-diff-usage").expect("temp dir");
    let broken = BASE_RULES.replace("for: 2m", "for: 2 minutes");
    let out = run_tocsin(&args(&dir, BASE_RULES, &broken, &[]));
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("the new rule set does not load"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("new.yaml:7:"), "{}", out.stderr);

    let baseline = run_tocsin(&args(&dir, &broken, BASE_RULES, &[]));
    assert_eq!(baseline.code, 2, "{}", baseline.stderr);
    assert!(
        baseline.stderr.contains("old.yaml:7:"),
        "{}",
        baseline.stderr
    );
}
