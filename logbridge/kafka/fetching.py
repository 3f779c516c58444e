"""Fetched records as aiokafka decodes them, a record batch at a time.

Why: aiokafka's fetcher wraps every decoded record (a C object with ``offset``,
``key``, ``value``, ``headers``) in a Python ``ConsumerRecord`` and hands records
over one generator step and one ``list.append`` at a time — together about a third
of logbridge's CPU in a Kafka→Kafka profile. logbridge hands each fetched batch to
the core, which reads exactly those four attributes, so here the partition-records
class yields each record batch's decoded records as one list (decoded by aiokafka's
C codecs), and ``FetchResult.getall`` takes whole lists, splitting only the batch
that straddles ``max_records``. The batch-level rules are aiokafka's own, kept as
they are: CRC checks, control batches skipped, aborted transactions skipped under
``read_committed``, records below the fetch position skipped, and the position
advanced past a batch's last offset (compaction). Applied once by ``logbridge
run``, whose process has one consumer and no key/value deserializers; when the
aiokafka in use does not have the expected hooks, nothing is changed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import aiokafka.errors as errors
from aiokafka.consumer import fetcher

__all__ = ["use_decoded_records"]

log = logging.getLogger("vnbridge.logbridge")

Chunk = tuple[list[Any], int]  # a batch's records at or past the position, its next offset


class _DecodedRecords(fetcher.PartitionRecords):  # type: ignore[misc]
    _records_iterator: Iterator[Chunk] | None  # set by aiokafka's __init__

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: list[Any] = []
        self._pending_end = 0

    def _consumer_record(self, tp: Any, record: Any) -> Any:
        return record

    def _unpack_records(self) -> Iterator[Chunk]:  # aiokafka's loop, a batch per step
        tp = self._tp
        records = self._records
        while records.has_next():
            batch = records.next_batch()
            if self._check_crcs and not batch.validate_crc():
                raise errors.CorruptRecordException(f"Invalid CRC - {tp}")
            if self._isolation_level == fetcher.READ_COMMITTED and batch.producer_id is not None:
                self._consume_aborted_up_to(batch.base_offset)
                if batch.is_control_batch and self._contains_abort_marker(batch):
                    self._aborted_producers.discard(batch.producer_id)
                if batch.is_transactional and batch.producer_id in self._aborted_producers:
                    self.next_fetch_offset = batch.next_offset
                    continue
            if batch.is_control_batch:
                self.next_fetch_offset = batch.next_offset
                continue
            recs = list(batch)  # decoded in C
            if recs and recs[0].offset < self.next_fetch_offset:
                position = self.next_fetch_offset
                recs = [r for r in recs if r.offset >= position]
            yield recs, batch.next_offset

    def take(self, n: int | None) -> list[Any] | None:
        """Up to ``n`` records (all of the next batch when ``None``), the position
        advanced past them; ``None`` when the fetched data is exhausted."""
        while not self._pending:
            chunk = next(self._records_iterator, None) if self._records_iterator is not None else None
            if chunk is None:
                self._records_iterator = None
                return None
            recs, end = chunk
            if not recs:
                self.next_fetch_offset = end
                continue
            self._pending, self._pending_end = recs, end
        recs = self._pending
        if n is None or n >= len(recs):
            self._pending = []
            self.next_fetch_offset = self._pending_end
            return recs
        self._pending = recs[n:]
        out = recs[:n]
        self.next_fetch_offset = out[-1].offset + 1
        return out

    def __next__(self) -> Any:
        recs = self.take(1)
        if recs is None:
            raise StopIteration
        return recs[0]


def _getall(self: Any, max_records: int | None = None) -> list[Any]:
    """``FetchResult.getall`` taking whole record batches from ``_DecodedRecords``."""
    records = self._partition_records
    if not isinstance(records, _DecodedRecords):
        return _ORIGINAL_GETALL(self, max_records)  # type: ignore[no-any-return]
    if not self.check_assignment(self._topic_partition) or not self.has_more():
        return []
    out: list[Any] = []
    while max_records is None or len(out) < max_records:
        recs = records.take(None if max_records is None else max_records - len(out))
        if recs is None:
            self._update_position()
            self._partition_records = None
            return out
        out += recs
    self._update_position()
    return out


_ORIGINAL_GETALL = fetcher.FetchResult.getall


def use_decoded_records() -> bool:
    """Make the fetcher return decoded records a batch at a time; True when applied."""
    base = fetcher.PartitionRecords
    if base is _DecodedRecords:
        return True
    hooks = ("_consumer_record", "_unpack_records", "_consume_aborted_up_to", "_contains_abort_marker")
    if not all(callable(getattr(base, h, None)) for h in hooks) or not hasattr(fetcher, "READ_COMMITTED"):
        log.warning("aiokafka's fetcher lacks the expected hooks: records keep their Python wrapper")
        return False
    fetcher.PartitionRecords = _DecodedRecords
    fetcher.FetchResult.getall = _getall
    return True
