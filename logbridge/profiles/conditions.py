"""Filebeat's ``drop_event`` conditions (libbeat/conditions), split by what they read.

Why: platforms drop events by namespace, container or label (``equals:
kubernetes.namespace: kube-system``) and by content (``regexp: message: healthz``).
A condition on the pod's fields is decided once per pod change, when its fragment is
rendered (the pod's lines are then filtered); a condition on the line (``message``,
``stream``) is handed to the compiled core, which decides per record. A single
condition that needs both at once (an ``and`` / ``not`` over pod and line fields)
is refused with the reason: it has no per-pod answer and no per-record one.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

import vnbridge_core

from logbridge.profiles.options import OptionError

__all__ = ["LINE_FIELDS", "DropEvent", "drop_event", "one_processor"]

LINE_FIELDS = frozenset({"message", "stream"})
_LEAVES = ("equals", "contains", "regexp", "range", "has_fields")
_RANGE: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}

Cond = dict[str, Any]  # normalised: {"or"|"and": [...]}, {"not": c}, {op: [field, arg]}, {"has": field}


class DropEvent:
    """The drop_event processors as two conditions: one over the pod's fields, one over
    the line's; an event is dropped when either holds."""

    def __init__(self, pod: list[Cond], line: list[Cond]) -> None:
        self.pod = pod
        self.line = line

    def drops_pod(self, doc: Mapping[str, Any]) -> bool:
        return any(_eval(c, doc) for c in self.pod)

    def core_json(self) -> Cond | None:
        """The line condition for the core (``None``: none)."""
        return {"or": self.line} if self.line else None


def one_processor(value: object) -> object:
    """A list of ``drop_event`` processors as the one processor they amount to (the event
    goes when any condition holds); anything else as it is."""
    if not isinstance(value, list):
        return value
    return {"when": {"or": [_when(proc) for proc in value]}}


def _when(proc: object) -> object:
    if not isinstance(proc, Mapping) or set(proc) != {"when"}:
        raise OptionError(f"option drop_event: {proc!r} is not {{when: <condition>}}")
    return proc["when"]


def drop_event(value: object) -> DropEvent:
    """``drop_event`` as Filebeat's config writes it, ``{when: …}`` (a list of them:
    ``one_processor`` first), split into the pod's conditions and the line's."""
    pod: list[Cond] = []
    line: list[Cond] = []
    for c in _top_or(_normal(_when(value))):
        reads = _reads(c)
        if reads <= LINE_FIELDS:
            line.append(c)
        elif not reads & LINE_FIELDS:
            pod.append(c)
        else:
            raise OptionError(
                "option drop_event: a condition reads both the line (message, stream) and the pod "
                f"({', '.join(sorted(reads - LINE_FIELDS))}) under and/not; split it into separate "
                "drop_event processors or filter the pod with its own condition"
            )
    return DropEvent(pod, line)


def _top_or(c: Cond) -> list[Cond]:
    return [x for sub in c["or"] for x in _top_or(sub)] if "or" in c else [c]


def _normal(c: object) -> Cond:
    if not isinstance(c, Mapping) or len(c) != 1:
        raise OptionError(
            f"option drop_event: a condition is one of {', '.join(_LEAVES)}, or, and, not; got {c!r}"
        )
    ((op, arg),) = c.items()
    if op in ("or", "and"):
        if not isinstance(arg, list) or not arg:
            raise OptionError(f"option drop_event: {op} takes a list of conditions, got {arg!r}")
        return {op: [_normal(x) for x in arg]}
    if op == "not":
        return {"not": _normal(arg)}
    if op == "has_fields":
        if not isinstance(arg, list) or not all(isinstance(f, str) for f in arg):
            raise OptionError(f"option drop_event: has_fields takes a list of field names, got {arg!r}")
        return {"and": [{"has": f} for f in arg]}
    if op not in _LEAVES:
        raise OptionError(
            f"option drop_event: condition {op!r} is not supported ({', '.join(_LEAVES)}, or, and, not)"
        )
    if not isinstance(arg, Mapping) or not arg:
        raise OptionError(f"option drop_event: {op} takes a mapping of field: value, got {arg!r}")
    leaves = [_leaf(op, str(field), value) for field, value in arg.items()]
    return leaves[0] if len(leaves) == 1 else {"and": leaves}


def _leaf(op: str, field: str, value: object) -> Cond:
    if field == "@timestamp":
        raise OptionError("option drop_event: conditions on @timestamp are not supported")
    if op == "regexp":
        if not isinstance(value, str):
            raise OptionError(f"option drop_event: regexp {field}: {value!r} is not a string")
        # a line's condition runs in the core (its regex engine), a pod's here (Python's)
        why = vnbridge_core.regex_error(value) if field in LINE_FIELDS else _re_error(value)
        if why is not None:
            raise OptionError(
                f"option drop_event: regexp {field}: {value!r} is not a valid regexp ({why.splitlines()[-1]})"
            )
    elif op == "contains" and not isinstance(value, str):
        raise OptionError(f"option drop_event: contains {field}: {value!r} is not a string")
    elif op == "equals" and not isinstance(value, str | int | bool):
        raise OptionError(f"option drop_event: equals {field}: {value!r} is not a string, integer or bool")
    elif op == "range":
        if not isinstance(value, Mapping) or not value or not set(value) <= set(_RANGE):
            raise OptionError(f"option drop_event: range {field}: expected some of {', '.join(_RANGE)}")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()):
            raise OptionError(f"option drop_event: range {field}: bounds must be numbers")
        if field in LINE_FIELDS:
            raise OptionError(f"option drop_event: range on {field}, a string, never holds")
    if op in ("equals", "contains") and field in LINE_FIELDS and not isinstance(value, str):
        raise OptionError(f"option drop_event: {op} {field}: {value!r} is not a string")
    return {op: [field, dict(value) if isinstance(value, Mapping) else value]}


def _re_error(pattern: str) -> str | None:
    try:
        re.compile(pattern)
    except re.error as exc:
        return str(exc)
    return None


def _reads(c: Cond) -> set[str]:
    ((op, arg),) = c.items()
    if op in ("or", "and"):
        return set().union(*(_reads(x) for x in arg))
    if op == "not":
        return _reads(arg)
    if op == "has":
        return {arg}
    return {arg[0]}


_MISSING = object()


def _get(doc: Mapping[str, Any], field: str) -> Any:
    """libbeat's mapstr GetValue: the dotted path through nested maps."""
    node: Any = doc
    for part in field.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _eval(c: Cond, doc: Mapping[str, Any]) -> bool:
    ((op, arg),) = c.items()
    if op == "or":
        return any(_eval(x, doc) for x in arg)
    if op == "and":
        return all(_eval(x, doc) for x in arg)
    if op == "not":
        return not _eval(arg, doc)
    if op == "has":
        return _get(doc, arg) is not _MISSING
    field, want = arg
    got = _get(doc, field)
    values = got if isinstance(got, list) else [got]
    if op == "equals":  # integers compare as numbers, strings and bools exactly
        return any(type(v) is type(want) and v == want for v in values if v is not _MISSING)
    if op == "contains":
        return any(isinstance(v, str) and want in v for v in values)
    if op == "regexp":
        return any(isinstance(v, str) and re.search(want, v) is not None for v in values)
    # range: every bound holds for a number
    if isinstance(got, bool) or not isinstance(got, int | float):
        return False
    return all(_RANGE[k](got, bound) for k, bound in want.items())
