"""Client-side pacing: stay inside Slack's posting budget instead of bouncing off it.

Slack's chat.postMessage budget belongs to the workspace, so every replica must
share it. The budget is kept as a schedule of send slots (a generic cell rate
algorithm): a workspace has a `next_slot` time, a post may go out at a slot,
slots are one interval (60 / NUDGEBOT_SEND_RATE_PER_MINUTE s) apart, and a
small burst may use slots up to `burst` seconds in the past. A process reserves
a few slots at a time from a `BudgetStore`: in memory for one process (SQLite),
in a PostgreSQL row per workspace for replicas. A 429 moves the workspace's
next slot past Retry-After, so every replica waits, and only that workspace.

On top of that, at most one message per second per conversation (Slack's own
rule for chat.postMessage), kept per process.

Times are wall-clock epoch seconds: slots are shared between processes (and
hosts, which NTP keeps within a fraction of a second of each other).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from bot.delivery.models import SendBudget

CHANNEL_INTERVAL = 1.0  # seconds between two messages to one conversation
MAX_BURST = 5  # posts that may go out back to back after a quiet spell
RESERVE_SECONDS = 0.25  # a process reserves about this much of the budget at a time
STALE_AFTER = 0.5  # seconds past its time a reserved slot may still be used


class BudgetStore(Protocol):
    def reserve(
        self, key: str, *, count: int, interval: float, burst: float, now: float, latest: float
    ) -> tuple[list[float], float]:
        """Reserve up to `count` consecutive slots of workspace `key`, none later than
        `latest`. Returns the slots and the time of the first free slot (when none
        could be reserved, the caller comes back then)."""
        ...

    def pause(self, key: str, until: float) -> None:
        """No slot of workspace `key` before `until` (Slack said 429)."""
        ...


def _schedule(
    next_slot: float, *, count: int, interval: float, burst: float, now: float, latest: float
) -> tuple[list[float], float, float]:
    """(slots, first free slot, new next_slot) for one reservation."""
    start = max(next_slot, now - burst)
    slots = [s for s in (start + i * interval for i in range(count)) if s <= latest]
    return slots, start, start + len(slots) * interval


class MemoryBudget:
    """The budget of one process: SQLite, where only one process sends."""

    def __init__(self) -> None:
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(
        self, key: str, *, count: int, interval: float, burst: float, now: float, latest: float
    ) -> tuple[list[float], float]:
        with self._lock:
            slots, start, after = _schedule(
                self._next.get(key, 0.0),
                count=count,
                interval=interval,
                burst=burst,
                now=now,
                latest=latest,
            )
            self._next[key] = after
            return slots, start

    def pause(self, key: str, until: float) -> None:
        with self._lock:
            self._next[key] = max(self._next.get(key, 0.0), until)


class SqlBudget:
    """The workspace's budget in PostgreSQL, shared by every replica on the database.
    One short transaction per reservation (a few slots), the row locked meanwhile."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._known: set[str] = set()

    def _ensure(self, key: str) -> None:
        if key in self._known:
            return
        with self._engine.begin() as conn:
            conn.execute(
                pg_insert(SendBudget)
                .values(workspace_id=key, next_slot=0.0)
                .on_conflict_do_nothing(index_elements=["workspace_id"])
            )
        self._known.add(key)

    def reserve(
        self, key: str, *, count: int, interval: float, burst: float, now: float, latest: float
    ) -> tuple[list[float], float]:
        self._ensure(key)
        with self._engine.begin() as conn:
            current = conn.execute(
                select(SendBudget.next_slot).where(SendBudget.workspace_id == key).with_for_update()
            ).scalar_one()
            slots, start, after = _schedule(
                current, count=count, interval=interval, burst=burst, now=now, latest=latest
            )
            if slots:
                conn.execute(
                    update(SendBudget).where(SendBudget.workspace_id == key).values(next_slot=after)
                )
            return slots, start

    def pause(self, key: str, until: float) -> None:
        self._ensure(key)
        with self._engine.begin() as conn:
            conn.execute(
                update(SendBudget)
                .where(SendBudget.workspace_id == key, SendBudget.next_slot < until)
                .values(next_slot=until)
            )


@dataclass(frozen=True)
class Turn:
    """The answer to "may I post now?": yes (`ok`), or not before `retry_at`
    (epoch seconds; 0 when the process is stopping)."""

    ok: bool
    retry_at: float = 0.0


class Pacer:
    def __init__(
        self,
        per_minute: int,
        *,
        store: BudgetStore | None = None,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        rate = per_minute / 60.0 if per_minute else 0.0
        self._interval = 1.0 / rate if rate else 0.0
        # A small burst smooths scheduling jitter without exceeding the average.
        self._burst = (max(1.0, min(float(MAX_BURST), rate)) - 1.0) * self._interval
        self._reserve = max(1, min(8, math.ceil(rate * RESERVE_SECONDS))) if rate else 0
        self._store: BudgetStore = store or MemoryBudget()
        self._now = now
        self._sleep = sleep
        self._held: dict[str, deque[float]] = {}
        self._paused: dict[str, float] = {}
        self._channels: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def per_second(self) -> float:
        return 1.0 / self._interval if self._interval else 0.0

    def now(self) -> float:
        return self._now()

    def pause(self, seconds: float, *, key: str = "") -> None:
        """Slack said 429: nobody posts to workspace `key` until Retry-After has passed,
        in this process at once and, through the shared budget, in every replica."""
        until = self._now() + seconds
        with self._lock:
            self._paused[key] = max(self._paused.get(key, 0.0), until)
            self._held.pop(key, None)  # slots reserved before the 429 are void
        if self._interval:
            self._store.pause(key, until)

    def wait_turn(
        self,
        channel: str,
        *,
        key: str = "",
        latest: float = math.inf,
        stop: threading.Event | None = None,
    ) -> Turn:
        """Wait until one message to `channel` in workspace `key` fits the budget and
        take it, unless the wait would end after `latest`: then take nothing and say
        when to come back. Never waits past `latest`, so a caller holding a lease
        can bound its wait by the lease."""
        while True:
            if stop is not None and stop.is_set():
                return Turn(False)
            now = self._now()
            with self._lock:
                ready = max(self._paused.get(key, 0.0), self._channel_free(channel))
                if ready > now:
                    if ready > latest:
                        return Turn(False, ready)
                    wait = ready - now
                else:
                    slot = self._next_slot(key, now, latest) if self._interval else now
                    if slot > latest:
                        return Turn(False, slot)
                    if slot <= now:
                        if self._interval:
                            self._held[key].popleft()
                        self._channels[channel] = now
                        self._forget_quiet_channels(now)
                        return Turn(True)
                    wait = slot - now
            self._sleep(min(wait, 0.5))

    def posted(self, channel: str) -> None:
        """The post to `channel` is done: the next one waits a full interval from now.
        Counting from the end, not from when the turn was taken, keeps the gap Slack
        sees between arrivals at a second however long this post took to get there."""
        with self._lock:
            self._channels[channel] = max(self._channels.get(channel, 0.0), self._now())

    def _channel_free(self, channel: str) -> float:
        last = self._channels.get(channel)
        return 0.0 if last is None else last + CHANNEL_INTERVAL

    def _next_slot(self, key: str, now: float, latest: float) -> float:
        """The next send slot this process holds for `key`, reserving more when it holds
        none (the caller pops it when it posts); or, when none could be reserved before
        `latest`, the first free slot."""
        held = self._held.setdefault(key, deque())
        while held and held[0] < now - self._burst - STALE_AFTER:
            held.popleft()  # reserved but not used in time: spent, or it would burst
        if not held:
            slots, first_free = self._store.reserve(
                key,
                count=self._reserve,
                interval=self._interval,
                burst=self._burst,
                now=now,
                latest=latest,
            )
            if not slots:
                return first_free
            held.extend(slots)
        return held[0]

    def _forget_quiet_channels(self, now: float) -> None:
        if len(self._channels) > 10_000:
            self._channels = {c: t for c, t in self._channels.items() if now - t < CHANNEL_INTERVAL}
