//! The notification bench's workload, shared by `benches/notify_pipeline.rs` (criterion,
//! wall clock) and `examples/notify_cpu.rs` (CPU time, for a shared machine).

use tocsin_notify::alert::{labels, NotifyAlert};
use tocsin_notify::route::RouteTree;
use tocsin_notify::time::Timestamp;

pub const ALERTS: usize = 100_000;
pub const GROUPS: usize = 1_000;

pub fn tree() -> RouteTree {
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

pub fn alerts() -> Vec<NotifyAlert> {
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
