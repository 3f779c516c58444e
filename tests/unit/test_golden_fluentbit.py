"""The fluent-bit profile reproduces a real Fluent Bit's documents exactly (keys,
values, key order), from the container log files and from EKS provider records."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import pytest

from logbridge.converting import convert_lines, iter_inputs
from logbridge.profiles import build
from logbridge.transforming import Output
from tests.support.goldens import FLUENT_BIT, fluent_bit_filter_options
from vnbridge.podfiles import load_inventory

RUNS = sorted(p for p in (FLUENT_BIT / "runs").glob("*") if p.is_dir()) if FLUENT_BIT.exists() else []
ES_CASES = sorted(p for p in (FLUENT_BIT / "es").glob("*") if p.is_dir()) if FLUENT_BIT.exists() else []


def canon(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False)  # key order preserved


def run_setup(run: Path) -> tuple[dict[str, str], list[Path], Path | None, dict[str, str]]:
    inp, _, _ = run.name.partition("__")
    conf = run / "fluent-bit.iso8601.conf"
    opts = fluent_bit_filter_options(conf)
    runtime = "docker" if inp.startswith("docker") else "cri"
    if "-parser" in inp:
        opts["Parser"] = runtime
    else:
        opts["multiline.parser"] = runtime
    multiline = {"*": "java"} if "filter-ml-java" in inp else {}
    if inp.startswith("nometa"):
        return opts, sorted((FLUENT_BIT / "input" / "extra").glob("*.log")), None, multiline
    pods = FLUENT_BIT / ("pods-docker" if runtime == "docker" else "pods")
    return opts, sorted((FLUENT_BIT / "input" / runtime).glob("*.log")), pods, multiline


def convert(
    files: Iterable[Path], opts: dict[str, str], pods: Path | None, multiline: dict[str, str], **kw: Any
) -> list[Any]:
    import io

    prof = build("fluent-bit", opts)
    lookup = load_inventory(pods) if pods else None
    return list(
        convert_lines(
            iter_inputs(files, io.BytesIO()),
            profile=prof,
            lookup=lookup,
            multiline_namespaces=multiline,
            **kw,
        )
    )


@pytest.mark.parametrize("run", RUNS, ids=[r.name for r in RUNS])
def test_record_matches_fluent_bit(run: Path) -> None:
    opts, files, pods, multiline = run_setup(run)
    out = convert(files, {**opts, "Output": "plain"}, pods, multiline)
    assert all(isinstance(o, Output) for o in out), [o for o in out if not isinstance(o, Output)]
    got = sorted(canon(o.doc) for o in out if isinstance(o, Output))
    expected = sorted(canon(json.loads(line)) for line in (run / "file_plain.jsonl").read_text().splitlines())
    assert got == expected


@pytest.mark.parametrize("case", ES_CASES, ids=[c.name for c in ES_CASES])
def test_es_output_matches_fluent_bit(case: Path) -> None:
    opts = {"multiline.parser": "cri", "Output": "es", "Logstash_Format": "On"}
    for line in (case / "options.txt").read_text().splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            opts[k.strip()] = v.strip()
    files = sorted((FLUENT_BIT / "input" / "cri").glob("*.log"))
    out = [o for o in convert(files, opts, FLUENT_BIT / "pods", {}) if isinstance(o, Output)]
    expected = [json.loads(line) for line in (case / "expected.jsonl").read_text().splitlines()]
    assert sorted(canon(o.doc) for o in out) == sorted(canon(d) for d in expected)
    bulk = (case / "bulk.ndjson").read_text().splitlines()
    actions = [json.loads(a)["create"] for a in bulk[0::2]]
    assert {a["_index"] for a in actions} == {o.index for o in out}
    assert all(("_id" in a) == (o.doc_id is not None) for a, o in zip(actions, out, strict=False))
    # Generate_ID hashes the msgpack record, so equal ids also prove identical key order
    assert sorted(a["_id"] for a in actions if "_id" in a) == sorted(o.doc_id for o in out if o.doc_id)


def eks_record(line: str, file: Path, pods: Path) -> bytes:
    """The same container line as Tencent EKS ships it (Fluent Bit-like shape)."""
    from logbridge.naming import parse_container_log_name

    ident = parse_container_log_name(str(file))
    assert ident is not None
    t, stream, tag, msg = ([*line.split(" ", 3), ""])[:4]
    pod = json.loads((pods / f"{ident.namespace}_{ident.pod}.json").read_text())
    meta = pod["metadata"]
    status = {c["name"]: c for c in pod["status"].get("containerStatuses", [])}.get(ident.container, {})
    k8s = {
        "pod_name": ident.pod,
        "namespace_name": ident.namespace,
        "pod_id": meta["uid"],
        "labels": meta.get("labels", {}),
        "annotations": meta.get("annotations", {}),
        "host": pod["spec"]["nodeName"],
        "container_name": ident.container,
        "docker_id": ident.container_id,
        "container_image": status.get("image", ""),
    }
    from tests.support.timefmt import parse_rfc3339

    rec = {
        "@timestamp": parse_rfc3339(t) / 1e9,
        "log": msg,
        "stream": stream,
        "time": t,
        "_p": tag,
        "kubernetes": k8s,
    }
    return orjson.dumps(rec)


@pytest.mark.parametrize("run", [r for r in RUNS if r.name.startswith("cri-mlcri__")], ids=lambda r: r.name)
def test_eks_records_give_the_same_documents(run: Path) -> None:
    """Provider records in the EKS shape, enriched from the same pods, equal the file path."""
    from logbridge.decoding import Context

    opts, files, pods, multiline = run_setup(run)
    assert pods is not None
    records = [
        (eks_record(line, f, pods), (str(f), n), Context())
        for f in files
        for n, line in enumerate(f.read_text().splitlines())
    ]
    out = list(
        convert_lines(
            records,
            profile=build("fluent-bit", {**opts, "Output": "plain"}),
            lookup=load_inventory(pods),
            multiline_namespaces=multiline,
        )
    )
    got = sorted(canon(o.doc) for o in out if isinstance(o, Output))
    expected = sorted(canon(json.loads(line)) for line in (run / "file_plain.jsonl").read_text().splitlines())
    assert got == expected
