#!/usr/bin/env bash
# Runs tocsin the way its image runs: the root filesystem read-only, only the mounted
# config, rules (read-only) and state directory (writable) given to it, as uid/gid 65534,
# with no shell inside. A fresh mount namespace (unshare) and chroot --userspec stand in for
# the container runtime, so it needs root but no container engine. Against a real
# Prometheus on loopback it checks that /-/ready answers, that the rules are loaded and
# evaluated, that the state file is written, that the process runs as 65534, and the mount
# options it sees.
#
#   run-as-image.sh            the image's root filesystem, from deploy/container/build.sh
#   run-as-image.sh BINARY     the same layout around BINARY; when BINARY asks for a dynamic
#                              loader (a test build), the host's /usr is mounted read-only
#                              too, so it can start (tests/deploy_files.rs does this)
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "run-as-image.sh needs root (unshare --mount, chroot)" >&2; exit 2; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

host_libs=no
if (($#)); then
  # build.sh's layout, around the given binary.
  rootfs="$work/rootfs"
  install -D -m 0755 "$1" "$rootfs/tocsin"
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  install -d -m 0755 "$rootfs/etc/tocsin" "$rootfs/tmp" "$rootfs/var/lib"
  readelf -l "$1" | grep -q INTERP && host_libs=yes
else
  rootfs=$(realpath deploy/container/image/rootfs)
  [ -x "$rootfs/tocsin" ] || { echo "no $rootfs/tocsin: run deploy/container/build.sh first" >&2; exit 2; }
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
get() { curl -fsS --max-time 5 "$1"; }
wait_for() { # what, seconds, command...
  local what=$1 limit=$2; shift 2
  for _ in $(seq "$((limit * 5))"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "FAIL: timed out waiting for $what" >&2; cat "$work/tocsin.log" >&2; return 1
}

# A real Prometheus, as the datasource.
prom_port=$(free_port)
mkdir -p "$work/prom"
printf 'global: {scrape_interval: 15s}\n' >"$work/prom/prometheus.yml"
prometheus --config.file="$work/prom/prometheus.yml" --storage.tsdb.path="$work/prom/data" \
  --web.listen-address="127.0.0.1:$prom_port" >"$work/prom/log" 2>&1 &
pids+=($!)
wait_for "Prometheus" 30 get "http://127.0.0.1:$prom_port/-/ready"

# What Kubernetes would mount: config and rules read-only, an empty state volume.
mkdir -p "$work/config" "$work/rules" "$work/state"
chown 65534:65534 "$work/state"
tocsin_port=$(free_port)
cat >"$work/config/tocsin.yml" <<YAML
datasource: {url: "http://127.0.0.1:$prom_port"}
rule_files: [/prometheus/rules/alerting_rule*.yaml]
YAML
cat >"$work/rules/alerting_rule_image.yaml" <<'YAML'
groups:
  - name: image
    interval: 1s
    rules:
      - alert: ImageCheck
        expr: vector(1)
        for: 1h
YAML
# The image's root, with the mount points the runtime would create.
cp -a "$rootfs" "$work/root"
mkdir -p "$work/root/prometheus/rules" "$work/root/var/lib/tocsin"
if [ "$host_libs" = yes ]; then
  # Merged /usr (Debian 12): /lib and /lib64 are symlinks into /usr.
  mkdir -p "$work/root/usr"
  for d in lib lib64; do
    if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$work/root/$d"; else mkdir -p "$work/root/$d"; fi
  done
fi

unshare --mount --propagation private /bin/sh -ec '
  root=$1; work=$2; port=$3; host_libs=$4
  mount --bind "$root" "$root"
  if [ "$host_libs" = yes ]; then
    mount --bind -o ro /usr "$root/usr"
    for d in lib lib64; do [ -L "/$d" ] || mount --bind -o ro "/$d" "$root/$d"; done
  fi
  mount --bind -o ro "$work/config" "$root/etc/tocsin"
  mount --bind -o ro "$work/rules" "$root/prometheus/rules"
  mount --bind "$work/state" "$root/var/lib/tocsin"
  mount -o remount,bind,ro "$root"
  mount -o remount,bind,ro "$root/etc/tocsin"
  mount -o remount,bind,ro "$root/prometheus/rules"
  cd "$root/var/lib/tocsin"
  # The image: USER 65534:65534, WORKDIR /var/lib/tocsin, ENTRYPOINT /tocsin, and the
  # arguments the Kubernetes base gives it.
  exec chroot --userspec=65534:65534 "$root" /tocsin run \
    --config=/etc/tocsin/tocsin.yml --state-dir=/var/lib/tocsin --listen=127.0.0.1:$port
' sh "$work/root" "$work" "$tocsin_port" "$host_libs" >"$work/tocsin.log" 2>&1 &
pids+=($!)
url="http://127.0.0.1:$tocsin_port"

wait_for "/-/ready" 30 get "$url/-/ready"
echo "ok   /-/ready: $(get "$url/-/ready")"
has_pending() { get "$url/api/v1/alerts" | grep -q '"state":"pending"'; }
wait_for "ImageCheck to be pending" 30 has_pending
echo "ok   /api/v1/alerts lists ImageCheck pending"
wait_for "the state file" 30 test -s "$work/state/alerts.json"
echo "ok   state written: $(ls "$work/state" | tr '\n' ' ')(owner $(stat -c %u:%g "$work/state/alerts.json"))"
pid=$(pgrep -f -n "^/tocsin run --config=/etc/tocsin/tocsin.yml --state-dir=/var/lib/tocsin --listen=127.0.0.1:$tocsin_port")
uids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")
gids=$(awk '/^Gid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")
[ "$uids" = "65534 65534 65534 65534" ] && [ "$gids" = "65534 65534 65534 65534" ] \
  || { echo "FAIL: runs as uid $uids gid $gids" >&2; exit 1; }
echo "ok   process $pid runs as uid/gid 65534"
root_opts=$(awk '$5 == "/" {print $6}' "/proc/$pid/mountinfo")
config_opts=$(awk '$5 == "/etc/tocsin" {print $6}' "/proc/$pid/mountinfo")
state_opts=$(awk '$5 == "/var/lib/tocsin" {print $6}' "/proc/$pid/mountinfo")
[[ $root_opts == ro,* && $config_opts == ro,* && $state_opts == rw,* ]] \
  || { echo "FAIL: mounts / $root_opts, /etc/tocsin $config_opts, /var/lib/tocsin $state_opts" >&2; exit 1; }
echo "ok   / and /etc/tocsin read-only, /var/lib/tocsin writable, as the process sees them"
if grep -qi 'error' "$work/tocsin.log"; then
  echo "FAIL: errors in the log:" >&2; cat "$work/tocsin.log" >&2; exit 1
fi
echo "ok   no errors logged"
