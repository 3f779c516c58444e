"""Session fixtures that give integration tests the real local stack.

A running stack (``.stack/env`` present and every service up) is reused; otherwise
the fixture starts one with ``deploy/local/stack.sh up`` and stops it afterwards.
A service that cannot start fails the session with the tail of its log: never skip.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka.errors import KafkaError

from tests.support.kafkatools import delete_topics, list_topics

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "deploy" / "local" / "stack.sh"
ENV_FILE = ROOT / ".stack" / "env"


@dataclass(frozen=True)
class Stack:
    kafka_bootstrap: str
    es_url: str
    prom_url: str
    prom_config: Path
    kubeconfig: Path
    env: dict[str, str]


def _topics(bootstrap: str) -> set[str] | None:
    try:
        return list_topics(bootstrap)
    except KafkaError as exc:
        warnings.warn(f"could not list the stack's Kafka topics: {exc!r}", stacklevel=1)
        return None


def read_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for line in ENV_FILE.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            env[key] = shlex.split(value)[0] if value else ""
    return env


def stack_up(service: str, what: str) -> None:
    """Start an optional service of the stack (`stack.sh up <service>`), or fail saying why."""
    up = subprocess.run(["bash", str(STACK), "up", service], capture_output=True, text=True, timeout=600)
    if up.returncode != 0:
        pytest.fail(f"{what} did not start:\n{up.stderr[-3000:]}", pytrace=False)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    up = subprocess.run(["bash", str(STACK), "status"], capture_output=True, text=True)
    started = False
    if up.returncode != 0 or not ENV_FILE.exists():
        proc = subprocess.run(["bash", str(STACK), "up"], capture_output=True, text=True, timeout=45 * 60)
        if proc.returncode != 0:
            pytest.fail(f"the local stack did not start:\n{proc.stderr[-4000:]}", pytrace=False)
        started = True
    env = read_env()
    os.environ.update(env)
    before = _topics(env["KAFKA_BOOTSTRAP"])
    yield Stack(
        env["KAFKA_BOOTSTRAP"],
        env["ES_URL"],
        env["PROM_URL"],
        Path(env["PROM_CONFIG"]),
        Path(env["KUBECONFIG"]),
        env,
    )
    if before is not None and (after := _topics(env["KAFKA_BOOTSTRAP"])) is not None:
        # the session's topics (created by tests or by the services under test) go:
        # a kept stack must not grow run after run
        delete_topics(env["KAFKA_BOOTSTRAP"], after - before)
    if started and not os.environ.get("VNBRIDGE_KEEP_STACK"):
        subprocess.run(["bash", str(STACK), "down"], capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def filebeat_binary() -> str:
    """A real Filebeat 9.3, built once from the Go module proxy (deploy/local/build-filebeat.sh)
    and cached outside the clone; the path of its binary."""
    built = subprocess.run(
        ["bash", str(STACK.parent / "build-filebeat.sh")], capture_output=True, text=True, timeout=40 * 60
    )
    if built.returncode != 0:
        pytest.fail(f"could not build Filebeat:\n{built.stderr[-3000:]}", pytrace=False)
    return built.stdout.strip()
