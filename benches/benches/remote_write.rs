//! Remote write: encoding and snappy-compressing one write of 10,000 series (a large
//! recording-rule group's output plus `ALERTS`), the CPU work tocsin does per evaluation
//! before the HTTP requests. `prost_derive_structs` is the straightforward alternative
//! (copy labels into the derived `WriteRequest`, then `encode_to_vec`), kept for
//! comparison with the allocation-free encoder tocsin uses.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tocsin_query::remote_write::{
    compress, encode_write_request_into, Label, Message, Sample, TimeSeries, WriteRequest,
    WriteSample, DEFAULT_MAX_SERIES_PER_REQUEST,
};
use tocsin_query::Labels;

const SERIES: usize = 10_000;

/// 7 labels per series like a Flink recording rule's output: name, job, namespace, pod,
/// instance, task name, and a subtask index; values vary per series.
fn series() -> Vec<WriteSample> {
    let t0 = 1_700_000_000_000i64;
    (0..SERIES)
        .map(|i| {
            let pod = format!("flink-taskmanager-{}-{:05x}", i / 64, i * 7919 % 0xfffff);
            let instance = format!("10.{}.{}.{}:9249", i / 65536, (i / 256) % 256, i % 256);
            let task = format!("Source: kafka-orders-{} -> Map -> Sink", i % 40);
            let subtask = (i % 64).to_string();
            let labels: Labels = [
                (
                    "__name__",
                    "job:flink_taskmanager_job_task_numRecordsInPerSecond:rate5m",
                ),
                ("job", "flink-taskmanager"),
                ("namespace", "flink-prod"),
                ("pod", &pod),
                ("instance", &instance),
                ("task_name", &task),
                ("subtask_index", &subtask),
            ]
            .into_iter()
            .collect();
            (labels, (i as f64) * 1.37 + 0.25, t0 + (i as i64 % 3))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let series = series();
    let mut buf = Vec::new();
    encode_write_request_into(&series, &mut buf);
    let compressed = compress(&buf).unwrap_or_default();
    eprintln!(
        "{SERIES} series: protobuf {} bytes, snappy {} bytes ({:.1}x)",
        buf.len(),
        compressed.len(),
        buf.len() as f64 / compressed.len().max(1) as f64
    );

    let mut g = c.benchmark_group("remote_write_10k");
    g.throughput(Throughput::Elements(SERIES as u64));
    g.bench_function("encode", |b| {
        b.iter(|| {
            buf.clear();
            encode_write_request_into(black_box(&series), &mut buf);
            black_box(buf.len())
        })
    });
    g.bench_function("compress", |b| {
        b.iter(|| black_box(compress(black_box(&buf)).map(|v| v.len())))
    });
    // What RemoteWriteClient::write does before sending: per batch of 500, encode into a
    // reused buffer and compress.
    g.bench_function("encode_compress_batched", |b| {
        let mut scratch = Vec::new();
        b.iter(|| {
            let mut total = 0;
            for batch in series.chunks(DEFAULT_MAX_SERIES_PER_REQUEST) {
                scratch.clear();
                encode_write_request_into(batch, &mut scratch);
                total += compress(&scratch).map_or(0, |v| v.len());
            }
            black_box(total)
        })
    });
    g.bench_function("prost_derive_structs", |b| {
        b.iter(|| {
            let req = WriteRequest {
                timeseries: series
                    .iter()
                    .map(|(labels, value, timestamp)| TimeSeries {
                        labels: labels
                            .iter()
                            .map(|(n, v)| Label {
                                name: n.to_string(),
                                value: v.to_string(),
                            })
                            .collect(),
                        samples: vec![Sample {
                            value: *value,
                            timestamp: *timestamp,
                        }],
                    })
                    .collect(),
            };
            black_box(req.encode_to_vec().len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
