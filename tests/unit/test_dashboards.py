"""The committed Grafana dashboards are exactly what grafana/generate.py produces."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("vnbridge_grafana", ROOT / "grafana" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_dashboards_are_fresh() -> None:
    for name, text in _generator().render().items():
        committed = (ROOT / "grafana" / name).read_text()
        assert committed == text, f"grafana/{name} is stale: run `make dashboards`"


def test_every_panel_has_a_prometheus_query() -> None:
    for name in _generator().DASHBOARDS:
        dash = json.loads((ROOT / "grafana" / name).read_text())
        panels = [p for p in dash["panels"] if p.get("type") != "row"]
        assert panels and all(p["targets"] and all(t["expr"] for t in p["targets"]) for p in panels)


def test_every_query_reads_the_picked_data_source_and_cluster() -> None:
    metric = re.compile(r"\b(vnbridge_\w+|container_\w+|up|node_namespace_pod_container:\S+?)(?=[{\[)\s])")
    for name in _generator().DASHBOARDS:
        dash = json.loads((ROOT / "grafana" / name).read_text())
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        assert (
            variables["datasource"]["type"] == "datasource"
            and variables["datasource"]["query"] == "prometheus"
        )
        assert variables["cluster"]["query"] == "label_values(vnbridge_build_info, cluster)"
        for panel in (p for p in dash["panels"] if p.get("type") != "row"):
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}"
                for m in metric.finditer(target["expr"]):
                    rest = target["expr"][m.end() :]
                    assert rest.startswith('{cluster="$cluster"'), f"{name}: {m[1]} without the cluster"


def test_the_cluster_matcher_goes_into_every_selector() -> None:
    with_cluster = _generator().with_cluster
    assert with_cluster("sum(up{})") == 'sum(up{cluster="$cluster"})'
    assert with_cluster('rate(a_total{job="x"}[5m]) / b{}') == (
        'rate(a_total{cluster="$cluster", job="x"}[5m]) / b{cluster="$cluster"}'
    )


def test_the_chart_and_kustomize_ship_the_same_dashboards() -> None:
    """Grafana's sidecar loads them from ConfigMaps (issue 35): the copies are grafana/*.json."""
    for name in ("vnbridge-parity.json", "vnbridge-health.json"):
        text = (ROOT / "grafana" / name).read_text()
        for d in ("deploy/helm/vnbridge/files/dashboards", "deploy/kubernetes/components/dashboards"):
            assert (ROOT / d / name).read_text() == text, f"{d}/{name} is stale: run `make dashboards`"
