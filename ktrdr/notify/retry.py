"""When a failed delivery is tried again: exponential backoff with jitter, for a bounded
time.

The waits double from ``first_delay`` (5 s, 10 s, 20 s, ...) up to ``max_delay`` each, and
each is spread by ``jitter`` either way, so receivers that failed together (one outage)
are not all retried in the same second. A delivery whose next attempt would fall later
than ``give_up_after`` seconds after it was created is given up instead.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

DEFAULT_FIRST_DELAY = 5.0
DEFAULT_MAX_DELAY = 3_600.0
DEFAULT_GIVE_UP_AFTER = 86_400.0


@dataclass(frozen=True)
class RetryPolicy:
    first_delay: float = DEFAULT_FIRST_DELAY
    max_delay: float = DEFAULT_MAX_DELAY
    give_up_after: float = DEFAULT_GIVE_UP_AFTER
    jitter: float = 0.2  # each wait is its nominal value times 1 ± jitter

    def __post_init__(self) -> None:
        if not (0 < self.first_delay <= self.max_delay and self.give_up_after > 0):
            raise ValueError("retry delays must be positive and first_delay <= max_delay")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be within [0, 1)")

    def nominal_delay(self, attempts: int) -> float:
        """The wait after the ``attempts``-th failed attempt, before jitter."""
        exponent = min(max(attempts, 1) - 1, 60)  # 2**60 s is past any max_delay
        return min(self.first_delay * 2.0**exponent, self.max_delay)

    def next_attempt_at(
        self, created_at: float, now: float, attempts: int, rng: random.Random
    ) -> float | None:
        """When to try again after ``attempts`` failures (the latest just now), or None
        when that would be past the delivery's time to give up."""
        deadline = created_at + self.give_up_after
        nominal = self.nominal_delay(attempts)
        if now + nominal * (1.0 - self.jitter) > deadline:
            return None  # even the soonest retry the jitter allows comes too late
        spread = 1.0 + self.jitter * (2.0 * rng.random() - 1.0)
        # An unlucky draw past the deadline is the last try, at the deadline: the draw
        # alone must not decide whether a delivery still gets its last chance.
        return min(now + nominal * spread, deadline)
