"""Where a partition the consumer group has never committed starts.

Why: Kafka's ``auto.offset.reset`` knows earliest and latest only, and a first start
with earliest over a topic that retains days re-reads all of it. ``source.start`` adds a
point in time (RFC 3339, or a duration ago such as ``-2h``), resolved once when ``run``
starts. A committed offset always wins, so a restart neither skips nor repeats; the
offset a fresh partition starts at is committed with the first cycle, so a replica
killed before any record arrived resumes there instead of resolving "latest" again and
skipping what came in between.

earliest and latest are the consumer's own ``auto_offset_reset`` (no seek: nothing can
race the fetcher); a time is a forward seek from there, made in the rebalance listener
with no await between reading the position and seeking, so no record handed over is
read again (aiokafka drops what it buffered for a partition on a seek). An out-of-range
committed offset resets the same way: nothing is skipped silently.
Parsing is pure; ``place_fresh`` asks the brokers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Literal, NamedTuple, Protocol

from aiokafka.errors import IllegalStateError
from aiokafka.structs import OffsetAndTimestamp, TopicPartition

__all__ = ["Start", "StartError", "parse_start", "place_fresh", "reset_policy", "time_offsets"]

_AGO = re.compile(r"^-(\d+(?:\.\d+)?)(s|m|h|d)$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class StartError(ValueError):
    """``source.start`` is not earliest, latest, an RFC 3339 time or a duration ago."""


class Start(NamedTuple):
    """A resolved start: ``at_ms`` is set for kind ``time`` only."""

    kind: Literal["earliest", "latest", "time"]
    at_ms: int | None = None

    def describe(self) -> str:
        if self.kind != "time" or self.at_ms is None:
            return self.kind
        return datetime.fromtimestamp(self.at_ms / 1000).astimezone().isoformat(timespec="seconds")


def parse_start(text: str, *, now_s: float) -> Start:
    """``earliest`` | ``latest`` | ``2026-12-04T08:00:00Z`` (an offset or Z required) |
    ``-30m`` / ``-2h`` / ``-1d`` / ``-90s`` (before ``now_s``)."""
    value = text.strip()
    if value in ("earliest", "latest"):
        return Start(value)  # type: ignore[arg-type]  # narrowed by the test above
    if m := _AGO.match(value):
        return Start("time", int((now_s - float(m.group(1)) * _UNIT_S[m.group(2)]) * 1000))
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise StartError(
            f"source.start {text!r}: use earliest, latest, an RFC 3339 time with its zone "
            "(2026-12-04T08:00:00Z) or a duration ago (-30m, -2h, -1d)"
        )
    at_ms = int(when.timestamp() * 1000)
    if at_ms < 0:
        raise StartError(f"source.start {text!r} lies before 1970")
    return Start("time", at_ms)


class OffsetLookup(Protocol):
    """The part of AIOKafkaConsumer that lists offsets and places a partition."""

    async def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]: ...
    async def offsets_for_times(
        self, timestamps: dict[TopicPartition, int]
    ) -> dict[TopicPartition, OffsetAndTimestamp | None]: ...
    async def position(self, partition: TopicPartition) -> int: ...
    def seek(self, partition: TopicPartition, offset: int) -> None: ...


async def time_offsets(
    consumer: OffsetLookup, parts: Sequence[TopicPartition], at_ms: int
) -> dict[TopicPartition, int]:
    """The offset of each of ``parts``' first record at or after ``at_ms`` (the end where
    every record is older)."""
    if not parts:
        return {}
    found = await consumer.offsets_for_times({tp: at_ms for tp in parts})
    out = {tp: hit.offset for tp, hit in found.items() if hit is not None}
    newer = [tp for tp in parts if tp not in out]
    if newer:
        out.update(await consumer.end_offsets(newer))
    return out


def reset_policy(start: Start) -> Literal["earliest", "latest"]:
    """The consumer's ``auto_offset_reset``: a time starts from earliest, then seeks."""
    return "latest" if start.kind == "latest" else "earliest"


async def place_fresh(
    consumer: OffsetLookup, parts: Sequence[TopicPartition], start: Start
) -> dict[TopicPartition, int]:
    """Where each of ``parts`` (no committed offset) starts, placing it there: the
    consumer's reset position, moved forward to the first record at or after
    ``start.at_ms``. A partition revoked meanwhile is left out."""
    targets = await time_offsets(consumer, parts, start.at_ms) if start.at_ms is not None else {}
    out: dict[TopicPartition, int] = {}
    for tp in parts:
        try:
            position = await consumer.position(tp)
        except IllegalStateError:  # revoked while we asked
            continue
        want = targets.get(tp)
        if want is not None and position < want:
            consumer.seek(tp, want)  # right after reading the position: nothing slips between
            position = want
        out[tp] = position
    return out
