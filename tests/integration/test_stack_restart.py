"""``stack.sh up`` returns only once a service answers, also after a restart.

Why: readiness once came from a log line that an earlier run had already written, so
``up kafka`` after a restart said "ready" before the broker answered. Each service is
stopped and started twice through ``stack.sh``; right after ``up`` returns, one
request (no retry) made by this test's own client must succeed.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from tests.integration.conftest import ENV_FILE, STACK, Stack, read_env

pytestmark = pytest.mark.integration


def _kafka_answers(env: dict[str, str]) -> None:
    async def run() -> int:
        prod = AIOKafkaProducer(bootstrap_servers=env["KAFKA_BOOTSTRAP"], request_timeout_ms=5000)
        await prod.start()  # bootstraps cluster metadata once: raises if nobody answers
        try:
            return len(prod.client.cluster.brokers())
        finally:
            await prod.stop()

    assert asyncio.run(run()) >= 1


def _es_answers(env: dict[str, str]) -> None:
    health = httpx.get(f"{env['ES_URL']}/_cluster/health", timeout=5).json()
    assert health["status"] in ("yellow", "green")


def _prometheus_answers(env: dict[str, str]) -> None:
    assert httpx.get(f"{env['PROM_URL']}/-/ready", timeout=5).status_code == 200


def _etcd_answers(env: dict[str, str]) -> None:
    assert httpx.get(f"{env['ETCD_URL']}/health", timeout=5).json()["health"] == "true"


def _apiserver_answers(env: dict[str, str]) -> None:
    from kubernetes import client, config

    api = client.CoreV1Api(config.new_client_from_config(config_file=env["KUBECONFIG"]))
    api.list_namespace(_request_timeout=5)


PROBES: dict[str, Callable[[dict[str, str]], None]] = {
    "prometheus": _prometheus_answers,
    "elasticsearch": _es_answers,
    "kafka": _kafka_answers,
    "etcd": _etcd_answers,
    "kube-apiserver": _apiserver_answers,
}


def _stack(*args: str) -> None:
    proc = subprocess.run(["bash", str(STACK), *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize("service", list(PROBES))
def test_up_returns_only_once_the_service_answers(stack: Stack, service: str) -> None:
    for _ in range(2):
        _stack("stop", service)
        _stack("up", service)
        PROBES[service](read_env())  # one request, no retry: it must answer now
    assert ENV_FILE.exists()
