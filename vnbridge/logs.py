"""One JSON log line per event, the same for all three services.

Why: collectors and ``jq`` read service logs as JSON; a printf-style format string
breaks on the first message holding a quote or a newline. Records are serialised
with orjson (every string escaped), an exception becomes an ``error`` field (its type
and message; the traceback only at debug level), and the level is a closed choice so
``--log-level verbose`` is a usage error, not a traceback.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import time
from collections.abc import Iterator

import orjson

__all__ = ["JsonFormatter", "LogLevel", "held_back", "setup_logging"]


class LogLevel(enum.StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


class JsonFormatter(logging.Formatter):
    def __init__(self, *, with_traceback: bool = False) -> None:
        super().__init__()
        self._traceback = with_traceback

    def format(self, record: logging.LogRecord) -> str:
        secs = time.gmtime(record.created)
        event: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", secs) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            event["error"] = f"{type(exc).__name__}: {exc}"
            if self._traceback:
                event["traceback"] = self.formatException(record.exc_info)
        return orjson.dumps(event).decode()


def setup_logging(level: LogLevel, *, quiet: tuple[str, ...] = ()) -> None:
    """JSON lines on stderr at ``level``; libraries in ``quiet`` only from warning up."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(with_traceback=level is LogLevel.debug))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.value.upper())
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
    # urllib3 warns once per retry of one request; the watch logs each failure once itself
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)


@contextlib.contextmanager
def held_back(name: str) -> Iterator[logging.Logger]:
    """Keep logger ``name``'s records out of the service's log while the block runs (its
    own handlers still see them): for a step whose failure the caller reports in one
    line of its own, where the library would log the same cause again."""
    logger = logging.getLogger(name)
    propagate = logger.propagate
    logger.propagate = False
    try:
        yield logger
    finally:
        logger.propagate = propagate
