#!/usr/bin/env bash
# Builds Prometheus from the Go module proxy into the cache (once per version) and
# prints the binary's path.
# Why: Debian's prometheus package (the stack's server) is built without the
# Kubernetes service discovery; the test that compares our kubernetes_sd-shaped
# targets with Prometheus' own kubernetes_sd needs a server that has it. Module
# versions v0.3XX.Y are Prometheus 3.XX.Y.
source "$(dirname "$0")/lib.sh"
PROM_MODULE_VERSION="${PROM_MODULE_VERSION:-v0.316.0}"
go_install_cached prometheus "$CACHE/prometheus-${PROM_MODULE_VERSION#v}" \
  "github.com/prometheus/prometheus/cmd/prometheus@$PROM_MODULE_VERSION" \
  "Prometheus $PROM_MODULE_VERSION (with kubernetes_sd)" "several minutes"
