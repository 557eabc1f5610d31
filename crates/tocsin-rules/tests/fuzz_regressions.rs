//! Inputs the cargo-fuzz target `rules_load` (fuzz/) flagged, replayed from
//! tests/fuzz_regressions/ through the same checks: no panic, and every finding on a line
//! of the file as YAML counts lines (LF, CR, or CR LF each end one).

use std::path::Path;

use tocsin_rules::{check_bytes, missing_recordings, CheckOptions};

fn yaml_lines(data: &[u8]) -> usize {
    1 + data
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && data.get(i + 1) != Some(&b'\n')))
        .count()
}

#[test]
fn fuzz_findings_check_without_panic_and_point_inside_the_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz_regressions dir") {
        let path = entry.expect("entry").path();
        let data = std::fs::read(&path).expect("read");
        let options = CheckOptions {
            lint_duplicates: true,
            ack_layout: true,
            dependencies: true,
        };
        let mut reports = vec![check_bytes("alerting_rule_fuzz.yaml", &data, options)];
        missing_recordings(&mut reports);
        for d in &reports[0].diagnostics {
            if let Some(pos) = d.pos {
                assert!(
                    pos.line <= yaml_lines(&data),
                    "{}: {pos}: {}",
                    path.display(),
                    d.message
                );
            }
        }
        count += 1;
    }
    assert!(count >= 1);
}

#[test]
fn a_carriage_return_alone_ends_a_line_as_in_yaml() {
    let report = check_bytes(
        "f.yaml",
        b"groups:\r- name: g\r  rules:\r  - record: r\r    expr: rate(up)\r",
        CheckOptions::default(),
    );
    let pos = report.diagnostics[0].pos.expect("a position");
    assert_eq!((pos.line, pos.col), (5, 11), "{:?}", report.diagnostics);
}
