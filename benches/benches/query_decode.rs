//! Decoding a 10,000-series `/api/v1/query` vector answer (tocsin-query's hot path), alone
//! and on to the engine's samples as the runner hands them to a rule (`runner/query.rs`).
//!
//! `cargo bench -p tocsin-benches --bench query_decode`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tocsin_engine::Sample;
use tocsin_query::{decode_query_response, QueryValue};

/// A Prometheus-shaped answer: Flink-like series with 7 labels each, sorted as Prometheus
/// sends them, `sec.mmm` timestamps, a mix of value forms.
fn vector_response(series: usize) -> String {
    let mut s = String::with_capacity(series * 260);
    s.push_str(r#"{"status":"success","data":{"resultType":"vector","result":["#);
    for i in 0..series {
        if i > 0 {
            s.push(',');
        }
        let value = match i % 5 {
            0 => "1".to_string(),
            1 => format!("{}.{}", i, i % 997),
            2 => "NaN".to_string(),
            3 => format!("{}e-07", i % 9 + 1),
            _ => (i * 1_048_576).to_string(),
        };
        s.push_str(&format!(
            r#"{{"metric":{{"__name__":"flink_taskmanager_job_task_numRecordsInPerSecond","instance":"10.0.{}.{}:9249","job":"flink-tm","job_name":"orders-etl-{}","namespace":"flink-prod","pod":"orders-etl-taskmanager-{}-{}","task_name":"Source: kafka_orders \u0026 Map"}},"value":[1795480006.890,"{value}"]}}"#,
            i / 256 % 256,
            i % 256,
            i % 40,
            i % 64,
            i
        ));
    }
    s.push_str("]}}");
    s
}

fn bench(c: &mut Criterion) {
    let body = vector_response(10_000);
    let check = decode_query_response(200, body.as_bytes()).expect("decodes");
    match &check.value {
        QueryValue::Vector(v) => assert_eq!(v.len(), 10_000),
        other => panic!("{}", other.type_name()),
    }
    let mut g = c.benchmark_group("query_decode");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("vector_10k_series", |b| {
        b.iter(|| decode_query_response(200, std::hint::black_box(body.as_bytes())))
    });
    g.bench_function("vector_10k_series_to_engine_samples", |b| {
        b.iter(|| {
            let r = decode_query_response(200, std::hint::black_box(body.as_bytes()));
            match r.map(|r| r.value) {
                Ok(QueryValue::Vector(v)) => v
                    .into_iter()
                    .map(|s| Sample::new(s.labels, s.value))
                    .collect::<Vec<_>>(),
                _ => Vec::new(),
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
