#!/usr/bin/env python3
"""Generate a large, realistic Prometheus rule file for benchmarks (stdlib only).

    python3 benches/gen_rules.py --rules 100000 --out /tmp/rules-100k.yaml [--seed 1] [--group-size 20]
        [--interval 10s]

The output is deterministic for a given (--rules, --seed, --group-size) and is accepted by
`promtool check rules` (Prometheus 2.42): about 80% alerting rules (with `for`, severity/team labels
and summary/description templates) and 20% recording rules (`job:flink_records:rate5m`-style names),
in uniquely named groups of about --group-size rules; half the groups set their own interval
(15s to 5m), or every group the one given by --interval. Rule names (alert name / record name + labels)
are unique, so promtool's duplicate-rule lint stays quiet. Do not commit generated files.
"""

import argparse
import random
import sys

TEAMS = ["data-platform", "streaming", "payments", "search", "infra", "ml"]
SEVERITIES = ["critical", "warning", "warning", "info"]
NAMESPACES = ["flink-prod", "flink-staging", "etl", "realtime", "default"]
WINDOWS = ["1m", "2m", "5m", "10m", "15m", "30m", "1h"]
FORS = ["0s", "1m", "2m", "5m", "10m", "15m", "30m", "1h"]

# (metric, kind, nice name) -- kind: counter | gauge | histogram
METRICS = [
    ("flink_jobmanager_job_numRestarts", "counter", "JobRestarts"),
    ("flink_jobmanager_job_numberOfFailedCheckpoints", "counter", "FailedCheckpoints"),
    ("flink_jobmanager_job_numberOfCompletedCheckpoints", "counter", "CompletedCheckpoints"),
    ("flink_taskmanager_job_task_numRecordsIn", "counter", "RecordsIn"),
    ("flink_taskmanager_job_task_numRecordsOut", "counter", "RecordsOut"),
    ("flink_taskmanager_job_task_numBytesIn", "counter", "BytesIn"),
    ("flink_taskmanager_job_task_isBackPressured", "gauge", "BackPressured"),
    ("flink_taskmanager_job_task_backPressuredTimeMsPerSecond", "gauge", "BackPressureTime"),
    ("flink_jobmanager_numRegisteredTaskManagers", "gauge", "TaskManagers"),
    ("flink_jobmanager_job_lastCheckpointDuration", "gauge", "CheckpointDuration"),
    ("flink_jobmanager_job_lastCheckpointSize", "gauge", "CheckpointSize"),
    ("flink_jobmanager_job_uptime", "gauge", "JobUptime"),
    ("flink_jobmanager_job_downtime", "gauge", "JobDowntime"),
    ("flink_taskmanager_Status_JVM_Memory_Heap_Used", "gauge", "HeapUsed"),
    ("flink_taskmanager_Status_JVM_CPU_Load", "gauge", "CPULoad"),
    ("flink_taskmanager_job_task_operator_KafkaConsumer_records_lag_max", "gauge", "KafkaLag"),
    ("http_requests_total", "counter", "HTTPRequests"),
    ("node_cpu_seconds_total", "counter", "NodeCPU"),
    ("container_memory_working_set_bytes", "gauge", "ContainerMemory"),
    ("kube_pod_container_status_restarts_total", "counter", "PodRestarts"),
    ("http_request_duration_seconds", "histogram", "RequestLatency"),
    ("flink_rest_request_duration_seconds", "histogram", "RestLatency"),
]
GROUP_LABELS = ["job", "job_name", "namespace", "pod", "instance", "task_name", "topic"]


def q(s):
    """YAML single-quoted scalar."""
    return "'" + s.replace("'", "''") + "'"


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.names = set()

    def choice(self, xs):
        return self.r.choice(xs)

    def matchers(self):
        r = self.r
        ms = []
        n = r.choice([0, 1, 1, 2, 3])
        for _ in range(n):
            kind = r.randrange(5)
            if kind == 0:
                ms.append('namespace="%s"' % r.choice(NAMESPACES))
            elif kind == 1:
                ms.append('job_name=~"%s-.*"' % r.choice(["etl", "orders", "ingest", "clicks", "sessions"]))
            elif kind == 2:
                ms.append('job!="%s"' % r.choice(["test", "canary", "dev"]))
            elif kind == 3:
                ms.append('instance!~".*:%d"' % r.choice([8080, 9100, 9249, 9250]))
            else:
                ms.append('pod=~"flink-(jobmanager|taskmanager)-%d.*"' % r.randrange(100))
        # a selector must not match the empty name only; with a metric name it's always fine
        return "{" + ", ".join(ms) + "}" if ms else ""

    def sel(self, metric, suffix=""):
        return metric + suffix + self.matchers()

    def by(self, k=None):
        k = k if k is not None else self.r.choice([1, 1, 2, 3])
        return ", ".join(self.r.sample(GROUP_LABELS, k))

    def counter_expr(self, m):
        """An instant-vector expression over a counter."""
        r = self.r
        w = r.choice(WINDOWS)
        shape = r.randrange(6)
        if shape == 0:
            return "rate(%s[%s])" % (self.sel(m), w)
        if shape == 1:
            return "irate(%s[%s])" % (self.sel(m), r.choice(["1m", "2m", "5m"]))
        if shape == 2:
            return "sum by (%s) (rate(%s[%s]))" % (self.by(), self.sel(m), w)
        if shape == 3:
            return "sum without (instance, pod) (increase(%s[%s]))" % (self.sel(m), r.choice(["10m", "1h", "6h"]))
        if shape == 4:
            return "max_over_time(rate(%s[1m])[%s:1m])" % (self.sel(m), r.choice(["10m", "30m", "1h"]))
        return "(%s - %s offset %s)" % (self.sel(m), m, r.choice(["5m", "1h", "1d", "1w"]))

    def gauge_expr(self, m):
        r = self.r
        shape = r.randrange(7)
        if shape == 0:
            return self.sel(m)
        if shape == 1:
            return "avg_over_time(%s[%s])" % (self.sel(m), r.choice(WINDOWS))
        if shape == 2:
            return "max by (%s) (%s)" % (self.by(), self.sel(m))
        if shape == 3:
            return "predict_linear(%s[%s], %d * 3600)" % (self.sel(m), r.choice(["30m", "1h", "6h"]), r.choice([1, 4, 24]))
        if shape == 4:
            return 'label_replace(%s, "host", "$1", "instance", "(.*):[0-9]+")' % self.sel(m)
        if shape == 5:
            return "deriv(%s[%s])" % (self.sel(m), r.choice(["10m", "30m"]))
        return "min_over_time(%s[%s] offset %s)" % (self.sel(m), r.choice(WINDOWS), r.choice(["1m", "5m"]))

    def histogram_expr(self, m):
        r = self.r
        return "histogram_quantile(%s, sum by (le, %s) (rate(%s[%s])))" % (
            r.choice(["0.5", "0.9", "0.95", "0.99"]), self.by(1), self.sel(m, "_bucket"), r.choice(WINDOWS))

    def value_expr(self, metric, kind):
        if kind == "counter":
            return self.counter_expr(metric)
        if kind == "histogram":
            return self.histogram_expr(metric)
        return self.gauge_expr(metric)

    def alert_expr(self, metric, kind):
        r = self.r
        shape = r.randrange(10)
        thr = self.threshold()
        if shape == 0:
            return "absent(%s{job_name=\"%s-%d\"})" % (metric, r.choice(["etl", "orders", "ingest"]), r.randrange(1000))
        if shape == 1:
            # ratio with explicit vector matching
            other, okind, _ = self.choice(METRICS)
            lab = self.by(1)
            return "sum by (%s) (%s)\n  / on (%s) group_left\nsum by (%s) (%s) > %s" % (
                lab, self.value_expr(metric, kind), lab, lab, self.value_expr(other, okind), thr)
        if shape == 2:
            return "%s / ignoring (instance) %s > %s" % (
                self.value_expr(metric, kind), self.value_expr(metric, kind), thr)
        if shape == 3:
            return "%s > %s and on (%s) %s > 0" % (
                self.value_expr(metric, kind), thr, self.by(1), self.value_expr(metric, kind))
        if shape == 4:
            return "topk(%d, %s) > %s" % (r.choice([1, 3, 5, 10]), self.value_expr(metric, kind), thr)
        if shape == 5:
            return "%s %s bool %s == 1" % (self.value_expr(metric, kind), r.choice([">", "<", ">="]), thr)
        return "%s %s %s" % (self.value_expr(metric, kind), r.choice([">", "<", ">=", "!="]), thr)

    def threshold(self):
        r = self.r
        return r.choice(["0", "1", "3", "0.9", "0.95", "100", "500", "1e3", "1e5", "2 * 1024 * 1024 * 1024", str(r.randrange(1, 10000))])

    def unique(self, name):
        if name not in self.names:
            self.names.add(name)
            return name
        i = 2
        while "%s_%d" % (name, i) in self.names:
            i += 1
        name = "%s_%d" % (name, i)
        self.names.add(name)
        return name

    def alert_rule(self, out, idx):
        r = self.r
        metric, kind, nice = self.choice(METRICS)
        name = self.unique(r.choice(["Flink", "High", "Low", "Stuck", "Growing", ""]) + nice + r.choice(["", "High", "Critical", "Anomaly", "Stalled"]))
        sev = self.choice(SEVERITIES)
        expr = self.alert_expr(metric, kind)
        out.append("      - alert: %s\n" % name)
        if "\n" in expr:
            out.append("        expr: |\n")
            for line in expr.split("\n"):
                out.append("          %s\n" % line)
        else:
            out.append("        expr: %s\n" % q(expr))
        out.append("        for: %s\n" % self.choice(FORS))
        if r.random() < 0.1:
            out.append("        keep_firing_for: %s\n" % r.choice(["5m", "10m", "1h"]))
        out.append("        labels:\n")
        out.append("          severity: %s\n" % sev)
        out.append("          team: %s\n" % self.choice(TEAMS))
        if r.random() < 0.3:
            out.append("          runbook: %s\n" % q("https://wiki.example.com/runbooks/%s" % name.lower()))
        summary = self.choice([
            "{{ $labels.instance }}: %s is {{ $value | humanize }}" % nice,
            "%s on {{ $labels.instance }} ({{ $labels.job }})" % nice,
            "{{ $labels.job_name }} %s = {{ printf \"%%.2f\" $value }}" % nice,
            "%s for {{ $labels.namespace }}/{{ $labels.pod }}" % nice,
        ])
        desc = self.choice([
            "Value {{ $value | humanize }} on {{ $labels.instance }} has been above the threshold for a while.",
            "{{ $labels.instance }} reports {{ printf \"%.2f\" $value }} (job {{ $labels.job }}).",
            "Lasting {{ $value | humanizeDuration }} on {{ $labels.instance }}.",
            "{{ range $k, $v := $labels }}{{ $k }}={{ $v }} {{ end }}value={{ $value }}",
            "{{ if gt $value 1.0 }}above{{ else }}below{{ end }} one: {{ $value | humanizePercentage }} on {{ $labels.instance }}",
        ])
        out.append("        annotations:\n")
        out.append("          summary: %s\n" % q(summary))
        out.append("          description: %s\n" % q(desc))

    def record_rule(self, out, idx):
        r = self.r
        metric, kind, _ = self.choice(METRICS)
        level = r.choice(["job", "namespace", "instance", "pod", "job_name"])
        short = metric.replace("flink_taskmanager_job_task_", "flink_").replace("flink_jobmanager_job_", "flink_job_")
        short = short.replace("_total", "")
        w = r.choice(WINDOWS)
        if kind == "counter":
            op = r.choice(["rate", "increase"])
            expr = "sum by (%s) (%s(%s[%s]))" % (level, op, self.sel(metric), w)
            name = "%s:%s:%s%s" % (level, short, op, w)
        elif kind == "histogram":
            qq = r.choice(["0.5", "0.9", "0.99"])
            expr = "histogram_quantile(%s, sum by (le, %s) (rate(%s_bucket[%s])))" % (qq, level, metric, w)
            name = "%s:%s:p%s_rate%s" % (level, short, qq[2:], w)
        else:
            agg = r.choice(["max", "min", "avg", "sum"])
            if r.random() < 0.5:
                expr = "%s by (%s) (%s)" % (agg, level, self.sel(metric))
                name = "%s:%s:%s" % (level, short, agg)
            else:
                expr = "%s by (%s) (avg_over_time(%s[%s]))" % (agg, level, self.sel(metric), w)
                name = "%s:%s:%s_avg%s" % (level, short, agg, w)
        out.append("      - record: %s\n" % self.unique(name))
        out.append("        expr: %s\n" % q(expr))
        if r.random() < 0.7:
            out.append("        labels:\n")
            out.append("          team: %s\n" % self.choice(TEAMS))
            if r.random() < 0.3:
                out.append("          source: flink-reporter\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rules", type=int, default=1000, help="total number of rules (default 1000)")
    ap.add_argument("--out", default="-", help="output file (default stdout)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--group-size", type=int, default=20, help="rules per group (default 20)")
    ap.add_argument("--record-ratio", type=float, default=0.2, help="share of recording rules (default 0.2)")
    ap.add_argument("--interval", help="give every group this interval (e.g. 10s) instead of the mix")
    a = ap.parse_args()
    if a.rules < 0 or a.group_size < 1:
        ap.error("--rules must be >= 0 and --group-size >= 1")

    g = Gen(a.seed)
    out = ["# Generated by benches/gen_rules.py --rules %d --seed %d --group-size %d; do not edit or commit.\n"
           % (a.rules, a.seed, a.group_size), "groups:\n"]
    if a.rules == 0:
        out[-1] = "groups: []\n"
    made = 0
    gi = 0
    while made < a.rules:
        gi += 1
        n = min(a.rules - made, a.group_size)
        team = g.choice(TEAMS)
        out.append("  - name: %s\n" % q("%s-%s-%06d" % (team, g.choice(["flink", "kafka", "k8s", "api", "jvm"]), gi)))
        if g.r.random() < 0.5:
            # Drawn even when --interval overrides it, so the rules themselves stay the same.
            mixed = g.choice(["15s", "30s", "1m", "2m", "5m"])
            if not a.interval:
                out.append("    interval: %s\n" % mixed)
        if a.interval:
            out.append("    interval: %s\n" % a.interval)
        if g.r.random() < 0.05:
            out.append("    limit: %d\n" % g.r.choice([10, 100, 1000]))
        out.append("    rules:\n")
        for i in range(n):
            if g.r.random() < a.record_ratio:
                g.record_rule(out, made + i)
            else:
                g.alert_rule(out, made + i)
        made += n

    text = "".join(out)
    if a.out == "-":
        sys.stdout.write(text)
    else:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
