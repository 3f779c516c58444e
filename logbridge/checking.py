"""logbridge's endpoints for ``logbridge check --connect``: Kafka (bootstrap, SASL,
TLS, the source topics), Elasticsearch (TLS, basic auth or API key) and the Kubernetes
API of the live inventory, each tried once with the settings ``run`` would use.

Why here and not in the kernel: only logbridge talks to Kafka and Elasticsearch, and the
clients are built by ``logbridge.clients`` exactly as ``run`` builds them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from logbridge.clients import elasticsearch_client, kafka_kwargs
from logbridge.settings import LogbridgeSettings
from vnbridge.checking import Check, Probe, check_kube
from vnbridge.clientsettings import ElasticsearchSettings, KafkaSettings
from vnbridge.logs import held_back

__all__ = ["check_elasticsearch", "kafka_cause", "probes"]


def probes(settings: LogbridgeSettings) -> list[Probe]:
    """One probe per endpoint ``run`` would contact."""
    out: list[Probe] = [lambda: check_kafka(settings.kafka, settings.source.topics)]
    if settings.sinks.elasticsearch.enabled:
        out.append(lambda: check_elasticsearch(settings.elasticsearch))
    if settings.inventory.source == "kube":
        out.append(lambda: check_kube(settings.inventory.kube))
    return out


class _Causes(logging.Handler):
    """aiokafka logs why a broker connection failed (TLS, SASL) and raises a generic
    error; the logged reason is the one worth showing."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record.getMessage())


@contextmanager
def kafka_cause(*, silence: bool = False) -> Iterator[list[str]]:
    """Collect what aiokafka logs at ERROR while the block runs (its connection causes);
    ``silence``: and keep it out of the service's log (the caller reports it once)."""
    handler = _Causes()
    logger = logging.getLogger("aiokafka")
    logger.addHandler(handler)
    try:
        with held_back("aiokafka") if silence else contextlib.nullcontext():
            yield handler.seen
    finally:
        logger.removeHandler(handler)


async def check_kafka(k: KafkaSettings, topics: list[str]) -> Check:
    from aiokafka import AIOKafkaClient
    from aiokafka.errors import KafkaError

    how = k.security_protocol + (f" {k.sasl_mechanism} as {k.sasl_username}" if k.sasl_mechanism else "")
    where = f"kafka {k.bootstrap_servers} ({how})"
    try:
        kwargs = kafka_kwargs(k)
    except OSError as exc:  # a CA / certificate / key file that cannot be read
        return Check(where, False, f"TLS files: {exc}; check kafka.tls.*")
    client = AIOKafkaClient(**kwargs, request_timeout_ms=10_000)
    with kafka_cause() as causes:
        try:
            await client.bootstrap()
            meta = await client.fetch_all_metadata()
        except KafkaError as exc:
            cause = causes[-1] if causes else f"{type(exc).__name__}: {exc}"
            return Check(where, False, f"{_kafka_hint(cause)} ({' '.join(cause.split())})")
        finally:
            await client.close()
    parts = {t: meta.partitions_for_topic(t) for t in topics}
    missing = sorted(t for t, p in parts.items() if p is None)
    shown = ", ".join(f"{t}: {len(p)} partitions" for t, p in parts.items() if p is not None)
    if missing:
        return Check(where, False, f"connected, but no topic {missing}; check source.topics")
    return Check(where, True, f"{len(meta.brokers())} broker(s); {shown}")


def _kafka_hint(cause: str) -> str:
    low = cause.lower()
    if "authentication" in low or "sasl" in low:
        return "SASL authentication failed: check kafka.sasl_mechanism / sasl_username / sasl_password"
    if "certificate" in low or "ssl" in low:
        return "TLS failed: check kafka.tls.ca_file (the brokers' CA) and the broker address"
    return "cannot connect: check kafka.bootstrap_servers / security_protocol and that the brokers are up"


async def check_elasticsearch(es: ElasticsearchSettings) -> Check:
    from elastic_transport import ConnectionError as TransportError
    from elasticsearch import ApiError

    auth = (
        "API key" if es.api_key.get_secret_value() else (f"user {es.username}" if es.username else "no auth")
    )
    where = f"elasticsearch {', '.join(es.hosts)} ({auth})"
    try:
        client = elasticsearch_client(es, timeout_s=10)
    except (OSError, ValueError) as exc:
        return Check(where, False, f"{exc}; check elasticsearch.hosts / ca_file")
    try:
        info = await client.info()
    except ApiError as exc:
        fix = {
            401: "the credentials were refused: check elasticsearch.username / password / api_key",
            403: "authenticated, but this user may not GET / (needs the monitor cluster privilege)",
        }.get(exc.meta.status, "check elasticsearch.hosts")
        # a writer without the monitor privilege can still index: run goes on
        return Check(
            where, False, f"HTTP {exc.meta.status} {exc.error}; {fix}", usable=exc.meta.status == 403
        )
    except TransportError as exc:
        cause = " ".join(str(exc.message).split())
        hint = "certificate" if "certificate" in cause.lower() else "connection"
        fix = "check elasticsearch.ca_file" if hint == "certificate" else "check elasticsearch.hosts"
        return Check(where, False, f"{hint} failed: {cause}; {fix}")
    finally:
        await client.close()
    return Check(where, True, f"cluster {info['cluster_name']}, version {info['version']['number']}")
