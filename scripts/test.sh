#!/usr/bin/env bash
# The test command: installs the real servers the tests start (Debian's prometheus and
# prometheus-alertmanager) when they are missing, then runs every test binary of the
# workspace — all of them, even when one fails — and ends with a summary: passed and
# failed tests per test binary, cargo's exit code, and a last line `N passed, N failed`.
# The script exits with cargo's exit code. Arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

# The packages would start system services (Prometheus on :9090, Alertmanager on :9093,
# and with recommends a node exporter on :9100); the tests start their own servers on free
# loopback ports and need none of them. So: no recommends, a policy-rc.d that denies every
# service start while apt runs, and on a machine booted with systemd the units of the
# packages this run installed are stopped and disabled afterwards.
install_servers() {
  local sudo="" policy=/usr/sbin/policy-rc.d own_policy=0 pkg unit
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  local units=(prometheus prometheus-alertmanager prometheus-node-exporter)
  local before=()
  for pkg in "${units[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' && before+=("$pkg")
  done

  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# scripts/test.sh: no service starts while it installs packages\nexit 101\n' |
      $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    own_policy=1
  fi
  local rc=0
  {
    $sudo apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        prometheus prometheus-alertmanager
  } || rc=$?
  [ "$own_policy" -eq 1 ] && $sudo rm -f "$policy"
  [ "$rc" -eq 0 ] || return "$rc"

  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    for pkg in "${units[@]}"; do
      [[ " ${before[*]} " == *" $pkg "* ]] && continue # was there before: not ours to change
      unit=$pkg.service
      systemctl cat "$unit" >/dev/null 2>&1 || continue
      echo "scripts/test.sh: stopping and disabling $unit (installed for the tests, not as a service)"
      $sudo systemctl disable --now "$unit" >/dev/null 2>&1 ||
        echo "scripts/test.sh: warning: could not disable $unit" >&2
    done
  fi
}

missing=()
for bin in prometheus promtool prometheus-alertmanager amtool; do
  command -v "$bin" >/dev/null 2>&1 || missing+=("$bin")
done
if ((${#missing[@]})); then
  echo "scripts/test.sh: installing prometheus and prometheus-alertmanager (missing: ${missing[*]})"
  install_servers
fi

log=$(mktemp -t tocsin-test.XXXXXX)
trap 'rm -f "$log"' EXIT

# Every test binary runs even after a failure; the output is shown as it comes and kept
# for the summary. cargo prints `Running`/`Doc-tests` on stderr and results on stdout.
status=0
cargo test --workspace --no-fail-fast "$@" 2>&1 | tee "$log" || status=${PIPESTATUS[0]}

echo
echo "== test summary: one line per test binary =="
awk -v status="$status" '
  function finish() {
    if (name == "") return
    if (has_result) {
      printf "  %-9s %5d passed %5d failed  %s\n", (f > 0 ? "FAILED" : "ok"), p, f, name
    } else {
      printf "  %-9s %5s        %5s         %s (no result: crashed, killed or aborted)\n", "NO RESULT", "-", "-", name
      no_result++
    }
    name = ""
  }
  /^ *Running / {
    finish()
    # `Running unittests src/lib.rs (target/debug/deps/tocsin_engine-0123abcd)` or
    # `Running tests/run_daemon.rs (target/debug/deps/run_daemon-0123abcd)`
    line = $0
    sub(/^ *Running /, "", line)
    bin = line
    sub(/^.*\(/, "", bin); sub(/\)$/, "", bin); sub(/^.*\//, "", bin); sub(/-[0-9a-f]+$/, "", bin)
    what = line
    sub(/ \(.*$/, "", what)
    name = bin " (" what ")"
    has_result = 0; p = 0; f = 0
    next
  }
  /^ *Doc-tests / {
    finish()
    line = $0
    sub(/^ *Doc-tests /, "", line)
    name = line " (doc-tests)"
    has_result = 0; p = 0; f = 0
    next
  }
  /^test result: / && name != "" {
    has_result = 1
    for (i = 1; i <= NF; i++) {
      if ($i ~ /^passed;?$/) p = $(i - 1) + 0
      if ($i ~ /^failed;?$/) f = $(i - 1) + 0
    }
    passed += p; failed += f; binaries++
    finish()
    next
  }
  END {
    finish()
    if (binaries == 0 && no_result == 0) print "  (no test results: did the build fail? see above)"
    printf "%d test binaries reported, %d without a result; cargo test exit code %d\n", binaries, no_result, status
    printf "%d passed, %d failed\n", passed, failed
  }' "$log"
exit "$status"
