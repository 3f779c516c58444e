"""Translate a sandbox exporter's scrape into the kubelet/cAdvisor shape.

Why: kube-prometheus rules and the Pod dashboard select
``{job="kubelet", metrics_path="/metrics/cadvisor"}`` series with cAdvisor's label
set (``container``, ``pod``, ``namespace``, ``image``, ``name``, ``id`` and per
metric ``cpu``, ``interface``, ``device``). The sandbox speaks a dialect: cAdvisor-
like ``container_*`` with provider labels, plus node_exporter series renamed
``pod_*`` (older images: ``node_*``). Two declarative tables say what becomes what:
``RULES`` (one series to one series, labels kept / renamed / fixed) and ``DERIVED``
(a cAdvisor series computed from VM-level ones when the sandbox has no direct
equivalent). Identity labels come from the inventory, never from the scrape, so a
tenant cannot claim another pod's identity; no time- or IP-derived label is added.
Pure: no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from discovery.inventory import PodInfo
from discovery.targeting import main_container
from metricsbridge.exposition import Sample, escape

__all__ = ["DERIVED", "RULES", "Derived", "Rule", "Translation", "translate"]

Level = Literal["container", "pod"]


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
)


def _f(value: str) -> float:
    return float(value)


def _cpu_busy(series: Mapping[str, list[Sample]]) -> float | None:
    """CPU = every mode except idle, iowait, steal, summed over CPUs (DESIGN §5)."""
    got = series.get("pod_cpu_seconds_total")
    if not got:
        return None
    return sum(_f(s.value) for s in got if s.labels.get("mode") not in ("idle", "iowait", "steal"))


def _one(series: Mapping[str, list[Sample]], name: str) -> float | None:
    got = series.get(name)
    return _f(got[0].value) if got else None


def _working_set(series: Mapping[str, list[Sample]]) -> float | None:
    """working set ≈ MemTotal - MemFree - Inactive_file (what cAdvisor computes from the cgroup)."""
    total, free = _one(series, "pod_memory_MemTotal_bytes"), _one(series, "pod_memory_MemFree_bytes")
    inactive = _one(series, "pod_memory_Inactive_file_bytes") or 0.0
    if total is None or free is None:
        available = _one(series, "pod_memory_MemAvailable_bytes")
        return None if total is None or available is None else max(0.0, total - available)
    return max(0.0, total - free - inactive)


def _swap(series: Mapping[str, list[Sample]]) -> float | None:
    total, free = _one(series, "pod_memory_SwapTotal_bytes"), _one(series, "pod_memory_SwapFree_bytes")
    return None if total is None or free is None else max(0.0, total - free)


@dataclass(frozen=True, slots=True)
class Derived:
    """A container-level cAdvisor series computed from VM-level sandbox series, used only
    when the scrape has no direct ``target`` series for the pod's containers."""

    target: str
    type: str
    compute: Callable[[Mapping[str, list[Sample]]], float | None]
    const: Mapping[str, str] = field(default_factory=dict)


DERIVED: tuple[Derived, ...] = (
    Derived("container_cpu_usage_seconds_total", "counter", _cpu_busy, {"cpu": "total"}),
    Derived("container_memory_working_set_bytes", "gauge", _working_set),
    Derived("container_memory_rss", "gauge", lambda s: _one(s, "pod_memory_AnonPages_bytes")),
    Derived("container_memory_cache", "gauge", lambda s: _one(s, "pod_memory_Cached_bytes")),
    Derived("container_memory_swap", "gauge", _swap),
)

RULE_BY_SOURCE = {r.source: r for r in RULES}
TYPES = {r.target: r.type for r in RULES} | {d.target: d.type for d in DERIVED}


@dataclass(slots=True)
class Translation:
    samples: list[Sample]
    dropped: dict[str, int]  # reason -> count (bounded: unknown_metric, cfs_without_limit, ...)


def _identity(pod: PodInfo, container: str | None) -> dict[str, str]:
    uid = pod.uid
    labels = {"namespace": escape(pod.namespace), "pod": escape(pod.name)}
    if container is None:
        # pod-level series carry no container; the explicit empty value keeps Prometheus
        # (honor_labels) from attaching the target's container label, and reads as absent
        labels["container"] = ""
        labels["id"] = escape(f"/kubepods/pod{uid}")
        return labels
    info = pod.container(container)
    cid = info.bare_id if info is not None else ""
    image = (info.image or info.spec_image) if info is not None else ""
    labels["container"] = escape(container)
    labels["image"] = escape(image)
    labels["name"] = escape(cid)
    labels["id"] = escape(f"/kubepods/pod{uid}/{cid}" if cid else f"/kubepods/pod{uid}")
    return labels


def translate(samples: list[Sample], pod: PodInfo) -> Translation:
    out: list[Sample] = []
    dropped: dict[str, int] = defaultdict(int)
    vm: dict[str, list[Sample]] = defaultdict(list)
    produced: set[tuple[str, str]] = set()  # (target, container)
    main = main_container(pod) or None
    known = {c.name for c in pod.containers}
    idents: dict[str | None, dict[str, str]] = {}
    rules = RULE_BY_SOURCE
    limited = pod.cpu_limited_containers
    for s in samples:
        name = s.name
        if name[:5] == "node_":  # older sandbox images use node_exporter's own names
            name = "pod_" + name[5:]
        rule = rules.get(name)
        if rule is None:
            if name[:4] == "pod_":
                vm[name].append(s)
            else:
                dropped["unknown_metric"] += 1
            continue
        got = s.labels.get
        if rule.skip and any(got(k) in vals for k, vals in rule.skip.items()):
            dropped["excluded_value"] += 1
            continue
        container: str | None = None
        if rule.level == "container":
            raw = main or "" if name[:4] == "pod_" else got("container") or got("container_name") or ""
            if raw == "" or raw == "POD":
                container = None  # the pod-level cgroup: cAdvisor's container="" series
            elif known and raw not in known:
                dropped["unknown_container"] += 1
                continue
            else:
                container = raw
            if rule.cpu_limit_only and (container is None or container not in limited):
                dropped["cfs_without_limit"] += 1
                continue
        ident = idents.get(container)
        if ident is None:
            ident = idents[container] = _identity(pod, container)
        labels = dict(ident)
        for key in rule.keep:
            value = got(key)
            if value is not None:
                labels[key] = value
        for src, dst in rule.rename.items():
            value = got(src)
            if value is not None:
                labels[dst] = value
        if rule.device_prefix and "device" in labels and not labels["device"].startswith(rule.device_prefix):
            labels["device"] = rule.device_prefix + labels["device"]
        if rule.const:
            labels.update(rule.const)
        out.append(Sample(rule.target, labels, s.value))
        if container is not None:
            produced.add((rule.target, container))
    if main is not None:
        for d in DERIVED:
            if (d.target, main) in produced:
                continue
            computed = d.compute(vm)
            if computed is None:
                continue
            labels = _identity(pod, main) | dict(d.const)
            out.append(Sample(d.target, labels, repr(float(computed))))
    for name, group in vm.items():
        if name not in _SOURCES:
            dropped["unknown_metric"] += len(group)
    return Translation(out, dict(dropped))


_SOURCES = {
    "pod_cpu_seconds_total",
    "pod_memory_MemTotal_bytes",
    "pod_memory_MemFree_bytes",
    "pod_memory_Inactive_file_bytes",
    "pod_memory_MemAvailable_bytes",
    "pod_memory_AnonPages_bytes",
    "pod_memory_Cached_bytes",
    "pod_memory_SwapTotal_bytes",
    "pod_memory_SwapFree_bytes",
}
