//! Parse arbitrary text as PromQL: no panic, no stack overflow, no hang; and what parses
//! prints to a form that parses again, to an expression of the same type (the canonical
//! form tocsin sends to Prometheus and shows in `/api/v1/rules` must stay valid). The print
//! of the re-parse may differ: Prometheus's printer is not idempotent either (`c ^ inf ^ e`
//! prints as `c ^ +Inf ^ e`, whose `+` then reads as a unary plus over `Inf ^ e`).
//! Run: see benches/README.md, "Fuzzing".
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = tocsin_promql::parse(text) else {
        return;
    };
    let printed = expr.to_string();
    // Strings holding U+FFFD may come from bytes the printed form cannot carry.
    if printed.contains('\u{fffd}') {
        return;
    }
    match tocsin_promql::parse(&printed) {
        Ok(again) => assert_eq!(again.value_type(), expr.value_type(), "input {text:?}"),
        Err(e) => panic!("printed form {printed:?} of {text:?} does not parse: {e}"),
    }
});
