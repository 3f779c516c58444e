"""The chart's values.schema.json (issue 35): generated from the services' own settings
models plus the chart's keys, kept in step with them, and refusing what Helm must
refuse — a wrong type, a misspelt chart key, a setting the service does not know.
(`tests/integration/test_helm.py` runs the same cases through `helm lint --strict`.)"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "vnbridge"
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())


def _errors(values: dict[str, Any]) -> list[str]:
    v = jsonschema.Draft7Validator(SCHEMA)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(values)]


def _with(path: str, value: object) -> dict[str, Any]:
    values = copy.deepcopy(VALUES)
    *head, last = path.split(".")
    node = values
    for k in head:
        node = node.setdefault(k, {})
    node[last] = value
    return values


def test_the_schema_is_generated_from_the_current_settings() -> None:
    run = subprocess.run(
        [sys.executable, "deploy/helm/schema.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr


def test_the_shipped_values_and_the_test_values_pass() -> None:
    assert _errors(VALUES) == []
    for f in sorted((ROOT / "tests" / "integration").glob("helm-values*.yaml")):
        merged = copy.deepcopy(VALUES)
        merged.update(yaml.safe_load(f.read_text()) or {})
        assert _errors(merged) == [], f


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        ("discovery.replicas", "two", "discovery/replicas"),
        ("serviceMonitor.enable", True, "serviceMonitor"),
        ("logbridge.config.sinks.elastic", {"enabled": True}, "logbridge/config/sinks"),
        (
            "logbridge.config.delivery.batch_max_records",
            "many",
            "logbridge/config/delivery/batch_max_records",
        ),
        ("metricsbridge.config.listen_tls.enabled", "yes", "metricsbridge/config/listen_tls/enabled"),
        ("targets.node_preset", "virtual-kubelet", "targets/node_preset"),
        ("logbridge.logLevel", "loud", "logbridge/logLevel"),
        (
            "logbridge.podDisruptionBudget",
            {"minAvailable": 1, "maxUnavailable": 1},
            "logbridge/podDisruptionBudget",
        ),
    ],
)
def test_what_helm_must_refuse_is_refused_at_its_path(path: str, value: object, where: str) -> None:
    errors = _errors(_with(path, value))
    assert any(e.startswith(where) for e in errors), errors
