//! Routing + grouping + rendering for 100,000 alerts: a routing tree with matchers and
//! `continue`, 100,000 firing alerts in 1,000 groups (`group_by: [alertname, job]`),
//! one `ingest`, the first `tick` after group_wait, and every notification rendered for
//! DingTalk (full layout when it fits one message, compact otherwise). Reported per alert.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tocsin_notify::alert::{labels, NotifyAlert};
use tocsin_notify::group::Dispatcher;
use tocsin_notify::render::{render_compact, render_full, RenderOptions};
use tocsin_notify::route::RouteTree;
use tocsin_notify::time::Timestamp;

const ALERTS: usize = 100_000;
const GROUPS: usize = 1_000;

fn tree() -> RouteTree {
    let cfg = serde_json::from_str(
        r#"{"receiver": "default", "group_by": ["alertname", "job"], "group_wait": "30s",
            "routes": [
              {"matchers": ["severity=\"critical\""], "receiver": "pager", "continue": true},
              {"match_re": {"job": "flink-.*"}, "receiver": "flink",
               "routes": [{"matchers": ["team=~\"stream|batch\""], "receiver": "flink-teams"}]},
              {"match": {"team": "web"}, "receiver": "web"}
            ]}"#,
    )
    .unwrap();
    RouteTree::compile(&cfg).unwrap()
}

fn alerts() -> Vec<NotifyAlert> {
    (0..ALERTS)
        .map(|i| {
            let g = i % GROUPS;
            let job = format!("flink-job-{}", g % 100);
            let name = format!("FlinkAlert{}", g / 100);
            let inst = format!("tm-{i:06}.flink.svc:9249");
            let severity = if i % 10 == 0 { "critical" } else { "warning" };
            let team = ["stream", "batch", "web", "infra"][i % 4];
            NotifyAlert::firing(
                labels([
                    ("alertname", name.as_str()),
                    ("instance", inst.as_str()),
                    ("job", job.as_str()),
                    ("severity", severity),
                    ("team", team),
                ]),
                labels([
                    ("summary", "Flink task manager lost heartbeats"),
                    (
                        "description",
                        "No heartbeat from the task manager for 2 minutes.",
                    ),
                ]),
                Timestamp::from_secs(1_787_214_000),
            )
        })
        .collect()
}

fn pipeline(c: &mut Criterion) {
    let tree = tree();
    let alerts = alerts();
    let opts = RenderOptions {
        external_url: "http://tocsin:9096/alerts".into(),
        utc_offset_minutes: 480,
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
                let full = render_full(n, &opts);
                if full.text.len() < opts.max_bytes - 1_000 {
                    bytes += full.text.len();
                } else {
                    for p in render_compact(std::slice::from_ref(n), &opts) {
                        bytes += p.rendered.text.len();
                    }
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
