"""Names, settings and checks of one logbridge deployment under test, shared by the
integration tests that run ``logbridge run`` on the real stack."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from simulator.model import T0_NS, SimPod
from simulator.running import eks_record
from tests.integration.conftest import Stack
from tests.support.helpers import eventually, free_port
from tests.support.kafkatools import committed_total, create_topic, es_count

RUN = f"{int(time.time()) % 1_000_000}"


class Run:
    """Names and settings of one logbridge deployment under test."""

    def __init__(self, stack: Stack, tmp: Path, name: str, *, partitions: int = 4) -> None:
        self.stack = stack
        self.tmp = tmp
        self.topic = f"{name}-in-{RUN}"
        self.out = f"{name}-out-{RUN}"
        self.dlq = f"{name}-dlq-{RUN}"
        self.group = f"{name}-g-{RUN}"
        self.index = f"{name}-{RUN}"
        create_topic(stack.kafka_bootstrap, self.topic, partitions)

    def config(
        self,
        replica: str = "r1",
        *,
        profile: dict[str, Any] | None = None,
        elasticsearch: bool = True,
        watch_namespaces: bool = False,
        source: dict[str, Any] | None = None,
        inventory: dict[str, Any] | None = None,
        **delivery: Any,
    ) -> tuple[Path, int]:
        port = free_port()
        cfg = {
            "profile": profile
            or {"name": "fluent-bit", "options": {"Index": self.index, "Replace_Dots": "On"}},
            "source": {"topics": [self.topic], "group_id": self.group, **(source or {})},
            "kafka": {"bootstrap_servers": self.stack.kafka_bootstrap},
            "elasticsearch": {"hosts": [self.stack.es_url]},
            "inventory": inventory
            or {
                "source": "kube",
                "kube": {"kubeconfig": str(self.stack.kubeconfig)},
                "sync_timeout_s": 20,
                "watch_namespaces": watch_namespaces,
            },
            "sinks": {
                "elasticsearch": {"enabled": elasticsearch},
                "kafka": {"enabled": True, "topic": self.out},
            },
            "delivery": {
                "dead_letter_topic": self.dlq,
                "transactional_id": f"{self.group}-{replica}",
                "retry_max_s": 2.0,
                **delivery,
            },
            "http": {"listen": f"127.0.0.1:{port}"},
        }
        path = self.tmp / f"logbridge-{replica}.yaml"
        path.write_text(json.dumps(cfg))
        return path, port

    def wait_committed(self, n: int, *, timeout: float = 120, what: str = "all offsets committed") -> None:
        eventually(
            lambda: committed_total(self.stack.kafka_bootstrap, self.group, self.topic) == n,
            timeout=timeout,
            interval=1,
            what=what,
        )

    def docs(self, query: dict[str, Any] | None = None) -> int:
        return es_count(self.stack.es_url, self.index, query)


def records(pods: list[SimPod], n: int, *, fragments_every: int = 0) -> tuple[list[tuple[bytes, bytes]], int]:
    """n numbered lines spread over pods (key = pod uid); every ``fragments_every``-th line
    is split into a P and an F fragment. Returns (records, expected documents)."""
    out: list[tuple[bytes, bytes]] = []
    for i in range(n):
        pod = pods[i % len(pods)]
        ts = T0_NS + i * 1000
        text = f"seq={i:07d} job step done"
        key = pod.uid.encode()
        if fragments_every and i % fragments_every == 0:
            out.append((key, eks_record(pod, ts, "stdout", "P", text[:5])))
            out.append((key, eks_record(pod, ts + 1, "stdout", "F", text[5:])))
        else:
            out.append((key, eks_record(pod, ts, "stdout", "F", text)))
    return out, n


def metric(port: int, name: str) -> float:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return -1
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def readyz(port: int) -> int:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code
    except httpx.HTTPError:
        return 0


def seqs(msgs: list[Any]) -> list[str]:
    return [json.loads(m.value)["log"].split()[0] for m in msgs]
