"""logbridge over the secured services, for real: Kafka's SASL_SSL listener (SCRAM,
a certificate from the stack's CA) and an Elasticsearch with security on (HTTPS,
file-realm users, API keys), both started by deploy/local/stack.sh.

The Elasticsearch user ``writer`` may only create documents in ``vnbridge-secure-*``
(least privilege, as a platform would grant a shipper); ``admin`` reads back. A wrong
password, an unknown CA or a missing credential is refused by the service, and
logbridge reports it in one line and exits 2.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from simulator.model import T0_NS, Cluster
from simulator.running import eks_record
from tests.integration.conftest import Stack, read_env, stack_up
from tests.support.helpers import ROOT, child, eventually, free_port
from tests.support.kafkatools import committed_total, create_topic, produce, read_all

RUN = f"{int(time.time()) % 1_000_000}"
N = 300


class Secure:
    """The secured endpoints and their credentials, from .stack/env."""

    def __init__(self, env: dict[str, str]) -> None:
        missing = {
            "KAFKA_SASL_SSL_BOOTSTRAP",
            "KAFKA_SASL_PASSWORD",
            "STACK_CA",
            "ES_SECURE_URL",
            "ES_SECURE_WRITER_PASSWORD",
            "ES_SECURE_ADMIN_PASSWORD",
        } - set(env)
        if missing:
            pytest.fail(
                f"the running stack predates the secured listeners (no {sorted(missing)} in .stack/env): "
                "restart it: bash deploy/local/stack.sh down && bash deploy/local/stack.sh up",
                pytrace=False,
            )
        self.kafka = env["KAFKA_SASL_SSL_BOOTSTRAP"]
        self.kafka_password = env["KAFKA_SASL_PASSWORD"]
        self.ca = env["STACK_CA"]
        self.es = env["ES_SECURE_URL"]
        self.writer = ("writer", env["ES_SECURE_WRITER_PASSWORD"])
        self.admin = ("admin", env["ES_SECURE_ADMIN_PASSWORD"])

    def kafka_settings(self, *, password: str | None = None, ca: str | None = None) -> dict[str, Any]:
        return {
            "bootstrap_servers": self.kafka,
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": "vnbridge",
            "sasl_password": self.kafka_password if password is None else password,
            "tls": {"enabled": True, "ca_file": ca or self.ca},
        }

    def api_key(self, name: str) -> tuple[str, str]:
        """A fresh API key of the writer: (id, encoded)."""
        made = httpx.post(
            f"{self.es}/_security/api_key",
            json={"name": f"{name}-{RUN}", "expiration": "1h"},
            auth=self.writer,
            verify=ssl.create_default_context(cafile=self.ca),
            timeout=10,
        )
        assert made.status_code == 200, made.text
        return made.json()["id"], made.json()["encoded"]

    def count(self, index: str) -> int:
        resp = httpx.post(
            f"{self.es}/{index}/_count",
            auth=self.admin,
            verify=ssl.create_default_context(cafile=self.ca),
            timeout=10,
        )
        return int(resp.json().get("count", 0)) if resp.status_code == 200 else 0


@pytest.fixture(scope="module")
def secure(stack: Stack) -> Secure:
    stack_up("elasticsearch-secure", "the secured Elasticsearch")
    return Secure(read_env())


@pytest.fixture(scope="module")
def topic(stack: Stack, secure: Secure) -> str:
    """N provider records, produced over SASL_SSL with SCRAM-SHA-512."""
    name = f"secure-in-{RUN}"
    create_topic(stack.kafka_bootstrap, name, 2)
    pods = [p for p in Cluster(seed=5, prefix=f"it-s{RUN}-", ip_octet=44).build().pods if p.virtual]

    async def go() -> None:
        prod = AIOKafkaProducer(
            bootstrap_servers=secure.kafka,
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_plain_username="vnbridge",
            sasl_plain_password=secure.kafka_password,
            ssl_context=ssl.create_default_context(cafile=secure.ca),
        )
        await prod.start()
        try:
            for i in range(N):
                pod = pods[i % len(pods)]
                value = eks_record(pod, T0_NS + i * 1000, "stdout", "F", f"seq={i:05d} secured")
                await prod.send(name, value, key=pod.uid.encode())
            await prod.flush()
        finally:
            await prod.stop()

    asyncio.run(go())
    return name


def _config(
    tmp: Path, name: str, topic: str, kafka: dict[str, Any], es: dict[str, Any], kafka_sink: str = ""
) -> Path:
    cfg = {
        "profile": {
            "name": "fluent-bit",
            "options": {"Index": f"vnbridge-secure-{name}-{RUN}", "Replace_Dots": "On"},
        },
        "source": {"topics": [topic], "group_id": f"secure-{name}-{RUN}"},
        "kafka": kafka,
        "elasticsearch": es,
        "inventory": {"source": "none"},
        "sinks": {
            "elasticsearch": {"enabled": True},
            "kafka": {"enabled": bool(kafka_sink), "topic": kafka_sink or "unused"},
        },
        "delivery": {
            "dead_letter_topic": f"secure-dlq-{RUN}",
            "transactional_id": f"secure-{name}-{RUN}",
            "retry_max_s": 2.0,
        },
        "http": {"listen": f"127.0.0.1:{free_port()}"},
    }
    path = tmp / f"{name}.yaml"
    path.write_text(json.dumps(cfg))
    return path


@contextmanager
def _delivered(tmp: Path, cfg: Path, stack: Stack, secure: Secure, name: str, topic: str) -> Iterator[None]:
    with child(["logbridge", "run", "-c", str(cfg)], log=tmp / f"{name}.log") as proc:
        eventually(
            lambda: proc.poll() is None and secure.count(f"vnbridge-secure-{name}-{RUN}") == N,
            timeout=120,
            interval=1,
            what=f"{N} documents in the secured Elasticsearch ({name}); log: {tmp / f'{name}.log'}",
        )
        eventually(
            lambda: committed_total(stack.kafka_bootstrap, f"secure-{name}-{RUN}", topic) == N,
            timeout=60,
            interval=1,
            what="every offset committed over SASL_SSL",
        )
        yield


def test_sasl_ssl_kafka_and_basic_auth_https_elasticsearch(
    stack: Stack, secure: Secure, topic: str, tmp_path: Path
) -> None:
    es = {
        "hosts": [secure.es],
        "username": secure.writer[0],
        "password": secure.writer[1],
        "ca_file": secure.ca,
    }
    out = f"secure-out-{RUN}"
    cfg = _config(tmp_path, "basic", topic, secure.kafka_settings(), es, kafka_sink=out)
    with _delivered(tmp_path, cfg, stack, secure, "basic", topic):
        # the Kafka sink's transactions ran over SASL_SSL too: exactly N committed documents
        assert len(read_all(stack.kafka_bootstrap, out)) == N
    log = (tmp_path / "basic.log").read_text()
    assert secure.kafka_password not in log and secure.writer[1] not in log  # no secret in logs


def test_api_key_authenticates_to_elasticsearch(
    stack: Stack, secure: Secure, topic: str, tmp_path: Path
) -> None:
    _, key = secure.api_key("vnbridge-it")
    es = {"hosts": [secure.es], "api_key": key, "ca_file": secure.ca}
    cfg = _config(tmp_path, "apikey", topic, secure.kafka_settings(), es)
    with _delivered(tmp_path, cfg, stack, secure, "apikey", topic):
        pass
    assert key not in (tmp_path / "apikey.log").read_text()


def _fails(cfg: Path, *args: str) -> str:
    """Run logbridge; it must exit 2 with one line on stderr and no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "logbridge", *args, "-c", str(cfg)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "VNBRIDGE_LOG_FORMAT": "text"},
    )
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return proc.stderr


@pytest.mark.parametrize(
    ("case", "want"),
    [
        ("kafka-password", "authentication"),
        ("kafka-ca", "certificate"),
        ("es-password", "401"),
        ("es-no-credentials", "401"),
        ("es-ca", "certificate"),
    ],
)
def test_a_refused_credential_or_certificate_is_one_clear_line(
    secure: Secure, topic: str, tmp_path: Path, case: str, want: str
) -> None:
    other_ca = tmp_path / "other-ca.crt"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=o"),
            *("-keyout", str(tmp_path / "other.key"), "-out", str(other_ca)),
        ],
        capture_output=True,
        check=True,
    )
    kafka = secure.kafka_settings(
        password="wrong" if case == "kafka-password" else None,
        ca=str(other_ca) if case == "kafka-ca" else None,
    )
    es: dict[str, Any] = {"hosts": [secure.es], "ca_file": str(other_ca) if case == "es-ca" else secure.ca}
    if case != "es-no-credentials":
        es |= {"username": "writer", "password": "wrong" if case == "es-password" else secure.writer[1]}
    cfg = _config(tmp_path, case, topic, kafka, es)
    err = _fails(cfg, "check", "--connect")
    assert want in err.lower(), err
    assert "wrong" not in err and secure.writer[1] not in err


def test_check_connect_passes_on_every_configured_endpoint(
    stack: Stack, secure: Secure, topic: str, tmp_path: Path
) -> None:
    user, password = secure.writer
    es = {"hosts": [secure.es], "username": user, "password": password, "ca_file": secure.ca}
    cfg = json.loads(_config(tmp_path, "ok", topic, secure.kafka_settings(), es).read_text())
    cfg["inventory"] = {"source": "kube", "kube": {"kubeconfig": str(stack.kubeconfig)}}
    (tmp_path / "ok.yaml").write_text(json.dumps(cfg))
    argv = [sys.executable, "-m", "logbridge", "check", "--connect", "-c", str(tmp_path / "ok.yaml")]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["kafka", "elasticsearch", "kubernetes"], lines
    assert all("... OK:" in line for line in lines), lines
    assert f"{topic}: 2 partitions" in lines[0]
    for prog in ("discovery", "metricsbridge"):
        (tmp_path / f"{prog}.yaml").write_text(json.dumps({"kube": {"kubeconfig": str(stack.kubeconfig)}}))
        argv = [sys.executable, "-m", prog, "check", "--connect", "-c", str(tmp_path / f"{prog}.yaml")]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert proc.returncode == 0 and "may list pods" in proc.stdout, proc.stdout + proc.stderr


def test_credentials_rotated_away_mid_run_stop_the_service_without_committing_past_delivery(
    stack: Stack, secure: Secure, tmp_path: Path
) -> None:
    """Issue 33: an API key invalidated while logbridge runs. The next bulk gets 401: the
    service stops with one line and exit 1 (no traceback, no retry loop), commits nothing
    past what Elasticsearch acknowledged, and a restart with a new key delivers the rest
    exactly once."""
    name = f"rotate-in-{RUN}"
    create_topic(stack.kafka_bootstrap, name, 2)
    pods = [p for p in Cluster(seed=6, prefix=f"it-r{RUN}-", ip_octet=45).build().pods if p.virtual]

    def records(lo: int, hi: int) -> list[tuple[bytes, bytes]]:
        return [
            (
                pods[i % len(pods)].uid.encode(),
                eks_record(pods[i % len(pods)], T0_NS + i, "stdout", "F", f"r={i}"),
            )
            for i in range(lo, hi)
        ]

    produce(stack.kafka_bootstrap, name, records(0, 100))
    key_id, key = secure.api_key("vnbridge-rotate-a")
    es = {"hosts": [secure.es], "api_key": key, "ca_file": secure.ca}
    cfg = _config(tmp_path, "rotate", name, secure.kafka_settings(), es)
    index, group = f"vnbridge-secure-rotate-{RUN}", f"secure-rotate-{RUN}"
    with child(["logbridge", "run", "-c", str(cfg)], log=tmp_path / "rotate.log") as proc:
        eventually(
            lambda: committed_total(stack.kafka_bootstrap, group, name) == 100,
            timeout=120,
            interval=1,
            what=f"the first 100 delivered and committed; log: {tmp_path / 'rotate.log'}",
        )
        gone = httpx.request(
            "DELETE",
            f"{secure.es}/_security/api_key",
            json={"ids": [key_id]},
            auth=secure.admin,  # the security team rotates it
            verify=ssl.create_default_context(cafile=secure.ca),
            timeout=10,
        )
        assert gone.status_code == 200 and gone.json()["invalidated_api_keys"] == [key_id], gone.text
        produce(stack.kafka_bootstrap, name, records(100, 160))
        eventually(
            lambda: proc.poll() is not None, timeout=120, interval=0.5, what="logbridge stops on the 401"
        )
        code = proc.returncode
    assert code == 1
    log = (tmp_path / "rotate.log").read_text()
    assert "Traceback" not in log, log[-3000:]
    [line] = [x for x in log.splitlines() if "stopped:" in x]
    assert "HTTP 401" in line and "nothing was committed past what was delivered" in line, line
    assert key not in log
    assert committed_total(stack.kafka_bootstrap, group, name) == 100  # nothing past delivery
    assert secure.count(index) == 100
    _, fresh = secure.api_key("vnbridge-rotate-b")
    cfg = _config(tmp_path, "rotate", name, secure.kafka_settings(), {**es, "api_key": fresh})
    with child(["logbridge", "run", "-c", str(cfg)], log=tmp_path / "rotate-2.log"):
        eventually(
            lambda: committed_total(stack.kafka_bootstrap, group, name) == 160 and secure.count(index) == 160,
            timeout=120,
            interval=1,
            what="the rest delivered exactly once after the restart with a new key",
        )
