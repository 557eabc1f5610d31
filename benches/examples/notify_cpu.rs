//! The `notify_pipeline` bench's iteration (100,000 alerts routed, grouped and rendered)
//! timed in CPU time of the running thread (`/proc/thread-self/schedstat`), best of 7: on
//! a machine shared with other builds, wall-clock figures mostly measure the others.
//!
//! `cargo run --release -p tocsin-benches --example notify_cpu [ITERATIONS]` (default 7; for
//! `valgrind --tool=callgrind`, the difference between runs of 2 and 1 iterations is the
//! instructions of one iteration, the set-up cancelled out).

use std::collections::HashMap;
use std::hint::black_box;

use tocsin_notify::group::Dispatcher;
use tocsin_notify::render::{render_own, RenderOptions};
use tocsin_notify::time::Timestamp;

#[path = "../common/notify_workload.rs"]
mod workload;
use workload::{alerts, tree};

/// Nanoseconds of CPU this thread has used.
fn cpu_ns() -> u64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").expect("Linux schedstat");
    s.split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a CPU time")
}

fn main() {
    let tree = tree();
    let alerts = alerts();
    let opts = RenderOptions {
        external_url: "http://tocsin:9096/alerts".into(),
        time_zone: tocsin_notify::zoned::TimeZone::named("Asia/Shanghai")
            .expect("in the tz database"),
        ..RenderOptions::default()
    };
    let t0 = Timestamp::from_secs(1_787_214_000);
    let mut best = (u64::MAX, u64::MAX);
    let iterations: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("ITERATIONS is a number"))
        .unwrap_or(7);
    for _ in 0..iterations {
        let c = cpu_ns();
        let mut d = Dispatcher::new(tree.clone(), HashMap::new());
        d.ingest(alerts.iter().cloned(), t0);
        let ns = d.tick(t0 + std::time::Duration::from_secs(30));
        let grouped = cpu_ns() - c;
        let mut bytes = 0;
        for n in &ns {
            for p in render_own(n, &opts) {
                bytes += p.rendered.text.len();
            }
        }
        black_box((ns.len(), bytes));
        let total = cpu_ns() - c;
        best = (best.0.min(total), best.1.min(grouped));
        eprintln!(
            "total {:.3} s cpu, route+group {:.3} s",
            total as f64 / 1e9,
            grouped as f64 / 1e9
        );
    }
    eprintln!(
        "best: total {:.3} s, route+group {:.3} s",
        best.0 as f64 / 1e9,
        best.1 as f64 / 1e9
    );
}
