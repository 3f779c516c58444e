#!/usr/bin/env bash
# Builds helm from the Go module proxy into the cache (once per version) and prints
# the binary's path.
# Why: the tests lint and render deploy/helm/vnbridge and apply it with a server-side
# dry run; Debian's helm is not in every release, and the proxy serves helm's module.
source "$(dirname "$0")/lib.sh"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
dir="$CACHE/helm-${HELM_VERSION#v}"
out="$dir/helm"
[ -x "$out" ] && { echo "$out"; exit 0; }
command -v go >/dev/null || die "Go is required to build helm; install golang (>= 1.24)"
mkdir -p "$dir"
say "building helm $HELM_VERSION with $(go version | cut -d' ' -f3) (cold: a few minutes)"
(
  cd "$dir"
  export GOTOOLCHAIN=local GOBIN="$dir/bin.tmp" CGO_ENABLED=0
  go install -trimpath -ldflags="-s -w" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >"$dir/build.log" 2>&1
) || { tail -n 30 "$dir/build.log" >&2; die "helm build failed (log: $dir/build.log); check Go version and module proxy access"; }
mv "$dir/bin.tmp/helm" "$out" && rmdir "$dir/bin.tmp"
echo "$out"
