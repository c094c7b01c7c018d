"""What the page works with: the local Slack, its driver, the clock and the bot's services.

The runner assembles them; the page's modules (app, screen, actions) only use
them, so the dependencies point one way: runner -> app -> screen/actions -> parts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.delivery.calendar import next_monday
from bot.delivery.models import Delivery, DeliveryStatus
from bot.localslack import LocalSlack
from bot.sandbox.clock import SandboxClock
from bot.sandbox.driver import SandboxDriver
from bot.services import Services

CLOCK_MOVES = ("next", "hour", "day", "monday")
# A week of a dozen people's nudges is well under this many stops.
MAX_STOPS = 400
# At each stop on the way only the sender runs (a nudge goes out at its own time);
# the other ticks catch up at the target, as a replica back from a pause would.
STOP_TICKS = ("delivery-send",)
log = logging.getLogger(__name__)
_MOVE_LOCK = threading.Lock()


@dataclass(frozen=True)
class SandboxParts:
    slack: LocalSlack
    driver: SandboxDriver
    clock: SandboxClock
    services: Services
    empty: bool = False
    # Pauses the scheduler's own ticks while the clock moves (the runner's; none in tests).
    hold_ticks: Callable[[], AbstractContextManager[object]] = nullcontext
    moving: threading.Event = field(default_factory=threading.Event)

    def start_clock_move(self, to: str, *, tz: str) -> bool:
        """:meth:`move_clock` in the background, so the page shows the nudges of
        the skipped time arrive; False if the clock is already moving."""
        if to not in CLOCK_MOVES:
            raise ValueError(f"unknown clock move {to!r}")
        with _MOVE_LOCK:
            if self.moving.is_set():
                return False
            self.moving.set()

        def move() -> None:
            try:
                self.move_clock(to, tz=tz)
            except Exception:
                log.exception("sandbox: the clock could not move to %s", to)
            finally:
                self.moving.clear()
                self.slack.note_change()

        threading.Thread(target=move, name="sandbox-clock", daemon=True).start()
        return True

    def move_clock(self, to: str, *, tz: str) -> datetime:
        """Move to the next nudge due ("next"), an hour on, a day on, or to next
        Monday 09:00 in ``tz`` ("monday").

        Time moves as if it had passed: the clock stops at each nudge due on the
        way and the ticks run there (each is sent at its own time, not all at the
        end as late ones), then once more at the target."""
        now = self.clock.now()
        if to == "next":
            target = self.next_due() or now
        elif to == "hour":
            target = now + timedelta(hours=1)
        elif to == "day":
            target = now + timedelta(days=1)
        elif to == "monday":
            target = next_monday_nine(now, ZoneInfo(tz))
        else:
            raise ValueError(f"unknown clock move {to!r}")
        with self.hold_ticks():
            seen: datetime | None = None
            for _ in range(MAX_STOPS):
                due = self.next_due()
                if due is None or due > target or due == seen:
                    break  # nothing more on the way, or a nudge that keeps waiting (DND, a cap)
                self.clock.jump_to(due)
                self.run_ticks(STOP_TICKS)
                self.slack.note_change()  # the page's clock follows
                seen = due
            self.clock.jump_to(target)
            self.run_ticks()
        return self.clock.now()

    def run_ticks(self, names: tuple[str, ...] | None = None) -> None:
        """The periodic jobs (all, or those ``names``) once, now, as the scheduler
        would run them at this time."""
        for tick in self.services.ticks:
            if names is not None and tick.name not in names:
                continue
            try:
                tick.func()
            except Exception:  # an outage is the tick's to report; the clock moves on
                log.warning("sandbox: tick %s failed after a clock move", tick.name)

    def next_due(self) -> datetime | None:
        """When the next planned nudge is due (None: nothing is planned)."""
        with self.services.session() as session:
            due: datetime | None = session.scalar(
                select(func.min(Delivery.due_at)).where(Delivery.status == DeliveryStatus.planned)
            )
        return due


def next_monday_nine(now: datetime, zone: ZoneInfo) -> datetime:
    """The coming Monday 09:00 in ``zone``: today, if it is Monday before 09:00."""
    local = now.astimezone(zone)
    today = local.date()
    monday = today if today.weekday() == 0 and local.hour < 9 else next_monday(today)
    return datetime(monday.year, monday.month, monday.day, 9, 0, tzinfo=zone).astimezone(UTC)
