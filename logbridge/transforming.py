"""decode -> reassemble -> group stack traces -> enrich -> encode, as one pure stage.

Why: the transform is shared by ``logbridge convert`` (files, no services) and the
streaming runtime; it owns no I/O. Each input carries a token (a file position or
a Kafka offset); each output carries the tokens it consumed, so the caller knows
exactly which inputs are done. Per-record failures become dead letters and
counters, never exceptions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from discovery.inventory import Lookup, PodInfo
from logbridge.assembly import Assembled, MultilineGrouper, Reassembler
from logbridge.decoding import NO_CONTEXT, Context, decode
from logbridge.enrichment import Resolved, Source, resolve
from logbridge.profiles import Profile
from logbridge.records import DeadLetter

__all__ = ["Output", "Transformer"]

T = TypeVar("T", bound=Hashable)
MULTILINE_ANNOTATION = "vnbridge.io/multiline"


@dataclass(frozen=True, slots=True)
class Output(Generic[T]):
    doc: dict[str, Any]
    index: str
    doc_id: str | None
    tokens: tuple[T, ...]
    source: Source
    pod_uid: str = ""


@dataclass(slots=True)
class Transformer(Generic[T]):
    profile: Profile
    lookup: Lookup | None = None
    shape: str = "auto"
    max_line_bytes: int = 2 * 1024 * 1024
    partial_idle_s: float = 4.0
    multiline_namespaces: Mapping[str, str] = field(default_factory=dict)
    counters: Counter[str] = field(default_factory=Counter)
    _reasm: Reassembler[T] = field(init=False)
    _multi: MultilineGrouper[T] = field(init=False)

    def __post_init__(self) -> None:
        self._reasm = Reassembler(max_bytes=self.max_line_bytes, idle_s=self.partial_idle_s)
        self._multi = MultilineGrouper(idle_s=self.partial_idle_s)

    @property
    def joins_partials(self) -> bool:
        return not self.profile.parser.endswith("-classic")

    def push(
        self, value: bytes, token: T, ctx: Context = NO_CONTEXT, now: float = 0.0
    ) -> tuple[list[Output[T]], list[tuple[DeadLetter, T]]]:
        self.counters["records_in"] += 1
        line = decode(value, ctx, shape=self.shape)
        if isinstance(line, DeadLetter):
            self.counters[f"dead_letter.{line.reason.value}"] += 1
            return [], [(line, token)]
        if not self.joins_partials:
            return self._group(Assembled(line, [token]), now), []
        done = self._reasm.push(line, token, now)
        if done is None:
            return [], []
        if done.truncated:
            self.counters["truncated_lines"] += 1
        return self._group(done, now), []

    def _lang(self, pod: PodInfo | None, namespace: str) -> str | None:
        if pod is not None and MULTILINE_ANNOTATION in pod.annotations:
            return pod.annotations[MULTILINE_ANNOTATION]
        ns = self.multiline_namespaces
        return ns.get(namespace) or ns.get("*")

    def _group(self, item: Assembled[T], now: float) -> list[Output[T]]:
        res = resolve(item.line, self.lookup)
        lang = self._lang(res.pod, item.line.namespace)
        # a line that passes through ungrouped keeps its resolution (one lookup per line)
        return [self._encode(a, res if a is item else None) for a in self._multi.push(item, lang, now)]

    def _encode(self, item: Assembled[T], res: Resolved | None = None) -> Output[T]:
        res = res or resolve(item.line, self.lookup)
        self.counters[f"inventory.{res.source.value}"] += 1
        enc = self.profile.encode(item.line, res)
        self.counters["documents_out"] += 1
        uid = res.pod.uid if res.pod is not None else ""
        return Output(enc.doc, enc.target, enc.doc_id, tuple(item.tokens), res.source, uid)

    def flush_idle(self, now: float) -> list[Output[T]]:
        out = [o for a in self._reasm.flush_idle(now) for o in self._group(a, now)]
        out += [self._encode(a) for a in self._multi.flush_idle(now)]
        return out

    def flush_all(self) -> list[Output[T]]:
        out = [o for a in self._reasm.flush_all() for o in self._group(a, 0.0)]
        out += [self._encode(a) for a in self._multi.flush_all()]
        return out


def dead_letter_json(dl: DeadLetter) -> dict[str, Any]:
    return {"reason": dl.reason.value, "detail": dl.detail, "record": dl.record.decode("utf-8", "replace")}
