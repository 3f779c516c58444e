"""The alerts (issue 35): one source, `deploy/helm/vnbridge/files/alerts.yaml`, rendered by
the chart and the kustomize component unchanged, every alert fired by `promtool test
rules` on the series that mean it and raised by the stack's real Prometheus on scraped
symptoms, every metric it reads exported by the services, every runbook link resolving
to a section of docs/runbooks.md. Needs promtool (Debian's
prometheus package, which the local stack installs)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import httpx
import yaml

from tests.integration.conftest import Stack
from tests.support.helpers import eventually, free_port

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


class _Symptoms:
    """Two exporters (one scrape job) whose series are what each alert is about: lag that
    grows, dead letters, degraded delivery, aborting transactions, a refused and a failing
    watch, a discovery that is not ready and one that publishes nothing, failing probes."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

        self.a, self.b = CollectorRegistry(), CollectorRegistry()
        r = self.a
        self.lag = Gauge("vnbridge_logbridge_consumer_lag", "", ["topic", "partition"], registry=r)
        self.dead = Counter("vnbridge_logbridge_records_dead_lettered", "", ["reason"], registry=r)
        Gauge("vnbridge_logbridge_degraded", "", registry=r).set(1)
        self.aborts = Counter("vnbridge_logbridge_aborts", "", ["error_code"], registry=r)
        Gauge("vnbridge_logbridge_watch_refused", "", ["resource"], registry=r).labels("pods").set(403)
        self.dwatch = Counter("vnbridge_discovery_watch_errors", "", ["resource", "error_code"], registry=r)
        self.mwatch = Counter(
            "vnbridge_metricsbridge_watch_errors", "", ["resource", "error_code"], registry=r
        )
        Gauge("vnbridge_discovery_ready", "", registry=r).set(0)
        self.probes = Counter("vnbridge_metricsbridge_probes", "", ["result"], registry=r)
        Gauge("vnbridge_discovery_ready", "", registry=self.b).set(1)
        Gauge("vnbridge_discovery_targets", "", registry=self.b).set(0)
        self.ports = []
        self.servers = []
        for reg in (self.a, self.b):
            port = free_port()
            server, _ = start_http_server(port, addr="127.0.0.1", registry=reg)
            self.ports.append(port)
            self.servers.append(server)
        self.ticks = 0

    def tick(self) -> None:
        self.ticks += 1
        self.lag.labels("t", "0").set(20_000 + 1_000 * self.ticks)
        self.dead.labels("bad_json").inc(50)
        self.dead.labels("internal_error").inc()
        self.aborts.labels("KafkaTimeoutError").inc(5)
        self.dwatch.labels("pods", "connection").inc(5)
        self.mwatch.labels("nodes", "gone").inc(5)
        self.probes.labels("ok").inc(10)
        self.probes.labels("timeout").inc(10)

    def close(self) -> None:
        for s in self.servers:
            s.shutdown()


def test_the_real_prometheus_raises_every_alert_on_its_symptoms(stack: Stack) -> None:
    """The rules file loaded into the stack's Prometheus, the symptoms scraped: every alert
    is at least pending (their `for:` durations are minutes; promtool above covers firing)."""
    import threading
    import time

    from simulator.supervising import prom_query, prometheus_jobs

    run = f"{int(time.time()) % 1_000_000}"
    job = f"it-alerts-{run}"
    rules = stack.prom_config.parent / "rules" / f"it-alerts-{run}.yaml"
    rules.write_text(RULES.read_text())
    symptoms = _Symptoms()
    stop = threading.Event()

    def ticking() -> None:
        while not stop.wait(1.0):
            symptoms.tick()

    ticker = threading.Thread(target=ticking, daemon=True)
    ticker.start()
    targets = ", ".join(f"'127.0.0.1:{p}'" for p in symptoms.ports)
    jobs = f"- job_name: {job}\n  scrape_interval: 1s\n  static_configs: [{{targets: [{targets}]}}]\n"
    want = {str(a["alert"]) for a in _alerts()}
    try:
        with prometheus_jobs(stack.prom_url, stack.prom_config, jobs):

            def raised() -> set[str]:
                got = prom_query(stack.prom_url, f'ALERTS{{job="{job}"}}')
                return {r["metric"]["alertname"] for r in got}

            eventually(lambda: raised() >= want, timeout=120, interval=2, what=f"alerts {sorted(want)}")
    finally:
        stop.set()
        symptoms.close()
        rules.unlink(missing_ok=True)
        httpx.post(f"{stack.prom_url}/-/reload", timeout=10)
