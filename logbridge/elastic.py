"""The Elasticsearch sink: bulk ``create`` with deterministic ids.

Why: replays after a crash must not duplicate a document, so every document has an
``_id`` derived from (topic, partition, offset) of its first record and is written
with ``create``: 201 and 409 both mean "it is there". 429 / 5xx / connection errors
are retried (whole request or per item) with capped backoff; any other per-item
error (a mapping conflict) is a permanent rejection that goes to the dead-letter
topic. Batches are cut by count and bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
from elasticsearch import ApiError as EsApiError
from elasticsearch import AsyncElasticsearch, TransportError

from logbridge.delivery import Item, Rejection, Retriable, RetryPolicy, retrying

__all__ = ["ElasticsearchSink"]

DELIVERED = frozenset({200, 201, 409})


def _retriable_status(status: int) -> bool:
    return status == 429 or status >= 500


def bulk_body(items: list[Item]) -> bytes:
    parts: list[bytes] = []
    for it in items:
        parts.append(orjson.dumps({"create": {"_index": it.index, "_id": it.doc_id}}))
        parts.append(it.body)
    parts.append(b"")
    return b"\n".join(parts)


def _chunks(items: list[Item], max_docs: int, max_bytes: int) -> list[list[Item]]:
    out: list[list[Item]] = []
    cur: list[Item] = []
    size = 0
    for it in items:
        n = len(it.body) + 80 + len(it.index) + len(it.doc_id)
        if cur and (len(cur) >= max_docs or size + n > max_bytes):
            out.append(cur)
            cur, size = [], 0
        cur.append(it)
        size += n
    if cur:
        out.append(cur)
    return out


def _error_type(item_result: dict[str, Any]) -> str:
    err = item_result.get("error")
    if isinstance(err, dict):
        return str(err.get("type", "unknown"))[:80]
    return "unknown"


class ElasticsearchSink:
    name = "elasticsearch"

    def __init__(
        self,
        *,
        client: AsyncElasticsearch,
        policy: RetryPolicy,
        give_up: asyncio.Event,
        on_retry: Callable[[str], None],
        max_docs: int = 2000,
        max_bytes: int = 5 * 1024 * 1024,
        concurrency: int = 2,
    ) -> None:
        self._es = client
        self._policy = policy
        self._give_up = give_up
        self._on_retry = on_retry
        self._max_docs = max_docs
        self._max_bytes = max_bytes
        self._sem = asyncio.Semaphore(concurrency)

    async def start(self) -> None:
        return None

    async def deliver(self, items: list[Item]) -> list[Rejection]:
        chunks = _chunks(items, self._max_docs, self._max_bytes)
        results = await asyncio.gather(*(self._deliver_chunk(c) for c in chunks))
        return [r for rs in results for r in rs]

    async def _deliver_chunk(self, items: list[Item]) -> list[Rejection]:
        """Bulk ``items``; items answered 429/5xx (or not answered) are sent again after
        the same capped backoff as a failed request — never in a tight loop."""
        rejected: list[Rejection] = []
        todo = items

        async def attempt() -> None:
            nonlocal todo
            answered = (await self._bulk(todo)).get("items", [])
            again: list[Item] = []
            for it, res in zip(todo, answered, strict=False):
                result = next(iter(res.values())) if res else {}
                status = int(result.get("status", 0))
                if status in DELIVERED:
                    continue
                if _retriable_status(status):
                    again.append(it)
                else:
                    rejected.append(Rejection(it, _error_type(result)))
            again.extend(todo[len(answered) :])  # never trust a short answer: retry the rest
            todo = again
            if todo:
                raise Retriable("item_retry")

        async with self._sem:
            await retrying(attempt, policy=self._policy, give_up=self._give_up, on_retry=self._on_retry)
        return rejected

    async def _bulk(self, items: list[Item]) -> dict[str, Any]:
        try:
            # bytes pass through the NDJSON serializer untouched (elastic_transport)
            resp = await self._es.bulk(operations=bulk_body(items), refresh=False)  # type: ignore[arg-type]
        except EsApiError as exc:
            if _retriable_status(exc.meta.status):
                raise Retriable(f"http_{exc.meta.status}") from exc
            raise
        except TransportError as exc:  # connection refused, timeout, TLS
            raise Retriable("connection") from exc
        body: dict[str, Any] = resp.body
        return body

    async def close(self) -> None:
        await self._es.close()
