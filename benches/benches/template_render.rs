//! Rendering a typical two-annotation alert (summary + description using
//! $labels, humanize and printf) with templates parsed once.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use tocsin_template::{parse_alert_template, AlertTemplateData, Sample, TemplateContext};

struct NoQueries;

impl TemplateContext for NoQueries {
    fn query(&self, _expr: &str) -> Result<Vec<Sample>, String> {
        Ok(Vec::new())
    }
}

fn render(c: &mut Criterion) {
    let summary = parse_alert_template(
        "__alert_HighCpuLoad",
        "Host high CPU load (instance {{ $labels.instance }})",
    )
    .unwrap();
    let description = parse_alert_template(
        "__alert_HighCpuLoad",
        "CPU load is {{ humanize $value }} ({{ printf \"%.2f\" $value }}%) on {{ $labels.job }}.\n  LABELS = {{ $labels }}",
    )
    .unwrap();
    let data = AlertTemplateData {
        labels: [("instance", "host1.example.com:9100"), ("job", "node"), ("mode", "idle")]
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
    g.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
