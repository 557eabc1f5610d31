#!/usr/bin/env bash
# The test command: installs what the tests run when it is missing (Debian's prometheus and
# prometheus-alertmanager, chromium for the `tocsin diff --html` test, systemd for
# systemd-analyze, curl), validates deploy/kubernetes, then runs every test binary of the
# workspace — all of them, even when one fails — and ends with a summary: passed and failed
# tests per test binary, cargo's exit code, and a last line `N passed, N failed`. The script
# exits with cargo's exit code. Arguments go to `cargo test`. The packages are installed
# without leaving their system services running (see scripts/install-packages.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

# command → the Debian package that brings it
declare -A package=(
  [prometheus]=prometheus [promtool]=prometheus
  [prometheus-alertmanager]=prometheus-alertmanager [amtool]=prometheus-alertmanager
  [systemd-analyze]=systemd [curl]=curl [chromium]=chromium
)
missing=()
for bin in "${!package[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || missing+=("${package[$bin]}")
done
if ((${#missing[@]})); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "scripts/test.sh: installing ${missing[*]}"
  bash scripts/install-packages.sh "${missing[@]}"
fi

# The Kubernetes overlays render and validate (installs kubectl kustomize and
# kubernetes-validate when missing).
# A failure here is reported at the end; the tests still run.
k8s_status=0
bash deploy/kubernetes/validate.sh || k8s_status=$?

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
if [ "$k8s_status" -ne 0 ]; then
  echo "scripts/test.sh: deploy/kubernetes/validate.sh failed (exit $k8s_status)"
  [ "$status" -eq 0 ] && status=$k8s_status
fi
exit "$status"
