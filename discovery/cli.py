"""The ``vnbridge-discovery`` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from discovery.running import run
from discovery.settings import DiscoverySettings
from vnbridge.checking import check_kube
from vnbridge.clikit import (
    add_component_commands,
    load_or_exit,
    serve,
)
from vnbridge.logs import LogLevel

PROG = "vnbridge-discovery"
app = typer.Typer(
    name=PROG,
    no_args_is_help=True,
    add_completion=False,
    help="""Watch the Kubernetes API, keep
the pod inventory and publish virtual-node pods' exporters to Prometheus.

Examples:

  vnbridge-discovery run --config deploy/config/discovery.yaml

  vnbridge-discovery run --kubeconfig ~/.kube/config --file-sd /etc/prometheus/sd/vnbridge.json

  VNBRIDGE_DISCOVERY_TARGETS__NODE_PRESET=aws-fargate vnbridge-discovery config check

  curl -s localhost:8080/targets | jq '.[0]'
""",
)
add_component_commands(
    app,
    prog=PROG,
    model=DiscoverySettings,
    probes=lambda s: [lambda: check_kube(s.kube)],
    endpoints="the Kubernetes API: its version, and that these credentials may list pods",
)


@app.command("run")
def run_cmd(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="discovery YAML settings.")] = None,
    kubeconfig: Annotated[
        Path | None, typer.Option(help="kubeconfig file (overrides kube.kubeconfig).")
    ] = None,
    file_sd: Annotated[Path | None, typer.Option(help="file_sd JSON path (overrides file_sd_path).")] = None,
    listen: Annotated[str | None, typer.Option(help="http_sd host:port (overrides http_sd.listen).")] = None,
    log_level: Annotated[LogLevel, typer.Option(help="Log level (JSON lines on stderr).")] = LogLevel.info,
) -> None:
    """Watch pods and nodes; serve GET /targets (http_sd) and write the file_sd file.

    /targets answers 503 until the first complete list of pods and nodes, then the
    whole list every time; ?shard=i&shards=n gives one of n Prometheus servers its
    slice. /metrics, /healthz, /readyz on the same listener.

    Example: vnbridge-discovery run -c deploy/config/discovery.yaml
    """
    overrides: dict[str, object] = {}
    if kubeconfig is not None:
        overrides["kube"] = {"kubeconfig": str(kubeconfig)}
    if file_sd is not None:
        overrides["file_sd_path"] = str(file_sd)
    if listen is not None:
        overrides["http_sd"] = {"listen": listen}
    serve(PROG, load_or_exit(PROG, DiscoverySettings, config, overrides=overrides), log_level, run)


def main() -> None:
    app()
