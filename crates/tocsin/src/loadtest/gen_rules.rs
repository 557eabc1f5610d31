//! Generated rule files for `tocsin loadtest rules`: the shapes of `benches/gen_rules.py`
//! (Flink, Kubernetes and HTTP metrics; about 80% alerting rules with `for`, labels and
//! templated annotations, 20% recording rules; groups of 20), ported so the binary needs
//! no Python. The draw is this module's own (a seeded SplitMix64), so a file is the same
//! for the same arguments here, not byte for byte the Python script's.

use std::collections::HashSet;
use std::fmt::Write as _;

const TEAMS: &[&str] = &[
    "data-platform",
    "streaming",
    "payments",
    "search",
    "infra",
    "ml",
];
const SEVERITIES: &[&str] = &["critical", "warning", "warning", "info"];
const NAMESPACES: &[&str] = &["flink-prod", "flink-staging", "etl", "realtime", "default"];
const WINDOWS: &[&str] = &["1m", "2m", "5m", "10m", "15m", "30m", "1h"];
const FORS: &[&str] = &["0s", "1m", "2m", "5m", "10m", "15m", "30m", "1h"];
const GROUP_LABELS: &[&str] = &[
    "job",
    "job_name",
    "namespace",
    "pod",
    "instance",
    "task_name",
    "topic",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

const METRICS: &[(&str, Kind, &str)] = &[
    (
        "flink_jobmanager_job_numRestarts",
        Kind::Counter,
        "JobRestarts",
    ),
    (
        "flink_jobmanager_job_numberOfFailedCheckpoints",
        Kind::Counter,
        "FailedCheckpoints",
    ),
    (
        "flink_taskmanager_job_task_numRecordsIn",
        Kind::Counter,
        "RecordsIn",
    ),
    (
        "flink_taskmanager_job_task_numRecordsOut",
        Kind::Counter,
        "RecordsOut",
    ),
    (
        "flink_taskmanager_job_task_isBackPressured",
        Kind::Gauge,
        "BackPressured",
    ),
    (
        "flink_jobmanager_numRegisteredTaskManagers",
        Kind::Gauge,
        "TaskManagers",
    ),
    (
        "flink_jobmanager_job_lastCheckpointDuration",
        Kind::Gauge,
        "CheckpointDuration",
    ),
    ("flink_jobmanager_job_uptime", Kind::Gauge, "JobUptime"),
    (
        "flink_taskmanager_Status_JVM_CPU_Load",
        Kind::Gauge,
        "CPULoad",
    ),
    (
        "flink_taskmanager_job_task_operator_KafkaConsumer_records_lag_max",
        Kind::Gauge,
        "KafkaLag",
    ),
    ("http_requests_total", Kind::Counter, "HTTPRequests"),
    ("node_cpu_seconds_total", Kind::Counter, "NodeCPU"),
    (
        "container_memory_working_set_bytes",
        Kind::Gauge,
        "ContainerMemory",
    ),
    (
        "kube_pod_container_status_restarts_total",
        Kind::Counter,
        "PodRestarts",
    ),
    (
        "http_request_duration_seconds",
        Kind::Histogram,
        "RequestLatency",
    ),
    (
        "flink_rest_request_duration_seconds",
        Kind::Histogram,
        "RestLatency",
    ),
];

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

struct Gen {
    r: Rng,
    names: HashSet<String>,
}

/// YAML single-quoted scalar.
fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl Gen {
    fn matchers(&mut self) -> String {
        let n = *self.r.pick(&[0, 1, 1, 2, 3]);
        let mut ms = Vec::new();
        for _ in 0..n {
            ms.push(match self.r.below(5) {
                0 => format!("namespace=\"{}\"", self.r.pick(NAMESPACES)),
                1 => format!(
                    "job_name=~\"{}-.*\"",
                    self.r
                        .pick(&["etl", "orders", "ingest", "clicks", "sessions"])
                ),
                2 => format!("job!=\"{}\"", self.r.pick(&["test", "canary", "dev"])),
                3 => format!(
                    "instance!~\".*:{}\"",
                    self.r.pick(&[8080, 9100, 9249, 9250])
                ),
                _ => format!(
                    "pod=~\"flink-(jobmanager|taskmanager)-{}.*\"",
                    self.r.below(100)
                ),
            });
        }
        if ms.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", ms.join(", "))
        }
    }

    fn sel(&mut self, metric: &str, suffix: &str) -> String {
        format!("{metric}{suffix}{}", self.matchers())
    }

    fn by(&mut self, k: usize) -> String {
        let mut labels: Vec<&str> = GROUP_LABELS.to_vec();
        let mut out = Vec::new();
        for _ in 0..k {
            let i = self.r.below(labels.len());
            out.push(labels.remove(i));
        }
        out.join(", ")
    }

    fn some_by(&mut self) -> String {
        let k = *self.r.pick(&[1, 1, 2, 3]);
        self.by(k)
    }

    fn counter_expr(&mut self, m: &str) -> String {
        let w = *self.r.pick(WINDOWS);
        match self.r.below(6) {
            0 => format!("rate({}[{w}])", self.sel(m, "")),
            1 => format!(
                "irate({}[{}])",
                self.sel(m, ""),
                self.r.pick(&["1m", "2m", "5m"])
            ),
            2 => format!(
                "sum by ({}) (rate({}[{w}]))",
                self.some_by(),
                self.sel(m, "")
            ),
            3 => format!(
                "sum without (instance, pod) (increase({}[{}]))",
                self.sel(m, ""),
                self.r.pick(&["10m", "1h", "6h"])
            ),
            4 => format!(
                "max_over_time(rate({}[1m])[{}:1m])",
                self.sel(m, ""),
                self.r.pick(&["10m", "30m", "1h"])
            ),
            _ => format!(
                "({} - {m} offset {})",
                self.sel(m, ""),
                self.r.pick(&["5m", "1h", "1d", "1w"])
            ),
        }
    }

    fn gauge_expr(&mut self, m: &str) -> String {
        match self.r.below(7) {
            0 => self.sel(m, ""),
            1 => format!(
                "avg_over_time({}[{}])",
                self.sel(m, ""),
                self.r.pick(WINDOWS)
            ),
            2 => format!("max by ({}) ({})", self.some_by(), self.sel(m, "")),
            3 => format!(
                "predict_linear({}[{}], {} * 3600)",
                self.sel(m, ""),
                self.r.pick(&["30m", "1h", "6h"]),
                self.r.pick(&[1, 4, 24])
            ),
            4 => format!(
                "label_replace({}, \"host\", \"$1\", \"instance\", \"(.*):[0-9]+\")",
                self.sel(m, "")
            ),
            5 => format!(
                "deriv({}[{}])",
                self.sel(m, ""),
                self.r.pick(&["10m", "30m"])
            ),
            _ => format!(
                "min_over_time({}[{}] offset {})",
                self.sel(m, ""),
                self.r.pick(WINDOWS),
                self.r.pick(&["1m", "5m"])
            ),
        }
    }

    fn value_expr(&mut self, m: &str, kind: Kind) -> String {
        match kind {
            Kind::Counter => self.counter_expr(m),
            Kind::Gauge => self.gauge_expr(m),
            Kind::Histogram => format!(
                "histogram_quantile({}, sum by (le, {}) (rate({}[{}])))",
                self.r.pick(&["0.5", "0.9", "0.95", "0.99"]),
                self.by(1),
                self.sel(m, "_bucket"),
                self.r.pick(WINDOWS)
            ),
        }
    }

    fn threshold(&mut self) -> String {
        let n = self.r.below(10_000) + 1;
        let all = ["0", "1", "3", "0.9", "0.95", "100", "500", "1e3", "1e5"];
        match self.r.below(all.len() + 2) {
            i if i < all.len() => all[i].to_owned(),
            i if i == all.len() => "2 * 1024 * 1024 * 1024".to_owned(),
            _ => n.to_string(),
        }
    }

    fn alert_expr(&mut self, m: &str, kind: Kind) -> String {
        let thr = self.threshold();
        match self.r.below(10) {
            0 => format!(
                "absent({m}{{job_name=\"{}-{}\"}})",
                self.r.pick(&["etl", "orders", "ingest"]),
                self.r.below(1000)
            ),
            1 => {
                let (other, okind, _) = *self.r.pick(METRICS);
                let lab = self.by(1);
                format!(
                    "sum by ({lab}) ({})\n  / on ({lab}) group_left\nsum by ({lab}) ({}) > {thr}",
                    self.value_expr(m, kind),
                    self.value_expr(other, okind)
                )
            }
            2 => format!(
                "{} / ignoring (instance) {} > {thr}",
                self.value_expr(m, kind),
                self.value_expr(m, kind)
            ),
            3 => format!(
                "{} > {thr} and on ({}) {} > 0",
                self.value_expr(m, kind),
                self.by(1),
                self.value_expr(m, kind)
            ),
            4 => format!(
                "topk({}, {}) > {thr}",
                self.r.pick(&[1, 3, 5, 10]),
                self.value_expr(m, kind)
            ),
            5 => format!(
                "{} {} bool {thr} == 1",
                self.value_expr(m, kind),
                self.r.pick(&[">", "<", ">="])
            ),
            _ => format!(
                "{} {} {thr}",
                self.value_expr(m, kind),
                self.r.pick(&[">", "<", ">=", "!="])
            ),
        }
    }

    fn unique(&mut self, name: String) -> String {
        let mut candidate = name.clone();
        let mut i = 2;
        while self.names.contains(&candidate) {
            candidate = format!("{name}_{i}");
            i += 1;
        }
        self.names.insert(candidate.clone());
        candidate
    }

    fn alert_rule(&mut self, out: &mut String) {
        let (metric, kind, nice) = *self.r.pick(METRICS);
        let prefix = *self
            .r
            .pick(&["Flink", "High", "Low", "Stuck", "Growing", ""]);
        let suffix = *self.r.pick(&["", "High", "Critical", "Anomaly", "Stalled"]);
        let name = self.unique(format!("{prefix}{nice}{suffix}"));
        let expr = self.alert_expr(metric, kind);
        let _ = writeln!(out, "      - alert: {name}");
        if expr.contains('\n') {
            out.push_str("        expr: |\n");
            for line in expr.lines() {
                let _ = writeln!(out, "          {line}");
            }
        } else {
            let _ = writeln!(out, "        expr: {}", q(&expr));
        }
        let _ = writeln!(out, "        for: {}", self.r.pick(FORS));
        let _ = writeln!(
            out,
            "        labels:\n          severity: {}",
            self.r.pick(SEVERITIES)
        );
        let _ = writeln!(out, "          team: {}", self.r.pick(TEAMS));
        let summary = match self.r.below(4) {
            0 => format!("{{{{ $labels.instance }}}}: {nice} is {{{{ $value | humanize }}}}"),
            1 => format!("{nice} on {{{{ $labels.instance }}}} ({{{{ $labels.job }}}})"),
            2 => format!("{{{{ $labels.job_name }}}} {nice} = {{{{ printf \"%.2f\" $value }}}}"),
            _ => format!("{nice} for {{{{ $labels.namespace }}}}/{{{{ $labels.pod }}}}"),
        };
        let description = *self.r.pick(&[
            "Value {{ $value | humanize }} on {{ $labels.instance }} has been above the threshold for a while.",
            "{{ $labels.instance }} reports {{ printf \"%.2f\" $value }} (job {{ $labels.job }}).",
            "Lasting {{ $value | humanizeDuration }} on {{ $labels.instance }}.",
            "{{ range $k, $v := $labels }}{{ $k }}={{ $v }} {{ end }}value={{ $value }}",
        ]);
        let _ = writeln!(
            out,
            "        annotations:\n          summary: {}\n          description: {}",
            q(&summary),
            q(description)
        );
    }

    fn record_rule(&mut self, out: &mut String) {
        let (metric, kind, _) = *self.r.pick(METRICS);
        let level = *self
            .r
            .pick(&["job", "namespace", "instance", "pod", "job_name"]);
        let short = metric
            .replace("flink_taskmanager_job_task_", "flink_")
            .replace("flink_jobmanager_job_", "flink_job_")
            .replace("_total", "");
        let w = *self.r.pick(WINDOWS);
        let (expr, name) = match kind {
            Kind::Counter => {
                let op = *self.r.pick(&["rate", "increase"]);
                (
                    format!("sum by ({level}) ({op}({}[{w}]))", self.sel(metric, "")),
                    format!("{level}:{short}:{op}{w}"),
                )
            }
            Kind::Histogram => {
                let qq = *self.r.pick(&["0.5", "0.9", "0.99"]);
                (
                    format!(
                        "histogram_quantile({qq}, sum by (le, {level}) (rate({metric}_bucket[{w}])))"
                    ),
                    format!("{level}:{short}:p{}_rate{w}", &qq[2..]),
                )
            }
            Kind::Gauge => {
                let agg = *self.r.pick(&["max", "min", "avg", "sum"]);
                (
                    format!("{agg} by ({level}) ({})", self.sel(metric, "")),
                    format!("{level}:{short}:{agg}"),
                )
            }
        };
        let name = self.unique(name);
        let _ = writeln!(out, "      - record: {name}\n        expr: {}", q(&expr));
        if self.r.chance(0.7) {
            let _ = writeln!(
                out,
                "        labels:\n          team: {}",
                self.r.pick(TEAMS)
            );
        }
    }
}

/// A rule file of `rules` rules in groups of `group_size`, every group at `interval`
/// (Prometheus syntax, e.g. `15s`).
pub fn generate(rules: usize, group_size: usize, interval: &str, seed: u64) -> String {
    let mut g = Gen {
        r: Rng(seed),
        names: HashSet::new(),
    };
    let mut out = format!(
        "# Generated by tocsin loadtest rules ({rules} rules, the shapes of benches/gen_rules.py).\ngroups:\n"
    );
    if rules == 0 {
        return out.replace("groups:\n", "groups: []\n");
    }
    let mut made = 0;
    let mut group = 0;
    while made < rules {
        group += 1;
        let n = (rules - made).min(group_size.max(1));
        let team = *g.r.pick(TEAMS);
        let area = *g.r.pick(&["flink", "kafka", "k8s", "api", "jvm"]);
        let _ = writeln!(
            out,
            "  - name: {}\n    interval: {interval}\n    rules:",
            q(&format!("{team}-{area}-{group:06}"))
        );
        for _ in 0..n {
            if g.r.chance(0.2) {
                g.record_rule(&mut out);
            } else {
                g.alert_rule(&mut out);
            }
        }
        made += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_file_has_the_asked_number_of_valid_rules_and_is_the_same_each_time() {
        let text = generate(45, 20, "15s", 1);
        assert_eq!(text, generate(45, 20, "15s", 1));
        assert_eq!(text.matches("\n  - name: ").count(), 3);
        let rules =
            text.matches("\n      - alert: ").count() + text.matches("\n      - record: ").count();
        assert_eq!(rules, 45);
        let report =
            tocsin_rules::check_text("gen.yaml", &text, tocsin_rules::CheckOptions::default());
        assert!(
            report.diagnostics.iter().all(|d| !d.is_error()),
            "{:#?}\n{text}",
            report.diagnostics
        );
        assert_eq!((report.groups, report.rules), (3, 45));
    }
}
