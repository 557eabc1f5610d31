#!/usr/bin/env bash
# The test command: installs what the tests run when it is missing (Debian's prometheus and
# prometheus-alertmanager, systemd for systemd-analyze, curl), validates deploy/kubernetes, then runs
# every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

# command → the Debian package that brings it
declare -A package=(
  [prometheus]=prometheus [promtool]=prometheus
  [prometheus-alertmanager]=prometheus-alertmanager [amtool]=prometheus-alertmanager
  [systemd-analyze]=systemd [curl]=curl
)
missing=()
for bin in "${!package[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || missing+=("${package[$bin]}")
done
if ((${#missing[@]})); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "scripts/test.sh: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The Kubernetes overlays render and validate (installs kubectl kustomize and
# kubernetes-validate when missing).
bash deploy/kubernetes/validate.sh

exec cargo test --workspace "$@"
