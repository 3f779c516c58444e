"""Why: the metrics tests compare a virtual pod's series with a real kubelet's
(`tests/reference/kubelet/`, cited there), not with our own stand-in; this reads that
sample and any exposition text the same way, timestamps included."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

KUBELET_SAMPLE = Path(__file__).resolve().parents[1] / "reference" / "kubelet" / "cadvisor-sample.prom"
_LINE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+(?:\.\d+)?))?$")
_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_POD_UID = re.compile(
    r"pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?(?=/|$)"
)


class Stamped(NamedTuple):
    name: str
    labels: dict[str, str]
    value: str
    ts: str | None


def stamped(text: str) -> list[Stamped]:
    """Every sample of exposition text, with its timestamp (None when it has none)."""
    out = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            m = _LINE.match(line)
            assert m, line
            out.append(Stamped(m.group(1), dict(_PAIR.findall(m.group(2) or "")), m.group(3), m.group(4)))
    return out


def cgroup_uid(id_: str) -> str | None:
    """The pod UID in a kubelet cgroup path, either driver's spelling (`-` or `_`)."""
    m = _POD_UID.search(id_)
    return m.group(1).replace("_", "-") if m else None


def real_kubelet() -> tuple[dict[str, str], dict[str, str], list[Stamped]]:
    """The real sample's container-series labels, pod-cgroup-series labels, and samples."""
    real = stamped(KUBELET_SAMPLE.read_text())
    container = next(s.labels for s in real if s.labels["container"])
    pod = next(s.labels for s in real if not s.labels["container"])
    return container, pod, real
