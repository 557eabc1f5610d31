//! Inputs the cargo-fuzz target `promql_parse` (fuzz/) flagged, replayed from
//! tests/fuzz_regressions/: each parses, prints, and its print parses again to an
//! expression of the same type.

use std::path::Path;

#[test]
fn fuzz_findings_print_to_a_form_that_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz_regressions dir") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        if let Ok(expr) = tocsin_promql::parse(&text) {
            let printed = expr.to_string();
            let again = tocsin_promql::parse(&printed)
                .unwrap_or_else(|e| panic!("{}: {printed:?}: {e}", path.display()));
            assert_eq!(again.value_type(), expr.value_type(), "{}", path.display());
        }
        count += 1;
    }
    assert!(count >= 1);
}

/// Go prints the number `inf` as `+Inf` (`strconv.FormatFloat`), so Prometheus's printer
/// turns `c ^ inf ^ e` into `c ^ +Inf ^ e`, whose `+` reads back as a unary plus over
/// `Inf ^ e`: the same value, printed differently the second time. tocsin prints as
/// Prometheus does, not idempotently (both prints checked against Prometheus 2.42's
/// `/api/v1/rules`).
#[test]
fn infinity_in_a_power_chain_prints_as_prometheus_prints_it() {
    let expr = tocsin_promql::parse("a + b * c ^inf^ e").expect("valid");
    assert_eq!(expr.to_string(), "a + b * c ^ +Inf ^ e");
    let again = tocsin_promql::parse(&expr.to_string()).expect("valid");
    assert_eq!(again.to_string(), "a + b * c ^ ++Inf ^ e");
}
