"""Fetch one sandbox exporter on Prometheus' behalf, only if it is a known target.

Why: ``/probe?target=`` is a proxy by nature; without an allow-list it would let
anyone who can reach metricsbridge make requests into the VPC (SSRF). A target is
allowed only when it is, right now, the exporter address of a Running pod on a
virtual node in the inventory — exactly the list discovery publishes. The fetch
timeout stays below Prometheus' scrape timeout so a slow sandbox becomes a failed
scrape (``up`` = 0), never a hung one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx

from vnbridge.exporters import ExporterRule, exporter_path, is_virtual, virtual_exporters
from vnbridge.pods import PodInfo
from vnbridge.tracking import ClusterState

__all__ = ["AllowList", "FetchError", "Target", "fetch", "scrape_timeout"]

MAX_BODY = 32 * 1024 * 1024


class FetchError(Exception):
    """The sandbox could not be scraped; ``code`` is a bounded label, ``status`` the HTTP answer."""

    def __init__(self, code: str, status: int) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


@dataclass(frozen=True, slots=True)
class Target:
    """What one allowed probe target is: the pod (a pod exporter) or the node and the
    inventory's Running virtual pods on it (a node endpoint), and the exporter path."""

    pods: tuple[PodInfo, ...]
    node: str
    path: str


@dataclass(slots=True)
class AllowList:
    """``<podIP>:<port>`` → pod (or, for the node-endpoint presets, node name → its pods),
    by the virtual-exporter rule discovery publishes by; rebuilt when the state changes."""

    state: ClusterState
    rule: ExporterRule
    conflicts: int = 0  # addresses two Running pods claim (resolved to the newest)
    _version: int = -1
    _index: Mapping[str, Target] | None = None

    def lookup(self, target: str) -> Target | None:
        if self._index is None or self._version != self.state.version:
            self._index = self._build()
            self._version = self.state.version
        return self._index.get(target)

    def _build(self) -> dict[str, Target]:
        rule = self.rule
        if self.state.cluster_defaults != rule.defaults:
            rule = self.rule = dataclasses.replace(rule, defaults=dict(self.state.cluster_defaults))
        pods = self.state.pods()
        found = virtual_exporters(pods, self.state.nodes, rule)
        self.conflicts = found.conflicts
        if rule.endpoint.where == "pod":
            return {a: Target((p,), p.node_name, exporter_path(p, rule)) for a, p in found.by_address.items()}
        on_node: dict[str, list[PodInfo]] = {}
        for p in pods:
            if (
                p.phase == "Running"
                and p.node_name in found.by_address
                and is_virtual(p, self.state.nodes, rule.selector)
            ):
                on_node.setdefault(p.node_name, []).append(p)
        return {node: Target(tuple(ps), node, rule.endpoint.path) for node, ps in on_node.items()}

    def __len__(self) -> int:
        return len(self._index or {})


def scrape_timeout(header: str | None, default_s: float, *, margin_s: float = 0.5) -> float:
    """Prometheus sends X-Prometheus-Scrape-Timeout-Seconds; stay below it."""
    try:
        value = float(header) if header else default_s
    except ValueError:
        value = default_s
    if not value > 0:  # NaN, 0 or negative: ignore the header
        value = default_s
    return max(0.1, value - margin_s)


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    timeout_s: float,
    params: Sequence[tuple[str, str]] = (),
    headers: Mapping[str, str] | None = None,
) -> str:
    try:
        async with client.stream(
            "GET", url, params=list(params) or None, headers=headers, timeout=timeout_s
        ) as resp:
            if resp.status_code != 200:
                raise FetchError(f"http_{resp.status_code // 100}xx", 502)
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > MAX_BODY:
                    raise FetchError("too_large", 502)
                chunks.append(chunk)
            return b"".join(chunks).decode("utf-8", "replace")
    except httpx.TimeoutException as exc:
        raise FetchError("timeout", 504) from exc
    except httpx.HTTPError as exc:
        raise FetchError("connection", 502) from exc
