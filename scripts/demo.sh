#!/usr/bin/env bash
# The whole job on one machine: Debian's Prometheus on loopback fed by a synthetic Flink
# metrics feed (deploy/demo/synthetic_flink_feed.yaml), `tocsin sink dingtalk` standing in
# for a signed DingTalk robot, and `tocsin run` evaluating the bundled Flink rules
# (testdata/rules/good/) against that Prometheus and notifying the sink. The sink prints
# each DingTalk message as it arrives.
#
#   bash scripts/demo.sh            # runs for 3 minutes, then prints a summary
#   DEMO_SECONDS=0 bash scripts/demo.sh   # runs until Ctrl-C
#   TOCSIN_BIN=path/to/tocsin bash scripts/demo.sh   # skips the build
#
# Installs prometheus (and curl) with apt when missing (scripts/install-packages.sh: no
# system services left running); builds tocsin in release mode, showing
# cargo's progress (several minutes the first time).
# Everything runs on 127.0.0.1 in a temporary directory that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
seconds=${DEMO_SECONDS:-180}

missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if ((${#missing[@]})); then
  echo "demo: installing ${missing[*]}"
  bash scripts/install-packages.sh "${missing[@]}"
fi

if [ -n "${TOCSIN_BIN:-}" ]; then
  tocsin=$TOCSIN_BIN
else
  echo "demo: building tocsin (release; the first build takes several minutes)"
  cargo build --release -p tocsin
  tocsin=${CARGO_TARGET_DIR:-$repo/target}/release/tocsin
fi

work=$(mktemp -d -t tocsin-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free loopback port: one nothing answers on, starting from $1.
free_port() {
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}
wait_ready() {
  local url=$1 what=$2 log=$3
  for _ in $(seq 1 100); do
    curl -fsS "$url" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "demo: $what did not become ready; its log:" >&2
  tail -n 30 "$log" >&2
  exit 1
}

prom_port=$(free_port 19090)
sink_port=$(free_port 18060)
tocsin_port=$(free_port 19096)

# The robot's credentials: random, in files readable only by us, never printed.
umask 077
od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$work/token"
printf 'SEC%s' "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" >"$work/secret"

cat >"$work/prometheus.yml" <<EOF
global:
  evaluation_interval: 5s
rule_files:
  - $repo/deploy/demo/synthetic_flink_feed.yaml
EOF
prometheus --config.file="$work/prometheus.yml" --web.listen-address="127.0.0.1:$prom_port" \
  --storage.tsdb.path="$work/prometheus-data" >"$work/prometheus.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$prom_port/-/ready" Prometheus "$work/prometheus.log"

"$tocsin" sink dingtalk --listen "127.0.0.1:$sink_port" --secret-file "$work/secret" \
  --token "$(cat "$work/token")" --show-text >"$work/sink.out" 2>"$work/sink.log" &
pids+=($!)
wait_ready "http://127.0.0.1:$sink_port/metrics" "tocsin sink" "$work/sink.log"

cat >"$work/tocsin.yml" <<EOF
global:
  evaluation_interval: 15s
  external_url: http://127.0.0.1:$prom_port   # generatorURL links open the query in Prometheus
datasource:
  url: http://127.0.0.1:$prom_port
rule_files:
  - $repo/testdata/rules/good/alerting_rule_flink_*.yaml
  - $repo/testdata/rules/good/recording_rule_flink.yaml
state:
  dir: $work/tocsin-state
notify:
  route:
    receiver: flink-oncall
    group_by: [alertname, job_name]
    group_wait: 10s
    group_interval: 30s
    repeat_interval: 1h
  receivers:
    - name: flink-oncall
      dingtalk:
        url: http://127.0.0.1:$sink_port/robot/send
        access_token_file: $work/token
        secret_file: $work/secret
        message: markdown
        mention: {mobiles: ["13800000000"]}
web:
  listen_address: 127.0.0.1:$tocsin_port
EOF
"$tocsin" run --config "$work/tocsin.yml" >"$work/tocsin.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$tocsin_port/-/ready" "tocsin run" "$work/tocsin.log"

cat <<EOF
demo: Prometheus  http://127.0.0.1:$prom_port   (synthetic Flink feed)
demo: tocsin run  http://127.0.0.1:$tocsin_port   (/api/v1/alerts, /api/v1/rules, /metrics)
demo: DingTalk sink http://127.0.0.1:$sink_port/robot/send (signed, 20 messages/minute)
demo: messages appear below as the sink accepts them; first ones in about 30 seconds.
EOF
if [ "$seconds" -gt 0 ]; then
  echo "demo: running for $seconds seconds (DEMO_SECONDS=0 runs until Ctrl-C)"
fi
echo

tail -n +2 -f "$work/sink.out" &
pids+=($!)
if [ "$seconds" -gt 0 ]; then
  sleep "$seconds"
else
  while kill -0 "${pids[2]}" 2>/dev/null; do sleep 1; done
fi

echo
echo "demo: alerts in tocsin now:"
curl -fsS "http://127.0.0.1:$tocsin_port/api/v1/alerts" |
  grep -o '"alertname":"[^"]*"\|"state":"[^"]*"' | paste - - | sort | uniq -c || true
echo "demo: DingTalk messages accepted by the sink:"
curl -fsS "http://127.0.0.1:$sink_port/metrics" | grep '^tocsin_sink_' || true
