"""List and watch one kind of Kubernetes object, forever, without a gap.

Why: the pod inventory must follow the API through restarts of the API server,
expired watches (410 Gone) and network cuts, and it must never mistake a failed
call for "no pods". A ``Reflector`` (the client-go pattern) lists with pagination,
watches from the list's resourceVersion with bookmarks, relists on 410, reconnects
with capped exponential backoff and equal jitter, and hands *whole* lists and
single events to callbacks. It speaks raw JSON through the official client's
transport (auth, TLS and proxies from the kubeconfig) and skips model
deserialisation, which is the slow part at 10,000 pods.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import urllib3
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from vnbridge.backoff import RetryPolicy

__all__ = ["BROKEN", "DENIED", "Backoff", "Gone", "Reflector", "WatchError"]

log = logging.getLogger("vnbridge.watch")
GONE = 410
# the watch loop itself failed (not the API): readiness false until a list succeeds again
BROKEN = -1
# answers that retrying soon cannot change: the credentials, the RBAC or the API itself
# must be fixed first (retried slowly, so a fix is picked up without a restart)
# status -> (what it means, what to fix)
DENIED = {
    400: ("bad request", "the API server refused the request; check the server URL and version"),
    401: ("unauthorized", "the credentials are not accepted: check the kubeconfig / service-account token"),
    403: (
        "forbidden",
        "the identity may not get/list/watch it: check the RBAC rules (deploy/kubernetes/base/rbac.yaml)",
    ),
    404: ("not found", "the API server does not serve it: check the server URL and the Kubernetes version"),
}
ListHandler = Callable[[list[dict[str, Any]]], None]
EventHandler = Callable[[str, dict[str, Any]], None]


class WatchError(Exception):
    """A list or watch call failed; ``retriable`` says whether trying again soon can help
    (not for the statuses in ``DENIED``, however the API answered them)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.retriable = status not in DENIED


class Gone(WatchError):
    """The resourceVersion is too old (HTTP 410 or an ERROR event with code 410): relist."""


@dataclass(slots=True)
class Backoff:
    """The watch's retry count over the one backoff of the kernel (vnbridge/backoff.py)."""

    initial_s: float = 0.2
    max_s: float = 10.0
    attempt: int = 0

    def next_delay(self) -> float:
        delay = RetryPolicy(self.initial_s, self.max_s).delay(self.attempt)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0


def _lines(resp: Any, chunk: int = 65536) -> Iterator[bytes]:
    """The watch stream's JSON lines; each piece is split once (a burst of thousands of
    events must not copy the rest of the buffer once per line)."""
    buf = b""
    for data in resp.stream(chunk):
        if b"\n" not in data:
            buf += data
            continue
        lines = (buf + data).split(b"\n")
        buf = lines.pop()
        for line in lines:
            if line.strip():
                yield line
    if buf.strip():
        yield buf


class Reflector:
    """list+watch of ``path`` (e.g. ``/api/v1/pods``) in a thread of its own.

    ``on_list(items)`` receives the complete list after every (re)list; ``on_event(type,
    obj)`` receives ADDED / MODIFIED / DELETED. Both run in the reflector's thread: pass
    thread-safe callables (``loop.call_soon_threadsafe`` wrappers).
    """

    def __init__(
        self,
        *,
        api: ApiClient,
        path: str,
        on_list: ListHandler,
        on_event: EventHandler,
        page_size: int = 500,
        watch_timeout_s: int = 300,
        backoff: Backoff | None = None,
        on_error: Callable[[str], None] | None = None,
        on_status: Callable[[int], None] | None = None,
        denied_retry_s: float = 60.0,
        field_selector: str = "",
    ) -> None:
        self._api = api
        self.path = path
        self._selector = [("fieldSelector", field_selector)] if field_selector else []
        self._on_list = on_list
        self._on_event = on_event
        self._page = page_size
        self._watch_timeout = watch_timeout_s
        self._backoff = backoff or Backoff()
        self._on_error = on_error or (lambda code: None)
        self._on_status = on_status or (lambda status: None)
        self._denied_retry = denied_retry_s
        self.denied = 0  # HTTP status of the last refused call, 0 while calls succeed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._resp: Any = None
        self.resource_version = ""
        self.relists = 0

    # --- HTTP -------------------------------------------------------------------------
    def _get(self, query: list[tuple[str, Any]], *, read_timeout: float) -> Any:
        method, url, headers, _, _ = self._api.param_serialize(
            "GET", self.path, query_params=query, auth_settings=["BearerToken"]
        )
        headers["Accept"] = "application/json"
        try:
            resp = self._api.call_api(
                method, url, header_params=headers, _request_timeout=(5.0, read_timeout)
            )
        except ApiException as exc:
            raise WatchError(f"{self.path}: {exc.reason}", status=exc.status or 0) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise WatchError(f"{self.path}: {type(exc).__name__}") from exc
        if resp.status == GONE:
            resp.response.release_conn()
            raise Gone(f"{self.path}: 410 Gone", status=GONE)
        if resp.status >= 300:
            body = resp.response.data[:300]
            raise WatchError(f"{self.path}: HTTP {resp.status} {body!r}", status=resp.status)
        return resp

    def list_all(self) -> tuple[list[dict[str, Any]], str]:
        """Every object (paginated), and the list's resourceVersion."""
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            query: list[tuple[str, Any]] = [("limit", self._page), *self._selector]
            if token:
                query.append(("continue", token))
            try:
                resp = self._get(query, read_timeout=60.0)
                doc = orjson.loads(resp.response.data)
            except orjson.JSONDecodeError as exc:
                raise WatchError(f"{self.path}: list answer is not JSON") from exc
            items.extend(doc.get("items") or [])
            meta = doc.get("metadata") or {}
            token = meta.get("continue") or ""
            if not token:
                return items, str(meta.get("resourceVersion", ""))

    def watch_once(self) -> None:
        """One watch call from ``resource_version`` until the server closes it."""
        query: list[tuple[str, Any]] = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("resourceVersion", self.resource_version),
            ("timeoutSeconds", self._watch_timeout),
            *self._selector,
        ]
        resp = self._get(query, read_timeout=self._watch_timeout + 30.0)
        self._recovered()
        self._resp = resp.response
        try:
            for line in _lines(resp.response):
                if self._stop.is_set():
                    return
                try:
                    event = orjson.loads(line)
                    etype = event["type"]
                    obj = event["object"]
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    self._on_error("bad_event")
                    continue
                if not isinstance(etype, str) or not isinstance(obj, dict):
                    self._on_error("bad_event")  # e.g. "object": null: skipped, counted
                    continue
                if etype == "ERROR":
                    code = obj.get("code", 0) if isinstance(obj, dict) else 0
                    if code == GONE:
                        raise Gone(f"{self.path}: watch expired", status=GONE)
                    raise WatchError(f"{self.path}: watch error {code}", status=int(code or 0))
                rv = (obj.get("metadata") or {}).get("resourceVersion")
                if rv:
                    self.resource_version = str(rv)
                if etype != "BOOKMARK":
                    self._on_event(etype, obj)
                self._backoff.reset()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise WatchError(f"{self.path}: stream broke ({type(exc).__name__})") from exc
        finally:
            self._resp = None
            resp.response.release_conn()

    def _recovered(self) -> None:
        if self.denied:
            was = "a broken watch" if self.denied == BROKEN else f"HTTP {self.denied}"
            log.warning("%s: the API server answers again (was %s)", self.path, was)
            self.denied = 0
            self._on_status(0)

    def _refused(self, exc: WatchError) -> None:
        """A 400/401/403/404: tell the state (readiness false), count it, log one line per
        new status, and wait the slow retry interval."""
        self._on_error(f"http_{exc.status}")
        if exc.status != self.denied:
            self.denied = exc.status
            self._on_status(exc.status)
            log.error(
                "%s: HTTP %d %s — %s; retrying every %.0fs",
                self.path,
                exc.status,
                *DENIED[exc.status],
                self._denied_retry,
            )
        self._stop.wait(self._denied_retry)

    def relist(self) -> None:
        items, rv = self.list_all()
        self._recovered()
        self.resource_version = rv
        self.relists += 1
        self._on_list(items)
        self._backoff.reset()

    # --- the loop ---------------------------------------------------------------------
    def run(self) -> None:
        """list, then watch forever; 410 → relist; 400/401/403/404 → slow retry (readiness
        false meanwhile); other errors (5xx, connection) → fast capped backoff, resume."""
        need_list = True
        while not self._stop.is_set():
            try:
                if need_list:
                    self.relist()
                    need_list = False
                self.watch_once()
            except Gone:
                self._on_error("gone")
                log.info("watch %s expired; relisting", self.path)
                need_list = True
            except WatchError as exc:
                if not exc.retriable:
                    self._refused(exc)
                    continue
                self._on_error("http" if exc.status else "connection")
                delay = self._backoff.next_delay()
                log.warning("watch %s failed: %s; retrying in %.1fs", self.path, exc, delay)
                self._stop.wait(delay)
            except Exception:  # a bug or a shape no one foresaw: the thread
                # must not die and leave readiness true over a frozen inventory; readiness
                # false (BROKEN), counted ("internal"), logged with its traceback, relisted
                self._on_error("internal")
                if self.denied != BROKEN:
                    self.denied = BROKEN
                    self._on_status(BROKEN)
                delay = self._backoff.next_delay()
                log.exception("watch %s broke; relisting in %.1fs", self.path, delay)
                need_list = True
                self._stop.wait(delay)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"reflector{self.path}", daemon=True)
        self._thread.start()

    def stop_stream(self) -> None:
        """Break the current watch connection (the loop re-watches from resource_version)."""
        resp = self._resp
        if resp is not None:
            with contextlib.suppress(OSError, urllib3.exceptions.HTTPError):
                resp.shutdown() if hasattr(resp, "shutdown") else resp.close()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.stop_stream()
        if self._thread is not None:
            self._thread.join(timeout)
