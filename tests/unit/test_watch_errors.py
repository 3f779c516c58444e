"""How the reflector treats a failing API: 400/401/403/404 are refusals (slow retry, one
log line per new status, readiness false), connection errors and 5xx retry fast, and the
first good answer clears the refusal (no services: a stand-in API client below the
reflector)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from vnbridge.tracking import ClusterState
from vnbridge.watching import Backoff, Reflector


class _Api:
    """Answers each call with the next outcome: an exception to raise, or a body (a JSON
    list for a list call, event lines for a watch call)."""

    def __init__(self, outcomes: list[BaseException | bytes]) -> None:
        self.outcomes = outcomes
        self.calls = 0

    def param_serialize(self, *args: Any, **kwargs: Any) -> tuple[str, str, dict[str, str], None, None]:
        return "GET", "https://api/api/v1/pods", {}, None, None

    def call_api(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else ApiException(status=403, reason="Forbidden")
        if isinstance(outcome, BaseException):
            raise outcome

        class _Resp:
            status = 200

            class response:
                data = outcome

                @staticmethod
                def release_conn() -> None: ...

                @staticmethod
                def stream(chunk: int) -> list[bytes]:
                    return [outcome]

        return _Resp()


class _Stop:
    """Stands in for the reflector's stop event: records each wait, stops after ``n``."""

    def __init__(self, n: int) -> None:
        self.waits: list[float] = []
        self.n = n

    def is_set(self) -> bool:
        return len(self.waits) >= self.n

    def wait(self, delay: float) -> bool:
        self.waits.append(delay)
        return self.is_set()

    def set(self) -> None: ...


def _reflector(api: _Api, state: ClusterState, stop: _Stop, errors: list[str]) -> Reflector:
    r = Reflector(
        api=api,  # type: ignore[arg-type]
        path="/api/v1/pods",
        on_list=state.list_pods,
        on_event=state.pod_event,
        backoff=Backoff(initial_s=0.2, max_s=10.0),
        on_error=errors.append,
        on_status=lambda status: state.watch_status("pods", status),
        denied_retry_s=60.0,
    )
    r._stop = stop  # type: ignore[assignment]
    return r


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_a_refusal_is_retried_slowly_logged_once_and_makes_readiness_false(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    state, stop, errors = ClusterState(kinds=("pods",)), _Stop(3), []
    api = _Api([ApiException(status=status, reason="x")] * 3)
    with caplog.at_level(logging.WARNING, logger="vnbridge.watch"):
        _reflector(api, state, stop, errors).run()
    assert stop.waits == [60.0, 60.0, 60.0]
    assert errors == [f"http_{status}"] * 3
    assert state.failing == {"pods": status} and f"HTTP {status}" in state.not_ready()
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1


def test_connection_errors_and_5xx_retry_fast_and_do_not_refuse() -> None:
    state, stop, errors = ClusterState(kinds=("pods",)), _Stop(3), []
    broken = urllib3.exceptions.ProtocolError("reset")
    api = _Api([broken, ApiException(status=503, reason="x"), broken])
    _reflector(api, state, stop, errors).run()
    assert all(d <= 0.8 for d in stop.waits) and errors == ["connection", "http", "connection"]
    assert state.failing == {}


def test_the_first_good_answer_clears_the_refusal() -> None:
    state, stop, errors = ClusterState(kinds=("pods",)), _Stop(2), []
    empty = b'{"items": [], "metadata": {"resourceVersion": "7"}}'
    api = _Api([ApiException(status=403, reason="x"), empty, ApiException(status=403, reason="x")])
    told: list[int] = []
    r = _reflector(api, state, stop, errors)
    r._on_status = lambda s: (told.append(s), state.watch_status("pods", s))  # type: ignore[method-assign,assignment]
    r.run()
    assert told == [403, 0, 403]  # refused, the list answered, the watch refused again
    assert "pods" in state.synced


def test_a_refusal_inside_the_watch_stream_is_a_refusal_too() -> None:
    """An ERROR event carrying 403 (RBAC removed while watching) takes the slow path."""
    state, stop, errors = ClusterState(kinds=("pods",)), _Stop(1), []
    empty = b'{"items": [], "metadata": {"resourceVersion": "7"}}'
    event = b'{"type": "ERROR", "object": {"kind": "Status", "code": 403}}\n'
    _reflector(_Api([empty, event]), state, stop, errors).run()
    assert stop.waits == [60.0] and errors == ["http_403"] and state.failing == {"pods": 403}


def test_an_event_without_an_object_is_skipped_and_counted() -> None:
    """`"object": null` once raised inside the watch thread, which died while readiness
    stayed true over a frozen inventory."""
    state, stop, errors = ClusterState(kinds=("pods",)), _Stop(1), []
    empty = b'{"items": [], "metadata": {"resourceVersion": "7"}}'
    events = b'{"type": "ADDED", "object": null}\n{"type": 5, "object": {}}\n'
    _reflector(_Api([empty, events]), state, stop, errors).run()
    assert errors[:2] == ["bad_event", "bad_event"]
    assert "pods" in state.synced and state.failing.get("pods") != -1  # skipped, not broken


def test_a_failure_no_one_foresaw_keeps_the_thread_alive_and_readiness_false(
    caplog: pytest.LogCaptureFixture,
) -> None:
    state, stop, errors = ClusterState(kinds=("pods",)), _Stop(2), []

    def boom(items: list[dict[str, Any]]) -> None:
        raise RuntimeError("a bug in the list handler")

    empty = b'{"items": [], "metadata": {"resourceVersion": "7"}}'
    r = _reflector(_Api([empty, empty]), state, stop, errors)
    r._on_list = boom  # type: ignore[method-assign,assignment]
    with caplog.at_level(logging.ERROR, logger="vnbridge.watch"):
        r.run()  # returns only when stopped: the loop survived both failures
    assert errors == ["internal", "internal"] and len(stop.waits) == 2
    assert state.failing == {"pods": -1} and "the watch broke" in state.not_ready()
    assert any("a bug in the list handler" in (r.exc_text or "") for r in caplog.records)
