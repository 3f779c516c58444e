"""The Prometheus text exposition format: its content types.

Why: parsing and rendering a scrape is per-series work, done by the compiled core
(core/src/metrics.rs: a strict line parser that keeps label values in their escaped
wire form, counts malformed lines and renders one ``# TYPE`` line per family, text or
OpenMetrics). Python keeps the names both halves agree on.
"""

from __future__ import annotations

__all__ = ["OPENMETRICS", "TEXT"]

TEXT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
