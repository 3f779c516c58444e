"""logbridge's own metrics, health endpoints and tracing.

Why: an SRE must see, per reason and per sink, where every record went (in =
delivered + dead-lettered + filtered), how far behind the consumer is, and whether
a sink is holding the pipeline back. Labels are bounded enums only (never an
exception text); each ``Metrics`` owns its registry so tests get a fresh one.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.applications import Starlette

from vnbridge.httpkit import add_health_routes

__all__ = ["Health", "Metrics", "create_app"]


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        p = "vnbridge_logbridge_"
        self.records_in = Counter(f"{p}records_in", "Records consumed.", ["topic"], registry=r)
        self.bytes_in = Counter(f"{p}bytes_in", "Record value bytes consumed.", registry=r)
        self.delivered = Counter(
            f"{p}documents_delivered", "Documents acknowledged by a sink.", ["sink"], registry=r
        )
        self.dead_lettered = Counter(
            f"{p}records_dead_lettered", "Records written to the dead-letter topic.", ["reason"], registry=r
        )
        self.filtered = Counter(
            f"{p}records_filtered",
            "Records not sent on purpose (replayed_delivered: already delivered before a restart).",
            ["reason"],
            registry=r,
        )
        self.truncated = Counter(
            f"{p}lines_truncated",
            "Lines cut at assembly.max_line_bytes (delivered truncated, as the collectors do).",
            registry=r,
        )
        self.sink_retries = Counter(
            f"{p}sink_retries", "Retries by sink and error_code.", ["sink", "error_code"], registry=r
        )
        self.inventory = Counter(
            f"{p}inventory_lookups",
            "Enrichment source per document (live, tombstone, embedded, none).",
            ["result"],
            registry=r,
        )
        self.batch_seconds = Histogram(
            f"{p}batch_seconds",
            "Time to deliver and commit one batch.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.batch_records = Histogram(
            f"{p}batch_records", "Records per batch.", buckets=(1, 10, 100, 1000, 5000, 20000), registry=r
        )
        self.lag = Gauge(
            f"{p}consumer_lag", "High watermark minus next offset.", ["topic", "partition"], registry=r
        )
        self.backlog = Gauge(
            f"{p}backlog_records", "Records behind, summed over the assigned partitions.", registry=r
        )
        self.consume_rate = Gauge(
            f"{p}consume_rate", "Records consumed per second over the last progress window.", registry=r
        )
        self.catchup_eta = Gauge(
            f"{p}catchup_eta_seconds",
            "Time to work off the backlog at the current rate (0 when caught up, NaN while unknown).",
            registry=r,
        )
        self.in_flight_bytes = Gauge(
            f"{p}in_flight_bytes", "Bytes consumed but not yet committed.", registry=r
        )
        self.degraded = Gauge(
            f"{p}degraded", "1 while a sink holds delivery back (partitions paused).", registry=r
        )
        self.commits = Counter(f"{p}commits", "Transactions committed with consumer offsets.", registry=r)
        self.aborts = Counter(f"{p}aborts", "Transactions aborted and retried.", ["error_code"], registry=r)
        self.assigned_partitions = Gauge(
            f"{p}assigned_partitions", "Partitions this replica consumes (0 while rebalancing).", registry=r
        )
        self.c_extensions = Gauge(
            f"{p}aiokafka_c_extensions", "1 when aiokafka's C extensions are loaded.", registry=r
        )


class Health:
    """What /healthz and /readyz answer."""

    def __init__(self) -> None:
        self.started = False
        self.assigned = False
        self.degraded_reason = ""
        self.stopping = False
        self.inventory: Callable[[], str] = lambda: ""  # the live inventory's readiness


def create_app(*, metrics: Metrics, health: Health) -> Starlette:
    app = Starlette()  # probes and /metrics only: no API, so no FastAPI

    def not_ready() -> str:
        if not health.started or health.stopping:
            return "not started" if not health.stopping else "stopping"
        if health.degraded_reason:
            return f"degraded: {health.degraded_reason}"
        return health.inventory()

    add_health_routes(app, component="logbridge", registry=metrics.registry, not_ready=not_ready)
    return app
