"""metricsbridge translation through the compiled core: one test per rule of the
declarative tables, checked against cAdvisor's own names; the exposition parser never
raises on hostile input."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metricsbridge.translating import DERIVED, RULES, Rule, translate_text
from tests.support.kubelet_sample import cgroup_uid, real_kubelet, stamped
from vnbridge.pods import ContainerInfo, PodInfo


class Sample(NamedTuple):
    name: str
    labels: dict[str, str]
    value: str


class Translated(NamedTuple):
    samples: list[Sample]
    dropped: dict[str, int]


def _render(samples: list[Sample]) -> str:
    lines = []
    for s in samples:
        body = ",".join(f'{k}="{v}"' for k, v in s.labels.items())
        lines.append(f"{s.name}{{{body}}} {s.value}" if body else f"{s.name} {s.value}")
    return "\n".join(lines) + "\n"


def _read(text: str) -> list[Sample]:
    return [Sample(s.name, s.labels, s.value) for s in stamped(text)]


def translate(samples: list[Sample], pod: PodInfo) -> Translated:
    """The test's samples as exposition text, through the core, read back."""
    t = translate_text(_render(samples), pod)
    return Translated(_read(t.text), t.dropped)


POD = PodInfo(
    namespace="batch",
    name="report-1-x",
    uid="u-1",
    containers=(
        ContainerInfo("init", "containerd://" + "1" * 64, "busybox:1", has_status=True),
        ContainerInfo("app", "containerd://" + "a" * 64, "docker.io/library/app:1", has_status=True),
    ),
    init_containers=frozenset({"init"}),
    cpu_limited_containers=frozenset({"app"}),
)
PROV = {"pod_name": "report-1-x", "node": "eklet-0", "unInstanceId": "eks-1", "workload_kind": "Job"}
IDENT = {
    "namespace": "batch",
    "pod": "report-1-x",
    "container": "app",
    "image": "docker.io/library/app:1",
    "name": "a" * 64,
    "id": "/kubepods/podu-1/" + "a" * 64,
}


def _source_labels(rule: Rule) -> dict[str, str]:
    """What the sandbox sends, by family — written here, not read from the rule: cAdvisor-like
    series name their container and use cAdvisor's `interface` / `device`; node_exporter's
    use `device` for both NICs and disks."""
    labels = dict(PROV)
    name = rule.source
    if name.startswith("container_") and "network" not in name:
        labels["container"] = "app"
    if "network" in name:
        labels["interface" if name.startswith("container_") else "device"] = "eth0"
    if name.startswith("container_fs_"):
        labels["device"] = "/dev/vda"  # cAdvisor data names block devices by path
    if name.startswith("pod_disk_"):
        labels["device"] = "vda"  # node_exporter by kernel name
    return labels


# The constant labels cAdvisor itself writes (google/cadvisor metrics/prometheus.go: with
# per-CPU usage off, as the kubelet runs it, container_cpu_usage_seconds_total carries
# cpu="total"); every other translated series carries none.
CADVISOR_CONSTANT = {"container_cpu_usage_seconds_total": {"cpu": "total"}}


# Independent expectations, not read from the table under test: a sandbox series that
# already has a cAdvisor name keeps it; node_exporter names map as docs/architecture.md §5 says.
_NODE_EXPORTER_TO_CADVISOR = {
    **{
        f"pod_network_{d}_{src}_total": f"container_network_{d}_{dst}_total"
        for d in ("receive", "transmit")
        for src, dst in (
            ("bytes", "bytes"),
            ("packets", "packets"),
            ("drop", "packets_dropped"),
            ("errs", "errors"),
        )
    },
    "pod_disk_read_bytes_total": "container_fs_reads_bytes_total",
    "pod_disk_written_bytes_total": "container_fs_writes_bytes_total",
    "pod_disk_reads_completed_total": "container_fs_reads_total",
    "pod_disk_writes_completed_total": "container_fs_writes_total",
}
REFERENCE = Path(__file__).resolve().parents[1] / "reference"


def _cadvisor() -> dict[str, tuple[str, frozenset[str]]]:
    out: dict[str, tuple[str, frozenset[str]]] = {}
    for line in (REFERENCE / "cadvisor" / "metrics.tsv").read_text().splitlines():
        if line and not line.startswith("#"):
            name, type_, extra = [*line.split("\t"), "", ""][:3]
            out[name] = (type_, frozenset(x for x in extra.split(",") if x))
    return out


CADVISOR = _cadvisor()


def _queried_by_kube_prometheus() -> set[str]:
    ref = REFERENCE / "kube-prometheus"
    text = (ref / "recording-rules.yaml").read_text() + (
        ref / "dashboard-compute-resources-pod.json"
    ).read_text()
    return set(re.findall(r"(?<![A-Za-z0-9_:])container_[a-z_]+", text)) & set(CADVISOR)


def _expected_target(source: str) -> str:
    return source if source.startswith("container_") else _NODE_EXPORTER_TO_CADVISOR[source]


CADVISOR_RULES = [r for r in RULES if r.level != "namespace"]


@pytest.mark.parametrize("rule", CADVISOR_RULES, ids=lambda r: r.source)
def test_rule(rule: Rule) -> None:
    target = _expected_target(rule.source)
    assert target in CADVISOR, f"{target} is not a series cAdvisor exports"
    out = translate([Sample(rule.source, _source_labels(rule), "42")], POD).samples
    [s] = [x for x in out if x.name == target]
    assert s.value == "42"
    assert CADVISOR[target][1] <= set(s.labels), "cAdvisor's extra labels for this series"
    assert rule.type == CADVISOR[target][0]
    assert not set(PROV) & (set(s.labels) - {"node"}) and "node" not in s.labels  # provider labels gone
    if rule.level == "container":
        assert {k: s.labels[k] for k in IDENT} == IDENT
    else:
        assert s.labels["container"] == "" and s.labels["id"] == "/kubepods/podu-1"
        assert s.labels["interface"] == "eth0"
    for k, v in CADVISOR_CONSTANT.get(target, {}).items():
        assert s.labels[k] == v, (target, k)
    if target.startswith("container_fs_"):
        assert s.labels["device"] == "/dev/vda"  # cAdvisor names block devices by path


def test_every_cadvisor_series_kube_prometheus_queries_is_produced() -> None:
    queried = _queried_by_kube_prometheus()
    assert "container_cpu_usage_seconds_total" in queried  # the reference was read
    produced = {r.target for r in RULES} | {d.target for d in DERIVED}
    assert queried - produced == set()


def test_derived_targets_are_cadvisor_series() -> None:
    for d in DERIVED:
        assert d.target in CADVISOR and CADVISOR[d.target][0] == d.type
        assert CADVISOR[d.target][1] <= set(d.const)  # e.g. cpu="total"


@pytest.mark.parametrize("rule", [r for r in RULES if r.cpu_limit_only], ids=lambda r: r.source)
def test_cfs_series_only_with_a_cpu_limit(rule: Rule) -> None:
    unlimited = PodInfo(namespace="b", name="p", containers=(ContainerInfo("app"),))
    labels = {"container": "app"}
    t = translate([Sample(rule.source, labels, "1")], unlimited)
    assert t.samples == [] and t.dropped == {"cfs_without_limit": 1}


@pytest.mark.parametrize("rule", [r for r in RULES if r.skip], ids=lambda r: r.source)
def test_loopback_traffic_is_not_pod_traffic(rule: Rule) -> None:
    # the sandbox's own label for the NIC (not read from the rule): cAdvisor-like series
    # say `interface`, node_exporter's say `device`; cAdvisor never reports `lo`
    key = "interface" if rule.source.startswith("container_") else "device"
    out = translate([Sample(rule.source, {key: "lo"}, "1")], POD).samples
    assert out == [], out


@pytest.mark.parametrize(
    "name",
    [
        f"{p}network_{d}_{m}_total"
        for p in ("container_", "pod_")
        for d in ("receive", "transmit")
        for m in ("bytes", "packets")
    ],
)
def test_every_network_family_drops_loopback(name: str) -> None:
    key = "interface" if name.startswith("container_") else "device"
    out = translate([Sample(name, {key: "lo"}, "1"), Sample(name, {key: "eth0"}, "2")], POD).samples
    assert [x.labels.get("interface") for x in out] == ["eth0"], out


VM = {
    "pod_cpu_seconds_total": [
        ("user", "3"),
        ("system", "2"),
        ("idle", "100"),
        ("iowait", "7"),
        ("steal", "1"),
    ],
    "pod_memory_MemTotal_bytes": "1000",
    "pod_memory_MemFree_bytes": "300",
    "pod_memory_Inactive_file_bytes": "100",
    "pod_memory_AnonPages_bytes": "250",
    "pod_memory_Cached_bytes": "150",
    "pod_memory_SwapTotal_bytes": "50",
    "pod_memory_SwapFree_bytes": "20",
}
EXPECTED = {
    "container_cpu_usage_seconds_total": 5.0,  # user + system; idle, iowait, steal excluded
    "container_memory_working_set_bytes": 600.0,  # 1000 - 300 - 100
    "container_memory_rss": 250.0,
    "container_memory_cache": 150.0,
    "container_memory_swap": 30.0,
}


def _vm_samples(prefix: str = "pod_") -> list[Sample]:
    out: list[Sample] = []
    for name, value in VM.items():
        name = prefix + name[4:]
        if isinstance(value, list):
            out += [Sample(name, {"cpu": "0", "mode": m, **PROV}, v) for m, v in value]
        else:
            out.append(Sample(name, dict(PROV), value))
    return out


@pytest.mark.parametrize("prefix", ["pod_", "node_"])
@pytest.mark.parametrize("derived", DERIVED, ids=lambda d: d.target)
def test_derived_from_vm_level_series(derived: object, prefix: str) -> None:
    target = derived.target  # type: ignore[attr-defined]
    [s] = [x for x in translate(_vm_samples(prefix), POD).samples if x.name == target]
    assert float(s.value) == EXPECTED[target]
    assert {k: s.labels[k] for k in IDENT} == IDENT


def test_direct_series_wins_over_derived() -> None:
    direct = Sample("container_memory_working_set_bytes", {"container": "app"}, "7")
    out = [s for s in translate([direct, *_vm_samples()], POD).samples if s.name == direct.name]
    assert [s.value for s in out] == ["7"]


def test_identity_comes_from_the_inventory_not_the_scrape() -> None:
    spoof = Sample(
        "container_memory_rss", {"container": "app", "namespace": "kube-system", "pod": "etcd"}, "1"
    )
    [s] = translate([spoof], POD).samples
    assert (s.labels["namespace"], s.labels["pod"]) == ("batch", "report-1-x")


def test_unknown_metrics_and_containers_are_dropped_and_counted() -> None:
    t = translate(
        [Sample("go_goroutines", {}, "1"), Sample("container_memory_rss", {"container": "ghost"}, "1")], POD
    )
    assert t.samples == [] and t.dropped == {"unknown_metric": 1, "unknown_container": 1}


def test_parse_and_render_round_trip() -> None:
    text = (
        "# HELP x help\n# TYPE container_memory_rss gauge\n"
        'container_memory_rss{container="app",path="C:\\\\x \\"q\\""} 1.5e3 1700000000000\nup 1\n'
    )
    t = translate_text(text, POD)
    assert t.parse_errors == 0 and t.series == 1
    [s] = _read(t.text)
    assert s.value == "1.5e3" and "# TYPE container_memory_rss gauge" in t.text
    # the sample's timestamp is kept: milliseconds in the text format, seconds in OpenMetrics
    assert t.text.rstrip("\n").endswith(" 1.5e3 1700000000000")
    om = translate_text(text, POD, openmetrics=True).text
    assert om.endswith("# EOF\n") and "# TYPE container_memory_rss gauge" in om
    assert " 1.5e3 1700000000.000\n" in om


# kubelet's own /metrics (pkg/kubelet/metrics/collectors/volume_stats.go): gauges
# labelled namespace and persistentvolumeclaim; kube-prometheus selects them with
# job="kubelet", metrics_path="/metrics" (KubePersistentVolumeFillingUp)
KUBELET_VOLUME = (
    "kubelet_volume_stats_available_bytes",
    "kubelet_volume_stats_capacity_bytes",
    "kubelet_volume_stats_used_bytes",
    "kubelet_volume_stats_inodes",
    "kubelet_volume_stats_inodes_free",
    "kubelet_volume_stats_inodes_used",
)


@pytest.mark.parametrize("name", KUBELET_VOLUME)
def test_kubelet_volume_stats_come_out_in_the_kubelet_metrics_shape(name: str) -> None:
    src = Sample(name, {"namespace": "spoofed", "persistentvolumeclaim": "data", "pod_name": "x"}, "9")
    t = translate_text(_render([src]) + "", POD)
    [s] = _read(t.text)
    assert s == Sample(
        name, {"namespace": "batch", "persistentvolumeclaim": "data", "metrics_path": "/metrics"}, "9"
    )
    assert f"# TYPE {name} gauge" in t.text


def test_vm_series_are_served_as_they_are_only_when_asked() -> None:
    text = 'pod_load1{namespace="spoof"} 0.5\n'
    assert translate_text(text, POD).series == 0
    [s] = _read(translate_text(text, POD, pass_vm=True).text)
    assert s == Sample("pod_load1", {"namespace": "batch", "pod": "report-1-x"}, "0.5")


def test_malformed_lines_are_counted_not_fatal() -> None:
    t = translate_text('ok 1\nbad{a="1" 2\n{x} 3\nname notanumber\nname 1 2 3\n', POD)
    assert t.parse_errors == 4 and t.dropped == {"unknown_metric": 1}


@given(st.text(max_size=300))
def test_parser_never_raises(text: str) -> None:
    translate_text(text, POD)


# ---------------------------------------------------------------- against a real kubelet


def test_the_real_sample_says_what_the_tests_take_from_it() -> None:
    container, pod, real = real_kubelet()
    assert set(container) == {"container", "cpu", "id", "image", "name", "namespace", "pod"}
    assert set(pod) == set(container) and pod["image"] == pod["name"] == ""
    assert all(s.ts and len(s.ts) == 13 for s in real)  # the kubelet stamps every sample, in ms
    assert cgroup_uid(container["id"]) and cgroup_uid(container["id"]) == cgroup_uid(
        next(s.labels["id"] for s in real[1:] if not s.labels["container"])
    )


UID = "0c7d2a3e-1111-4222-8333-444455556666"
REAL_POD = PodInfo(
    namespace="batch",
    name="report-1-x",
    uid=UID,
    containers=(
        ContainerInfo("app", "containerd://" + "a" * 64, "docker.io/library/app:1", has_status=True),
    ),
    init_containers=frozenset(),
    cpu_limited_containers=frozenset({"app"}),
)


def test_a_virtual_pods_series_have_the_real_kubelets_shape() -> None:
    """Label names, the constant label's value, the cgroup `id` grammar, `image`, and the
    timestamp: the translated series next to a real kubelet's, not next to our stand-in."""
    real_container, real_pod, _ = real_kubelet()
    sandbox = (
        "# TYPE container_cpu_usage_seconds_total counter\n"
        'container_cpu_usage_seconds_total{container="app",pod_name="report-1-x",unInstanceId="eks-1"}'
        " 4.5 1786331963155\n"
        'container_cpu_usage_seconds_total{pod_name="report-1-x"} 9.1 1786331963155\n'
    )
    out = stamped(translate_text(sandbox, REAL_POD).text)
    [c] = [s for s in out if s.labels.get("container")]
    [p] = [s for s in out if s.labels.get("container") == ""]
    assert set(c.labels) == set(real_container)
    assert set(p.labels) == set(real_pod)
    assert {k for k, v in p.labels.items() if v == ""} == {k for k, v in real_pod.items() if v == ""}
    assert c.labels["cpu"] == p.labels["cpu"] == real_container["cpu"] == "total"
    assert c.labels["image"] == "docker.io/library/app:1" and c.labels["name"] == "a" * 64
    for s in (c, p):
        assert s.labels["id"].startswith("/kubepods") and cgroup_uid(s.labels["id"]) == UID
    assert c.labels["id"].startswith(p.labels["id"] + "/") and c.labels["id"].endswith("a" * 64)
    assert c.ts == p.ts == "1786331963155"  # the sandbox's stamp is kept, as the kubelet's is
    assert CADVISOR["container_cpu_usage_seconds_total"][0] == "counter"


@pytest.mark.parametrize("which", ["running.cadvisor_metrics", "kubelet.cadvisor_text"])
def test_the_kubelet_stand_ins_have_the_real_kubelets_shape(which: str) -> None:
    """The integration tests compare virtual pods with these stand-ins: anchor them here."""
    from simulator import kubelet, running
    from simulator.model import Cluster

    real_container, real_pod, _ = real_kubelet()
    if which.startswith("running"):
        pods = [
            p for p in Cluster(seed=1, prefix="t-", ip_octet=9, web_replicas=1, cronjob_pods=0).build().pods
        ]
        text = running.cadvisor_metrics([p for p in pods if not p.virtual], 3.0)
    else:
        one = {
            "namespace": "n",
            "name": "p",
            "uid": UID,
            "container": "c",
            "container_id": "b" * 64,
            "image": "i:1",
        }
        text = kubelet.cadvisor_text([one], 3.0, 1786331963155)
    cpu = [s for s in stamped(text) if s.name == "container_cpu_usage_seconds_total" and "pod" in s.labels]
    assert cpu and all(set(s.labels) == set(real_container) for s in cpu)
    assert all(s.ts for s in cpu)
    net = [s for s in stamped(text) if s.name.startswith("container_network_")]
    assert net and all(set(s.labels) == (set(real_pod) - {"cpu"}) | {"interface"} for s in net)
