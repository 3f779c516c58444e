"""The alerts (issue 35): one source, `deploy/helm/vnbridge/files/alerts.yaml`, rendered by
the chart and the kustomize component unchanged, every alert fired by `promtool test
rules` on the series that mean it, every metric it reads exported by the services, every
runbook link resolving to a section of docs/runbooks.md. Needs promtool (Debian's
prometheus package, which the local stack installs)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.integration.conftest import Stack

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "helm" / "vnbridge" / "files" / "alerts.yaml"
HELM = sorted((Path.home() / ".cache" / "vnbridge").glob("helm-*/helm"))


def _groups() -> list[dict[str, object]]:
    groups: list[dict[str, object]] = yaml.safe_load(RULES.read_text())["groups"]
    return groups


def _alerts() -> list[dict[str, object]]:
    return [r for g in _groups() for r in g["rules"]]  # type: ignore[attr-defined]


def test_promtool_fires_every_alert_on_the_series_that_mean_it(stack: Stack) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool: the local stack installs Debian's prometheus package"
    check = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    run = subprocess.run(
        [promtool, "test", "rules", "tests.yaml"],
        cwd=ROOT / "tests" / "alerts",
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    tested = set(re.findall(r"alertname: (\w+)", (ROOT / "tests" / "alerts" / "tests.yaml").read_text()))
    assert tested == {a["alert"] for a in _alerts()}  # no alert without its test


def test_every_alert_has_severity_summary_and_a_runbook_section() -> None:
    runbooks = (ROOT / "docs" / "runbooks.md").read_text()
    anchors = {h.lower() for h in re.findall(r"^## (\w+)$", runbooks, re.M)}
    for a in _alerts():
        assert a["labels"]["severity"] in {"warning", "critical"}, a  # type: ignore[index]
        assert a["annotations"]["summary"], a  # type: ignore[index]
        url = a["annotations"]["runbook_url"]  # type: ignore[index]
        assert url.endswith("docs/runbooks.md#" + str(a["alert"]).lower()), url
        assert str(a["alert"]).lower() in anchors, a["alert"]


def test_every_metric_an_alert_reads_is_exported_by_a_service() -> None:
    code = "".join(
        p.read_text()
        for d in ("logbridge", "discovery", "metricsbridge", "vnbridge")
        for p in (ROOT / d).glob("*.py")
    )
    names = set(re.findall(r"vnbridge_[a-z_]+", " ".join(str(a["expr"]) for a in _alerts())))
    for name in names - {"vnbridge_"}:
        base = name.removesuffix("_total").removeprefix("vnbridge_")
        metric = base.partition("_")[2]
        assert metric in code or base in code, f"{name}: no service exports it"


def test_the_chart_and_kustomize_render_the_same_rules() -> None:
    assert HELM, "helm: tests/integration/test_helm.py builds it into ~/.cache/vnbridge"
    out = subprocess.run(
        [
            str(HELM[-1]),
            "template",
            "t",
            str(ROOT / "deploy" / "helm" / "vnbridge"),
            "--kube-version",
            "1.34.0",
            "--set",
            "alerts.enabled=true",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    [rule] = [d for d in yaml.safe_load_all(out) if d and d["kind"] == "PrometheusRule"]
    assert rule["spec"]["groups"] == _groups()
    kustomized = yaml.safe_load(
        (ROOT / "deploy" / "kubernetes" / "components" / "alerts" / "prometheusrule.yaml").read_text()
    )
    assert kustomized["spec"]["groups"] == _groups()
