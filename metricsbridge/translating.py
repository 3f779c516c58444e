"""Translate a sandbox exporter's scrape into the kubelet/cAdvisor shape.

Why: kube-prometheus rules and the Pod dashboard select
``{job="kubelet", metrics_path="/metrics/cadvisor"}`` series with cAdvisor's label
set (``container``, ``pod``, ``namespace``, ``image``, ``name``, ``id`` and per
metric ``cpu``, ``interface``, ``device``). The sandbox speaks a dialect: cAdvisor-
like ``container_*`` with provider labels, plus node_exporter series renamed
``pod_*`` (older images: ``node_*``). Two declarative tables say what becomes what:
``RULES`` (one series to one series, labels kept / renamed / fixed) and ``DERIVED``
(a cAdvisor series computed from VM-level ones when the sandbox has no direct
equivalent). The tables are data: the compiled core (core/src/metrics.rs) parses each
scrape, applies them and renders the result. Identity labels come from the inventory,
never from the scrape, so a tenant cannot claim another pod's identity; no time- or
IP-derived label is added. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import vnbridge_core

from vnbridge.exporters import main_container
from vnbridge.pods import PodInfo

__all__ = [
    "DERIVED",
    "RULES",
    "TYPES",
    "Derived",
    "Rule",
    "Translation",
    "pod_identity",
    "translate_node",
    "translate_text",
]

Level = Literal["container", "pod", "namespace"]


@dataclass(frozen=True, slots=True)
class Rule:
    """``source`` series → ``target`` series."""

    source: str
    target: str
    type: str
    level: Level = "container"
    keep: tuple[str, ...] = ()  # source labels carried over
    rename: Mapping[str, str] = field(default_factory=dict)  # source label -> cAdvisor label
    const: Mapping[str, str] = field(default_factory=dict)
    skip: Mapping[str, frozenset[str]] = field(default_factory=dict)  # drop the series on these values
    cpu_limit_only: bool = False  # CFS series exist only for containers with a CPU limit
    device_prefix: str = ""  # cAdvisor writes block devices as /dev/<name>


def _c(name: str, type_: str = "counter", **kw: object) -> Rule:
    return Rule(name, name, type_, **kw)  # type: ignore[arg-type]


_NET_SKIP = {"interface": frozenset({"lo"})}
_DISK = {"device_prefix": "/dev/", "keep": ("device",)}

RULES: tuple[Rule, ...] = (
    # cAdvisor-like series the sandbox already exposes: relabel only
    _c("container_cpu_usage_seconds_total", const={"cpu": "total"}),
    _c("container_cpu_user_seconds_total"),
    _c("container_cpu_system_seconds_total"),
    _c("container_cpu_cfs_periods_total", cpu_limit_only=True),
    _c("container_cpu_cfs_throttled_periods_total", cpu_limit_only=True),
    _c("container_cpu_cfs_throttled_seconds_total", cpu_limit_only=True),
    _c("container_memory_working_set_bytes", "gauge"),
    _c("container_memory_usage_bytes", "gauge"),
    _c("container_memory_rss", "gauge"),
    _c("container_memory_cache", "gauge"),
    _c("container_memory_swap", "gauge"),
    _c("container_memory_failcnt"),
    _c("container_spec_memory_limit_bytes", "gauge"),
    _c("container_spec_cpu_quota", "gauge"),
    _c("container_spec_cpu_period", "gauge"),
    _c("container_fs_reads_bytes_total", keep=("device",)),
    _c("container_fs_writes_bytes_total", keep=("device",)),
    _c("container_fs_reads_total", keep=("device",)),
    _c("container_fs_writes_total", keep=("device",)),
    *(
        _c(f"container_network_{d}_{m}_total", level="pod", keep=("interface",), skip=_NET_SKIP)
        for d in ("receive", "transmit")
        for m in ("bytes", "packets", "packets_dropped", "errors")
    ),
    # VM-level node_exporter series (pod_* / node_*) with a one-to-one cAdvisor equivalent
    *(
        Rule(
            f"pod_network_{d}_{src}_total",
            f"container_network_{d}_{dst}_total",
            "counter",
            level="pod",
            rename={"device": "interface"},
            skip={"device": frozenset({"lo"})},
        )
        for d in ("receive", "transmit")
        for src, dst in (
            ("bytes", "bytes"),
            ("packets", "packets"),
            ("drop", "packets_dropped"),
            ("errs", "errors"),
        )
    ),
    Rule("pod_disk_read_bytes_total", "container_fs_reads_bytes_total", "counter", **_DISK),  # type: ignore[arg-type]
    Rule("pod_disk_written_bytes_total", "container_fs_writes_bytes_total", "counter", **_DISK),  # type: ignore[arg-type]
    Rule("pod_disk_reads_completed_total", "container_fs_reads_total", "counter", **_DISK),  # type: ignore[arg-type]
    Rule("pod_disk_writes_completed_total", "container_fs_writes_total", "counter", **_DISK),  # type: ignore[arg-type]
    # kubelet resource metrics (Azure ACI's virtual-kubelet /metrics/resource)
    _c("container_start_time_seconds", "gauge"),
    # kubelet-compatible PVC volume stats (Tencent's kubelet_*): kubelet /metrics job shape
    *(
        Rule(
            f"kubelet_volume_stats_{m}",
            f"kubelet_volume_stats_{m}",
            "gauge",
            level="namespace",
            keep=("persistentvolumeclaim",),
            const={"metrics_path": "/metrics"},
        )
        for m in ("available_bytes", "capacity_bytes", "used_bytes", "inodes", "inodes_free", "inodes_used")
    ),
)


@dataclass(frozen=True, slots=True)
class Derived:
    """A container-level cAdvisor series computed from VM-level sandbox series, used only
    when the scrape has no direct ``target`` series for the pod's containers. ``formula``
    names one of the core's computations: ``cpu_busy`` (every mode of
    ``pod_cpu_seconds_total`` except idle, iowait, steal — docs/architecture.md §5), ``working_set``
    (MemTotal - MemFree - Inactive_file, else MemTotal - MemAvailable), ``swap``
    (SwapTotal - SwapFree), or ``value:<series>``."""

    target: str
    type: str
    formula: str
    const: Mapping[str, str] = field(default_factory=dict)


DERIVED: tuple[Derived, ...] = (
    Derived("container_cpu_usage_seconds_total", "counter", "cpu_busy", {"cpu": "total"}),
    Derived("container_memory_working_set_bytes", "gauge", "working_set"),
    Derived("container_memory_rss", "gauge", "value:pod_memory_AnonPages_bytes"),
    Derived("container_memory_cache", "gauge", "value:pod_memory_Cached_bytes"),
    Derived("container_memory_swap", "gauge", "swap"),
)
# VM-level series the derived formulas read (others are counted as unknown_metric)
VM_SOURCES = (
    "pod_cpu_seconds_total",
    "pod_memory_MemTotal_bytes",
    "pod_memory_MemFree_bytes",
    "pod_memory_Inactive_file_bytes",
    "pod_memory_MemAvailable_bytes",
    "pod_memory_AnonPages_bytes",
    "pod_memory_Cached_bytes",
    "pod_memory_SwapTotal_bytes",
    "pod_memory_SwapFree_bytes",
)
TYPES = {r.target: r.type for r in RULES} | {d.target: d.type for d in DERIVED}


def _rule_data(r: Rule) -> dict[str, object]:
    return {
        "source": r.source,
        "target": r.target,
        "level": r.level,
        "keep": list(r.keep),
        "rename": dict(r.rename),
        "const": dict(r.const),
        "skip": {k: sorted(v) for k, v in r.skip.items()},
        "cpu_limit_only": r.cpu_limit_only,
        "device_prefix": r.device_prefix,
    }


TRANSLATOR = vnbridge_core.Translator(
    [_rule_data(r) for r in RULES],
    [{"target": d.target, "formula": d.formula, "const": dict(d.const)} for d in DERIVED],
    TYPES,
    list(VM_SOURCES),
)


def pod_identity(pod: PodInfo) -> dict[str, object]:
    """What the core needs to know of the probed pod (identity labels come from here)."""
    return {
        "namespace": pod.namespace,
        "name": pod.name,
        "uid": pod.uid,
        "main": main_container(pod),
        "containers": [(c.name, c.bare_id, c.image or c.spec_image) for c in pod.containers],
        "cpu_limited": sorted(pod.cpu_limited_containers),
    }


@dataclass(slots=True)
class Translation:
    text: str
    series: int
    parse_errors: int
    dropped: dict[str, int]  # reason -> count (bounded: unknown_metric, cfs_without_limit, ...)


def translate_text(
    body: str, pod: PodInfo, *, openmetrics: bool = False, pass_vm: bool = False
) -> Translation:
    """One scrape of ``pod``'s sandbox exporter, translated and rendered by the core;
    ``pass_vm``: its VM-level ``pod_*`` series are served too, as they are."""
    text, series, errors, dropped = TRANSLATOR.translate(body, pod_identity(pod), openmetrics, pass_vm)
    return Translation(text, series, errors, dropped)


def translate_node(
    body: str, pods: list[PodInfo], *, openmetrics: bool = False, rules: bool = False
) -> Translation:
    """A virtual-kubelet node's scrape: series of the inventory's pods on it only; ``rules``:
    kubelet resource metrics mapped by the table (ACI), else cAdvisor as it is."""
    idents = [pod_identity(p) for p in pods]
    text, series, errors, dropped = TRANSLATOR.translate_node(body, idents, openmetrics, rules)
    return Translation(text, series, errors, dropped)
