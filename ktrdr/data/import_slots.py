"""How many imports may run at once: each holds its upload and its parsed bars in memory
(about twice the file), so a burst of large imports is refused, not queued.

Refusing rather than waiting keeps the rule simple to state and to test: the caller gets a
409 ``too_many_imports`` at once and may try again; the refused upload is never parsed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ktrdr.errors import ConflictError

TOO_MANY_IMPORTS = "too_many_imports"


class ImportSlots:
    """A count of imports in progress, checked against a limit given at each entry (the
    limit is a setting; the count belongs to the one service that imports)."""

    def __init__(self) -> None:
        self._active = 0
        self._lock = threading.Lock()

    @property
    def active(self) -> int:
        return self._active

    @contextmanager
    def taken(self, limit: int) -> Iterator[None]:
        """Hold one slot for the ``with`` block, or raise ``ConflictError`` (code
        ``too_many_imports``) at once when ``limit`` imports already run."""
        with self._lock:
            if self._active >= limit:
                raise ConflictError(
                    f"{self._active} import(s) already in progress, the most at once "
                    f"(KTRDR_MAX_CONCURRENT_IMPORTS={limit}); try again when it is done",
                    code=TOO_MANY_IMPORTS,
                    details={"limit": limit, "active": self._active},
                )
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
