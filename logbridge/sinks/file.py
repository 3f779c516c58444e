"""Why: a sink to look at what would be indexed, on disk (debugging): JSON lines,
fsynced before it acknowledges."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from logbridge.sinks.contract import Documents, Rejection

__all__ = ["FileSink"]


class FileSink:
    """JSON lines appended to a file, fsynced before acknowledging (for debugging)."""

    name = "file"
    uses_actions = False
    uses_keys = False
    uses_bodies = True

    def __init__(self, *, path: Path) -> None:
        self.path = path
        self._fd = -1

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)

    async def deliver(self, docs: Documents) -> list[Rejection]:
        if len(docs):
            data = b"\n".join(docs.bodies) + b"\n"
            await asyncio.to_thread(self._write, data)
        return []

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        os.fsync(self._fd)

    async def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
