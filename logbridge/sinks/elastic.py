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
import bisect
from collections.abc import Callable, Sequence
from typing import Any

from elasticsearch import ApiError as EsApiError
from elasticsearch import AsyncElasticsearch, TransportError

from logbridge.sinks.contract import Documents, Fatal, Rejection, Retriable, RetryPolicy, retrying

__all__ = ["ElasticsearchSink"]

DELIVERED = frozenset({200, 201, 409})
FILTER_PATH = "errors,items.*.status,items.*.error.type"


def _retriable_status(status: int) -> bool:
    return status == 429 or status >= 500


def _refusal(status: int, exc: EsApiError) -> str:
    """One line for a bulk request Elasticsearch will always refuse (no credential in it)."""
    kind = str(getattr(exc, "error", "") or "")[:80]
    if status == 401:
        return (
            f"elasticsearch refused the credentials (HTTP 401 {kind}); were they rotated? update "
            "elasticsearch.password / api_key (or their *_file) and restart"
        )
    if status == 403:
        return (
            f"elasticsearch denied the bulk write (HTTP 403 {kind}); the user or API key needs "
            "create_doc (or index) on the target indices"
        )
    if status == 413:
        return (
            "elasticsearch refused a bulk request as too large (HTTP 413); lower "
            "sinks.elasticsearch.max_bytes below its http.max_content_length"
        )
    return f"elasticsearch refused the bulk request (HTTP {status} {kind})"


def _chunks(docs: Documents, max_docs: int, max_bytes: int) -> list[range]:
    """Index ranges of at most ``max_docs`` documents and ``max_bytes`` each (a document
    larger than that alone is a chunk of its own)."""
    n, ends = len(docs), docs.ends
    out: list[range] = []
    first = 0
    while first < n:
        start = ends[first - 1] if first else 0
        stop = bisect.bisect_right(ends, start + max_bytes, first, min(n, first + max_docs))
        stop = max(stop, first + 1)
        out.append(range(first, stop))
        first = stop
    return out


def _error_type(item_result: dict[str, Any]) -> str:
    err = item_result.get("error")
    if isinstance(err, dict):
        return str(err.get("type", "unknown"))[:80]
    return "unknown"


class ElasticsearchSink:
    name = "elasticsearch"
    uses_actions = True
    uses_keys = False
    uses_bodies = False

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

    async def deliver(self, docs: Documents) -> list[Rejection]:
        chunks = _chunks(docs, self._max_docs, self._max_bytes)
        results = await asyncio.gather(*(self._deliver_chunk(docs, c) for c in chunks))
        return [r for rs in results for r in rs]

    async def _deliver_chunk(self, docs: Documents, chunk: range) -> list[Rejection]:
        """Bulk one chunk; documents answered 429/5xx (or not answered) are sent again
        after the same capped backoff as a failed request — never in a tight loop."""
        rejected: list[Rejection] = []
        todo: Sequence[int] = chunk

        async def attempt() -> None:
            nonlocal todo
            resp = await self._bulk(docs.bulk_body(todo))
            answered = resp.get("items", [])
            if resp.get("errors") is False and len(answered) == len(todo):
                todo = []
                return
            again: list[int] = []
            for i, res in zip(todo, answered, strict=False):
                result = next(iter(res.values())) if res else {}
                status = int(result.get("status", 0))
                if status in DELIVERED:
                    continue
                if _retriable_status(status):
                    again.append(i)
                else:
                    rejected.append(Rejection(i, _error_type(result)))
            again.extend(todo[len(answered) :])  # never trust a short answer: retry the rest
            todo = again
            if todo:
                raise Retriable("item_retry")

        async with self._sem:
            await retrying(attempt, policy=self._policy, give_up=self._give_up, on_retry=self._on_retry)
        return rejected

    async def _bulk(self, body: bytes) -> dict[str, Any]:
        try:
            # bytes pass through the NDJSON serializer untouched (elastic_transport); the
            # answer is cut to what the outcome needs
            resp = await self._es.bulk(
                operations=body,  # type: ignore[arg-type]
                refresh=False,
                filter_path=FILTER_PATH,
            )
        except EsApiError as exc:
            status = exc.meta.status
            if _retriable_status(status):
                raise Retriable(f"http_{status}") from exc
            raise Fatal(_refusal(status, exc)) from None
        except TransportError as exc:  # connection refused, timeout, TLS
            raise Retriable("connection") from exc
        answer: dict[str, Any] = resp.body
        return answer

    async def close(self) -> None:
        await self._es.close()
