//! Load + validate (what `tocsin check` does per file) at 1k, 10k and 100k rules, so the
//! cost per rule is visible as the count grows. Rule files come from benches/gen_rules.py
//! (the same generator the whole-process comparison with promtool uses).

use std::path::Path;
use std::process::Command;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tocsin_rules::{check_text, CheckOptions};

fn generated(rules: usize) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("gen_rules.py");
    let output = Command::new("python3")
        .arg(&script)
        .args(["--rules", &rules.to_string(), "--seed", "1"])
        .output()
        .unwrap_or_else(|e| panic!("python3 {}: {e} (install python3)", script.display()));
    assert!(output.status.success(), "gen_rules.py failed");
    String::from_utf8(output.stdout).expect("generator writes UTF-8")
}

fn load_and_validate(c: &mut Criterion) {
    let mut group = c.benchmark_group("check_rules");
    group.sample_size(10);
    for rules in [1_000, 10_000, 100_000] {
        let text = generated(rules);
        group.throughput(Throughput::Elements(rules as u64));
        group.bench_with_input(BenchmarkId::from_parameter(rules), &text, |b, text| {
            b.iter(|| {
                let report = check_text("bench.yaml", text, CheckOptions::default());
                assert!(report.is_valid());
                report.rules
            })
        });
    }
    group.finish();
}

criterion_group!(benches, load_and_validate);
criterion_main!(benches);
