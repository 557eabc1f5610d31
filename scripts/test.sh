#!/usr/bin/env bash
# The test command: installs the real servers the tests start (Debian's prometheus and
# prometheus-alertmanager) and chromium (it renders `tocsin diff --html` reports in a test)
# when they are missing, then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for bin in prometheus promtool prometheus-alertmanager amtool chromium; do
  command -v "$bin" >/dev/null 2>&1 || missing+=("$bin")
done
if ((${#missing[@]})); then
  echo "scripts/test.sh: installing prometheus, prometheus-alertmanager and chromium (missing: ${missing[*]})"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    prometheus prometheus-alertmanager chromium
fi

exec cargo test --workspace "$@"
