"""A person's working calendar: when a nudge may arrive, in their own time zone.

Local time lives only here; everything that leaves is UTC. Windows are
computed per date, so a daylight-saving switch or a change of time zone moves
the UTC time and keeps the local one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from bot.settings import TimeWindow, parse_weekdays

# Looking further than a year for an open day means the calendar has none.
MAX_DAYS_AHEAD = 400


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=1024)
def _holiday_calendar(country: str, year: int) -> Any:
    try:
        return holidays.country_holidays(country, years=year)
    except NotImplementedError:
        return {}  # an unknown country has no holidays rather than no working days


def is_holiday(country: str | None, day: date) -> bool:
    return bool(country) and day in _holiday_calendar(str(country).upper(), day.year)


@lru_cache(maxsize=65536)
def to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    """A local wall time as UTC. A time inside a spring-forward gap lands just
    after the gap (zoneinfo's fold=0 reading), which is what a person expects."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def intersect(a: TimeWindow, b: TimeWindow | None) -> TimeWindow:
    """`b` narrowed to `a`; `a` when they do not overlap (never outside working hours)."""
    if b is None:
        return a
    start, end = max(a.start, b.start), min(a.end, b.end)
    return TimeWindow(start, end) if start < end else a


@lru_cache(maxsize=1024)
def parse_window(value: str | None) -> TimeWindow | None:
    try:
        return TimeWindow.parse(value) if value else None
    except ValueError:
        return None


@lru_cache(maxsize=1024)
def parse_days(value: str | None) -> tuple[int, ...] | None:
    try:
        return parse_weekdays(value) if value else None
    except ValueError:
        return None


@dataclass(frozen=True, eq=False)
class Calendar:
    """When one person may be nudged for one program."""

    tz: ZoneInfo
    window: TimeWindow
    days: tuple[int, ...]
    country: str | None

    def narrowed(self, window: TimeWindow | None, days: tuple[int, ...] | None) -> Calendar:
        """The program's own window and days, inside the person's."""
        common = tuple(d for d in self.days if d in days) if days else self.days
        return calendar(self.tz, intersect(self.window, window), common or self.days, self.country)

    def is_open_day(self, day: date) -> bool:
        return _is_open_day(self, day)

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    def bounds(self, day: date, window: TimeWindow | None = None) -> tuple[datetime, datetime]:
        return _bounds(self, day, window)

    def next_open(self, after: datetime) -> tuple[datetime, datetime]:
        """The first moment at or after `after` inside an open window, and that window's end."""
        day = self.local_date(after)
        for _ in range(MAX_DAYS_AHEAD):
            if self.is_open_day(day):
                start, end = self.bounds(day)
                if end > after:
                    return max(start, after), end
            day += timedelta(days=1)
        raise ValueError("no working day within a year; check working days and holidays")


@lru_cache(maxsize=4096)
def calendar(
    tz: ZoneInfo, window: TimeWindow, days: tuple[int, ...], country: str | None
) -> Calendar:
    """One shared instance per distinct calendar: identity hashing keeps the
    per-date caches below cheap (thousands of people share a calendar)."""
    return Calendar(tz, window, days, country)


# Thousands of people share a calendar (same zone, hours, days, country): the
# answers per date are computed once, which is most of the planner's speed.
@lru_cache(maxsize=65536)
def _is_open_day(cal: Calendar, day: date) -> bool:
    return day.weekday() in cal.days and not is_holiday(cal.country, day)


@lru_cache(maxsize=65536)
def _bounds(cal: Calendar, day: date, window: TimeWindow | None) -> tuple[datetime, datetime]:
    w = intersect(cal.window, window)
    return to_utc(day, w.start, cal.tz), to_utc(day, w.end, cal.tz)


def week_of(day: date) -> tuple[int, int]:
    iso = day.isocalendar()
    return iso[0], iso[1]


def next_monday(day: date) -> date:
    return day + timedelta(days=7 - day.weekday())
