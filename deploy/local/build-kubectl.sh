#!/usr/bin/env bash
# Builds kubectl (same version as kube-apiserver, kustomize included) from the Go
# module proxy into the cache, once per version.
# Why: Debian's kubernetes-client is 1.20 (kustomize 2, no `patches:` targets); the
# tests run `kubectl apply -k ... --dry-run=server` against our kube-apiserver.
source "$(dirname "$0")/lib.sh"
wrapper_module kubectl
cat >"$src/go.mod" <<MOD
module vnbridge.local/kubectl

go 1.24

require k8s.io/kubectl v0.${K8S_VERSION#1.}
MOD
cat >"$src/main.go" <<'GO'
// Command kubectl is the upstream CLI, built from the module proxy.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
	}
}
GO
go_build_wrapper kubectl "$src" "$out" "a few minutes"
