"""How far a backlog has been worked off: records, lag, rate, time to go.

Why: a first start or a replay over a retained topic can take minutes to hours, and a
silent process looks hung. After every committed cycle the pipeline tells this the
records consumed so far and the lag of its partitions; it keeps the backlog gauges
current and, while a backlog lasts, returns a line to log every ``every_s`` seconds
(records done, lag, rate, ETA), and one more when it is worked off. A live stream is
always a little behind (what one cycle fetches): only a lag above ``backlog_over``
records (a cycle's worth) counts as a backlog. Pure: the caller passes the clock and
logs the line.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Progress", "Report"]


@dataclass(frozen=True, slots=True)
class Report:
    """The figures of one observation; ``message`` is set when it is time to say so."""

    lag: int
    rate: float  # records per second over the last window (0 before the first one ends)
    eta_s: float | None  # None while the rate is unknown or zero
    message: str = ""


def _duration(s: float) -> str:
    s = round(s)
    if s < 90:
        return f"{s} s"
    if s < 5400:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class Progress:
    def __init__(self, *, every_s: float, backlog_over: int = 0) -> None:
        self.every_s = every_s
        self.backlog_over = backlog_over
        self._window: tuple[float, int] | None = None  # (time, records) at the last report
        self._began: tuple[float, int] | None = None  # when the current backlog was first seen
        self._rate = 0.0

    def observe(self, *, records: int, lag: int, now: float) -> Report:
        """``records``: consumed since start (monotonic); ``lag``: records behind, summed
        over the assigned partitions."""
        if self._window is None:
            self._window = (now, records)
        t0, r0 = self._window
        message = ""
        if now - t0 >= max(self.every_s, 1e-3):
            self._rate = (records - r0) / (now - t0)
            self._window = (now, records)
            if self._began is not None and lag > self.backlog_over and self.every_s > 0:
                message = self._catching_up(records, lag)
        if lag > self.backlog_over and self._began is None:
            self._began = (now, records)
            if self.every_s > 0:
                message = f"catching up: a backlog of {lag} records"
        elif lag <= self.backlog_over and self._began is not None:
            began_t, began_r = self._began
            self._began = None
            if self.every_s > 0:
                message = f"caught up: {records - began_r} records in {_duration(now - began_t)}"
        eta = lag / self._rate if lag > 0 and self._rate > 0 else None
        return Report(lag=lag, rate=self._rate, eta_s=eta if lag > 0 else 0.0, message=message)

    def _catching_up(self, records: int, lag: int) -> str:
        assert self._began is not None
        done = records - self._began[1]
        eta = f", about {_duration(lag / self._rate)} to go" if self._rate > 0 else ""
        return f"catching up: {done} records done, lag {lag}, {self._rate:.0f} records/s{eta}"
