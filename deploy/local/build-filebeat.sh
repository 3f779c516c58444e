#!/usr/bin/env bash
# Builds the upstream OSS Filebeat (filebeat/, no x-pack) from the Go module proxy
# into the cache, once per pinned Beats version, and prints the binary's path.
# Why: the differential test (tests/integration/test_filebeat_differential.py) runs a
# real Filebeat against the local kube-apiserver and compares its documents with
# `logbridge convert --profile filebeat`. Beats' release tags are not served by the
# proxy (their go.mod says v7), so the pin is a pseudo-version of the main branch;
# it is the build tests/golden/filebeat/real was captured with (Filebeat 9.3.0).
# Replace directives of a dependency are not honoured by Go, so the wrapper module
# repeats Beats' own; the checksum database does not list these pseudo-versions,
# so they are verified against go.sum only (GONOSUMDB for Elastic's modules).
source "$(dirname "$0")/lib.sh"
BEATS_VERSION="${BEATS_VERSION:-v7.0.0-alpha2.0.20251031181001-be9871f5dab9}"
dir="$CACHE/filebeat-${BEATS_VERSION##*-}"
out="$dir/filebeat"
cached "$out"
need_go "Filebeat"
command -v gcc >/dev/null || die "a C compiler is required to build Filebeat (CGO); install gcc"
mkdir -p "$dir/src"
cat >"$dir/src/go.mod" <<MOD
module vnbridge.local/filebeat

go 1.24.9

require github.com/elastic/beats/v7 $BEATS_VERSION

replace (
	github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/consumption/armconsumption => github.com/elastic/azure-sdk-for-go/sdk/resourcemanager/consumption/armconsumption v1.1.0-elastic
	github.com/apoydence/eachers => github.com/poy/eachers v0.0.0-20181020210610-23942921fe77
	github.com/dop251/goja => github.com/elastic/goja v0.0.0-20190128172624-dd2ac4456e20
	github.com/fsnotify/fsevents => github.com/elastic/fsevents v0.0.0-20181029231046-e1d381a4d270
	github.com/fsnotify/fsnotify => github.com/elastic/fsnotify v1.6.1-0.20240920222514-49f82bdbc9e3
	github.com/google/gopacket => github.com/elastic/gopacket v1.1.20-0.20241002174017-e8c5fda595e6
	github.com/insomniacslk/dhcp => github.com/elastic/dhcp v0.0.0-20200227161230-57ec251c7eb3
	github.com/meraki/dashboard-api-go/v3 => github.com/tommyers-elastic/dashboard-api-go/v3 v3.0.0-20250616163611-a325b49669a4
)
MOD
cat >"$dir/src/main.go" <<'GO'
// Command filebeat is the upstream OSS Filebeat, built from the Go module proxy.
package main

import (
	"os"

	"github.com/elastic/beats/v7/filebeat/cmd"
	inputs "github.com/elastic/beats/v7/filebeat/input/default-inputs"
)

func main() {
	if err := cmd.Filebeat(inputs.Init, cmd.FilebeatSettings("")).Execute(); err != nil {
		os.Exit(1)
	}
}
GO
# Filebeat's own build uses cgo; Elastic's pseudo-versions are not in the checksum database
export CGO_ENABLED=1 GONOSUMDB="github.com/elastic,github.com/tommyers-elastic"
go_build_wrapper filebeat "$dir/src" "$out" "5-10 minutes" "Filebeat ($BEATS_VERSION)"
