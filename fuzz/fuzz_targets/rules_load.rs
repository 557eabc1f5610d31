//! Check arbitrary bytes as a rule file, as `tocsin check` and the engine's loader do
//! (`tocsin_rules::check_bytes`): no panic, no hang, memory bounded (alias bombs, deep
//! nesting, huge expressions), and every error names a line inside the file (lines as
//! YAML counts them).
//! Run: see benches/README.md, "Fuzzing".
#![no_main]

use libfuzzer_sys::fuzz_target;
use tocsin_rules::{check_bytes, missing_recordings, CheckOptions};

fuzz_target!(|data: &[u8]| {
    let options = CheckOptions {
        lint_duplicates: true,
        ack_layout: true,
        dependencies: true,
    };
    let mut reports = vec![check_bytes("alerting_rule_fuzz.yaml", data, options)];
    missing_recordings(&mut reports);
    let report = &reports[0];
    // YAML's line breaks: LF, CR, and CR LF as one.
    let lines = 1 + data
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && data.get(i + 1) != Some(&b'\n')))
        .count();
    for d in &report.diagnostics {
        if let Some(pos) = d.pos {
            assert!(pos.line <= lines, "{pos} beyond {lines} lines: {}", d.message);
        }
    }
});
