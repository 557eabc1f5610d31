//! Every file under testdata/rules gets the verdict and findings its expectations name.

use std::path::{Path, PathBuf};

use tocsin_rules::{check_file, CheckOptions, FileReport};
use tocsin_testkit::rule_files;

fn testdata(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/rules")
        .join(dir)
}

fn check(path: &Path) -> FileReport {
    check_file(&path.to_string_lossy(), CheckOptions::default())
}

/// One `LINE:COL<TAB>SUBSTRING` line of a `.expected` file.
struct Expected {
    line: usize,
    col: usize,
    substring: String,
}

fn expectations(path: &Path) -> Vec<Expected> {
    let text = std::fs::read_to_string(path.with_extension("expected"))
        .unwrap_or_else(|e| panic!("{}: no .expected file: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (pos, substring) = l.split_once('\t').expect("LINE:COL<TAB>SUBSTRING");
            let (line, col) = pos.split_once(':').expect("LINE:COL");
            Expected {
                line: line.parse().expect("line"),
                col: col.parse().expect("col"),
                substring: substring.to_string(),
            }
        })
        .collect()
}

/// Matches each expectation to a distinct error at that position containing its text.
fn mismatches(report: &FileReport, expected: &[Expected]) -> Option<String> {
    let errors: Vec<_> = report.diagnostics.iter().filter(|d| d.is_error()).collect();
    let mut used = vec![false; errors.len()];
    let mut problems = Vec::new();
    for e in expected {
        let found = errors.iter().enumerate().position(|(i, d)| {
            let pos = d.pos.unwrap_or_default();
            !used[i]
                && pos.line == e.line
                && (e.col == 0 || pos.col == e.col)
                && d.body().to_string().contains(&e.substring)
        });
        match found {
            Some(i) => used[i] = true,
            None => problems.push(format!("missing {}:{} {:?}", e.line, e.col, e.substring)),
        }
    }
    for (i, d) in errors.iter().enumerate() {
        if !used[i] {
            problems.push(format!("unexpected {d}"));
        }
    }
    (!problems.is_empty()).then(|| problems.join("\n    "))
}

#[test]
fn every_bad_file_reports_exactly_its_expected_errors() {
    let mut failures = Vec::new();
    let files = rule_files(&testdata("bad"));
    assert!(files.len() >= 40, "only {} bad files", files.len());
    for path in &files {
        let report = check(path);
        if report.is_valid() {
            failures.push(format!("{}: accepted", path.display()));
        } else if let Some(problems) = mismatches(&report, &expectations(path)) {
            failures.push(format!("{}:\n    {problems}", path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad files:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn every_good_file_is_valid() {
    let mut failures = Vec::new();
    for dir in ["good", "layout"] {
        for path in rule_files(&testdata(dir)) {
            let report = check(&path);
            if !report.is_valid() {
                let errors: Vec<String> =
                    report.diagnostics.iter().map(|d| d.to_string()).collect();
                failures.push(format!("{}: {}", path.display(), errors.join("; ")));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn loading_keeps_the_groups_of_a_valid_file_and_refuses_an_invalid_one() {
    let good = testdata("good/alerting_rule_flink_job.yaml");
    let (groups, report) = tocsin_rules::load_file(&good.to_string_lossy()).expect("valid");
    assert!(!groups.is_empty());
    assert_eq!(
        groups.iter().map(|g| g.rules.len()).sum::<usize>(),
        report.rules
    );

    let bad = testdata("bad/record_with_for.yaml");
    let report = tocsin_rules::load_file(&bad.to_string_lossy()).expect_err("invalid");
    assert!(!report.is_valid());
}

#[test]
fn template_errors_name_the_line_and_column_inside_the_template() {
    let bad = testdata("bad/tmpl_unknown_function.yaml");
    let report = check(&bad);
    let message = report
        .diagnostics
        .iter()
        .map(|d| d.body().to_string())
        .find(|m| m.contains("not defined"))
        .expect("a template error");
    assert!(message.contains("(template line 1, column "), "{message}");
}
