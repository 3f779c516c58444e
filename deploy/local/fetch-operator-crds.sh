#!/usr/bin/env bash
# Prints a directory holding the Prometheus Operator's CRDs (ServiceMonitor,
# PodMonitor, ScrapeConfig, PrometheusRule), taken from its Go module (cached by the
# module cache).
# Why: the chart's Operator resources are checked with a server-side dry run, which
# needs the CRDs installed in the local kube-apiserver.
source "$(dirname "$0")/lib.sh"
OPERATOR_VERSION="${OPERATOR_VERSION:-v0.85.0}"
dir="$CACHE/prometheus-operator-crds-${OPERATOR_VERSION#v}"
CRDS=(servicemonitors podmonitors scrapeconfigs prometheusrules)
if [ ! -f "$dir/.done" ] || [ ! -f "$dir/monitoring.coreos.com_${CRDS[-1]}.yaml" ]; then
  command -v go >/dev/null || die "Go is required to fetch the Prometheus Operator CRDs; install golang"
  mod="$(GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json \
    "github.com/prometheus-operator/prometheus-operator@$OPERATOR_VERSION" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')" \
    || die "could not download github.com/prometheus-operator/prometheus-operator@$OPERATOR_VERSION from the module proxy"
  mkdir -p "$dir"
  for crd in "${CRDS[@]}"; do
    cp "$mod/example/prometheus-operator-crd/monitoring.coreos.com_$crd.yaml" "$dir/" \
      || die "the module has no $crd CRD at example/prometheus-operator-crd/"
  done
  touch "$dir/.done"
fi
echo "$dir"
