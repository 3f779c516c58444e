"""Kubernetes label selectors (``app=web,tier!=cache,env in (a,b),!legacy``).

Why: collectors filter pods by label selector (Vector's ``extra_label_selector``);
a pod the selector rejects is filtered, its lines never delivered. The grammar is the
API server's (k8s.io/apimachinery labels.Parse): comma-separated requirements, each
``key``, ``!key``, ``key=v``, ``key==v``, ``key!=v``, ``key in (v1,v2)`` or
``key notin (v1,v2)``. ``!=`` and ``notin`` also match pods without the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Requirement", "SelectorError", "matches", "parse_selector"]


class SelectorError(ValueError):
    """A label selector that does not parse (not retriable: fix the configuration)."""


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # "exists" | "!exists" | "in" | "notin"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!exists":
            return self.key not in labels
        if self.op == "in":
            return labels.get(self.key) in self.values
        return labels.get(self.key) not in self.values


_KEY = r"(?:[A-Za-z0-9.-]+/)?[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?)?"
_SET = re.compile(rf"^({_KEY})\s+(in|notin)\s*\(([^()]*)\)$")
_EQ = re.compile(rf"^({_KEY})\s*(==|=|!=)\s*({_VALUE})$")
_HAS = re.compile(rf"^(!?)\s*({_KEY})$")


def _split(text: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def parse_selector(text: str) -> tuple[Requirement, ...]:
    """The requirements of ``text`` (empty: matches every pod); raises SelectorError."""
    if not text.strip():
        return ()
    out: list[Requirement] = []
    for part in _split(text):
        if m := _SET.match(part):
            values = frozenset(v.strip() for v in m.group(3).split(",") if v.strip())
            if not values or not all(re.fullmatch(_VALUE, v) for v in values):
                raise SelectorError(f"label selector {text!r}: bad value list in {part!r}")
            out.append(Requirement(m.group(1), m.group(2), values))
        elif m := _EQ.match(part):
            op = "notin" if m.group(2) == "!=" else "in"
            out.append(Requirement(m.group(1), op, frozenset({m.group(3)})))
        elif m := _HAS.match(part):
            out.append(Requirement(m.group(2), "!exists" if m.group(1) else "exists"))
        else:
            raise SelectorError(
                f"label selector {text!r}: cannot read {part!r} "
                "(expected key, !key, key=value, key!=value, key in (a,b) or key notin (a,b))"
            )
    return tuple(out)


def matches(requirements: tuple[Requirement, ...], labels: Mapping[str, str]) -> bool:
    return all(r.matches(labels) for r in requirements)
