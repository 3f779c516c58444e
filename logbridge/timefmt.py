"""RFC 3339 timestamps to and from integer nanoseconds, fast and exact.

Why: collectors disagree on precision (Fluent Bit es: milliseconds; Vector:
nanoseconds; Filebeat: milliseconds) and floats lose nanoseconds, which scrambles
line order. Everything inside vnbridge is an int of nanoseconds; only encoders
round, each the way its collector does.
"""

from __future__ import annotations

import calendar
import re
import time
from functools import lru_cache

__all__ = ["TimestampError", "format_rfc3339", "parse_rfc3339"]

_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9})\d*)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))\Z"
)


class TimestampError(ValueError):
    """Not an RFC 3339 timestamp; not retriable."""


@lru_cache(maxsize=4096)
def _second(date: str, clock: str) -> int:
    y, mo, d = int(date[0:4]), int(date[5:7]), int(date[8:10])
    h, mi, s = int(clock[0:2]), int(clock[3:5]), int(clock[6:8])
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and s <= 60):
        raise TimestampError(f"{date}T{clock}: field out of range")
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))


def parse_rfc3339(text: str) -> int:
    """``2024-05-01T12:00:00.000000001Z`` (any fraction, Z or offset) -> ns since epoch."""
    m = _RFC3339.match(text)
    if m is None:
        raise TimestampError(f"not an RFC 3339 timestamp: {text[:40]!r}")
    date, clock, frac, _z, sign, oh, om = m.groups()
    secs = _second(date, clock)
    if sign:
        off = int(oh) * 3600 + int(om) * 60
        secs -= off if sign == "+" else -off
    ns = int(frac.ljust(9, "0")) if frac else 0
    return secs * 1_000_000_000 + ns


@lru_cache(maxsize=4096)
def _prefix(secs: int) -> str:
    y, mo, d, h, mi, s = time.gmtime(secs)[:6]
    return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}"


def format_rfc3339(ts_ns: int, digits: int = 9) -> str:
    """ns -> ``YYYY-MM-DDTHH:MM:SS[.fff…]Z`` with exactly ``digits`` fraction digits
    (truncated, as the collectors do)."""
    secs, ns = divmod(ts_ns, 1_000_000_000)
    if digits <= 0:
        return _prefix(secs) + "Z"
    frac = f"{ns:09d}"[:digits]
    return f"{_prefix(secs)}.{frac}Z"
