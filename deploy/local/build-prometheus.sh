#!/usr/bin/env bash
# Builds Prometheus from the Go module proxy into the cache (once per version) and
# prints the binary's path.
# Why: Debian's prometheus package (the stack's server) is built without the
# Kubernetes service discovery; the test that compares our kubernetes_sd-shaped
# targets with Prometheus' own kubernetes_sd needs a server that has it. Module
# versions v0.3XX.Y are Prometheus 3.XX.Y.
source "$(dirname "$0")/lib.sh"
PROM_MODULE_VERSION="${PROM_MODULE_VERSION:-v0.316.0}"
dir="$CACHE/prometheus-${PROM_MODULE_VERSION#v}"
out="$dir/prometheus"
[ -x "$out" ] && { echo "$out"; exit 0; }
command -v go >/dev/null || die "Go is required to build Prometheus; install golang (>= 1.24)"
mkdir -p "$dir"
say "building Prometheus $PROM_MODULE_VERSION (with kubernetes_sd) with $(go version | cut -d' ' -f3) (cold: several minutes)"
(
  cd "$dir"
  export GOTOOLCHAIN=local GOBIN="$dir/bin.tmp"
  go install -trimpath -ldflags="-s -w" "github.com/prometheus/prometheus/cmd/prometheus@$PROM_MODULE_VERSION" \
    >"$dir/build.log" 2>&1
) || { tail -n 30 "$dir/build.log" >&2; die "Prometheus build failed (log: $dir/build.log); check Go version and module proxy access"; }
mv "$dir/bin.tmp/prometheus" "$out" && rmdir "$dir/bin.tmp"
echo "$out"
