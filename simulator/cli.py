"""``vnbridge-sim``: put the simulated cluster into the local stack; ``demo`` shows the result.

Why: one command a newcomer runs to see vnbridge work end to end on real services.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
app = typer.Typer(
    name="vnbridge-sim",
    no_args_is_help=True,
    add_completion=False,
    help="Simulated standard and virtual-node pods on the local real stack.\n\n"
    "Example: make stack-up && vnbridge-sim demo",
)
console = Console()


@app.callback()
def _root() -> None:
    """Simulated standard and virtual-node pods on the local real stack."""


def stack_env() -> dict[str, str]:
    env_file = ROOT / ".stack" / "env"
    if not env_file.exists():
        console.print("[red]vnbridge-sim: no .stack/env; run `make stack-up` first[/red]")
        raise typer.Exit(2)
    env = {}
    for line in env_file.read_text().splitlines():
        if line.startswith("export "):
            k, _, v = line[7:].partition("=")
            env[k] = shlex.split(v)[0] if v else ""
    return env


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Seed of the simulated cluster.")] = 7,
    cronjob_pods: Annotated[
        int, typer.Option(help="CronJob pods in the burst (deleted before processing).")
    ] = 12,
    keep: Annotated[bool, typer.Option(help="Keep the vnbridge services running after the report.")] = False,
) -> None:
    """Run discovery, metricsbridge and logbridge on simulated standard and virtual pods
    and print the parity report (Elasticsearch documents and Prometheus series)."""
    from simulator.demo import run_demo

    run_demo(stack_env(), console, seed=seed, cronjob_pods=cronjob_pods, keep=keep)


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
