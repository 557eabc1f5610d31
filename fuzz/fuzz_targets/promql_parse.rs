//! Parse arbitrary text as PromQL: no panic, no stack overflow, no hang; and what parses
//! prints to a form that parses again to the same print (the canonical form tocsin sends
//! to Prometheus and shows in `/api/v1/rules` must stay valid).
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
        Ok(again) => assert_eq!(again.to_string(), printed, "input {text:?}"),
        Err(e) => panic!("printed form {printed:?} of {text:?} does not parse: {e}"),
    }
});
