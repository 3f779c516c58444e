"""``make demo``: the whole of vnbridge on the real local stack, then a parity report.

Why: a newcomer should see, in one command, a virtual-node pod look exactly like a
standard-node pod — in Elasticsearch (logbridge) and in Prometheus (discovery +
metricsbridge + the kube-prometheus rules) — with every difference highlighted.
The vnbridge services run as child processes with their real CLIs; Ctrl-C (or the
end of the report) stops them and restores Prometheus' configuration.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml
from rich.console import Console
from rich.table import Table

from simulator.model import Cluster, SimPod
from simulator.running import (
    Exporters,
    committed_offsets,
    eks_record,
    evict_strangers,
    finish_cronjobs,
    kube,
    register,
    write_cri_files,
)
from simulator.supervising import ROOT, child, eventually, free_port, prometheus_jobs

REF = ROOT / "tests" / "reference" / "kube-prometheus"  # vendored facts (README there)
METRICS = (
    "container_cpu_usage_seconds_total",
    "container_memory_working_set_bytes",
    "container_cpu_cfs_throttled_periods_total",
    "container_network_receive_bytes_total",
    "container_fs_reads_bytes_total",
    "node_namespace_pod_container:container_cpu_usage_seconds_total:sum_rate5m",
    "node_namespace_pod_container:container_memory_working_set_bytes",
)


def _flatten(d: Any, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}{k}."))
    else:
        out[prefix[:-1]] = json.dumps(d, ensure_ascii=False) if not isinstance(d, str) else d
    return out


def _rules(path: Path) -> None:
    doc = yaml.safe_load((REF / "recording-rules.yaml").read_text())
    groups = doc["spec"]["groups"] if "spec" in doc else doc["groups"]
    path.write_text(
        yaml.safe_dump({"groups": [g for g in groups if g["name"].startswith("k8s.rules.container_")]})
    )


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _query(prom: str, expr: str) -> list[dict[str, Any]]:
    data = httpx.get(f"{prom}/api/v1/query", params={"query": expr}, timeout=10).json()
    return list(data.get("data", {}).get("result", []))


def forget_earlier_runs(es: str) -> int:
    """Delete the indices (and the index templates older versions made) that earlier
    demo runs left: each run reports on its own index, and a reused stack must not grow."""
    names = httpx.get(f"{es}/_cat/indices/vnbridge-demo-*?h=index&format=json", timeout=30).json()
    for row in names:
        httpx.delete(f"{es}/{row['index']}", timeout=30).raise_for_status()
    templates = httpx.get(f"{es}/_index_template/vnbridge-demo-*", timeout=30)
    for t in templates.json().get("index_templates", []) if templates.status_code == 200 else []:
        httpx.delete(f"{es}/_index_template/{t['name']}", timeout=30).raise_for_status()
    return len(names)


def _es_doc(es: str, index: str, pod: str, text: str) -> dict[str, Any] | None:
    query = {
        "bool": {"filter": [{"term": {"kubernetes.pod_name.keyword": pod}}, {"match_phrase": {"log": text}}]}
    }
    hits = httpx.post(f"{es}/{index}/_search", json={"query": query, "size": 1}, timeout=10).json()
    got = hits.get("hits", {}).get("hits", [])
    return got[0]["_source"] if got else None


class Demo:
    def __init__(self, env: dict[str, str], console: Console, *, seed: int, cronjob_pods: int) -> None:
        self.env = env
        self.console = console
        self.run = f"{int(time.time()) % 1_000_000}"
        self.cluster = Cluster(seed=seed, cronjob_pods=cronjob_pods).build()
        self.tmp = ROOT / ".stack" / "demo" / self.run
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.index_prefix = f"vnbridge-demo-{self.run}"
        self.index = f"{self.index_prefix}-*"
        self.topic = f"eks-logs-{self.run}"

    def step(self, text: str) -> Any:
        return self.console.status(f"[bold]{text}")

    @contextlib.contextmanager
    def services(self) -> Iterator[dict[str, int]]:
        env, tmp = self.env, self.tmp
        ports = {"discovery": free_port(), "metricsbridge": free_port(), "logbridge": free_port()}
        kubeconfig = env["KUBECONFIG"]
        profile: dict[str, Any] = {
            "name": "fluent-bit",
            "options": {
                "Logstash_Format": "On",
                "Logstash_Prefix": self.index_prefix,
                "Replace_Dots": "On",
                "Merge_Log": "On",
            },
        }
        self.profile = profile
        (tmp / "discovery.yaml").write_text(
            json.dumps(
                {
                    "kube": {"kubeconfig": kubeconfig},
                    "http_sd": {"listen": f"127.0.0.1:{ports['discovery']}"},
                    "metricsbridge_address": f"127.0.0.1:{ports['metricsbridge']}",
                }
            )
        )
        (tmp / "metricsbridge.yaml").write_text(
            json.dumps(
                {
                    "kube": {"kubeconfig": kubeconfig},
                    "listen": f"127.0.0.1:{ports['metricsbridge']}",
                }
            )
        )
        (tmp / "logbridge.yaml").write_text(
            json.dumps(
                {
                    "profile": profile,
                    "source": {"topics": [self.topic], "group_id": f"demo-{self.run}"},
                    "kafka": {"bootstrap_servers": env["KAFKA_BOOTSTRAP"]},
                    "elasticsearch": {"hosts": [env["ES_URL"]]},
                    "inventory": {"source": "kube", "kube": {"kubeconfig": kubeconfig}},
                    "assembly": {"multiline_namespaces": {"*": "java"}},
                    "sinks": {"elasticsearch": {"enabled": True}},
                    "delivery": {
                        "dead_letter_topic": f"demo-dlq-{self.run}",
                        "transactional_id": f"demo-{self.run}",
                    },
                    "http": {"listen": f"127.0.0.1:{ports['logbridge']}"},
                }
            )
        )
        with (
            child(["discovery", "run", "-c", str(tmp / "discovery.yaml")], log=tmp / "discovery.log"),
            child(
                ["metricsbridge", "run", "-c", str(tmp / "metricsbridge.yaml")], log=tmp / "metricsbridge.log"
            ),
            child(["logbridge", "run", "-c", str(tmp / "logbridge.yaml")], log=tmp / "logbridge.log"),
        ):
            for name, port in ports.items():
                url = f"http://127.0.0.1:{port}{'/healthz' if name == 'logbridge' else '/readyz'}"
                eventually(lambda url=url: _ok(url), timeout=60, what=f"{name} up")  # type: ignore[misc]
            yield ports

    def prometheus(self, ports: dict[str, int], exporters: Exporters) -> Any:
        rules = Path(self.env["PROM_CONFIG"]).parent / "rules" / "vnbridge-demo.yaml"
        rules.parent.mkdir(exist_ok=True)
        if REF.exists():
            _rules(rules)
        namespaces = "|".join(sorted({p.namespace for p in self.cluster.pods}))
        jobs = (
            f"- job_name: vnbridge-virtual-nodes\n  honor_labels: true\n  scrape_interval: 2s\n"
            f"  http_sd_configs: [{{url: 'http://127.0.0.1:{ports['discovery']}/targets', "
            f"refresh_interval: 2s}}]\n"
            f"  relabel_configs: [{{source_labels: [namespace], regex: '{namespaces}', action: keep}}]\n"
            + exporters.kubelet_scrape_config("kubelet-standard-nodes", "2s")
            + f"- job_name: kube-state-metrics\n  honor_labels: true\n  scrape_interval: 2s\n"
            f"  static_configs: [{{targets: ['127.0.0.1:{exporters.ksm_port}']}}]\n"
        )
        return prometheus_jobs(self.env["PROM_URL"], Path(self.env["PROM_CONFIG"]), jobs)

    def ship_logs(self, ports: dict[str, int]) -> int:
        """Virtual pods' stdout → Kafka (EKS shape); standard pods' CRI files → the documents
        a Fluent Bit DaemonSet writes (logbridge convert, the golden-tested profile) → ES."""
        import asyncio

        from aiokafka import AIOKafkaProducer  # local: only the demo produces

        from simulator.model import log_lines

        virtual = [p for p in self.cluster.pods if p.virtual]

        async def produce() -> int:
            prod = AIOKafkaProducer(bootstrap_servers=self.env["KAFKA_BOOTSTRAP"], enable_idempotence=True)
            await prod.start()
            n = 0
            try:
                for pod in virtual:
                    for ts, stream, tag, text in log_lines(pod):
                        await prod.send(
                            self.topic, eks_record(pod, ts, stream, tag, text), key=pod.uid.encode()
                        )
                        n += 1
                await prod.flush()
            finally:
                await prod.stop()
            return n

        n = asyncio.run(produce())
        files = write_cri_files(self.tmp / "nodes", [p for p in self.cluster.pods if not p.virtual])
        pods_json = self.tmp / "pods.json"
        v1 = kube(self.env["KUBECONFIG"])
        pods_json.write_bytes(
            orjson.dumps(v1.api_client.sanitize_for_serialization(v1.list_pod_for_all_namespaces()))
        )
        opts = [f"--option={k}={v}" for k, v in self.profile["options"].items()]
        bulk = subprocess.run(
            [
                sys.executable,
                "-m",
                "logbridge",
                "convert",
                "--bulk",
                "--pods",
                str(pods_json),
                *opts,
                *map(str, files),
            ],
            capture_output=True,
            check=True,
        ).stdout
        httpx.post(
            f"{self.env['ES_URL']}/_bulk?refresh=true",
            content=bulk,
            headers={"content-type": "application/x-ndjson"},
            timeout=60,
        ).raise_for_status()
        return n

    def report(self, ports: dict[str, int], gone: list[SimPod], records: int) -> None:
        c, env = self.console, self.env
        std = next(p for p in self.cluster.pods if not p.virtual)
        virt = next(p for p in self.cluster.pods if p.virtual and not p.cronjob)
        es, prom = env["ES_URL"], env["PROM_URL"]
        sd = _es_doc(es, self.index, std.name, "starting")
        vd = _es_doc(es, self.index, virt.name, "starting")
        table = Table(title="Elasticsearch: the same log line from a standard-node and a virtual-node pod")
        table.add_column("field")
        table.add_column(f"standard: {std.name} on {std.node}")
        table.add_column(f"virtual: {virt.name} on {virt.node}")
        fs, fv = _flatten(sd or {}), _flatten(vd or {})
        for key in sorted(set(fs) | set(fv), key=lambda k: (k.count("."), k)):
            a, b = fs.get(key, "—"), fv.get(key, "—")
            style = "" if (key in fs) == (key in fv) else "red"
            table.add_row(key, a[:44], b[:44], style=style)
        c.print(table)
        # dynamic mapping, as a Fluent Bit index has it: exact names match the .keyword subfield
        of_gone: dict[str, Any] = {"terms": {"kubernetes.pod_name.keyword": [p.name for p in gone]}}
        enriched: dict[str, Any] = {"exists": {"field": "kubernetes.labels"}}

        def count(*filters: dict[str, Any]) -> int:
            query = {"query": {"bool": {"filter": list(filters)}}}
            return int(httpx.post(f"{es}/{self.index}/_count", json=query, timeout=10).json().get("count", 0))

        c.print(
            f"CronJob burst: {len(gone)} pods were deleted before their logs were processed "
            f"({records} Kafka records from virtual pods in all); {count(of_gone, enriched)} of their "
            f"{count(of_gone)} documents carry full pod metadata (tombstones in the inventory)."
        )
        mt = Table(title="Prometheus: the same series for a standard and a virtual pod")
        mt.add_column("series", overflow="fold")
        mt.add_column("label names (standard)", overflow="fold")
        mt.add_column("virtual pod", overflow="fold")

        def names(pod: SimPod, series: str) -> list[str]:
            found: set[str] = set()
            for r in _query(prom, f'{series}{{pod="{pod.name}"}}'):
                found |= set(r["metric"])
            return sorted(found - {"__name__"})

        for name in METRICS if REF.exists() else [m for m in METRICS if ":" not in m]:
            deadline = time.monotonic() + 20  # a sample is a moment: give it a few scrapes
            while True:
                la, lb = names(std, name), names(virt, name)
                if (la and la == lb) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            if la == lb and la:
                verdict = "[green]same labels[/green]"
            else:
                extra, missing = sorted(set(lb) - set(la)), sorted(set(la) - set(lb))
                verdict = f"[red]differs: +{','.join(extra) or '-'} -{','.join(missing) or '-'}[/red]"
            mt.add_row(name, " ".join(la) or "—", verdict)
        c.print(mt)
        if REF.exists():
            same = total = 0
            dash = json.loads((REF / "dashboard-compute-resources-pod.json").read_text())
            for panel in dash.get("panels", []):
                for t in panel.get("targets", []):

                    def q(p: SimPod, e: str = t["expr"]) -> set[frozenset[str]]:
                        e = e.replace("$namespace", p.namespace).replace("$pod", p.name)
                        e = e.replace("$cluster", "").replace("$__rate_interval", "1m")
                        return {frozenset(r["metric"]) for r in _query(prom, e)}

                    total += 1
                    deadline = time.monotonic() + 20  # a sample is a moment: give it a few scrapes
                    while True:
                        want, got = q(std), q(virt)
                        if (want and got == want) or time.monotonic() > deadline:
                            break
                        time.sleep(0.5)
                    same += int(bool(want) and got == want)
            c.print(
                f"kube-prometheus Pod dashboard: {same} of {total} panel queries give the virtual pod "
                "the same series shape as the standard pod."
            )
        c.rule("[bold]open")
        c.print(f"Elasticsearch  {es}/{self.index}/_search?q=kubernetes.pod_name:{virt.name}")
        c.print(
            f"Prometheus     {prom}/graph?g0.expr="
            f"container_memory_working_set_bytes%7Bpod%3D%22{virt.name}%22%7D"
        )
        c.print(f"http_sd        http://127.0.0.1:{ports['discovery']}/targets")
        c.print(f"metricsbridge  http://127.0.0.1:{ports['metricsbridge']}/probe?target={virt.ip}:9100")
        c.print(f"logbridge      http://127.0.0.1:{ports['logbridge']}/metrics")
        c.print(f"logs           {self.tmp}/*.log")


def run_demo(env: dict[str, str], console: Console, *, seed: int, cronjob_pods: int, keep: bool) -> None:
    d = Demo(env, console, seed=seed, cronjob_pods=cronjob_pods)
    v1 = kube(env["KUBECONFIG"])
    with d.step("registering standard and virtual nodes and pods in kube-apiserver"):
        stale = evict_strangers(v1, d.cluster)
        if stale:
            console.log(f"deleted {len(stale)} pod(s) an earlier run left in the demo namespaces")
        if old := forget_earlier_runs(env["ES_URL"]):
            console.log(f"deleted {old} index(es) earlier demo runs left in Elasticsearch")
        register(v1, d.cluster)
    exporters = Exporters(d.cluster)
    exporters.start()
    try:
        console.log("starting vnbridge-discovery, metricsbridge and logbridge (logs in .stack/demo/)")
        with d.services() as ports, d.prometheus(ports, exporters):
            with d.step("CronJob burst: deleting finished CronJob pods before their logs are processed"):
                # logbridge is ready once its inventory watch has synced and it owns its partitions
                eventually(lambda: _ok(f"http://127.0.0.1:{ports['logbridge']}/readyz"), timeout=90)
                gone = finish_cronjobs(v1, d.cluster)
            with d.step(
                "shipping logs: virtual pods → Kafka → logbridge; standard pods → DaemonSet documents"
            ):
                records = d.ship_logs(ports)
                # every record committed = every document acknowledged by Elasticsearch: the
                # counts below are then the same on every run of a seed
                eventually(
                    lambda: committed_offsets(env["KAFKA_BOOTSTRAP"], f"demo-{d.run}") == records,
                    timeout=90,
                    interval=1,
                    what="every virtual-pod record delivered and committed by logbridge",
                )
                httpx.post(f"{env['ES_URL']}/{d.index}/_refresh", timeout=30)
            with d.step("waiting for Prometheus to scrape both kinds of pods and evaluate the rules"):
                virt = next(p for p in d.cluster.pods if p.virtual and not p.cronjob)
                rec = "node_namespace_pod_container:container_cpu_usage_seconds_total:sum_rate5m"
                std = next(p for p in d.cluster.pods if not p.virtual)
                limits = "cluster:namespace:pod_memory:active:kube_pod_container_resource_limits"
                ready = (
                    (
                        lambda: (
                            _query(env["PROM_URL"], f'{rec}{{pod="{virt.name}"}}')
                            and _query(env["PROM_URL"], f'{limits}{{pod="{std.name}"}}')
                        )
                    )
                    if REF.exists()  # the kube-prometheus rules (tests/reference)
                    else (lambda: _query(env["PROM_URL"], f'container_memory_rss{{pod="{virt.name}"}}'))
                )
                eventually(ready, timeout=90, interval=1, what="series for the virtual pod")
            d.report(ports, gone, records)
            if keep:
                console.print(
                    "[bold]running; Ctrl-C stops the vnbridge services (make stack-down stops the stack)"
                )
                with contextlib.suppress(KeyboardInterrupt):
                    while True:
                        time.sleep(3600)
    finally:
        exporters.stop()
