"""Fetched records as aiokafka decodes them, without a Python object per record.

Why: aiokafka's fetcher wraps every decoded record (a C object with ``offset``,
``key``, ``value``, ``headers``) in a Python ``ConsumerRecord`` — about a third of
logbridge's CPU in a Kafka→Kafka profile. logbridge hands each fetched batch to the
core, which reads exactly those four attributes, so the wrapper is skipped: the
partition-records class of aiokafka's fetcher returns the decoded record as it is.
Everything else (control batches, aborted transactions under ``read_committed``,
positions, CRC checks) stays aiokafka's own. Applied once by ``logbridge run``, whose
process has one consumer and no key/value deserializers; when the aiokafka in use
does not have the expected hook, nothing is changed.
"""

from __future__ import annotations

import logging
from typing import Any

from aiokafka.consumer import fetcher

__all__ = ["use_decoded_records"]

log = logging.getLogger("vnbridge.logbridge")


class _DecodedRecords(fetcher.PartitionRecords):  # type: ignore[misc]
    def _consumer_record(self, tp: Any, record: Any) -> Any:
        return record


def use_decoded_records() -> bool:
    """Make the fetcher return decoded records; True when applied."""
    base = fetcher.PartitionRecords
    if base is _DecodedRecords:
        return True
    if not callable(getattr(base, "_consumer_record", None)):
        log.warning("aiokafka's fetcher has no _consumer_record hook: records keep their Python wrapper")
        return False
    fetcher.PartitionRecords = _DecodedRecords
    return True
