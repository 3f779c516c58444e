"""Shared by the integration tests (the plumbing lives in ``simulator.supervising``)."""

from simulator.supervising import (
    ROOT,
    active_targets,
    child,
    eventually,
    free_port,
    prom_query,
    prometheus_jobs,
    sd_job,
    spawned,
)

__all__ = [
    "ROOT",
    "active_targets",
    "child",
    "eventually",
    "free_port",
    "prom_query",
    "prometheus_jobs",
    "sd_job",
    "spawned",
]
