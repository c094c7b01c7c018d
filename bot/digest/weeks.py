"""Local weeks: a digest covers the 7 days before the reader's digest day, in their zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.settings import WEEKDAYS, Settings

SPARK = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class Week:
    """[start, end) in UTC of one local week; `first_day` is its first local date."""

    first_day: date
    start: datetime
    end: datetime


def week_label(first_day: date) -> str:
    """How every digest names the week it covers: in the DM, its header and the CLI."""
    return f"week of {first_day:%d %b %Y}"


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def anchor_day(now: datetime, *, zone: ZoneInfo, weekday: int) -> date:
    """The most recent local date with this weekday (today if today is one)."""
    today = now.astimezone(zone).date()
    return today - timedelta(days=(today.weekday() - weekday) % 7)


def digest_weekday(settings: Settings) -> int:
    return WEEKDAYS.index(settings.digest_day)


def digest_moment(anchor: date, *, zone: ZoneInfo, settings: Settings) -> datetime:
    return datetime.combine(anchor, settings.digest_time, tzinfo=zone).astimezone(UTC)


def weeks_before(anchor: date, count: int, *, zone: ZoneInfo) -> list[Week]:
    """`count` local weeks ending the day before `anchor`, oldest first."""
    weeks = []
    for back in range(count, 0, -1):
        first = anchor - timedelta(days=7 * back)
        weeks.append(
            Week(first, local_midnight(first, zone), local_midnight(first + timedelta(7), zone))
        )
    return weeks


def week_index(when: datetime, weeks: list[Week]) -> int | None:
    for index, week in enumerate(weeks):
        if week.start <= when < week.end:
            return index
    return None


def sparkline(values: list[float | None]) -> str:
    """One block per week, 0% to 100% on a fixed scale; "·" where nothing may be shown."""
    out = []
    for value in values:
        if value is None:
            out.append("·")
        else:
            out.append(SPARK[min(len(SPARK) - 1, int(value * len(SPARK)))])
    return "".join(out)
