"""The Kubernetes manifests are accepted by a real kube-apiserver (server-side dry run)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from simulator.running import kube
from tests.integration.conftest import ROOT, Stack


def _kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:  # Debian ships it as the `kubectl` package
        subprocess.run(["apt-get", "install", "-y", "-qq", "kubectl"], capture_output=True, timeout=600)
        found = shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl is needed for the kustomize check (apt-get install kubectl)", pytrace=False)
    return found


def test_kustomize_manifests_pass_server_side_dry_run(stack: Stack) -> None:
    from kubernetes.client.exceptions import ApiException

    try:
        kube(str(stack.kubeconfig)).create_namespace({"metadata": {"name": "monitoring"}})
    except ApiException as exc:
        assert exc.status == 409
    proc = subprocess.run(
        [_kubectl(), "apply", "-k", str(ROOT / "deploy" / "kubernetes"), "--dry-run=server"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"KUBECONFIG": str(stack.kubeconfig), "PATH": "/usr/bin:/bin", "HOME": str(ROOT / ".stack")},
    )
    assert proc.returncode == 0, proc.stderr
    for kind in ("clusterrole", "deployment.apps/vnbridge-discovery", "statefulset.apps/vnbridge-logbridge"):
        assert kind in proc.stdout
