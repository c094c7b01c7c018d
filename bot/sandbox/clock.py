"""The sandbox's clock: real time, plus however far the page has moved it.

Time keeps running (a nudge due in a minute arrives in a minute), and the page's
buttons move it forward. It never goes back: the outbox, the planner and the
audit log are all written in the order of this clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class SandboxClock:
    """A :class:`bot.clock.Clock` that runs at real speed from ``start`` and can jump ahead."""

    def __init__(
        self, start: datetime, *, real: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("SandboxClock needs an aware datetime")
        self._real = real
        self._offset = start - real()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return (self._real() + self._offset).astimezone(UTC)

    def timestamp(self) -> float:
        """Seconds since the epoch: the local Slack's clock (message ts, trigger expiry)."""
        return self.now().timestamp()

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += delta
        return self.now()

    def jump_to(self, when: datetime) -> datetime:
        """Move to ``when``, or stay if that is not ahead."""
        return self.advance(max(timedelta(0), when - self.now()))
