"""``vnbridge-sim``: put the simulated cluster into the local stack; ``demo`` shows the result.

Why: one command a newcomer runs to see vnbridge work end to end on real services.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import orjson
import typer
from aiokafka import AIOKafkaConsumer
from rich.console import Console
from rich.table import Table

from simulator.model import Cluster
from simulator.running import Exporters, finish_cronjobs, kube, produce_sync, register, write_cri_files

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


async def _consume(bootstrap: str, topic: str, n: int) -> list[bytes]:
    cons = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await cons.start()
    out: list[bytes] = []
    try:
        for _ in range(60):
            batch = await cons.getmany(timeout_ms=500)
            out += [m.value for ms in batch.values() for m in ms if m.value]
            if len(out) >= n:
                break
    finally:
        await cons.stop()
    return out


def _flatten(d: Any, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}{k}."))
    else:
        out[prefix[:-1]] = str(d)
    return out


def _convert(inputs: list[str], pods_json: Path, stdin: bytes | None = None) -> list[dict[str, Any]]:
    cmd = [sys.executable, "-m", "logbridge", "convert", "--pods", str(pods_json), *inputs]
    proc = subprocess.run(cmd, input=stdin, capture_output=True, check=True)
    return [orjson.loads(line) for line in proc.stdout.splitlines()]


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Seed of the simulated cluster.")] = 7,
    cronjob_pods: Annotated[int, typer.Option(help="CronJob pods started (and deleted) in the burst.")] = 3,
    topic: Annotated[
        str | None, typer.Option(help="Provider topic (default: a fresh eks-logs-<time>).")
    ] = None,
) -> None:
    """Register nodes and pods, ship their logs, serve their exporters, and show a
    standard-node and a virtual-node pod side by side."""
    env = stack_env()
    topic = topic or f"eks-logs-{int(time.time())}"
    cluster = Cluster(seed=seed, cronjob_pods=cronjob_pods).build()
    v1 = kube(env["KUBECONFIG"])
    with console.status("registering nodes and pods in kube-apiserver"):
        register(v1, cluster)
    sim = ROOT / ".stack" / "sim"
    pods_json = sim / "pods.json"
    sim.mkdir(parents=True, exist_ok=True)
    # the inventory snapshot logbridge enriches from (the live watch comes with discovery)
    snapshot = v1.api_client.sanitize_for_serialization(v1.list_pod_for_all_namespaces())
    pods_json.write_bytes(orjson.dumps(snapshot))
    std_files = write_cri_files(sim, [p for p in cluster.pods if not p.virtual])
    virtual = [p for p in cluster.pods if p.virtual]
    with console.status(f"producing virtual pods' stdout to Kafka topic {topic}"):
        n = produce_sync(env["KAFKA_BOOTSTRAP"], topic, virtual)
    gone = finish_cronjobs(v1, cluster)
    # pods deleted after the snapshot are tombstones for logbridge
    for p in gone:
        (sim / f"{p.namespace}_{p.name}.deleted.json").write_bytes(
            orjson.dumps({**p.manifest(), **p.status()})
        )
    exporters = Exporters(cluster)
    exporters.start()
    try:
        records = asyncio.run(_consume(env["KAFKA_BOOTSTRAP"], topic, n))
        virt_docs = _convert(["-"], sim, stdin=b"\n".join(records) + b"\n")
        std_docs = _convert([str(f) for f in std_files], sim)
        nodes = subprocess.run(
            [
                "kubectl",
                "--kubeconfig",
                env["KUBECONFIG"],
                "get",
                "nodes",
                "-L",
                "node.kubernetes.io/instance-type",
            ],
            capture_output=True,
            text=True,
        )
        console.rule("[bold]nodes in kube-apiserver")
        console.print(nodes.stdout or nodes.stderr)
        std = next(d for d in std_docs if d.get("log", "").startswith("starting"))
        virt = next(
            d
            for d in virt_docs
            if d.get("kubernetes", {}).get("namespace_name") == "shop"
            and d.get("log", "").startswith("starting")
        )
        table = Table(title="Elasticsearch document (fluent-bit profile): standard vs virtual-node pod")
        table.add_column("field")
        table.add_column("standard node (CRI file)")
        table.add_column("virtual node (Kafka record → logbridge)")
        fs, fv = _flatten(std), _flatten(virt)
        for key in sorted(set(fs) | set(fv), key=lambda k: (k.count("."), k)):
            a, b = fs.get(key, "—"), fv.get(key, "—")
            same_shape = (key in fs) == (key in fv)
            table.add_row(key if same_shape else f"[red]{key}[/red]", a[:48], b[:48])
        console.print(table)
        tomb = [d for d in virt_docs if d.get("kubernetes", {}).get("namespace_name") == "batch"]
        console.print(
            f"Kafka records: {n}; documents from virtual pods: {len(virt_docs)} "
            f"(partials joined); CronJob pods deleted before processing: {len(gone)}, their "
            f"{len(tomb)} documents all carry full metadata: "
            f"{all('labels' in d['kubernetes'] for d in tomb)}"
        )
        sample = virtual[0]
        metrics = httpx.get(f"http://{sample.ip}:9100/metrics", timeout=5).text.splitlines()[:4]
        console.rule(f"[bold]sandbox exporter of {sample.name} at {sample.ip}:9100")
        console.print("\n".join(metrics))
        console.rule("[bold]open")
        console.print(
            f"Elasticsearch {env['ES_URL']}   Prometheus {env['PROM_URL']}   "
            f"kubectl --kubeconfig {env['KUBECONFIG']} get pods -A"
        )
        console.print("Stop everything with: make stack-down")
    finally:
        exporters.stop()


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
