"""Read and write the Prometheus text exposition format (and OpenMetrics).

Why: a 2,000-series scrape must be translated in a few milliseconds, so this is a
small, strict line parser rather than a full client library round trip: label
values stay in their escaped wire form (we only re-emit them), malformed lines are
counted and skipped, never fatal. Rendering groups samples by family with one
``# TYPE`` line, as Prometheus expects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

__all__ = ["OPENMETRICS", "TEXT", "Parsed", "Sample", "escape", "parse", "render"]

TEXT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|(?=\}))')
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


class Sample(NamedTuple):
    name: str
    labels: dict[str, str]  # values escaped as on the wire
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
        labels: dict[str, str] = {}
        if pos < len(line) and line[pos] == "{":
            got = _labels(line, pos + 1)
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
