"""Deployment artefacts against the real services: the kustomize overlays pass a
server-side dry run on kube-apiserver; the Kibana data views are saved objects. (The
collector's own index setup is test_collector_templates.py's.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from simulator.running import kube
from tests.integration.conftest import ROOT, Stack

OVERLAYS = {p: p for p in ("tencent-eks", "huawei-cci", "aws-fargate", "alibaba-eci", "azure-aci")}
# least privilege per preset: nodes/proxy only where the metrics sit behind the node proxy,
# the eks-config ConfigMap only for Tencent
EXTRA_RBAC = {
    "tencent-eks": {"role.rbac.authorization.k8s.io/vnbridge-eks-config-reader"},
    "aws-fargate": {"clusterrole.rbac.authorization.k8s.io/vnbridge-node-proxy-reader"},
    "alibaba-eci": {"clusterrole.rbac.authorization.k8s.io/vnbridge-node-proxy-reader"},
    "azure-aci": {"clusterrole.rbac.authorization.k8s.io/vnbridge-node-proxy-reader"},
}
ALL_EXTRA = set().union(*EXTRA_RBAC.values())


def _kubectl(stack: Stack) -> str:
    """The kubectl stack.sh builds (same version as kube-apiserver), else one on PATH."""
    built = stack.env.get("KUBECTL", "")
    if built and os.access(built, os.X_OK):
        return built
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl missing: deploy/local/build-kubectl.sh builds it (make stack-up)", pytrace=False)
    return found


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_kustomize_overlay_passes_server_side_dry_run(stack: Stack, overlay: str) -> None:
    from kubernetes.client.exceptions import ApiException

    try:
        kube(str(stack.kubeconfig)).create_namespace({"metadata": {"name": "monitoring"}})
    except ApiException as exc:
        assert exc.status == 409
    env = {"KUBECONFIG": str(stack.kubeconfig), "PATH": "/usr/bin:/bin", "HOME": str(ROOT / ".stack")}
    path = str(ROOT / "deploy" / "kubernetes" / "overlays" / overlay)
    rendered = subprocess.run(
        [_kubectl(stack), "kustomize", path], capture_output=True, text=True, timeout=60, env=env
    )
    assert rendered.returncode == 0, rendered.stderr
    assert f"value: {OVERLAYS[overlay]}" in rendered.stdout
    assert "kind: Namespace" not in rendered.stdout  # the namespace is never ours to delete
    proc = subprocess.run(
        [_kubectl(stack), "apply", "-k", path, "--dry-run=server"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    for kind in (
        "clusterrole.rbac.authorization.k8s.io/vnbridge-inventory-reader",
        "deployment.apps/vnbridge-discovery",
        "deployment.apps/vnbridge-metricsbridge",
        "statefulset.apps/vnbridge-logbridge",
        "poddisruptionbudget.policy/vnbridge-metricsbridge",
        *EXTRA_RBAC.get(overlay, ()),
    ):
        assert kind in proc.stdout
    for kind in ALL_EXTRA - EXTRA_RBAC.get(overlay, set()):
        assert kind not in proc.stdout, f"{overlay} must not get {kind}"


def test_kibana_data_views_are_saved_objects() -> None:
    for path in sorted((ROOT / "deploy" / "kibana").glob("*.ndjson")):
        for line in path.read_text().splitlines():
            obj = json.loads(line)
            assert obj["type"] == "index-pattern" and obj["attributes"]["title"].endswith("*")
