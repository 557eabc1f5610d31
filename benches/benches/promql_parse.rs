//! PromQL parsing (tocsin-promql) over a mix of 20 realistic rule
//! expressions: per-expression cost of lexing, parsing, regex validation and
//! type checking, as `tocsin check` pays it once per rule.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

const EXPRS: [&str; 20] = [
    r#"sum by (job, instance) (rate(http_requests_total{job="api",code=~"5.."}[5m])) / sum by (job, instance) (rate(http_requests_total{job="api"}[5m])) > 0.05"#,
    r#"histogram_quantile(0.99, sum by (le, job) (rate(http_request_duration_seconds_bucket{job="api"}[5m]))) > 1.5"#,
    r#"up{job="flink-jobmanager"} == 0"#,
    r#"absent(up{job="prometheus"})"#,
    r#"flink_jobmanager_job_uptime{job_name=~"etl-.*"} < 60000"#,
    r#"increase(flink_jobmanager_job_numRestarts[10m]) > 3"#,
    r#"(node_filesystem_avail_bytes{fstype!~"tmpfs|overlay"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay"}) * 100 < 10"#,
    r#"100 - (avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])) * 100) > 90"#,
    r#"predict_linear(node_filesystem_free_bytes{mountpoint="/"}[6h], 4 * 3600) < 0"#,
    r#"sum(rate(container_cpu_usage_seconds_total{namespace="flink", container!=""}[5m])) by (pod) / sum(kube_pod_container_resource_limits{namespace="flink", resource="cpu"}) by (pod) > 0.9"#,
    r#"max_over_time(flink_taskmanager_job_task_backPressuredTimeMsPerSecond[5m]) > 500"#,
    r#"rate(flink_taskmanager_job_task_operator_numRecordsIn[1m]) == 0 and on (job_name) flink_jobmanager_job_uptime > 300000"#,
    r#"kube_pod_container_status_restarts_total - kube_pod_container_status_restarts_total offset 15m > 2"#,
    r#"topk(5, sum without (instance) (rate(http_requests_total[5m])))"#,
    r#"count(up == 0) by (job) / count(up) by (job) >= 0.5"#,
    r#"avg_over_time(flink_jobmanager_job_lastCheckpointDuration[15m]) > 60000 unless on (job_name) flink_jobmanager_job_uptime < 600000"#,
    r#"label_replace(rate(flink_taskmanager_Status_JVM_GarbageCollector_G1_Old_Generation_Time[5m]), "gc", "$1", "__name__", "(.+)_Time")"#,
    r#"max by (namespace, pod) (container_memory_working_set_bytes{container!="", namespace=~"flink|flink-.*"}) / on (namespace, pod) group_left max by (namespace, pod) (kube_pod_container_resource_limits{resource="memory"}) > 0.95"#,
    r#"min_over_time(sum by (job_name) (flink_jobmanager_numRunningJobs)[10m:1m]) < 1"#,
    r#"time() - flink_jobmanager_job_lastCheckpointExternalPath_timestamp_seconds > 3600"#,
];

fn parse_mix(c: &mut Criterion) {
    for e in EXPRS {
        assert!(
            tocsin_promql::parse(e).is_ok(),
            "bench expression must parse: {e}"
        );
    }
    let mut group = c.benchmark_group("promql_parse");
    group.throughput(Throughput::Elements(EXPRS.len() as u64));
    group.bench_function("mix_of_20", |b| {
        b.iter(|| {
            let mut ok = 0;
            for e in EXPRS {
                ok += usize::from(tocsin_promql::parse(black_box(e)).is_ok());
            }
            ok
        })
    });
    group.finish();
}

criterion_group!(benches, parse_mix);
criterion_main!(benches);
