//! The verdict table `testdata/promql/cases.txt` (Prometheus 2.42's answers)
//! and robustness checks: no input may panic or overflow the stack.

use std::path::PathBuf;

fn cases() -> Vec<(String, String)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/promql/cases.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (json, expected) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("line {}: no tab", n + 1));
        let input: String =
            serde_json::from_str(json).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        out.push((input, expected.to_owned()));
    }
    out
}

fn verdict(input: &str) -> String {
    match tocsin_promql::parse(input) {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn table_has_at_least_300_cases() {
    assert!(cases().len() >= 300, "only {} cases", cases().len());
}

#[test]
fn every_case_gets_prometheus_verdict_and_message() {
    let mut failures = Vec::new();
    for (input, expected) in cases() {
        let got = verdict(&input);
        if got != expected {
            failures.push(format!("{input:?}\n  want: {expected}\n  got:  {got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_prefix_of_every_case_parses_without_panicking() {
    for (input, _) in cases() {
        for (i, _) in input.char_indices() {
            let _ = tocsin_promql::parse(&input[..i]);
        }
    }
}

#[test]
fn byte_mutations_of_cases_parse_without_panicking() {
    // Deterministic xorshift so failures reproduce.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    const ALPHABET: &[u8] = b"(){}[]\"'`\\,:=!~<>+-*/%^@#. \n0123456789abemsxyz_by";
    for (input, _) in cases() {
        for _ in 0..40 {
            let mut bytes = input.clone().into_bytes();
            for _ in 0..1 + next() % 3 {
                let r = next() as usize;
                let c = ALPHABET[r % ALPHABET.len()];
                match (r >> 8) % 3 {
                    0 if !bytes.is_empty() => {
                        let at = (r >> 16) % bytes.len();
                        bytes[at] = c;
                    }
                    1 if !bytes.is_empty() => {
                        let at = (r >> 16) % bytes.len();
                        bytes.remove(at);
                    }
                    _ => {
                        let at = (r >> 16) % (bytes.len() + 1);
                        bytes.insert(at, c);
                    }
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            let _ = tocsin_promql::parse(&text);
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    // Reaching the limit takes about 8 KiB of stack per level in an unoptimised build:
    // run where the stack size is known rather than on the test harness's default.
    let outcome = std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(|| {
            for open in ["(", "-", "sum(", "rate(", "{a=\"b\"} + ("] {
                let deep = open.repeat(100_000);
                let err = tocsin_promql::parse(&deep).expect_err("deep nesting must fail");
                assert!(!err.message.is_empty());
            }
            let postfix_chain = format!("a{}", "[5m:]".repeat(100_000));
            assert!(tocsin_promql::parse(&postfix_chain).is_err());
        })
        .expect("spawn")
        .join();
    assert!(outcome.is_ok(), "a deep expression crashed the parser");
}

#[test]
fn long_operator_chains_are_not_nesting() {
    // promtool accepts these at any length; they are flat, not deep.
    let long_chain = vec!["a"; 100_000].join(" + ");
    assert!(tocsin_promql::parse(&long_chain).is_ok());
}

#[test]
fn moderately_deep_nesting_is_accepted() {
    let expr = format!("{}a{}", "(".repeat(100), ")".repeat(100));
    assert!(tocsin_promql::parse(&expr).is_ok());
}
