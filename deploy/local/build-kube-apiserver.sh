#!/usr/bin/env bash
# Builds kube-apiserver from the Go module proxy into the cache (once per version).
# Why: no Docker and no release binaries here; a tiny wrapper module importing
# k8s.io/kubernetes/cmd/kube-apiserver/app, with replace lines for the staging
# modules, builds the real server with the machine's Go.
source "$(dirname "$0")/lib.sh"
wrapper_module kube-apiserver
staging=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
  cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api
  cri-client csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms
  kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
  mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller)
minor="${K8S_VERSION#1.}"
{
  echo "module vnbridge.local/kube-apiserver"
  echo
  echo "go 1.24"
  echo
  echo "require k8s.io/kubernetes v$K8S_VERSION"
  echo
  echo "replace ("
  for m in "${staging[@]}"; do echo "	k8s.io/$m => k8s.io/$m v0.$minor"; done
  echo ")"
} > "$src/go.mod"
cat > "$src/main.go" <<'GO'
// Command kube-apiserver is the upstream server, built from the module proxy.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
GO
go_build_wrapper kube-apiserver "$src" "$out" "~10-20 min on 2 cores"
