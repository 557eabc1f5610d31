#!/usr/bin/env bash
# Installs Debian packages the tests and the demo need (`apt-get install
# --no-install-recommends PKG...`) without leaving system services behind. Debian's
# prometheus and prometheus-alertmanager packages start and enable services (Prometheus on
# :9090, Alertmanager on :9093, with recommends also a node exporter on :9100); tocsin's
# tests and demo start their own servers on free loopback ports and need none of them. So:
# no recommends, a policy-rc.d that denies every service start while apt runs, and on a
# machine running systemd the Prometheus units this run installed are stopped and disabled.
# Units of packages that were installed before are left as they were.
#
#   bash scripts/install-packages.sh prometheus prometheus-alertmanager
set -euo pipefail

sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
units=(prometheus prometheus-alertmanager prometheus-node-exporter)
before=()
for pkg in "${units[@]}"; do
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    before+=("$pkg")
  fi
done

policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# scripts/install-packages.sh: no service starts while it installs packages\nexit 101\n' |
    $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  own_policy=1
fi
rc=0
{
  $sudo apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@"
} || rc=$?
if [ "$own_policy" -eq 1 ]; then
  $sudo rm -f "$policy"
fi
[ "$rc" -eq 0 ] || exit "$rc"

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  for pkg in "${units[@]}"; do
    [[ " ${before[*]} " == *" $pkg "* ]] && continue # there before: not ours to change
    unit=$pkg.service
    systemctl cat "$unit" >/dev/null 2>&1 || continue
    echo "install-packages: stopping and disabling $unit (installed for tocsin's tests and demo, not as a service)"
    $sudo systemctl disable --now "$unit" >/dev/null 2>&1 ||
      echo "install-packages: warning: could not stop or disable $unit" >&2
  done
fi
