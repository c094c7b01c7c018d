"""Client-side pacing: stay inside Slack's posting budget instead of bouncing off it.

One workspace-wide token bucket (NUDGEBOT_SEND_RATE_PER_MINUTE), at most one
message per second per channel (Slack's own rule for chat.postMessage), and a
pause of the whole budget when Slack answers 429 with Retry-After. Real time
(monotonic), because Slack's budget is real time whatever the injected clock says.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

CHANNEL_INTERVAL = 1.0  # seconds between two messages to one conversation


class Pacer:
    def __init__(
        self,
        per_minute: int,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rate = per_minute / 60.0 if per_minute else 0.0
        # A small burst smooths scheduling jitter without exceeding the average.
        self._capacity = max(1.0, min(5.0, self._rate))
        self._tokens = self._capacity
        self._monotonic = monotonic
        self._sleep = sleep
        self._updated = monotonic()
        self._paused_until = 0.0
        self._channels: dict[str, float] = {}
        self._lock = threading.Lock()

    def pause(self, seconds: float) -> None:
        """Slack said 429: nobody in this process posts until Retry-After has passed."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._monotonic() + seconds)
            self._tokens = 0.0

    def wait_turn(self, channel: str, *, stop: threading.Event | None = None) -> bool:
        """Block until one message to `channel` fits the budget, then take it.
        False (nothing taken) when `stop` is set first: the process is shutting down."""
        while True:
            if stop is not None and stop.is_set():
                return False
            with self._lock:
                delay = self._delay(channel)
                if delay <= 0:
                    self._take(channel)
                    return True
            self._sleep(min(delay, 0.5))

    def _delay(self, channel: str) -> float:
        now = self._monotonic()
        waits = [self._paused_until - now]
        last = self._channels.get(channel)
        if last is not None:
            waits.append(last + CHANNEL_INTERVAL - now)
        if self._rate:
            self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            if self._tokens < 1.0:
                waits.append((1.0 - self._tokens) / self._rate)
        return max(waits)

    def _take(self, channel: str) -> None:
        now = self._monotonic()
        if self._rate:
            self._tokens -= 1.0
        self._channels[channel] = now
        if len(self._channels) > 10_000:
            # Forget conversations quiet for longer than the interval.
            self._channels = {c: t for c, t in self._channels.items() if now - t < CHANNEL_INTERVAL}
