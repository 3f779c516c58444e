"""Read and write the Prometheus text exposition format (and OpenMetrics).

Why: a 2,000-series scrape must be translated in a few milliseconds, so this is a
small, strict line parser rather than a full client library round trip: label
values stay in their escaped wire form (we only re-emit them), malformed lines are
counted and skipped, never fatal. Rendering groups samples by family with one
``# TYPE`` line, as Prometheus expects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

__all__ = ["OPENMETRICS", "TEXT", "Parsed", "Sample", "escape", "parse", "render"]

TEXT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|(?=\}))')
_PAIR = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"([^"]*)"')
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


class Sample(NamedTuple):
    name: str
    labels: Mapping[str, str]  # values escaped as on the wire
    value: str  # as written (no float round trip)


class Parsed(NamedTuple):
    samples: list[Sample]
    types: dict[str, str]  # family or sample name -> counter | gauge | ...
    errors: int


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(text: str, start: int) -> tuple[dict[str, str], int] | None:
    out: dict[str, str] = {}
    pos = start
    while True:
        if pos < len(text) and text[pos] == "}":
            return out, pos + 1
        m = _LABEL.match(text, pos)
        if m is None:
            stripped = text[pos:].lstrip()
            if stripped.startswith("}"):
                return out, len(text) - len(stripped) + 1
            return None
        out[m.group(1)] = m.group(2)
        pos = m.end()


class RawLabels(Mapping[str, str]):
    """A label block without backslashes, parsed only as far as it is read: the
    translator looks at a handful of labels per series, never all of them."""

    __slots__ = ("_block", "_full")

    def __init__(self, block: str) -> None:
        self._block = block
        self._full: dict[str, str] | None = None

    def get(self, key: str, default: Any = None) -> Any:
        if self._full is not None:
            return self._full.get(key, default)
        block = self._block
        needle = key + '="'
        i = block.find(needle)
        while i >= 0:
            if i == 0 or block[i - 1] in ", \t":
                j = block.find('"', i + len(needle))
                return block[i + len(needle) : j] if j >= 0 else default
            i = block.find(needle, i + 1)
        return default

    def _parse(self) -> dict[str, str]:
        if self._full is None:
            self._full = dict(_PAIR.findall(self._block))
        return self._full

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return str(value)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._parse())

    def __len__(self) -> int:
        return len(self._parse())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())

    def __hash__(self) -> int:
        return hash(self._block)

    def __repr__(self) -> str:
        return repr(self._parse())


def _fast_labels(line: str, start: int) -> tuple[Mapping[str, str], int] | None:
    """The common case: no backslash in the label block, so no quote inside a value.
    Checked with C-level counts: every quoted value opens with '="'."""
    end = line.rfind("}")
    if end < start:
        return None
    block = line[start:end]
    if "\\" in block or block.count('"') != 2 * block.count('="'):
        return None
    return RawLabels(block), end + 1


def parse(text: str) -> Parsed:
    samples: list[Sample] = []
    types: dict[str, str] = {}
    errors = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line[0] == "#":
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                types[parts[2]] = parts[3].strip()
            continue
        m = _NAME.match(line)
        if m is None:
            errors += 1
            continue
        name = m.group(0)
        pos = m.end()
        labels: Mapping[str, str] = {}
        if pos < len(line) and line[pos] == "{":
            got = _fast_labels(line, pos + 1) or _labels(line, pos + 1)
            if got is None:
                errors += 1
                continue
            labels, pos = got
        rest = line[pos:].split()
        if not rest or len(rest) > 2:
            errors += 1
            continue
        try:
            float(rest[0])
        except ValueError:
            errors += 1
            continue
        samples.append(Sample(name, labels, rest[0]))  # a timestamp, if any, is dropped
    return Parsed(samples, types, errors)


def _family(name: str, types: dict[str, str], openmetrics: bool) -> tuple[str, str]:
    kind = types.get(name, "untyped")
    if openmetrics:
        if kind == "counter":
            if name.endswith("_total"):
                return name[: -len("_total")], "counter"
            return name, "unknown"
        if kind == "untyped":
            return name, "unknown"
    return name, kind


def render(samples: Iterable[Sample], types: dict[str, str], *, openmetrics: bool = False) -> str:
    """Samples grouped by metric name (first-seen order), one TYPE line per family."""
    groups: dict[str, list[Sample]] = {}
    for s in samples:
        groups.setdefault(s.name, []).append(s)
    out: list[str] = []
    for name, group in groups.items():
        family, kind = _family(name, types, openmetrics)
        out.append(f"# TYPE {family} {kind}")
        for s in group:
            if s.labels:
                body = ",".join(f'{k}="{v}"' for k, v in s.labels.items())
                out.append(f"{name}{{{body}}} {s.value}")
            else:
                out.append(f"{name} {s.value}")
    if openmetrics:
        out.append("# EOF")
    return "\n".join(out) + "\n"
