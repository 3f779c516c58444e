"""The ``vnbridge-discovery`` command line."""

from __future__ import annotations

import typer

from discovery.clikit import add_config_commands
from discovery.settings import DiscoverySettings

PROG = "vnbridge-discovery"
app = typer.Typer(
    name=PROG,
    no_args_is_help=True,
    add_completion=False,
    help="""Watch the Kubernetes API, keep
the pod inventory and publish virtual-node pods' exporters to Prometheus.

Examples:

  vnbridge-discovery config check discovery.yaml

  VNBRIDGE_DISCOVERY_NODE_PRESET=aws-fargate vnbridge-discovery config check
""",
)
add_config_commands(app, prog=PROG, model=DiscoverySettings, env_prefix="VNBRIDGE_DISCOVERY_")


def main() -> None:
    app()
