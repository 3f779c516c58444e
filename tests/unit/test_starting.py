"""source.start (earliest | latest | a time) and the backlog progress report."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from aiokafka.structs import OffsetAndTimestamp, TopicPartition
from pydantic import ValidationError

from logbridge.kafka.starting import Start, StartError, parse_start, place_fresh, reset_policy, time_offsets
from logbridge.progress import Progress
from logbridge.settings import LogbridgeSettings

NOW = 1_764_806_400.0  # 2025-12-04T00:00:00Z


def test_start_words_times_and_durations_ago() -> None:
    assert parse_start("earliest", now_s=NOW) == Start("earliest")
    assert parse_start(" latest ", now_s=NOW) == Start("latest")
    assert parse_start("2025-12-04T00:00:00Z", now_s=0) == Start("time", int(NOW * 1000))
    assert parse_start("2025-12-04T05:30:00+05:30", now_s=0) == Start("time", int(NOW * 1000))
    assert parse_start("2025-12-04T00:00:00.250Z", now_s=0) == Start("time", int(NOW * 1000) + 250)
    assert parse_start("-90s", now_s=NOW) == Start("time", int((NOW - 90) * 1000))
    assert parse_start("-30m", now_s=NOW) == Start("time", int((NOW - 1800) * 1000))
    assert parse_start("-2h", now_s=NOW) == Start("time", int((NOW - 7200) * 1000))
    assert parse_start("-1.5d", now_s=NOW) == Start("time", int((NOW - 129_600) * 1000))


@pytest.mark.parametrize(
    "text", ["", "earliest-ish", "2025-12-04T00:00:00", "yesterday", "-2w", "2h", "--1h", "1900-01-01T00:00Z"]
)
def test_a_start_that_means_nothing_is_refused_with_the_forms_that_do(text: str) -> None:
    with pytest.raises(StartError, match=r"source\.start"):
        parse_start(text, now_s=NOW)


def test_settings_refuse_a_bad_start_in_one_line() -> None:
    with pytest.raises(ValidationError, match="duration ago"):
        LogbridgeSettings.model_validate({"source": {"start": "2025-12-04 08:00"}})
    assert LogbridgeSettings.model_validate({"source": {"start": "-2h"}}).source.start == "-2h"
    assert LogbridgeSettings().source.start == "earliest"  # nothing retained is skipped by default


class Offsets:
    """Listed offsets of two partitions: records 10..99, the one at 40 is the first at or
    after the asked time in partition 0; partition 1 holds only older records."""

    def __init__(self, positions: dict[int, int] | None = None) -> None:
        self.asked: dict[TopicPartition, int] = {}
        self.positions = positions or {}  # the consumer's reset (or already consumed) position
        self.seeks: list[tuple[TopicPartition, int]] = []

    async def position(self, partition: TopicPartition) -> int:
        return self.positions.get(partition.partition, 10)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks.append((partition, offset))

    async def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, 100)

    async def offsets_for_times(
        self, timestamps: dict[TopicPartition, int]
    ) -> dict[TopicPartition, OffsetAndTimestamp | None]:
        self.asked = dict(timestamps)
        return {
            tp: (OffsetAndTimestamp(40, ms) if tp.partition == 0 else None) for tp, ms in timestamps.items()
        }


def test_a_time_is_the_first_record_at_or_after_it_or_the_end() -> None:
    parts = [TopicPartition("t", 0), TopicPartition("t", 1)]
    lookup = Offsets()
    at = asyncio.run(time_offsets(lookup, parts, 123))
    assert at == {parts[0]: 40, parts[1]: 100}  # every record older: nothing to read yet
    assert lookup.asked == dict.fromkeys(parts, 123)
    assert asyncio.run(time_offsets(lookup, [], 123)) == {}


def test_fresh_partitions_are_placed_by_the_reset_policy_and_moved_forward_to_a_time() -> None:
    p0, p1 = TopicPartition("t", 0), TopicPartition("t", 1)
    assert (reset_policy(Start("earliest")), reset_policy(Start("latest"))) == ("earliest", "latest")
    assert reset_policy(Start("time", 5)) == "earliest"  # then a seek forward
    lookup = Offsets(positions={1: 70})
    assert asyncio.run(place_fresh(lookup, [p0, p1], Start("latest"))) == {p0: 10, p1: 70}
    assert lookup.seeks == []  # earliest / latest: the consumer's own reset, nothing to race
    # a time: partition 0 moves forward to its first record at the time, partition 1 (all
    # records older) to its end
    at = asyncio.run(place_fresh(lookup, [p0, p1], Start("time", 7)))
    assert at == {p0: 40, p1: 100} and lookup.seeks == [(p0, 40), (p1, 100)]
    # a partition already read past the time is never moved back (nothing read twice)
    ahead = Offsets(positions={0: 50})
    assert asyncio.run(place_fresh(ahead, [p0], Start("time", 7))) == {p0: 50} and ahead.seeks == []


def test_progress_reports_a_backlog_while_it_lasts_then_once_caught_up() -> None:
    p = Progress(every_s=10, backlog_over=100)
    first = p.observe(records=0, lag=100_000, now=0.0)
    assert first.message == "catching up: a backlog of 100000 records" and first.eta_s is None
    assert p.observe(records=20_000, lag=80_000, now=5.0).message == ""  # within the window
    mid = p.observe(records=40_000, lag=60_000, now=10.0)
    assert mid.rate == 4000 and mid.eta_s == 15
    assert mid.message == "catching up: 40000 records done, lag 60000, 4000 records/s, about 15 s to go"
    done = p.observe(records=100_000, lag=50, now=25.0)  # a cycle's worth behind: caught up
    assert done.message == "caught up: 100000 records in 25 s" and done.eta_s == 50 / 4000
    assert p.observe(records=100_500, lag=80, now=40.0).message == ""  # a live stream: quiet


def test_progress_can_be_silenced_but_keeps_its_figures() -> None:
    p = Progress(every_s=0)
    r = p.observe(records=0, lag=5000, now=0.0)
    assert r.message == "" and r.lag == 5000
    assert p.observe(records=1000, lag=4000, now=2.0).rate == 500
