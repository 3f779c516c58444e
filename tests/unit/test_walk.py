"""The walk through the house in docs/architecture.md §1 matches the code (issue 34): every
file it names exists, and every function, method or type it names next to a file is
defined in that file."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"


def _section() -> str:
    text = DOC.read_text()
    return text[text.index("## 1. The house") : text.index("## 2. Shape")]


def test_every_named_file_exists() -> None:
    files = set(re.findall(r"`([a-z_/]+\.(?:py|rs|toml))`", _section()))
    assert len(files) >= 15
    for f in files:
        assert (ROOT / f).is_file(), f


def test_every_named_function_is_defined_where_the_walk_says() -> None:
    """`name` (or `Type::method`, `Class.method()`) right before a `(file)` mention."""
    text = _section().replace("\n", " ")
    name, path = r"`([A-Za-z_:.]+)(?:\(\))?`", r"`([a-z_/]+\.(?:py|rs))`"
    pairs = re.findall(name + r"[^`()]*?\(" + path, text) + re.findall(name + r" in " + path, text)
    assert len(pairs) >= 14, pairs
    for symbol, f in pairs:
        code = (ROOT / f).read_text()
        for part in re.split(r"::|\.", symbol):
            assert re.search(rf"\b(?:def|class|fn|struct|enum)\s+{re.escape(part)}\b", code), (symbol, f)
