"""The committed Grafana dashboards are exactly what grafana/generate.py produces."""

from __future__ import annotations

import importlib.util
import json
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
