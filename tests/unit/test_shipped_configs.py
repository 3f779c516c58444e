"""Every settings file the project ships validates against its component's model."""

from __future__ import annotations

from pathlib import Path

import pytest

from discovery.settings import DiscoverySettings
from logbridge.settings import LogbridgeSettings
from metricsbridge.settings import MetricsbridgeSettings
from vnbridge.configuring import ComponentSettings, load_settings

ROOT = Path(__file__).resolve().parents[2]
MODELS: dict[str, type[ComponentSettings]] = {
    "discovery": DiscoverySettings,
    "logbridge": LogbridgeSettings,
    "metricsbridge": MetricsbridgeSettings,
}
FILES = sorted((ROOT / "deploy").rglob("config/*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_config_is_valid(path: Path) -> None:
    model = MODELS.get(path.stem)
    if model is None:
        pytest.skip(f"no model for {path.name}")
    load_settings(model, path)


def test_rbac_is_read_only() -> None:
    import yaml

    docs = list(yaml.safe_load_all((ROOT / "deploy/kubernetes/base/rbac.yaml").read_text()))
    rules = [r for d in docs if d["kind"] == "ClusterRole" for r in d["rules"]]
    assert {v for r in rules for v in r["verbs"]} == {"get", "list", "watch"}
    assert {res for r in rules for res in r["resources"]} == {"pods", "nodes"}
