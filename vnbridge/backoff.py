"""Why: every retry loop — the Kubernetes watch, the sinks, the Kafka transactions — waits
the same way: capped exponential backoff with equal jitter (half the cap, plus a random
part up to the other half), so a crowd of clients that failed together does not come back
together, and no loop ever spins. One formula, not a copy per loop."""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    initial_s: float = 0.2
    max_s: float = 10.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0 = the first)."""
        cap = min(self.max_s, self.initial_s * (2**attempt))
        return random.uniform(cap / 2, cap)
