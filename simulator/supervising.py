"""Child processes, free ports, bounded waits and Prometheus config swaps.

Why: the demo and the integration tests run the real vnbridge commands as child
processes next to the real stack; both need the same careful plumbing (always reap
children, never wait unbounded, restore Prometheus' config afterwards).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx

__all__ = ["active_targets", "child", "eventually", "free_port", "prometheus_jobs", "rss_mb"]

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent


def eventually(probe: Callable[[], T | None], *, timeout: float, interval: float = 0.2, what: str = "") -> T:
    """Poll ``probe`` until it returns a truthy value or ``timeout`` passes (then fail)."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}; last={last!r}")
        time.sleep(interval)


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process in MiB (Linux /proc); 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def prometheus_jobs(prom_url: str, prom_config: Path, jobs_yaml: str) -> Iterator[None]:
    """Append scrape jobs to the stack's Prometheus config and reload; restore afterwards."""
    original = prom_config.read_text()
    prom_config.write_text(original.rstrip("\n") + "\n" + jobs_yaml)
    try:
        resp = httpx.post(f"{prom_url}/-/reload", timeout=10)
        assert resp.status_code == 200, resp.text
        yield
    finally:
        prom_config.write_text(original)
        httpx.post(f"{prom_url}/-/reload", timeout=10)


def sd_job(name: str, sd_port: int, *, interval: str = "2s", keep: str = "", extra: str = "") -> str:
    """A Prometheus job scraping what an http_sd endpoint lists (honor_labels, as
    kube-prometheus' kubelet job); ``keep``: only targets whose namespace matches it;
    ``extra``: more YAML lines of the job, indented by two."""
    job = (
        f"- job_name: {name}\n  honor_labels: true\n  scrape_interval: {interval}\n{extra}"
        f"  http_sd_configs: [{{url: 'http://127.0.0.1:{sd_port}/targets', refresh_interval: 1s}}]\n"
    )
    if keep:
        job += f"  relabel_configs: [{{source_labels: [namespace], regex: '{keep}', action: keep}}]\n"
    return job


def prom_query(prom_url: str, expr: str) -> list[dict[str, Any]]:
    """An instant query's result vector (the query must succeed)."""
    resp = httpx.get(f"{prom_url}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert resp["status"] == "success", (expr, resp)
    result: list[dict[str, Any]] = resp["data"]["result"]
    return result


def active_targets(prom_url: str, pool: str) -> list[dict[str, Any]]:
    data = httpx.get(f"{prom_url}/api/v1/targets", params={"state": "active"}, timeout=10).json()
    return [t for t in data["data"]["activeTargets"] if t["scrapePool"] == pool]


@contextmanager
def spawned(
    argv: list[str], *, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` with output to ``log``; terminate (then kill) on exit."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, **(env or {})}
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@contextmanager
def child(
    args: list[str], *, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``python -m <args>`` with output to ``log``; terminate (then kill) on exit."""
    with spawned([sys.executable, "-m", *args], log=log, env=env) as proc:
        yield proc
