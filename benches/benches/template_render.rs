//! Rendering a typical two-annotation alert (summary + description using
//! $labels, humanize and printf) with templates parsed once, and parsing the
//! same two annotations (what `tocsin check` does ~4 times per alerting rule).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use tocsin_template::{parse_alert_template, AlertTemplateData, Sample, TemplateContext};

struct NoQueries;

impl TemplateContext for NoQueries {
    fn query(&self, _expr: &str) -> Result<Vec<Sample>, String> {
        Ok(Vec::new())
    }
}

const NAME: &str = "__alert_HighCpuLoad";
const SUMMARY: &str = "Host high CPU load (instance {{ $labels.instance }})";
/// The annotation the parse target (≤ 1.5 µs) was set for.
const TYPICAL: &str = "{{ $labels.instance }}: JobRestarts is {{ $value | humanize }}";
const DESCRIPTION: &str = "CPU load is {{ humanize $value }} ({{ printf \"%.2f\" $value }}%) on {{ $labels.job }}.\n  LABELS = {{ $labels }}";

fn render(c: &mut Criterion) {
    let summary = parse_alert_template(NAME, SUMMARY).unwrap();
    let description = parse_alert_template(NAME, DESCRIPTION).unwrap();
    let data = AlertTemplateData {
        labels: [
            ("instance", "host1.example.com:9100"),
            ("job", "node"),
            ("mode", "idle"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        external_labels: Default::default(),
        external_url: "http://prom.example.com:9090/".into(),
        value: 1234.5678,
    };
    let mut g = c.benchmark_group("template");
    g.throughput(Throughput::Elements(1));
    g.bench_function("render_two_annotations", |b| {
        b.iter(|| {
            let s = summary.render(black_box(&data), &NoQueries).unwrap();
            let d = description.render(black_box(&data), &NoQueries).unwrap();
            (s, d)
        })
    });
    // Two templates per iteration: µs/template is half the reported time.
    g.bench_function("parse_two_annotations", |b| {
        b.iter(|| {
            let s = parse_alert_template(black_box(NAME), black_box(SUMMARY)).unwrap();
            let d = parse_alert_template(black_box(NAME), black_box(DESCRIPTION)).unwrap();
            (s, d)
        })
    });
    g.bench_function("parse_typical_annotation", |b| {
        b.iter(|| parse_alert_template(black_box(NAME), black_box(TYPICAL)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
