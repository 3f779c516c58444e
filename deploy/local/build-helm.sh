#!/usr/bin/env bash
# Builds helm from the Go module proxy into the cache (once per version) and prints
# the binary's path.
# Why: the tests lint and render deploy/helm/vnbridge and apply it with a server-side
# dry run; Debian's helm is not in every release, and the proxy serves helm's module.
source "$(dirname "$0")/lib.sh"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
export CGO_ENABLED=0
go_install_cached helm "$CACHE/helm-${HELM_VERSION#v}" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" \
  "helm $HELM_VERSION" "a few minutes"
