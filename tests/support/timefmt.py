"""RFC 3339 timestamps to and from integer nanoseconds, for tests (implemented in the core).

Why: collectors disagree on precision and floats lose nanoseconds, which scrambles
line order; everything inside vnbridge is an int of nanoseconds. The one
implementation is the core's; this module gives the tests the same functions with a
Python exception type.
"""

from __future__ import annotations

import vnbridge_core

__all__ = ["TimestampError", "format_rfc3339", "parse_rfc3339"]


class TimestampError(ValueError):
    """Not an RFC 3339 timestamp; not retriable."""


def parse_rfc3339(text: str) -> int:
    """``2024-05-01T12:00:00.000000001Z`` (any fraction, Z or offset) -> ns since epoch."""
    try:
        return int(vnbridge_core.parse_rfc3339(text))
    except ValueError as exc:
        raise TimestampError(str(exc)) from None


def format_rfc3339(ts_ns: int, digits: int = 9) -> str:
    """ns -> ``YYYY-MM-DDTHH:MM:SS[.fff…]Z`` with exactly ``digits`` fraction digits (truncated)."""
    return str(vnbridge_core.format_rfc3339(ts_ns, digits))
