"""The Helm chart and its Prometheus Operator resources against the real kube-apiserver.

helm (built from the Go module proxy by deploy/local/build-helm.sh) lints the chart and
renders it with several value sets; each rendering is applied with a server-side dry
run, with the Operator's CRDs (from its Go module, deploy/local/fetch-operator-crds.sh)
installed, so ServiceMonitor and ScrapeConfig are validated by their real schemas. The
rendered ConfigMaps are loaded by the services' own settings models: a chart value
that a service would refuse fails here, not at start-up in a cluster.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from discovery.settings import DiscoverySettings
from logbridge.settings import LogbridgeSettings
from metricsbridge.settings import MetricsbridgeSettings
from simulator.running import kube
from tests.integration.conftest import ROOT, STACK, Stack
from tests.support.helpers import eventually

CHART = ROOT / "deploy" / "helm" / "vnbridge"
NAMESPACE = "vnbridge-helm"
SETTINGS = {
    "discovery": DiscoverySettings,
    "metricsbridge": MetricsbridgeSettings,
    "logbridge": LogbridgeSettings,
}
VALUE_SETS: dict[str, list[str]] = {
    "defaults": [],
    "operator": [
        "serviceMonitor.enabled=true",
        "serviceMonitor.labels.release=kube-prometheus-stack",
        "scrapeConfig.enabled=true",
        "scrapeConfig.tokenSecret=vnbridge-discovery-token",
        "discovery.tokenSecret=vnbridge-discovery-token",
        "metricsbridge.tokenSecret=vnbridge-metricsbridge-token",
        "networkPolicy.enabled=true",
        "rbac.namespaces=true",
        "alerts.enabled=true",
        "dashboards.enabled=true",
        "logbridge.extraVolumes[0].name=tls",
        "logbridge.extraVolumes[0].secret.secretName=vnbridge-tls",
        "logbridge.extraVolumeMounts[0].name=tls",
        "logbridge.extraVolumeMounts[0].mountPath=/etc/vnbridge-tls",
        "logbridge.env[0].name=VNBRIDGE_LOGBRIDGE_SOURCE__START",
        "logbridge.env[0].value=latest",
        "discovery.logLevel=debug",
        "networkPolicy.egress[0].ports[0].port=443",
        "logbridge.autoscaling.enabled=true",
        "metricsbridge.probes.readiness.periodSeconds=7",
    ],
    "fargate_filebeat": [
        "targets.node_preset=aws-fargate",
        "logbridge.config.profile.name=filebeat",
        "logbridge.config.profile.options=null",
        "logbridge.kafkaSecret=kafka-sasl",
        "logbridge.config.kafka.security_protocol=SASL_SSL",
        "logbridge.config.kafka.sasl_mechanism=SCRAM-SHA-512",
        "logbridge.config.kafka.sasl_username=vnbridge",
        "metricsbridge.config.listen=0.0.0.0:9200",
        "podDisruptionBudget.enabled=false",
    ],
    "logbridge_only": ["discovery.enabled=false", "metricsbridge.enabled=false", "scrapeConfig.enabled=true"],
}
KINDS = {
    "defaults": {
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "Service",
        "StatefulSet",
        "PodDisruptionBudget",
    },
    "operator": {
        "ServiceMonitor",
        "ScrapeConfig",
        "NetworkPolicy",
        "PrometheusRule",
        "HorizontalPodAutoscaler",
    },
}


def _run(argv: list[str], stack: Stack, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(stack.kubeconfig), "HOME": str(ROOT / ".stack")}
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, input=stdin)


def _kube_version(stack: Stack) -> str:
    """helm template checks the chart's kubeVersion against this: the server's major and
    minor (the binaries built from the module proxy carry no full version string; kubectl
    exits non-zero on its own, but prints the server's)."""
    server = yaml.safe_load(_run([stack.env["KUBECTL"], "version", "-o", "json"], stack).stdout)[
        "serverVersion"
    ]
    return f"--kube-version=v{server['major']}.{server['minor']}.0"


@pytest.fixture(scope="module")
def helm() -> str:
    built = subprocess.run(
        ["bash", str(STACK.parent / "build-helm.sh")], capture_output=True, text=True, timeout=2400
    )
    if built.returncode != 0:
        pytest.fail(f"could not build helm:\n{built.stderr[-3000:]}", pytrace=False)
    return built.stdout.strip()


@pytest.fixture(scope="module")
def cluster(stack: Stack) -> Stack:
    """The namespace the chart is rendered for, and the Operator's CRDs (cluster-wide,
    left installed: applying them again is a no-op)."""
    crds = subprocess.run(
        ["bash", str(STACK.parent / "fetch-operator-crds.sh")], capture_output=True, text=True, timeout=600
    )
    if crds.returncode != 0:
        pytest.fail(f"could not fetch the Prometheus Operator CRDs:\n{crds.stderr[-3000:]}", pytrace=False)
    applied = _run([stack.env["KUBECTL"], "apply", "--server-side", "-f", crds.stdout.strip()], stack)
    assert applied.returncode == 0, applied.stderr
    jsonpath = '-o=jsonpath={.status.conditions[?(@.type=="Established")].status}'
    for crd in ("servicemonitors", "scrapeconfigs", "prometheusrules"):
        argv = [stack.env["KUBECTL"], "get", f"crd/{crd}.monitoring.coreos.com", jsonpath]
        eventually(
            lambda argv=argv: _run(argv, stack).stdout == "True", timeout=60, what=f"{crd} established"
        )
    try:
        kube(str(stack.kubeconfig)).create_namespace({"metadata": {"name": NAMESPACE}})
    except ApiException as exc:
        assert exc.status == 409
    return stack


def test_the_chart_lints_strictly(helm: str, stack: Stack) -> None:
    for values in VALUE_SETS.values():
        out = _run([helm, "lint", "--strict", str(CHART), *(f"--set={v}" for v in values)], stack)
        assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("discovery.replicas=two", "/discovery/replicas"),
        ("serviceMonitor.enable=true", "'enable' not allowed"),
        ("logbridge.config.sinks.elastic.enabled=true", "'elastic' not allowed"),
        ("logbridge.logLevel=loud", "/logbridge/logLevel"),
    ],
)
def test_values_the_services_would_refuse_fail_the_lint(
    helm: str, stack: Stack, value: str, says: str
) -> None:
    """values.schema.json (deploy/helm/schema.py): a typo or a wrong type fails at lint /
    install / upgrade, at its path, instead of rendering nonsense or crash-looping."""
    out = _run([helm, "lint", "--strict", str(CHART), f"--set={value}"], stack)
    assert out.returncode != 0 and says in out.stdout + out.stderr, out.stdout + out.stderr


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_each_rendering_passes_a_server_side_dry_run(helm: str, cluster: Stack, name: str) -> None:
    argv = [helm, "template", "vnbridge", str(CHART), "-n", NAMESPACE, _kube_version(cluster)]
    argv += [f"--set={v}" for v in VALUE_SETS[name]]
    rendered = _run(argv, cluster)
    assert rendered.returncode == 0, rendered.stderr
    docs = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    kinds = {d["kind"] for d in docs}
    assert "Namespace" not in kinds  # the namespace is never the chart's to delete
    assert KINDS.get(name, set()) <= kinds, kinds
    # objects the chart places in another namespace (the kube-system eks-config reader of
    # tencent-eks) go with their own namespace; the rest into the release's
    by_ns: dict[str, list[dict[str, Any]]] = {}
    for d in docs:
        by_ns.setdefault(d["metadata"].get("namespace") or NAMESPACE, []).append(d)
    dry_runs = 0
    for ns, group in by_ns.items():
        applied = _run(
            [cluster.env["KUBECTL"], "apply", "-n", ns, "--dry-run=server", "-f", "-"],
            cluster,
            stdin=yaml.safe_dump_all(group),
        )
        assert applied.returncode == 0, applied.stderr
        dry_runs += applied.stdout.count("(server dry run)")
    assert dry_runs == len(docs)
    rbac = {(d["kind"], d["metadata"]["name"]) for d in docs}
    preset = next(
        (v.split("=", 1)[1] for v in VALUE_SETS[name] if v.startswith("targets.node_preset=")), "tencent-eks"
    )
    node_proxy = ("ClusterRole", "vnbridge-node-proxy-reader") in rbac
    eks_config = ("Role", "vnbridge-eks-config-reader") in rbac
    if "rbac.create=false" not in VALUE_SETS[name]:
        assert node_proxy == (preset in ("aws-fargate", "alibaba-eci", "azure-aci")), (preset, rbac)
        assert eks_config == (preset == "tencent-eks"), (preset, rbac)
    _check_configs(docs, name)


def _check_configs(docs: list[dict[str, Any]], name: str) -> None:
    """Each rendered settings file loads in its service's own settings model."""
    maps = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "ConfigMap"}
    for component, model in SETTINGS.items():
        data = maps.get(f"vnbridge-{component}")
        if data is None:
            continue
        settings = model.model_validate(yaml.safe_load(data[f"{component}.yaml"]))
        if name == "fargate_filebeat" and component != "logbridge":
            assert settings.targets.node_preset == "aws-fargate"  # type: ignore[attr-defined]
    if name == "defaults":
        disc = yaml.safe_load(maps["vnbridge-discovery"]["discovery.yaml"])
        assert disc["metricsbridge_address"] == f"vnbridge-metricsbridge.{NAMESPACE}.svc:9101"
        assert (
            disc["targets"] == yaml.safe_load(maps["vnbridge-metricsbridge"]["metricsbridge.yaml"])["targets"]
        )


def test_probes_cover_startup_and_tls(helm: str, stack: Stack, tmp_path: Path) -> None:
    argv = [helm, "template", "vnbridge", str(CHART), _kube_version(stack)]
    argv += [f"--set={c}.tls.enabled=true" for c in ("discovery.config.http_sd", "logbridge.config.http")]
    argv += ["--set=metricsbridge.config.listen_tls.enabled=true"]
    rendered = _run(argv, stack)
    assert rendered.returncode == 0, rendered.stderr
    pods = {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]
        for d in yaml.safe_load_all(rendered.stdout)
        if d and d["kind"] in ("Deployment", "StatefulSet")
    }
    for c in pods.values():
        assert {"startupProbe", "readinessProbe", "livenessProbe"} <= set(c)
    for c in pods.values():
        assert c["readinessProbe"]["httpGet"]["scheme"] == "HTTPS", c["name"]


def test_a_tls_on_render_mounts_the_secret_and_scrapes_over_https(helm: str, stack: Stack) -> None:
    """Issue 35: with TLS on, the certificate Secret reaches the pod (extraVolumes) and the
    Prometheus Operator resources scrape HTTPS with the given tlsConfig; discovery publishes
    metricsbridge's scheme for the bridged targets."""
    ca = "tlsConfig.ca.secret"
    argv = [helm, "template", "vnbridge", str(CHART), _kube_version(stack)]
    argv += [f"--set={c}.tls.enabled=true" for c in ("discovery.config.http_sd", "logbridge.config.http")]
    argv += ["--set=metricsbridge.config.listen_tls.enabled=true"]
    argv += ["--set=serviceMonitor.enabled=true", "--set=scrapeConfig.enabled=true"]
    argv += [f"--set={k}.{ca}.name=vnbridge-tls" for k in ("serviceMonitor", "scrapeConfig")]
    argv += [f"--set={k}.{ca}.key=ca.crt" for k in ("serviceMonitor", "scrapeConfig")]
    for svc in ("discovery", "metricsbridge", "logbridge"):
        argv += [
            f"--set={svc}.extraVolumes[0].name=tls",
            f"--set={svc}.extraVolumes[0].secret.secretName=vnbridge-tls",
            f"--set={svc}.extraVolumeMounts[0].name=tls",
            f"--set={svc}.extraVolumeMounts[0].mountPath=/etc/vnbridge-tls",
        ]
    rendered = _run(argv, stack)
    assert rendered.returncode == 0, rendered.stderr
    docs = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet"):
            spec = d["spec"]["template"]["spec"]
            assert {"name": "tls", "secret": {"secretName": "vnbridge-tls"}} in spec["volumes"], d[
                "metadata"
            ]["name"]
            mounts = spec["containers"][0]["volumeMounts"]
            assert {"name": "tls", "mountPath": "/etc/vnbridge-tls"} in mounts
    monitors = [d for d in docs if d["kind"] == "ServiceMonitor"]
    assert len(monitors) == 3
    for m in monitors:
        [ep] = m["spec"]["endpoints"]
        assert ep["scheme"] == "https" and ep["tlsConfig"]["ca"]["secret"]["name"] == "vnbridge-tls"
    [sc] = [d for d in docs if d["kind"] == "ScrapeConfig"]
    assert sc["spec"]["scheme"] == "HTTPS" and sc["spec"]["tlsConfig"]["ca"]["secret"]["key"] == "ca.crt"
    assert sc["spec"]["httpSDConfigs"][0]["url"].startswith("https://")
    [cm] = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-discovery")]
    assert yaml.safe_load(next(iter(cm["data"].values())))["metricsbridge_scheme"] == "https"


def test_helm_test_checks_every_enabled_service_with_its_own_settings(helm: str, stack: Stack) -> None:
    """`helm test` (issue 35): a pod per enabled service, with that service's ConfigMap,
    credentials and extra mounts, runs `<cli> check --connect` then asks its /readyz."""
    out = _run(
        [
            helm,
            "template",
            "t",
            str(CHART),
            "--kube-version",
            "1.34.0",
            "--show-only",
            "templates/tests/check.yaml",
            "--set=metricsbridge.enabled=false",
            "--set=logbridge.extraVolumes[0].name=tls",
            "--set=logbridge.extraVolumes[0].secret.secretName=s",
            "--set=logbridge.extraVolumeMounts[0].name=tls",
            "--set=logbridge.extraVolumeMounts[0].mountPath=/t",
            "--set=logbridge.config.http.tls.enabled=true",
        ],
        stack,
    )
    assert out.returncode == 0, out.stderr
    pods = {d["metadata"]["name"]: d for d in yaml.safe_load_all(out.stdout) if d}
    assert set(pods) == {"t-vnbridge-test-discovery", "t-vnbridge-test-logbridge"}
    lb = pods["t-vnbridge-test-logbridge"]
    assert lb["metadata"]["annotations"]["helm.sh/hook"] == "test"
    [c] = lb["spec"]["containers"]
    assert c["args"][0].startswith("logbridge check --connect --config /etc/vnbridge/logbridge.yaml")
    assert "https://t-vnbridge-logbridge.default.svc:8081/readyz" in c["args"][0]
    assert {m["name"] for m in c["volumeMounts"]} == {"config", "tls"}
    assert "VNBRIDGE_LOGBRIDGE_ELASTICSEARCH__PASSWORD" in {e["name"] for e in c["env"]}
