"""The Elasticsearch sink's per-item outcomes, with a scripted client standing in for
the transport below the sink (the real server is exercised in
tests/integration/test_logbridge_run.py): 201/409 delivered, a mapping error rejected
for the dead-letter topic, 429 items re-sent through the shared backoff and the
shutdown give-up, never in a tight loop."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from logbridge.delivery import Abandoned, Item, RetryPolicy
from logbridge.elastic import ElasticsearchSink
from logbridge.offsets import Token


def _item(n: int) -> Item:
    return Item(b'{"n":%d}' % n, "logs", f"t-0-{n}", b"", (Token("t", 0, n),))


class ScriptedES:
    """Answers each bulk call with the next per-document statuses, keyed by _id."""

    def __init__(self, answers: list[dict[str, int]], on_call: Any = None) -> None:
        self.answers = answers
        self.calls: list[list[str]] = []
        self.on_call = on_call

    async def bulk(self, *, operations: bytes, refresh: bool) -> SimpleNamespace:
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
        return SimpleNamespace(body={"errors": True, "items": items})

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
        return await _sink(es, asyncio.Event(), retries, policy).deliver([_item(n) for n in range(4)])

    rejected = asyncio.run(go())
    assert [(r.item.doc_id, r.detail) for r in rejected] == [("t-0-2", "mapper_parsing_exception")]
    assert es.calls == [["t-0-0", "t-0-1", "t-0-2", "t-0-3"], ["t-0-1"]]
    assert retries == ["item_retry"]
    assert policy.waits == [0]  # type: ignore[attr-defined]  # the 429 item waited one backoff


def test_item_retries_stop_when_shutdown_gives_up() -> None:
    give_up = asyncio.Event()
    es = ScriptedES([{"t-0-0": 429}], on_call=lambda n: give_up.set() if n == 3 else None)
    retries: list[str] = []

    async def go() -> None:
        await asyncio.wait_for(_sink(es, give_up, retries).deliver([_item(0)]), timeout=10)

    with pytest.raises(Abandoned):
        asyncio.run(go())
    assert len(es.calls) == 3 and retries == ["item_retry"] * 3
