"""The ``metricsbridge`` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from metricsbridge.settings import MetricsbridgeSettings
from vnbridge.checking import check_kube
from vnbridge.clikit import (
    add_component_commands,
    load_or_exit,
    serve,
)
from vnbridge.logs import LogLevel

PROG = "metricsbridge"
app = typer.Typer(
    name=PROG,
    no_args_is_help=True,
    add_completion=False,
    help="""Translate virtual-node
sandbox metrics into the kubelet/cAdvisor shape for Prometheus.

Examples:

  metricsbridge run --config deploy/config/metricsbridge.yaml

  curl 'localhost:9101/probe?target=10.0.3.17:9100'

  metricsbridge config check metricsbridge.yaml

  metricsbridge config schema > metricsbridge.schema.json
""",
)
add_component_commands(
    app,
    prog=PROG,
    model=MetricsbridgeSettings,
    probes=lambda s: [lambda: check_kube(s.kube)],
    endpoints="the Kubernetes API: its version, and that these credentials may list pods",
)


@app.command("run")
def run_cmd(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="metricsbridge YAML settings.")
    ] = None,
    kubeconfig: Annotated[
        Path | None, typer.Option(help="kubeconfig file (overrides kube.kubeconfig).")
    ] = None,
    listen: Annotated[str | None, typer.Option(help="host:port (overrides listen).")] = None,
    log_level: Annotated[LogLevel, typer.Option(help="Log level (JSON lines on stderr).")] = LogLevel.info,
) -> None:
    """Serve /probe?target=<podIP:port>: fetch that sandbox exporter and answer in the
    kubelet/cAdvisor shape. Targets that are not current virtual-node pod exporters get 403.

    Example: metricsbridge run -c deploy/config/metricsbridge.yaml
    """
    from metricsbridge.running import run

    overrides: dict[str, object] = {}
    if kubeconfig is not None:
        overrides["kube"] = {"kubeconfig": str(kubeconfig)}
    if listen is not None:
        overrides["listen"] = listen
    serve(PROG, load_or_exit(PROG, MetricsbridgeSettings, config, overrides=overrides), log_level, run)


def main() -> None:
    app()
