//! Instant-query evaluation (tocsin-eval) of typical rule expressions over 10,000 series
//! each: the cost `tocsin test rules` (and an embedded datasource) pays per rule
//! evaluation. Data: 10 minutes of samples every 15 s.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use tocsin_eval::{Engine, Labels, Storage, Value};

const STEP_MS: i64 = 15_000;
const SAMPLES: i64 = 41; // 0..=10m
const EVAL_AT: i64 = (SAMPLES - 1) * STEP_MS;

fn load() -> Storage {
    let mut s = Storage::new();
    let mut add = |labels: Labels, f: &dyn Fn(i64) -> f64| {
        for i in 0..SAMPLES {
            s.append(&labels, i * STEP_MS, f(i))
                .expect("in-order samples");
        }
    };
    // 10,000 counters: 20 jobs x 100 instances x 5 status codes.
    for job in 0..20 {
        for inst in 0..100 {
            for code in ["200", "201", "404", "500", "503"] {
                let labels = Labels::from_pairs([
                    ("__name__", "http_requests_total".to_owned()),
                    ("job", format!("job-{job}")),
                    ("instance", format!("10.0.{job}.{inst}:9100")),
                    ("code", code.to_owned()),
                ]);
                let rate = (job * 7 + inst) as f64 % 13.0 + 1.0;
                add(labels, &|i| i as f64 * rate * 15.0);
            }
        }
    }
    // 10,000 histogram buckets: 1,000 histograms (20 jobs x 50 instances) x 10 buckets.
    let les = [
        "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf",
    ];
    for job in 0..20 {
        for inst in 0..50 {
            for (b, le) in les.iter().enumerate() {
                let labels = Labels::from_pairs([
                    (
                        "__name__",
                        "http_request_duration_seconds_bucket".to_owned(),
                    ),
                    ("job", format!("job-{job}")),
                    ("instance", format!("10.0.{job}.{inst}:9100")),
                    ("le", (*le).to_owned()),
                ]);
                let per_step = 10.0 * (b + 1) as f64;
                add(labels, &|i| i as f64 * per_step);
            }
        }
    }
    // 10,000 gauges: `up` with some targets down.
    for job in 0..20 {
        for inst in 0..500 {
            let labels = Labels::from_pairs([
                ("__name__", "up".to_owned()),
                ("job", format!("job-{job}")),
                ("instance", format!("10.1.{job}.{inst}:9100")),
            ]);
            let v = if (job + inst) % 97 == 0 { 0.0 } else { 1.0 };
            add(labels, &|_| v);
        }
    }
    s
}

const EXPRS: [(&str, &str); 5] = [
    ("rate_sum_by", "sum by (job) (rate(http_requests_total[5m]))"),
    (
        "error_ratio",
        r#"sum by (job) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (job) (rate(http_requests_total[5m])) > 0.05"#,
    ),
    (
        "histogram_quantile",
        "histogram_quantile(0.99, sum by (le, job) (rate(http_request_duration_seconds_bucket[5m])))",
    ),
    ("up_eq_0", "up == 0"),
    (
        "absent_count_by",
        "count by (job) (up == 0) / count by (job) (up) > 0.01",
    ),
];

fn eval_instant(c: &mut Criterion) {
    let store = load();
    let engine = Engine::default();
    let mut group = c.benchmark_group("eval_instant_10k_series");
    for (name, q) in EXPRS {
        let expr = tocsin_promql::parse(q).expect("bench expression parses");
        match engine.instant(&store, &expr, EVAL_AT) {
            Ok(Value::Vector(v)) => assert!(!v.is_empty(), "{name} returns samples"),
            other => panic!("{name}: unexpected result {other:?}"),
        }
        group.bench_function(name, |b| {
            b.iter(|| engine.instant(&store, black_box(&expr), EVAL_AT))
        });
    }
    group.finish();
}

criterion_group!(benches, eval_instant);
criterion_main!(benches);
