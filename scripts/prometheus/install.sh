#!/usr/bin/env bash
# Unpack Debian's prometheus package (prometheus + promtool) into a directory WITHOUT installing it:
# no service is started, nothing is written outside $PROMETHEUS_DIR. Idempotent: a second run with
# the binaries present does nothing. Prints the directory holding the binaries on stdout (progress
# goes to stderr).
#
#   bin=$(bash scripts/prometheus/install.sh)   # e.g. /tmp/nova-image-exporter-prometheus/usr/bin
#   export PROMETHEUS_BIN_DIR=$bin
set -euo pipefail

dir=${PROMETHEUS_DIR:-/tmp/nova-image-exporter-prometheus}
bin="$dir/usr/bin"

if [ -x "$bin/prometheus" ] && [ -x "$bin/promtool" ]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$dir/debs"
cd "$dir/debs"
rm -f prometheus_*.deb
# apt-get download needs the package lists; run `apt-get update` only when they lack the package.
if ! apt-cache show prometheus >/dev/null 2>&1; then
  echo "apt-get update" >&2
  apt-get update -qq >&2
fi
echo "apt-get download prometheus" >&2
apt-get -o APT::Sandbox::User=root download prometheus >&2
deb=$(ls prometheus_*.deb)
echo "unpacking $deb into $dir" >&2
dpkg-deb -x "$deb" "$dir"
"$bin/prometheus" --version >&2
"$bin/promtool" --version >/dev/null
echo "$bin"
