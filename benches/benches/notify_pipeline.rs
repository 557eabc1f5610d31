//! Routing + grouping + rendering for 100,000 alerts: a routing tree with matchers and
//! `continue`, 100,000 firing alerts in 1,000 groups (`group_by: [alertname, job]`),
//! one `ingest`, the first `tick` after group_wait, and every notification rendered for
//! DingTalk as a robot's lane renders it (`render_own`: full layout when it fits one
//! message, compact otherwise). Reported per alert.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tocsin_notify::group::Dispatcher;
use tocsin_notify::render::{render_own, RenderOptions};
use tocsin_notify::time::Timestamp;

#[path = "../common/notify_workload.rs"]
mod workload;
use workload::{alerts, tree, ALERTS};

fn pipeline(c: &mut Criterion) {
    let tree = tree();
    let alerts = alerts();
    let opts = RenderOptions {
        external_url: "http://tocsin:9096/alerts".into(),
        time_zone: tocsin_notify::zoned::TimeZone::named("Asia/Shanghai")
            .expect("in the tz database"),
        ..RenderOptions::default()
    };
    let t0 = Timestamp::from_secs(1_787_214_000);
    let mut g = c.benchmark_group("notify");
    g.throughput(Throughput::Elements(ALERTS as u64));
    g.sample_size(10);
    g.bench_function("route_group_render_100k_alerts", |b| {
        b.iter(|| {
            let mut d = Dispatcher::new(tree.clone(), HashMap::new());
            d.ingest(alerts.iter().cloned(), t0);
            let ns = d.tick(t0 + std::time::Duration::from_secs(30));
            let mut bytes = 0;
            for n in &ns {
                for p in render_own(n, &opts) {
                    bytes += p.rendered.text.len();
                }
            }
            black_box((ns.len(), bytes))
        })
    });
    g.bench_function("route_group_only_100k_alerts", |b| {
        b.iter(|| {
            let mut d = Dispatcher::new(tree.clone(), HashMap::new());
            d.ingest(alerts.iter().cloned(), t0);
            black_box(d.tick(t0 + std::time::Duration::from_secs(30)).len())
        })
    });
    g.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
