"""Collector options that change a document or whether it is sent, by the collector's
own names and semantics (Vector: parser/cri.rs, parser/docker.rs, kubernetes_logs
options; Filebeat: add_kubernetes_metadata include/exclude rules), on the pods of the
real-collector goldens (tests/golden/vector/real/pods)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from logbridge.converting import convert_lines, iter_inputs, write_outputs
from logbridge.profiles import OptionError, build, checked_options, option_table
from logbridge.profiles.fluentbit import excluded
from logbridge.selecting import SelectorError, matches, parse_selector
from vnbridge.podfiles import load_inventory

REAL = Path(__file__).resolve().parents[1] / "golden" / "vector" / "real"
INGEST = (
    "ingest-29000000-abcde_etl_ingest-23dacdf054ccdf455123cfc102650c1f2069677777157bb188bec7825b5ef33c.log"
)
T = "2025-03-14T09:30:00.000000000Z"


def _run(
    profile: str, options: dict[str, Any], lines: list[str], tmp: Path, pod: dict[str, Any] | None = None
) -> list[tuple[Any, Any]]:
    """Documents (action, source) for ``lines`` of the ingest pod's container; ``pod``
    replaces that pod's object. No dead letters expected."""
    docs, dead = _run_with_dead(profile, options, lines, tmp, pod)
    assert dead == []
    return docs


def _run_with_dead(
    profile: str, options: dict[str, Any], lines: list[str], tmp: Path, pod: dict[str, Any] | None = None
) -> tuple[list[tuple[Any, Any]], list[dict[str, Any]]]:
    """Documents (action, source) and dead letters (JSON lines of the error stream)."""
    pods = tmp / "pods"
    pods.mkdir(exist_ok=True)
    for f in [*(REAL / "pods").glob("*.json"), *(REAL / "objects").glob("*.json")]:
        shutil.copy(f, pods / f.name)
    if pod is not None:
        (pods / "pod-etl-ingest-29000000-abcde.json").write_text(json.dumps(pod))
    log = tmp / INGEST
    log.write_bytes(b"".join(x.encode() + b"\n" for x in lines))
    prof = build(profile, options)
    out, err = io.BytesIO(), io.BytesIO()
    items = convert_lines(iter_inputs([log], io.BytesIO()), profile=prof, lookup=load_inventory(pods))
    write_outputs(items, out=out, err=err, bulk=True, op=prof.bulk_action)
    rows = out.getvalue().splitlines()
    docs = [(json.loads(a), json.loads(s)) for a, s in zip(rows[0::2], rows[1::2], strict=True)]
    return docs, [json.loads(x) for x in err.getvalue().splitlines()]


def test_vector_writes_index_actions_by_default_and_create_when_asked(tmp_path: Path) -> None:
    line = [f"{T} stdout F hello"]
    assert list(_run("vector", {}, line, tmp_path)[0][0]) == ["index"]
    assert list(_run("vector", {"bulk.action": "create"}, line, tmp_path)[0][0]) == ["create"]
    with pytest.raises(OptionError):
        build("vector", {"bulk.action": "delete"})


def test_vector_keeps_partial_flag_and_merges_unless_auto_partial_merge_is_off(tmp_path: Path) -> None:
    lines = [f"{T} stdout P a|", f"{T} stdout P b|", f"{T} stdout F c", f"{T} stdout F "]
    merged = [s for _, s in _run("vector", {}, lines, tmp_path)]
    assert [(s["message"], s.get("_partial")) for s in merged] == [("a|b|c", True), ("", None)]
    assert next(iter(merged[0])) == "_partial"  # keys sorted
    apart = [s for _, s in _run("vector", {"auto_partial_merge": "false"}, lines, tmp_path)]
    assert [(s["message"], s.get("_partial")) for s in apart] == [
        ("a|", True),
        ("b|", True),
        ("c", None),
        ("", None),
    ]


def test_vector_keeps_the_carriage_return_of_a_crlf_cri_line(tmp_path: Path) -> None:
    (doc,) = [s for _, s in _run("vector", {}, [f"{T} stdout F ends in CRLF\r"], tmp_path)]
    assert doc["message"] == "ends in CRLF\r"
    (fb,) = [s for _, s in _run("filebeat", {}, [f"{T} stdout F ends in CRLF\r"], tmp_path)]
    assert fb["message"] == "ends in CRLF"  # Filebeat drops it


def test_vector_joins_docker_lines_only_at_exactly_16_kib(tmp_path: Path) -> None:
    def docker(log: str) -> str:
        return json.dumps({"log": log, "stream": "stdout", "time": "2025-03-14T09:30:00Z"})

    lines = [docker("x" * 16384), docker("end\n"), docker("no newline, short"), docker("next\n")]
    docs = [s for _, s in _run("vector", {"parser": "docker"}, lines, tmp_path)]
    assert [(len(s["message"]), s.get("_partial")) for s in docs] == [(16387, True), (17, None), (4, None)]
    assert docs[1]["message"] == "no newline, short"


def test_vector_filters_by_label_selector_exclude_label_and_path_globs(tmp_path: Path) -> None:
    line = [f"{T} stdout F hello"]
    assert _run("vector", {"extra_label_selector": "app!=ingest"}, line, tmp_path) == []
    assert len(_run("vector", {"extra_label_selector": "app=ingest,team in (data)"}, line, tmp_path)) == 1
    assert _run("vector", {"exclude_paths_glob_patterns": "**/ingest/*.log"}, line, tmp_path) == []
    pod = json.loads((REAL / "pods" / "pod-etl-ingest-29000000-abcde.json").read_text())
    pod["metadata"]["labels"]["vector.dev/exclude"] = "true"
    assert _run("vector", {}, line, tmp_path, pod) == []
    with pytest.raises(OptionError, match="extra_label_selector"):
        build("vector", {"extra_label_selector": "app in ingest"})


def test_vector_field_paths_nest_and_empty_paths_leave_fields_out(tmp_path: Path) -> None:
    opts = {"pod_annotation_fields.pod_name": "k8s.pod", "pod_annotation_fields.pod_labels": ""}
    ((_, doc),) = _run("vector", opts, [f"{T} stdout F hello"], tmp_path)
    assert doc["k8s"] == {"pod": "ingest-29000000-abcde"}
    assert "pod_name" not in doc["kubernetes"] and "pod_labels" not in doc["kubernetes"]
    assert list(doc) == sorted(doc)
    with pytest.raises(OptionError):
        build("vector", {"pod_annotation_fields.pod_name": "message"})


def test_filebeat_include_lists_are_exact_keys_unless_use_regex_include(tmp_path: Path) -> None:
    line = [f"{T} stdout F hello"]
    ((_, exact),) = _run("filebeat", {"include_labels": "app,job"}, line, tmp_path)
    assert exact["kubernetes"]["labels"] == {"app": "ingest"}  # "job" is no key; not a prefix
    ((_, rx),) = _run("filebeat", {"include_labels": "job", "use_regex_include": "true"}, line, tmp_path)
    assert set(rx["kubernetes"]["labels"]) == {"batch_kubernetes_io/job-name", "job-name"}


def test_filebeat_exclude_labels_win_over_include_labels(tmp_path: Path) -> None:
    opts = {"include_labels": "app,team", "exclude_labels": "team"}
    ((_, doc),) = _run("filebeat", opts, [f"{T} stdout F hello"], tmp_path)
    assert doc["kubernetes"]["labels"] == {"app": "ingest"}


def test_filebeat_namespace_and_node_label_filters(tmp_path: Path) -> None:
    opts = {
        "add_resource_metadata.namespace.include_labels": "team",
        "add_resource_metadata.node.exclude_labels": "pool",
        "add_resource_metadata.node.labels.dedot": "false",
    }
    ((_, doc),) = _run("filebeat", opts, [f"{T} stdout F hello"], tmp_path)
    assert doc["kubernetes"]["namespace_labels"] == {"team": "data"}
    node_labels = doc["kubernetes"]["node"]["labels"]
    assert "pool" not in node_labels and node_labels["kubernetes"]["io/arch"] == "amd64"


def test_filebeat_empty_line_has_no_message_key(tmp_path: Path) -> None:
    ((_, doc),) = _run("filebeat", {}, [f"{T} stdout F "], tmp_path)
    assert "message" not in doc and doc["stream"] == "stdout"


@pytest.mark.parametrize(
    ("selector", "labels", "want"),
    [
        ("", {}, True),
        ("a", {"a": ""}, True),
        ("!a", {"a": "x"}, False),
        ("a=x,b!=y", {"a": "x"}, True),
        ("a==x", {"a": "y"}, False),
        ("a notin (x, y)", {"a": "z"}, True),
        ("a in (x,y),example.com/b", {"a": "y", "example.com/b": "1"}, True),
    ],
)
def test_label_selectors(selector: str, labels: dict[str, str], want: bool) -> None:
    assert matches(parse_selector(selector), labels) is want


@pytest.mark.parametrize("bad", ["a=b=c", "a in ()", "in (a)", "a ! b", "a in (x"])
def test_bad_label_selectors_are_refused(bad: str) -> None:
    with pytest.raises(SelectorError):
        parse_selector(bad)


def test_fluent_bit_excludes_pods_annotated_fluentbit_io_exclude_when_allowed(tmp_path: Path) -> None:
    line = [f"{T} stdout F hello"]
    pod = json.loads((REAL / "pods" / "pod-etl-ingest-29000000-abcde.json").read_text())
    pod["metadata"].setdefault("annotations", {})["fluentbit.io/exclude"] = "true"
    assert _run("fluent-bit", {"K8S-Logging.Exclude": "On"}, line, tmp_path, pod) == []
    # not allowed by the filter's config: the annotation is ignored (Fluent Bit warns)
    assert len(_run("fluent-bit", {}, line, tmp_path, pod)) == 1


@pytest.mark.parametrize(
    ("annotations", "dropped"),
    [
        ({"fluentbit.io/exclude": "true"}, True),
        ({"fluentbit.io/exclude": "On"}, True),
        ({"fluentbit.io/exclude": "yes"}, True),
        ({"fluentbit.io/exclude": "false"}, False),
        ({"fluentbit.io/exclude": " true"}, False),  # flb_utils_bool: exact words only
        ({"fluentbit.io/exclude-sidecar": "true"}, True),  # compared over "exclude" only
        ({"fluentbit.io/ex": "true"}, True),  # strncmp over the shorter length
        ({"fluentbit.io/parser": "true"}, False),
        ({"fluentbit.io/": "true"}, False),  # the key must be longer than the prefix
        ({"other.io/exclude": "true"}, False),
        (
            {"fluentbit.io/exclude": "true", "fluentbit.io/exclude-x": "false"},
            False,
        ),  # last in key order wins
    ],
)
def test_fluent_bit_reads_exclude_annotations_as_kube_property_c_does(
    annotations: dict[str, str], dropped: bool
) -> None:
    assert excluded(annotations) is dropped


def test_fluent_bit_es_keeps_a_merged_timestamp_where_the_merge_put_it(tmp_path: Path) -> None:
    body = '{"level":"info","@timestamp":"2020-01-01T00:00:00Z","msg":"x"}'
    ((_, doc),) = _run("fluent-bit", {"Merge_Log": "On"}, [f"{T} stdout F {body}"], tmp_path)
    # no time key of the output's own in front: the merged one stays among the body keys
    assert list(doc)[:7] == ["time", "stream", "_p", "log", "level", "@timestamp", "msg"]
    assert doc["@timestamp"] == "2020-01-01T00:00:00Z"
    ((_, plain),) = _run("fluent-bit", {"Merge_Log": "On"}, [f'{T} stdout F {{"msg":"x"}}'], tmp_path)
    assert next(iter(plain)) == "@timestamp" and plain["@timestamp"] == "2025-03-14T09:30:00.000Z"


def test_filebeat_include_lines_then_exclude_lines(tmp_path: Path) -> None:
    lines = [
        f"{T} stdout F ERR disk full",
        f"{T} stdout F WARN slow",
        f"{T} stdout F ERR DBG retry",
        f"{T} stdout F ok",
    ]
    kept = _run("filebeat", {"include_lines": ["^ERR", "^WARN"], "exclude_lines": ["DBG"]}, lines, tmp_path)
    assert [d["message"] for _, d in kept] == ["ERR disk full", "WARN slow"]
    assert (
        len(_run("filebeat", {"exclude_lines": "^(ERR|WARN)"}, lines, tmp_path)) == 1
    )  # one string: one regexp
    with pytest.raises(OptionError, match="exclude_lines"):
        build("filebeat", {"exclude_lines": ["(unclosed"]})
    with pytest.raises(OptionError, match="list of strings"):
        build("filebeat", {"include_lines": {"a": 1}})


def test_fluent_bit_logstash_prefix_key_routes_by_record_and_metadata(tmp_path: Path) -> None:
    base = {"Logstash_Format": "On", "Merge_Log": "On"}
    line = [f'{T} stdout F {{"team":"data","Team":"Payments"}}']
    for key in ("$kubernetes['namespace_name']", "kubernetes['namespace_name']"):  # '$' is optional
        ((action, _),) = _run("fluent-bit", {**base, "Logstash_Prefix_Key": key}, line, tmp_path)
        assert action["create"]["_index"] == "etl-2025.03.14"
    ((action, _),) = _run("fluent-bit", {**base, "Logstash_Prefix_Key": "$team"}, line, tmp_path)
    assert action["create"]["_index"] == "data-2025.03.14"  # a merged body key
    opts = {**base, "Logstash_Prefix_Key": "$missing", "Logstash_Prefix_Separator": "_"}
    ((action, _),) = _run("fluent-bit", opts, line, tmp_path)
    assert action["create"]["_index"] == "logstash_2025.03.14"  # missing: Logstash_Prefix
    docs, dead = _run_with_dead("fluent-bit", {**base, "Logstash_Prefix_Key": "$Team"}, line, tmp_path)
    assert docs == [] and [d["reason"] for d in dead] == ["bad_index"]
    assert "upper-case" in dead[0]["detail"]
    with pytest.raises(OptionError, match="Logstash_Prefix_Key"):
        build("fluent-bit", {"Logstash_Prefix_Key": "$a[0]"})
    with pytest.raises(OptionError, match="Index"):
        build("fluent-bit", {"Index": "Fluent-Bit"})


def test_filebeat_index_format_strings_route_by_pod_fields(tmp_path: Path) -> None:
    line = [f"{T} stdout F hello"]
    opts = {"index": "Logs-%{[kubernetes.namespace]}-%{[agent.version]}-%{+yyyy.MM.dd}"}
    ((action, _),) = _run("filebeat", opts, line, tmp_path)
    assert action["create"]["_index"] == "logs-etl-8.19.0-2025.03.14"  # lower-cased, as Filebeat does
    opts = {"index": "logs-%{[kubernetes.labels.nope]:other}"}
    ((action, _),) = _run("filebeat", opts, line, tmp_path)
    assert action["create"]["_index"] == "logs-other"
    docs, dead = _run_with_dead("filebeat", {"index": "logs-%{[kubernetes.labels.nope]}"}, line, tmp_path)
    assert docs == [] and [d["reason"] for d in dead] == ["bad_index"] and "nope" in dead[0]["detail"]
    docs, dead = _run_with_dead("filebeat", {"index": "logs %{[kubernetes.namespace]}"}, line, tmp_path)
    assert docs == [] and "contains ' '" in dead[0]["detail"]
    for bad in ("logs-%{[message]}", "logs-%{+qqq}", "logs-%{[kubernetes.namespace]"):
        with pytest.raises(OptionError, match="index"):
            build("filebeat", {"index": bad})


def test_filebeat_index_dates_are_in_the_zone_the_runtime_wrote(tmp_path: Path) -> None:
    # found by the differential test: Go keeps a parsed time's offset, so the index day
    # is the writer's local day while @timestamp is UTC
    lines = ["2025-03-15T04:51:52.026+05:30 stdout F east", "2025-03-14T20:00:00.5-08:00 stdout F west"]
    docs = _run("filebeat", {"index": "logs-%{+yyyy.MM.dd}"}, lines, tmp_path)
    assert [(a["create"]["_index"], d["@timestamp"]) for a, d in docs] == [
        ("logs-2025.03.15", "2025-03-14T23:21:52.026Z"),
        ("logs-2025.03.14", "2025-03-15T04:00:00.500Z"),
    ]


def test_vector_index_templates_route_by_pod_fields(tmp_path: Path) -> None:
    line = [f"{T} stdout F hello"]
    opts = {"index": "logs-{{ kubernetes.pod_namespace }}-{{kubernetes.container_name}}-%Y.%m"}
    ((action, _),) = _run("vector", opts, line, tmp_path)
    assert action["index"]["_index"] == "logs-etl-ingest-2025.03"
    docs, dead = _run_with_dead("vector", {"index": "logs-{{ kubernetes.nope }}"}, line, tmp_path)
    assert docs == [] and [d["reason"] for d in dead] == ["bad_index"]
    with pytest.raises(OptionError, match="index"):
        build("vector", {"index": "logs-{{ message }}"})
    with pytest.raises(OptionError, match="index"):
        build("vector", {"index": "Logs-%Y"})  # a fixed name Elasticsearch refuses


def test_settings_refuse_profile_options_the_profile_refuses() -> None:
    from logbridge.settings import ProfileSettings

    with pytest.raises(ValueError, match="exclude_lines"):
        ProfileSettings(name="filebeat", options={"exclude_lines": ["(unclosed"]})
    with pytest.raises(ValueError, match="Index"):
        ProfileSettings(name="fluent-bit", options={"Index": "Has Space"})


def test_fluent_bit_record_modifier_and_modify_add_static_fields(tmp_path: Path) -> None:
    opts = {
        "record_modifier.Record": ["cluster prod-eu", "hostname vn-1"],
        "modify.Add": ["cluster other", "team data platform"],
    }
    ((_, doc),) = _run("fluent-bit", opts, [f"{T} stdout F hello"], tmp_path)
    assert list(doc)[-4:] == ["kubernetes", "cluster", "hostname", "team"]  # appended after the filter
    assert doc["cluster"] == "prod-eu" and doc["team"] == "data platform"  # Add: only a missing key
    with pytest.raises(OptionError, match=r"record_modifier\.Record"):
        build("fluent-bit", {"record_modifier.Record": ["lonely"]})


def test_filebeat_fields_under_root_and_add_fields(tmp_path: Path) -> None:
    line = [f"{T} stdout F hello"]
    ((_, doc),) = _run("filebeat", {"fields": {"env": "prod", "tier": {"a": 1}}}, line, tmp_path)
    assert doc["fields"] == {"env": "prod", "tier": {"a": 1}}
    ((_, doc),) = _run("filebeat", {"fields": {"env": "prod"}, "fields_under_root": True}, line, tmp_path)
    assert doc["env"] == "prod" and "fields" not in doc
    procs = [{"target": "project", "fields": {"name": "shop"}}, {"target": "", "fields": {"owner": "x"}}]
    ((_, doc),) = _run("filebeat", {"add_fields": procs}, line, tmp_path)
    assert doc["project"] == {"name": "shop"} and doc["owner"] == "x"
    ((_, doc),) = _run("filebeat", {"add_fields": [{"fields": {"k": "v"}}]}, line, tmp_path)
    assert doc["fields"] == {"k": "v"}  # add_fields' default target
    ((_, doc),) = _run("filebeat", {"add_fields": {"kubernetes": {"namespace": "renamed"}}}, line, tmp_path)
    assert doc["kubernetes"]["namespace"] == "renamed" and doc["kubernetes"]["pod"]["name"]  # deep update
    with pytest.raises(OptionError, match="message"):
        build("filebeat", {"fields": {"message": "x"}, "fields_under_root": True})
    with pytest.raises(OptionError, match="add_fields"):
        build("filebeat", {"add_fields": [{"target": "x"}]})


def test_the_options_marked_checked_are_those_the_real_filebeat_test_sets() -> None:
    from tests.integration.test_filebeat_differential import EVERY_SET, SETS

    used = set(EVERY_SET).union(*(s.logbridge for s in SETS))
    assert checked_options("filebeat") == used
    assert used <= {spec.name for spec in option_table("filebeat")}
    assert checked_options("fluent-bit") == frozenset()


def test_filebeat_drop_event_on_pod_fields_filters_the_pods_lines(tmp_path: Path) -> None:
    lines = [f"{T} stdout F hello", f"{T} stderr F world"]
    when = {
        "and": [
            {"equals": {"kubernetes.namespace": "etl"}},
            {"regexp": {"kubernetes.container.name": "^ing"}},
        ]
    }
    assert _run("filebeat", {"drop_event": {"when": when}}, lines, tmp_path) == []
    other = {"or": [{"equals": {"kubernetes.namespace": "payments"}}, {"has_fields": ["kubernetes.nope"]}]}
    assert len(_run("filebeat", {"drop_event": {"when": other}}, lines, tmp_path)) == 2
    negated = {"not": {"contains": {"container.image.name": "busybox"}}}
    assert _run("filebeat", {"drop_event": {"when": negated}}, lines, tmp_path) == []


def test_filebeat_drop_event_on_the_line_is_decided_per_record(tmp_path: Path) -> None:
    lines = [
        f"{T} stdout F GET /healthz 200",
        f"{T} stderr F noise",
        f"{T} stderr F ERROR boom",
        f"{T} stdout F ",
        f"{T} stdout F kept",
    ]
    drops = [  # two processors: an event goes when either holds
        {"when": {"regexp": {"message": "^GET /healthz"}}},
        {"when": {"and": [{"equals": {"stream": "stderr"}}, {"not": {"contains": {"message": "ERROR"}}}]}},
    ]
    docs = _run("filebeat", {"drop_event": drops}, lines, tmp_path)
    assert [d.get("message") for _, d in docs] == ["ERROR boom", None, "kept"]
    # an empty line has no message key: has_fields: [message] does not hold for it
    docs = _run("filebeat", {"drop_event": {"when": {"not": {"has_fields": ["message"]}}}}, lines, tmp_path)
    assert len(docs) == 4 and all("message" in d for _, d in docs)
    # pod and line conditions in one or: each is decided where it can be
    mixed = {"or": [{"equals": {"kubernetes.namespace": "payments"}}, {"contains": {"message": "o"}}]}
    docs = _run("filebeat", {"drop_event": {"when": mixed}}, lines, tmp_path)
    assert [d.get("message") for _, d in docs] == ["GET /healthz 200", None, "kept"]


@pytest.mark.parametrize(
    ("when", "why"),
    [
        ({"and": [{"equals": {"kubernetes.namespace": "etl"}}, {"contains": {"message": "x"}}]}, "both"),
        ({"network": {"source.ip": "private"}}, "not supported"),
        ({"regexp": {"message": "("}}, "not a valid regexp"),
        ({"range": {"message": {"gt": 1}}}, "never holds"),
        ({"equals": {"@timestamp": "x"}}, "@timestamp"),
        ({"equals": {"message": 3}}, "not a string"),
        ({"or": []}, "list of conditions"),
    ],
)
def test_filebeat_drop_event_refuses_what_it_cannot_decide(when: Any, why: str) -> None:
    with pytest.raises(OptionError, match=why):
        build("filebeat", {"drop_event": {"when": when}})
    with pytest.raises(OptionError, match="when"):
        build("filebeat", {"drop_event": [{"if": when}]})
    with pytest.raises(OptionError):
        build("filebeat", {"drop_event": "x"})
