//! `tocsin test rules` and the real `promtool test rules` (Prometheus 2.42) print the same
//! stdout and stderr and exit the same on promtool's own unit-test files
//! (testdata/promtool-unittest, vendored from Prometheus v2.42.0): passing tests, failing
//! tests, broken test files, broken rule files, broken input series and failing queries.

use std::path::{Path, PathBuf};
use std::process::Output;

mod promtool_output;
use promtool_output::{order_many_to_many_pair as normalize, run_in as run};

fn unittest_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/promtool-unittest")
}

#[test]
fn test_rules_matches_promtool_on_its_own_unit_test_files() {
    let dir = unittest_dir();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("testdata/promtool-unittest exists")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "unit-test files found: {files:?}");
    let tocsin = env!("CARGO_BIN_EXE_tocsin");
    let mut differences = Vec::new();
    let mut outcomes = (0, 0);
    for f in &files {
        let theirs = run("promtool", &["test", "rules", f], &dir);
        let ours = run(tocsin, &["test", "rules", f], &dir);
        if theirs.status.success() {
            outcomes.0 += 1;
        } else {
            outcomes.1 += 1;
        }
        let show = |o: &Output| {
            format!(
                "exit {:?}\n--- stdout\n{}--- stderr\n{}",
                o.status.code(),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        };
        let same = theirs.status.code() == ours.status.code()
            && theirs.stdout == ours.stdout
            && normalize(&String::from_utf8_lossy(&theirs.stderr))
                == normalize(&String::from_utf8_lossy(&ours.stderr));
        if !same {
            differences.push(format!(
                "{f}:\n=== promtool\n{}=== tocsin\n{}",
                show(&theirs),
                show(&ours)
            ));
        }
    }
    assert!(
        outcomes.0 > 0 && outcomes.1 > 0,
        "the files include passing and failing ones: {outcomes:?}"
    );
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

#[test]
fn run_selects_test_groups_by_name_and_json_reports_each_file() {
    let dir = unittest_dir();
    let tocsin = env!("CARGO_BIN_EXE_tocsin");
    // failing.yml fails in its groups named "Failing test" and "Failing alert test".
    let all = run(tocsin, &["test", "rules", "failing.yml"], &dir);
    assert_eq!(all.status.code(), Some(1));
    let one = run(
        tocsin,
        &["test", "rules", "--run", "^Failing alert", "failing.yml"],
        &dir,
    );
    let err = String::from_utf8_lossy(&one.stderr);
    assert!(err.contains("alertname: InstanceDown"), "{err}");
    assert!(!err.contains("expr: \"test\""), "{err}");
    let none = run(
        tocsin,
        &["test", "rules", "--run", "^no such group$", "failing.yml"],
        &dir,
    );
    assert_eq!(none.status.code(), Some(0));
    let json = run(
        tocsin,
        &[
            "test",
            "rules",
            "--format",
            "json",
            "failing.yml",
            "unittest.yml",
        ],
        &dir,
    );
    assert_eq!(json.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON output");
    assert_eq!(doc["success"], false);
    assert_eq!(doc["files"][0]["success"], false);
    assert_eq!(doc["files"][1]["file"], "unittest.yml");
    assert_eq!(doc["files"][1]["success"], true);
}

#[test]
fn normalize_orders_the_two_series_of_a_many_to_many_error() {
    let a = r#"x: [{__name__="j", b="4"}, {__name__="j", b="3"}];many"#;
    let b = r#"x: [{__name__="j", b="3"}, {__name__="j", b="4"}];many"#;
    assert_eq!(normalize(a), normalize(b));
    assert_eq!(normalize(b), b);
}
