#!/usr/bin/env bash
# End-to-end engine benchmark (issue 3): N generated rules at one interval, evaluated by a real
# Prometheus itself and by `tocsin run` against that Prometheus, side by side.
#
#   cargo build --release -p tocsin
#   bash benches/e2e/run.sh [--rules 10000] [--interval 10s] [--duration 120] [--warmup 30]
#                           [--series 4]
#
# Phases: Prometheus starts with the rule file (and scrapes benches/e2e/exporter.py every 5 s,
# so the queries select real series and some alerts fire); after --warmup seconds it runs
# alone for --duration seconds; then `tocsin run` starts on the same file (same absolute path,
# so the same slots) and both run for --duration seconds. For each phase and process: CPU
# seconds (utime+stime from /proc/PID/stat), peak RSS (VmHWM), rule evaluations, failures,
# missed iterations, group durations and active alerts. Prometheus's CPU in phase 2 minus
# phase 1 is what serving tocsin's queries costs it. Prints a Markdown report; the work dir
# (logs, config, report.md) is kept and named at the end.
#
# Needs: prometheus (Debian's 2.42), python3, curl, jq. The tocsin binary is
# $TOCSIN, else $CARGO_TARGET_DIR/release/tocsin, else target/release/tocsin.
set -euo pipefail

RULES=10000
INTERVAL=10s
DURATION=120
WARMUP=30
SERIES_PER_METRIC=4
while [ $# -gt 0 ]; do
    case "$1" in
        --rules) RULES=$2; shift 2 ;;
        --interval) INTERVAL=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --series) SERIES_PER_METRIC=$2; shift 2 ;;
        *) echo "usage: $0 [--rules N] [--interval 10s] [--duration SECONDS] [--warmup SECONDS] [--series PER_METRIC]" >&2; exit 2 ;;
    esac
done

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TOCSIN=${TOCSIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/tocsin}
for tool in prometheus python3 curl jq; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done
[ -x "$TOCSIN" ] || { echo "no tocsin binary at $TOCSIN (cargo build --release -p tocsin)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/tocsin-e2e.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK/data"
    echo "work dir (logs, config, report): $WORK" >&2
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_ready() { # URL what
    for _ in $(seq 1 600); do
        curl -sf -o /dev/null "$1" && return 0
        sleep 0.1
    done
    echo "$2 did not become ready" >&2
    exit 1
}
TCK=$(getconf CLK_TCK)
cpu_seconds() { awk -v t="$TCK" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"; }
hwm_mb() { awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
# Sum / max over every series of a metric in a /metrics page.
metric() { # URL NAME sum|max
    curl -sf "$1/metrics" | awk -v n="$2" -v op="$3" '
        index($1, n "{") == 1 || $1 == n { v = $NF + 0; s += v; if (!seen || v > m) m = v; seen = 1 }
        END { if (op == "max") printf "%.4f", m; else printf "%.0f", s }'
}
alerts() { # URL -> "firing pending"
    curl -sf "$1/api/v1/alerts" | jq -r '[.data.alerts[] | .state] |
        "\(map(select(. == "firing")) | length) \(map(select(. == "pending")) | length)"'
}
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
delta() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", a - b }'; }

echo "== generating $RULES rules at $INTERVAL" >&2
python3 "$ROOT/benches/gen_rules.py" --rules "$RULES" --interval "$INTERVAL" --out "$WORK/rules.yaml"
GROUPS_N=$(grep -c '^  - name:' "$WORK/rules.yaml")

EXPORTER_PORT=$(free_port)
python3 "$ROOT/benches/e2e/exporter.py" --port "$EXPORTER_PORT" --series "$SERIES_PER_METRIC" &
PIDS+=($!)
wait_ready "http://127.0.0.1:$EXPORTER_PORT/metrics" exporter
SERIES=$(curl -sf "http://127.0.0.1:$EXPORTER_PORT/metrics" | grep -vc '^#')

PROM_PORT=$(free_port)
PROM=http://127.0.0.1:$PROM_PORT
cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 5s
  evaluation_interval: $INTERVAL
rule_files:
  - $WORK/rules.yaml
scrape_configs:
  - job_name: exporter
    honor_labels: true
    static_configs:
      - targets: ["127.0.0.1:$EXPORTER_PORT"]
EOF
echo "== starting Prometheus ($(prometheus --version 2>&1 | head -1))" >&2
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
PROM_PID=$!
PIDS+=("$PROM_PID")
wait_ready "$PROM/-/ready" Prometheus
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

echo "== warm-up ${WARMUP}s, then Prometheus alone for ${DURATION}s" >&2
sleep "$WARMUP"
p1_cpu=$(cpu_seconds "$PROM_PID")
p1_evals=$(metric "$PROM" prometheus_rule_evaluations_total sum)
p1_fail=$(metric "$PROM" prometheus_rule_evaluation_failures_total sum)
p1_missed=$(metric "$PROM" prometheus_rule_group_iterations_missed_total sum)
sleep "$DURATION"
p2_cpu=$(cpu_seconds "$PROM_PID")
p2_evals=$(metric "$PROM" prometheus_rule_evaluations_total sum)
p2_fail=$(metric "$PROM" prometheus_rule_evaluation_failures_total sum)
p2_missed=$(metric "$PROM" prometheus_rule_group_iterations_missed_total sum)
p2_hwm=$(hwm_mb "$PROM_PID")
p2_maxdur=$(metric "$PROM" prometheus_rule_group_last_duration_seconds max)
read -r p2_firing p2_pending <<<"$(alerts "$PROM")"
LOAD_ALONE=$(cut -d' ' -f1-3 /proc/loadavg)

echo "== starting tocsin run on the same file" >&2
TOCSIN_PORT=$(free_port)
TOC=http://127.0.0.1:$TOCSIN_PORT
t_start=$(date +%s.%N)
"$TOCSIN" run --datasource "$PROM" --rules "$WORK/rules.yaml" --evaluation-interval "$INTERVAL" \
    --listen "127.0.0.1:$TOCSIN_PORT" --log.level warn 2>"$WORK/tocsin.log" &
TOCSIN_PID=$!
PIDS+=("$TOCSIN_PID")
wait_ready "$TOC/-/ready" tocsin
t_ready=$(date +%s.%N)
t_startup_cpu=$(cpu_seconds "$TOCSIN_PID")

echo "== both for ${DURATION}s" >&2
p3_cpu=$(cpu_seconds "$PROM_PID")
p3_evals=$(metric "$PROM" prometheus_rule_evaluations_total sum)
p3_fail=$(metric "$PROM" prometheus_rule_evaluation_failures_total sum)
p3_missed=$(metric "$PROM" prometheus_rule_group_iterations_missed_total sum)
sleep "$DURATION"
p4_cpu=$(cpu_seconds "$PROM_PID")
p4_evals=$(metric "$PROM" prometheus_rule_evaluations_total sum)
p4_fail=$(metric "$PROM" prometheus_rule_evaluation_failures_total sum)
p4_missed=$(metric "$PROM" prometheus_rule_group_iterations_missed_total sum)
p4_hwm=$(hwm_mb "$PROM_PID")
p4_maxdur=$(metric "$PROM" prometheus_rule_group_last_duration_seconds max)
read -r p4_firing p4_pending <<<"$(alerts "$PROM")"

t_cpu=$(cpu_seconds "$TOCSIN_PID")
t_hwm=$(hwm_mb "$TOCSIN_PID")
t_evals=$(metric "$TOC" tocsin_rule_evaluations_total sum)
t_fail=$(metric "$TOC" tocsin_rule_evaluation_failures_total sum)
t_missed=$(metric "$TOC" tocsin_rule_group_iterations_missed_total sum)
t_iters=$(metric "$TOC" tocsin_rule_group_iterations_total sum)
t_maxdur=$(metric "$TOC" tocsin_rule_group_last_duration_seconds max)
read -r t_firing t_pending <<<"$(alerts "$TOC")"
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

startup=$(awk -v a="$t_ready" -v b="$t_start" 'BEGIN { printf "%.2f", a - b }')
expected=$(awk -v r="$RULES" -v d="$DURATION" -v i="${INTERVAL%s}" 'BEGIN { printf "%.0f", r * d / i }')

tee "$WORK/report.md" <<EOF
$RULES rules in $GROUPS_N groups at $INTERVAL; $SERIES exporter series scraped every 5 s; $(nproc) cores;
load average $LOAD_START at Prometheus start, $LOAD_ALONE after phase 1, $LOAD_END at the end.
Expected evaluations per ${DURATION}s phase: $expected.

| ${DURATION}s phase | CPU s | CPU % of a core | peak RSS (VmHWM) | rule evaluations | failures | missed iterations | slowest group (last) | firing / pending at end |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
| Prometheus alone | $(sub "$p2_cpu" "$p1_cpu") | $(awk -v c="$(sub "$p2_cpu" "$p1_cpu")" -v d="$DURATION" 'BEGIN { printf "%.0f", 100 * c / d }') | $p2_hwm MB | $(delta "$p2_evals" "$p1_evals") | $(delta "$p2_fail" "$p1_fail") | $(delta "$p2_missed" "$p1_missed") | ${p2_maxdur} s | $p2_firing / $p2_pending |
| Prometheus beside tocsin | $(sub "$p4_cpu" "$p3_cpu") | $(awk -v c="$(sub "$p4_cpu" "$p3_cpu")" -v d="$DURATION" 'BEGIN { printf "%.0f", 100 * c / d }') | $p4_hwm MB | $(delta "$p4_evals" "$p3_evals") | $(delta "$p4_fail" "$p3_fail") | $(delta "$p4_missed" "$p3_missed") | ${p4_maxdur} s | $p4_firing / $p4_pending |
| tocsin run | $(sub "$t_cpu" "$t_startup_cpu") | $(awk -v c="$(sub "$t_cpu" "$t_startup_cpu")" -v d="$DURATION" 'BEGIN { printf "%.0f", 100 * c / d }') | $t_hwm MB | $t_evals | $t_fail | $t_missed (of $t_iters iterations) | ${t_maxdur} s | $t_firing / $t_pending |

tocsin start-up (load $RULES rules, ready): ${startup} s wall, ${t_startup_cpu} CPU s (not in the row above).
Prometheus's extra CPU while serving tocsin's queries: $(sub "$(sub "$p4_cpu" "$p3_cpu")" "$(sub "$p2_cpu" "$p1_cpu")") s over ${DURATION}s.
EOF
