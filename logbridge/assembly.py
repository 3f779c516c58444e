"""Reassemble lines: CRI ``P``…``F`` fragments, then optional stack-trace grouping.

Why: runtimes split lines over 16 KiB into ``P`` fragments and providers do not
merge them (DESIGN §3); Fluent Bit's ``multiline.parser cri`` does, keeping the
first fragment's ``time`` and ``_p``. Stack traces become one document only where
the platform asked for it (Fluent Bit ``multiline`` filter). Both stages are pure
state machines keyed by (namespace, pod, container, stream); each emitted line
carries the tokens (e.g. Kafka offsets) of every input it consumed, so the runtime
never commits past a held-back fragment.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from logbridge.records import LogLine

__all__ = ["MULTILINE_LANGUAGES", "Assembled", "MultilineGrouper", "Reassembler"]

T = TypeVar("T", bound=Hashable)
Key = tuple[str, str, str, str]


@dataclass(slots=True)
class Assembled(Generic[T]):
    line: LogLine
    tokens: list[T]
    truncated: bool = False


@dataclass(slots=True)
class _Pending(Generic[T]):
    first: LogLine
    parts: list[str]
    size: int
    tokens: list[T]
    last_seen: float
    truncated: bool = False


def _key(line: LogLine) -> Key:
    return (line.namespace, line.pod, line.container, line.stream)


class Reassembler(Generic[T]):
    """Join CRI partial fragments. ``max_bytes`` caps a joined line (UTF-8 bytes):
    beyond it the line is truncated and the rest of its fragments are discarded,
    as Fluent Bit's multiline buffer limit does; ``flush_idle`` emits a stranded
    partial after ``idle_s`` seconds without a fragment."""

    def __init__(self, *, max_bytes: int = 2 * 1024 * 1024, idle_s: float = 4.0) -> None:
        self._max = max_bytes
        self._idle = idle_s
        self._pending: dict[Key, _Pending[T]] = {}

    def push(self, line: LogLine, token: T, now: float = 0.0) -> Assembled[T] | None:
        key = _key(line)
        pend = self._pending.get(key)
        if pend is None:
            if not line.partial:
                return Assembled(line, [token])
            pend = _Pending(line, [], 0, [], now)
            self._pending[key] = pend
        pend.tokens.append(token)
        pend.last_seen = now
        if not pend.truncated:
            size = len(line.text.encode("utf-8"))
            if pend.size + size > self._max:
                room = self._max - pend.size
                pend.parts.append(line.text.encode("utf-8")[:room].decode("utf-8", "ignore"))
                pend.size = self._max
                pend.truncated = True
            else:
                pend.parts.append(line.text)
                pend.size += size
        if line.partial:
            return None
        del self._pending[key]
        return self._finish(pend)

    def _finish(self, pend: _Pending[T]) -> Assembled[T]:
        joined = dataclasses.replace(
            pend.first, text="".join(pend.parts), partial=False, first_partial=pend.first.partial
        )
        return Assembled(joined, pend.tokens, pend.truncated)

    def flush_idle(self, now: float) -> list[Assembled[T]]:
        stale = [k for k, p in self._pending.items() if now - p.last_seen >= self._idle]
        return [self._finish(self._pending.pop(k)) for k in stale]

    def flush_all(self) -> list[Assembled[T]]:
        out = [self._finish(p) for p in self._pending.values()]
        self._pending.clear()
        return out


# Start / continuation rules after Fluent Bit's built-in multiline parsers
# (src/multiline/flb_ml_parser_{java,python,go}.c): a start line opens a group,
# continuation lines join it with "\n", anything else closes it.
_RULES: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "java": (
        re.compile(r"(?:Exception|Error|Throwable|V8 errors stack trace)[:\r\n]|(?:Exception|Error)$"),
        re.compile(
            r"^[\t ]+(?:eval )?at |^[\t ]*(?:Caused by|Suppressed):"
            r"|^[\t ]*\.\.\. \d+ (?:more|common frames omitted)"
            r"|^[\t ]*nested exception is:|^[\t ]+--- End of inner exception stack trace ---$"
        ),
    ),
    "python": (
        re.compile(r"^Traceback \(most recent call last\):$"),
        re.compile(r"^[\t ]+|^[\w.]*(?:Error|Exception|Warning|Exit|Interrupt)\b.*$|^$"),
    ),
    "go": (
        re.compile(r"^(?:panic: |fatal error: |goroutine \d+ \[)"),
        re.compile(r"^[\t ]|^$|^goroutine \d+ \[|^\[signal |^created by |^[\w./()*-]+\(.*\)$|^exit status"),
    ),
}
MULTILINE_LANGUAGES = tuple(_RULES)


@dataclass(slots=True)
class _Group(Generic[T]):
    first: LogLine
    lines: list[str] = field(default_factory=list)
    tokens: list[T] = field(default_factory=list)
    last_seen: float = 0.0
    lang: str = ""
    closing: bool = False  # python: the final "XError: ..." line was seen


class MultilineGrouper(Generic[T]):
    """Group stack traces for streams whose language is configured."""

    def __init__(self, *, idle_s: float = 4.0) -> None:
        self._idle = idle_s
        self._groups: dict[Key, _Group[T]] = {}

    def push(self, item: Assembled[T], lang: str | None, now: float = 0.0) -> list[Assembled[T]]:
        line = item.line
        key = _key(line)
        out: list[Assembled[T]] = []
        grp = self._groups.get(key)
        if grp is not None:
            start, cont = _RULES[grp.lang]
            if (
                not grp.closing
                and cont.search(line.text)
                and not (grp.lang == "python" and start.search(line.text))
            ):
                grp.lines.append(line.text)
                grp.tokens.extend(item.tokens)
                grp.last_seen = now
                if grp.lang == "python" and not line.text[:1].isspace() and line.text:
                    grp.closing = True
                return out
            out.append(self._finish(self._groups.pop(key)))
        if lang in _RULES and _RULES[lang][0].search(line.text):
            self._groups[key] = _Group(line, [line.text], list(item.tokens), now, lang)
            return out
        out.append(item)
        return out

    def _finish(self, grp: _Group[T]) -> Assembled[T]:
        return Assembled(dataclasses.replace(grp.first, text="\n".join(grp.lines)), grp.tokens)

    def flush_idle(self, now: float) -> list[Assembled[T]]:
        stale = [k for k, g in self._groups.items() if now - g.last_seen >= self._idle]
        return [self._finish(self._groups.pop(k)) for k in stale]

    def flush_all(self) -> list[Assembled[T]]:
        out = [self._finish(g) for g in self._groups.values()]
        self._groups.clear()
        return out
