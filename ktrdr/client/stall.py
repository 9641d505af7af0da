"""How long a followed operation has gone without reporting progress.

The clock question: ``last_progress_at`` is the server's wall clock, and the client's wall
clock may be minutes off (another machine, a VM that slept). So no client wall time is
ever compared with a server timestamp. Instead the age at the moment of an answer is taken
from the server's own clock alone: for a running operation the server serves
``elapsed_seconds`` = its now − ``started_at``, so its now is ``started_at + elapsed`` and
the age is that minus ``last_progress_at`` (two server timestamps, no skew). Between
answers (a long-poll that found nothing new answers 304 with no body) the age grows by the
client's monotonic time since that answer, which no clock change can disturb. Unlike
"monotonic time since the value last changed", this is also right the moment a watch
attaches to work that stalled long ago.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ktrdr.contract.operations import OperationPublic
from ktrdr.records.models import OperationStatus


@dataclass(frozen=True)
class ProgressAge:
    """Seconds since the newest progress report, as of client monotonic time ``seen_at``."""

    seconds: float
    seen_at: float

    def at(self, now: float) -> float:
        return self.seconds + max(0.0, now - self.seen_at)


def progress_age(
    root: OperationPublic, child: OperationPublic | None, seen_at: float
) -> ProgressAge | None:
    """The age of the newest report of the running root and its active child, or None when
    nothing is running that could stall (pending, queued, ended, or no timestamps)."""
    if root.status is not OperationStatus.RUNNING:
        return None
    if child is not None and child.status is OperationStatus.PENDING:
        return None  # waiting for a free worker is a queue, not a stall
    # A child that just ended counts: its last report (or its end) is the latest sign of
    # life until the cycle moves on, a moment later.
    reports = [
        moment
        for op in (root, child)
        if op is not None
        for moment in (op.last_progress_at, op.completed_at)
        if moment is not None
    ]
    server_now = next(
        (
            op.started_at + timedelta(seconds=op.elapsed_seconds)
            for op in (root, child)
            if op is not None
            and not op.is_terminal
            and op.started_at is not None
            and op.elapsed_seconds is not None
        ),
        None,
    )
    if not reports or server_now is None:
        return None
    age = (server_now - max(reports)).total_seconds()
    return ProgressAge(max(0.0, age), seen_at)


def stalled_for(age: ProgressAge | None, now: float, threshold: float) -> float | None:
    """Seconds without progress once that passes ``threshold``, else None."""
    if age is None:
        return None
    seconds = age.at(now)
    return seconds if seconds >= threshold else None
