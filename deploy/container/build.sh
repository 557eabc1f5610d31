#!/usr/bin/env bash
# Builds tocsin's container image without pulling a Rust image: the static binary is built
# on this host with the flags of deploy/Containerfile's compile stage (musl target, release,
# --locked), laid out as deploy/container/image/{rootfs,state} exactly as that stage lays out
# /rootfs/ and /state/,
# and, when buildah is installed, the image is made from it:
#   buildah build --build-arg BUILD=prebuilt -f deploy/Containerfile -t localhost/tocsin:dev .
# (only FROM scratch stages run, so nothing is downloaded). `podman build` and
# `docker build` take the same arguments.
#
# Installs the musl target (rustup) and musl-gcc (Debian's musl-tools) when missing: ring
# and mimalloc compile C for the target.
set -euo pipefail
cd "$(dirname "$0")/../.."

target=x86_64-unknown-linux-musl
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
rustup target list --installed | grep -qx "$target" || rustup target add "$target"
if ! command -v musl-gcc >/dev/null; then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends musl-tools
fi

cargo build --release --locked --target "$target" -p tocsin
binary="target/$target/release/tocsin"

out=deploy/container/image
rootfs=$out/rootfs
rm -rf "$out"
# Stripped: the release profile keeps line tables (54 MB; 11 MB without); the image needs none.
install -s -D -m 0755 "$binary" "$rootfs/tocsin"
install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
install -d -m 0755 "$rootfs/etc/tocsin" "$rootfs/tmp" "$rootfs/var/lib"
install -d -m 0700 "$out/state/tocsin"

# A scratch image has no loader: the binary must need none.
if readelf -l "$binary" | grep -q 'INTERP'; then
  echo "deploy/container/build.sh: $binary asks for a dynamic loader" >&2
  exit 1
fi
echo "binary: $(stat -c %s "$rootfs/tocsin") bytes stripped, static ($(file -b "$binary" | cut -d, -f1-2))"

if command -v buildah >/dev/null; then
  buildah build --build-arg BUILD=prebuilt -f deploy/Containerfile -t localhost/tocsin:dev .
  buildah images localhost/tocsin:dev
else
  echo "buildah not installed: image not built (its files are in $out)"
fi
