"""What the page works with: the local Slack, its driver, the clock and the bot's services.

The runner assembles them; the page's modules (app, screen, actions) only use
them, so the dependencies point one way: runner -> app -> screen/actions -> parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.delivery.models import Delivery, DeliveryStatus
from bot.localslack import LocalSlack
from bot.sandbox.clock import SandboxClock
from bot.sandbox.driver import SandboxDriver
from bot.services import Services

CLOCK_MOVES = ("next", "hour", "day", "monday")


@dataclass(frozen=True)
class SandboxParts:
    slack: LocalSlack
    driver: SandboxDriver
    clock: SandboxClock
    services: Services
    empty: bool = False

    def move_clock(self, to: str, *, tz: str) -> datetime:
        """ "next" (when the next nudge is due), "hour", "day" or "monday" (next
        Monday 09:00 in ``tz``). The ticks then run as they would at that time."""
        now = self.clock.now()
        if to == "hour":
            return self.clock.advance(timedelta(hours=1))
        if to == "day":
            return self.clock.advance(timedelta(days=1))
        if to == "monday":
            return self.clock.jump_to(next_monday_nine(now, ZoneInfo(tz)))
        if to == "next":
            due = self.next_due()
            return self.clock.jump_to(due) if due is not None else now
        raise ValueError(f"unknown clock move {to!r}")

    def next_due(self) -> datetime | None:
        """When the next planned nudge is due (None: nothing is planned)."""
        with self.services.session() as session:
            due: datetime | None = session.scalar(
                select(func.min(Delivery.due_at)).where(Delivery.status == DeliveryStatus.planned)
            )
        return due


def next_monday_nine(now: datetime, zone: ZoneInfo) -> datetime:
    local = now.astimezone(zone)
    days = (7 - local.weekday()) % 7 or 7
    monday = (local + timedelta(days=days)).date()
    return datetime(monday.year, monday.month, monday.day, 9, 0, tzinfo=zone).astimezone(UTC)
