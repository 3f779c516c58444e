"""The ``metricsbridge`` command line."""

from __future__ import annotations

import typer

from discovery.clikit import add_config_commands
from metricsbridge.settings import MetricsbridgeSettings

PROG = "metricsbridge"
app = typer.Typer(
    name=PROG,
    no_args_is_help=True,
    add_completion=False,
    help="""Translate virtual-node
sandbox metrics into the kubelet/cAdvisor shape for Prometheus.

Examples:

  metricsbridge config check metricsbridge.yaml

  metricsbridge config schema > metricsbridge.schema.json
""",
)
add_config_commands(app, prog=PROG, model=MetricsbridgeSettings, env_prefix="VNBRIDGE_METRICSBRIDGE_")


def main() -> None:
    app()
