"""Publish the target list: a file for file_sd, cached bytes for http_sd.

Why: Prometheus drops every target when it reads an empty or half-written file,
and keeps its last list when http_sd answers an error. So nothing is published
before the first complete sync, the file is replaced atomically (temp file in the
same directory, fsync, rename, fsync of the directory) and only when its content
changed, and bursts of pod events are folded into one publication (debounce).
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import orjson

from discovery.sdlabels import TargetGroup
from discovery.targeting import GroupCache, TargetRules, Targets, build_targets, select_shard
from vnbridge.pods import PodInfo
from vnbridge.tracking import ClusterState

__all__ = ["FileSdWriter", "TargetsView", "write_atomically"]

log = logging.getLogger("vnbridge.discovery")


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a reader sees the old or the new file, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class TargetsView:
    """The current target groups and their JSON, rebuilt on demand from the state."""

    def __init__(self, *, state: ClusterState, rules: TargetRules, background: bool = False) -> None:
        self._state = state
        self._rules = rules
        # background: a publisher rebuilds off the loop (refresh_off_loop) after changes, so
        # an http_sd request serves the last build instead of rebuilding inline
        self.background = background
        self._cache: GroupCache = {}  # the last background build's groups, by pod
        self._built_version = -1
        self._groups: list[TargetGroup] = []
        self._json: dict[tuple[int, int], bytes] = {}
        self._gzip: dict[tuple[int, int], bytes] = {}
        self.published_at = 0.0  # wall time of the last rebuild that changed something
        self.conflicts = 0  # exporter addresses two Running pods claim

    @property
    def ready(self) -> bool:
        """A complete sync happened: the list can be published (kept while the API refuses)."""
        return self._state.ready

    def not_ready(self) -> str:
        return self._state.not_ready()

    @property
    def built(self) -> bool:
        """A list was built since the first complete sync (background views serve it)."""
        return self._built_version >= 0

    def _snapshot(self) -> tuple[int, list[PodInfo], Mapping[str, Mapping[str, str]]] | None:
        if not self._state.ready or self._state.version == self._built_version:
            return None
        return self._state.version, self._state.pods(), self._state.nodes

    def _current_rules(self) -> TargetRules:
        """The rules with the cluster-wide default annotations of now (eks-config); a
        change of those drops the group cache (a default path moves every target)."""
        defaults = self._state.cluster_defaults
        if defaults != self._rules.exporter.defaults:
            exporter = dataclasses.replace(self._rules.exporter, defaults=dict(defaults))
            self._rules = dataclasses.replace(self._rules, exporter=exporter)
            self._cache = {}
        return self._rules

    def refresh(self) -> bool:
        """Rebuild if the state changed since the last build; True when the list changed."""
        snap = self._snapshot()
        if snap is None:
            return False
        return self._adopt(snap[0], build_targets(snap[1], snap[2], self._current_rules()))

    async def refresh_off_loop(self) -> bool:
        """``refresh`` with the build and its JSON in a worker thread: at 10,000 pods that
        is tens of milliseconds the loop keeps serving requests and applying events in.
        The snapshot (immutable pods, node labels) is taken on the loop."""
        snap = self._snapshot()
        if snap is None:
            return False

        cache: GroupCache = {}
        rules = self._current_rules()
        old = self._cache

        def build() -> tuple[Targets, bytes, bytes]:
            built = build_targets(snap[1], snap[2], rules, cache=old, new_cache=cache)
            data = orjson.dumps(built.groups)
            return built, data, gzip.compress(data, compresslevel=1, mtime=0)

        built, data, packed = await asyncio.to_thread(build)
        self._cache = cache
        return self._adopt(snap[0], built, (data, packed))

    def _adopt(self, version: int, built: Targets, encoded: tuple[bytes, bytes] | None = None) -> bool:
        """Take a build of state ``version``; ``encoded``: its whole-list JSON and gzip."""
        if version <= self._built_version:
            return False  # an older snapshot finished after a newer one
        groups = built.groups
        self._built_version = version
        if built.conflicts != self.conflicts:
            if built.conflicts:
                log.warning(
                    "%d exporter address(es) claimed by more than one Running pod; "
                    "each is published for the newest pod",
                    built.conflicts,
                )
            self.conflicts = built.conflicts
        if groups == self._groups and self._json:
            return False
        self._groups = groups
        self._json = {(0, 1): encoded[0]} if encoded else {}
        self._gzip = {(0, 1): encoded[1]} if encoded else {}
        self.published_at = time.time()
        return True

    @property
    def groups(self) -> list[TargetGroup]:
        return self._groups

    def json_gzip(self, shard: int = 0, shards: int = 1) -> bytes:
        """``json`` gzip-compressed (what Prometheus' HTTP client asks for): a tenth of the
        bytes to write while a burst keeps the loop busy. Cached per build."""
        key = (shard, shards)
        data = self._gzip.get(key)
        if data is None:
            data = gzip.compress(self.json(shard, shards), compresslevel=1, mtime=0)
            self._gzip[key] = data
        return data

    def json(self, shard: int = 0, shards: int = 1) -> bytes:
        key = (shard, shards)
        data = self._json.get(key)
        if data is None:
            data = orjson.dumps(select_shard(self._groups, shard, shards))
            self._json[key] = data
        return data


class FileSdWriter:
    """Writes the view's JSON to a file_sd path when (and only when) it changes."""

    def __init__(self, *, path: Path, view: TargetsView, shard: int = 0, shards: int = 1) -> None:
        self.path = path
        self._view = view
        self._shard = shard
        self._shards = shards
        self._last: bytes | None = None

    def publish(self) -> bool:
        if not self._view.ready:
            return False
        data = self._view.json(self._shard, self._shards)
        if data == self._last:
            return False
        write_atomically(self.path, data)
        self._last = data
        return True


class Debouncer:
    """Folds bursts of change notifications into one call of ``action`` per ``delay_s``."""

    def __init__(
        self, *, loop: asyncio.AbstractEventLoop, delay_s: float, action: Callable[[], None]
    ) -> None:
        self._loop = loop
        self._delay = delay_s
        self._action = action
        self._pending: asyncio.TimerHandle | None = None

    def poke(self) -> None:
        if self._pending is None:
            self._pending = self._loop.call_later(self._delay, self._fire)

    def _fire(self) -> None:
        self._pending = None
        self._action()

    def cancel(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
