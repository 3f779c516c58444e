"""The Elasticsearch sink's per-item outcomes, with a scripted client standing in for
the transport below the sink (the real server is exercised in
tests/integration/test_logbridge_run.py): 201/409 delivered, a mapping error rejected
for the dead-letter topic, 429 items re-sent through the shared backoff and the
shutdown give-up, never in a tight loop."""

from __future__ import annotations

import asyncio
import re
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from logbridge.sinks.contract import Abandoned, Documents, RetryPolicy
from logbridge.sinks.elastic import ElasticsearchSink, _chunks


class _Tokens:
    def tokens(self, i: int) -> list[tuple[str, int]]:
        return [("t-0", i)]


def _docs(n: int) -> Documents:
    return Documents.of(
        bodies=[b'{"n":%d}' % i for i in range(n)],
        actions=[orjson.dumps({"create": {"_index": "logs", "_id": f"t-0-{i}"}}) for i in range(n)],
        keys=[b""] * n,
        tokens=_Tokens(),
    )


class ScriptedES:
    """Answers each bulk call with the next per-document statuses, keyed by _id."""

    def __init__(self, answers: list[dict[str, int]], on_call: Any = None) -> None:
        self.answers = answers
        self.calls: list[list[str]] = []
        self.on_call = on_call

    async def bulk(self, *, operations: bytes, refresh: bool, filter_path: str) -> SimpleNamespace:
        ids = [orjson.loads(line)["create"]["_id"] for line in operations.splitlines()[0::2] if line]
        self.calls.append(ids)
        if self.on_call is not None:
            self.on_call(len(self.calls))
        statuses = self.answers[min(len(self.calls), len(self.answers)) - 1]
        items = []
        for i in ids:
            status = statuses.get(i, 201)
            result: dict[str, Any] = {"_id": i, "status": status}
            if status >= 400:
                result["error"] = {"type": "mapper_parsing_exception" if status == 400 else "es_rejected"}
            items.append({"create": result})
        errors = any(next(iter(it.values()))["status"] >= 300 for it in items)
        return SimpleNamespace(body={"errors": errors, "items": items})

    async def close(self) -> None:
        return None


class CountingPolicy(RetryPolicy):
    """Tiny delays, and a record of every backoff the sink asked for."""

    def __init__(self) -> None:
        super().__init__(initial_s=0.001, max_s=0.002)
        object.__setattr__(self, "waits", [])

    def delay(self, attempt: int) -> float:
        self.waits.append(attempt)  # type: ignore[attr-defined]
        return super().delay(attempt)


def _sink(
    es: ScriptedES, give_up: asyncio.Event, retries: list[str], policy: RetryPolicy | None = None
) -> ElasticsearchSink:
    return ElasticsearchSink(
        client=es,  # type: ignore[arg-type]
        policy=policy or CountingPolicy(),
        give_up=give_up,
        on_retry=retries.append,
    )


def test_items_are_delivered_rejected_or_resent() -> None:
    es = ScriptedES([{"t-0-1": 429, "t-0-2": 400, "t-0-3": 409}, {}])
    retries: list[str] = []
    policy = CountingPolicy()

    async def go() -> list[Any]:
        return await _sink(es, asyncio.Event(), retries, policy).deliver(_docs(4))

    rejected = asyncio.run(go())
    assert [(r.doc, r.detail) for r in rejected] == [(2, "mapper_parsing_exception")]
    assert es.calls == [["t-0-0", "t-0-1", "t-0-2", "t-0-3"], ["t-0-1"]]
    assert retries == ["item_retry"]
    assert policy.waits == [0]  # type: ignore[attr-defined]  # the 429 item waited one backoff


def test_item_retries_stop_when_shutdown_gives_up() -> None:
    give_up = asyncio.Event()
    es = ScriptedES([{"t-0-0": 429}], on_call=lambda n: give_up.set() if n == 3 else None)
    retries: list[str] = []

    async def go() -> None:
        await asyncio.wait_for(_sink(es, give_up, retries).deliver(_docs(1)), timeout=10)

    with pytest.raises(Abandoned):
        asyncio.run(go())
    assert len(es.calls) == 3 and retries == ["item_retry"] * 3


def test_chunks_cut_by_count_and_bytes_and_cover_every_document() -> None:
    docs = _docs(10)
    assert _chunks(docs, 2000, 1 << 20) == [range(10)]
    by_count = _chunks(docs, 3, 1 << 20)
    assert by_count == [range(0, 3), range(3, 6), range(6, 9), range(9, 10)]
    by_bytes = _chunks(docs, 2000, 100)
    assert [i for r in by_bytes for i in r] == list(range(10)) and len(by_bytes) > 1
    assert _chunks(_docs(0), 10, 10) == []


class RefusingES(ScriptedES):
    """The whole bulk request refused with ``status`` (what elasticsearch-py raises)."""

    def __init__(self, status: int) -> None:
        super().__init__([])
        self.status = status

    async def bulk(self, *, operations: bytes, refresh: bool, filter_path: str) -> SimpleNamespace:
        from elastic_transport import ApiResponseMeta, HttpHeaders
        from elasticsearch import ApiError

        self.calls.append([])
        meta = ApiResponseMeta(
            status=self.status,
            http_version="1.1",
            headers=HttpHeaders(),
            duration=0.0,
            node=None,  # type: ignore[arg-type]
        )
        raise ApiError("security_exception", meta=meta, body={"error": {"type": "security_exception"}})


@pytest.mark.parametrize(
    ("status", "says"), [(401, "refused the credentials (HTTP 401"), (403, "HTTP 403"), (413, "HTTP 413")]
)
def test_a_refusal_retrying_cannot_mend_is_fatal_at_once(status: int, says: str) -> None:
    """Issue 33: 401/403 after a credential rotation (and 413, other 4xx) are not retried
    forever and not raised as a traceback: one Fatal with a line that says what to fix."""
    from logbridge.sinks.contract import Fatal

    es = RefusingES(status)
    retries: list[str] = []
    with pytest.raises(Fatal, match=re.escape(says)) as caught:
        asyncio.run(_sink(es, asyncio.Event(), retries).deliver(_docs(2)))
    assert len(es.calls) == 1 and retries == []  # no retry
    assert "password" not in str(caught.value) or "elasticsearch.password" in str(caught.value)


def test_429_and_5xx_on_the_whole_request_are_retried_not_fatal() -> None:
    es = RefusingES(503)
    give_up = asyncio.Event()
    retries: list[str] = []

    def stop_after_two(_: str) -> None:
        retries.append(_)
        if len(retries) == 2:
            give_up.set()

    sink = ElasticsearchSink(client=es, policy=CountingPolicy(), give_up=give_up, on_retry=stop_after_two)  # type: ignore[arg-type]
    with pytest.raises(Abandoned):
        asyncio.run(sink.deliver(_docs(1)))
    assert retries == ["http_503", "http_503"]
