#!/usr/bin/env bash
# Builds a minimal OpenTelemetry Collector with the collector builder (ocb) from the Go
# module proxy into the cache, once per pinned release, and prints the binary's path.
# Why: `make bench BENCH=peers` (tests/bench/peers.py) runs the Collector beside logbridge
# on the same records: kafkareceiver -> transformprocessor -> elasticsearchexporter, and
# nothing else (no other receivers, processors or extensions). All collector modules are
# kept at one release; v0.148.0 is the newest at which elasticsearchexporter and its
# dependencies are all served here (0.149-0.165: 403 or 404 from the module proxy).
source "$(dirname "$0")/lib.sh"
OTELCOL_VERSION="${OTELCOL_VERSION:-0.148.0}"
dir="$CACHE/otelcol-$OTELCOL_VERSION"
out="$dir/otelcol-vnbridge"
cached "$out"
need_go "the OpenTelemetry Collector"
builder=$(go_install_cached builder "$dir/ocb" "go.opentelemetry.io/collector/cmd/builder@v$OTELCOL_VERSION" \
  "the collector builder v$OTELCOL_VERSION" "1-2 minutes")
contrib=github.com/open-telemetry/opentelemetry-collector-contrib
cat >"$dir/manifest.yaml" <<YAML
dist:
  name: otelcol-vnbridge
  description: kafka -> transform -> elasticsearch, for vnbridge's peers bench
  output_path: $dir/dist
receivers:
  - gomod: $contrib/receiver/kafkareceiver v$OTELCOL_VERSION
processors:
  - gomod: $contrib/processor/transformprocessor v$OTELCOL_VERSION
exporters:
  - gomod: $contrib/exporter/elasticsearchexporter v$OTELCOL_VERSION
YAML
say "building the OpenTelemetry Collector v$OTELCOL_VERSION (kafkareceiver, transformprocessor, elasticsearchexporter) with $(go version | cut -d' ' -f3) (cold: 5-15 minutes)"
(
  export GOTOOLCHAIN=local CGO_ENABLED=0
  "$builder" --config "$dir/manifest.yaml" >"$dir/build.log" 2>&1
) || { tail -n 30 "$dir/build.log" >&2; die "Collector build failed (log: $dir/build.log); check Go version and module proxy access"; }
mv "$dir/dist/otelcol-vnbridge" "$out"
echo "$out"
