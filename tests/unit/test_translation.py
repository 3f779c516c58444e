"""metricsbridge translation: one test per rule of the declarative tables, plus the
exposition parser (hostile input never raises)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from discovery.inventory import ContainerInfo, PodInfo
from metricsbridge.exposition import Sample, parse, render
from metricsbridge.translating import DERIVED, RULES, Rule, translate

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
    labels = dict(PROV)
    if rule.level == "container" and not rule.source.startswith("pod_"):
        labels["container"] = "app"
    for key in rule.keep:
        labels[key] = "vda" if key == "device" else "eth0"
    for key in rule.rename:
        labels[key] = "eth0"
    return labels


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.source}->{r.target}")
def test_rule(rule: Rule) -> None:
    out = translate([Sample(rule.source, _source_labels(rule), "42")], POD).samples
    [s] = [x for x in out if x.name == rule.target]
    assert s.value == "42"
    assert not set(PROV) & (set(s.labels) - {"node"}) and "node" not in s.labels  # provider labels gone
    if rule.level == "container":
        assert {k: s.labels[k] for k in IDENT} == IDENT
    else:
        assert s.labels["container"] == "" and s.labels["id"] == "/kubepods/podu-1"
        assert s.labels["interface"] == "eth0"
    for k, v in rule.const.items():
        assert s.labels[k] == v
    if rule.device_prefix:
        assert s.labels["device"] == "/dev/vda"


@pytest.mark.parametrize("rule", [r for r in RULES if r.cpu_limit_only], ids=lambda r: r.source)
def test_cfs_series_only_with_a_cpu_limit(rule: Rule) -> None:
    unlimited = PodInfo(namespace="b", name="p", containers=(ContainerInfo("app"),))
    labels = {"container": "app"}
    t = translate([Sample(rule.source, labels, "1")], unlimited)
    assert t.samples == [] and t.dropped == {"cfs_without_limit": 1}


@pytest.mark.parametrize("rule", [r for r in RULES if r.skip], ids=lambda r: r.source)
def test_loopback_traffic_is_not_pod_traffic(rule: Rule) -> None:
    key = next(iter(rule.skip))
    assert translate([Sample(rule.source, {key: "lo"}, "1")], POD).samples == []


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
        'container_memory_rss{container="a",path="C:\\\\x \\"q\\""} 1.5e3 1700000000000\nup 1\n'
    )
    parsed = parse(text)
    assert parsed.errors == 0 and len(parsed.samples) == 2
    assert parsed.samples[0].labels["path"] == 'C:\\\\x \\"q\\"'
    again = parse(render(parsed.samples, parsed.types))
    assert again.samples == parsed.samples
    om = render(parsed.samples, {"c_total": "counter"} | parsed.types, openmetrics=True)
    assert om.endswith("# EOF\n")


def test_malformed_lines_are_counted_not_fatal() -> None:
    parsed = parse('ok 1\nbad{a="1" 2\n{x} 3\nname notanumber\nname 1 2 3\n')
    assert [s.name for s in parsed.samples] == ["ok"] and parsed.errors == 4


@given(st.text(max_size=300))
def test_parser_never_raises(text: str) -> None:
    parse(text)
