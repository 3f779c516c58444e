"""The typed seam between Python and the compiled core (issue 34): the stub's TypedDicts
name exactly the keys the core reads, and the core refuses any other key, and any
missing one, instead of defaulting it."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import vnbridge_core

STUB = Path(__file__).resolve().parents[2] / "core" / "vnbridge_core.pyi"


def _stub_keys() -> dict[str, set[str]]:
    """Keys of each profile's TypedDict in the stub (class or functional form)."""
    out: dict[str, set[str]] = {}
    for node in ast.parse(STUB.read_text()).body:
        if isinstance(node, ast.ClassDef) and node.name.endswith("Config"):
            out[node.name] = {s.target.id for s in node.body if isinstance(s, ast.AnnAssign)}  # type: ignore[union-attr]
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and len(node.value.args) == 2:
            fields = node.value.args[1]
            if isinstance(fields, ast.Dict):
                out[node.targets[0].id] = {k.value for k in fields.keys if isinstance(k, ast.Constant)}  # type: ignore[attr-defined]
    return out


@pytest.mark.parametrize(
    ("profile", "typed"),
    [("fluent-bit", "FluentBitConfig"), ("filebeat", "FilebeatConfig"), ("vector", "VectorConfig")],
)
def test_the_stub_names_exactly_the_keys_the_core_reads(profile: str, typed: str) -> None:
    assert set(vnbridge_core.profile_keys(profile)) == _stub_keys()[typed]


ASSEMBLY: dict[str, Any] = {
    "shape": "cri",
    "record": None,
    "max_line_bytes": 1 << 20,
    "partial_idle_s": 4.0,
    "multiline_namespaces": {},
    "multiline_max_lines": 500,
    "multiline_max_bytes": 1 << 20,
}
VECTOR: dict[str, Any] = {
    "profile": "vector",
    "index": "v",
    "index_from_fragment": False,
    "auto_partial_merge": True,
}


def _render(*_: object) -> tuple[int, str, None, tuple[bytes, ...]]:
    return (3, "", None, (b"",) * 6)


def test_the_assembly_keys_match_the_stub() -> None:
    assert set(ASSEMBLY) == _stub_keys()["AssemblyConfig"]
    vnbridge_core.Transformer(VECTOR, ASSEMBLY, _render)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("profile", "assembly", "says"),
    [
        ({**VECTOR, "bogus": 1}, ASSEMBLY, "unknown key(s) bogus"),
        (
            {**VECTOR, "include_lines": []},
            ASSEMBLY,
            "unknown key(s) include_lines",
        ),  # filebeat's, not vector's
        (VECTOR, {**ASSEMBLY, "max_lines_bytes": 1}, "unknown key(s) max_lines_bytes"),
        (VECTOR, {k: v for k, v in ASSEMBLY.items() if k != "partial_idle_s"}, "missing key partial_idle_s"),
    ],
)
def test_an_unknown_or_missing_key_is_refused_not_defaulted(
    profile: dict[str, Any], assembly: dict[str, Any], says: str
) -> None:
    with pytest.raises(ValueError, match=says.replace("(", r"\(").replace(")", r"\)")):
        vnbridge_core.Transformer(profile, assembly, _render)  # type: ignore[arg-type]
