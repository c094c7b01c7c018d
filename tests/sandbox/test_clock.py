"""The sandbox clock and where its jumps land."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.sandbox.clock import SandboxClock
from bot.sandbox.parts import next_monday_nine
from bot.sandbox.runner import first_working_moment

SOFIA = ZoneInfo("Europe/Sofia")
NEW_YORK = ZoneInfo("America/New_York")


def test_the_clock_runs_from_its_start_and_only_moves_forward() -> None:
    real = [datetime(2026, 1, 1, tzinfo=UTC)]
    clock = SandboxClock(datetime(2026, 12, 7, 7, 5, tzinfo=UTC), real=lambda: real[0])
    real[0] += timedelta(seconds=30)
    assert clock.now() == datetime(2026, 12, 7, 7, 5, 30, tzinfo=UTC)
    clock.advance(timedelta(hours=1))
    assert clock.now() == datetime(2026, 12, 7, 8, 5, 30, tzinfo=UTC)
    clock.jump_to(datetime(2026, 12, 7, 7, 0, tzinfo=UTC))  # the past: stays
    assert clock.now() == datetime(2026, 12, 7, 8, 5, 30, tzinfo=UTC)
    with pytest.raises(ValueError):
        clock.advance(timedelta(seconds=-1))


@pytest.mark.parametrize(
    ("local", "zone", "expected"),
    [
        (datetime(2026, 12, 9, 15, 0), SOFIA, datetime(2026, 12, 14, 9, 0)),  # a Wednesday
        (datetime(2026, 12, 7, 2, 0), NEW_YORK, datetime(2026, 12, 7, 9, 0)),  # Monday early
        (datetime(2026, 12, 7, 9, 0), SOFIA, datetime(2026, 12, 14, 9, 0)),  # Monday 09:00
        (datetime(2026, 12, 13, 23, 0), SOFIA, datetime(2026, 12, 14, 9, 0)),  # Sunday night
    ],
)
def test_monday_nine_is_the_coming_one_in_the_persons_zone(
    local: datetime, zone: ZoneInfo, expected: datetime
) -> None:
    now = local.replace(tzinfo=zone).astimezone(UTC)
    assert next_monday_nine(now, zone) == expected.replace(tzinfo=zone).astimezone(UTC)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2026, 12, 8, 11, 0), datetime(2026, 12, 8, 11, 0)),  # working time: now
        (datetime(2026, 12, 8, 7, 0), datetime(2026, 12, 8, 9, 5)),  # early: this morning
        (datetime(2026, 12, 8, 20, 0), datetime(2026, 12, 9, 9, 5)),  # evening: tomorrow
        (datetime(2026, 12, 12, 12, 0), datetime(2026, 12, 14, 9, 5)),  # Saturday: Monday
    ],
)
def test_sandbox_time_starts_in_the_first_persons_working_hours(
    local: datetime, expected: datetime
) -> None:
    start = first_working_moment(local.replace(tzinfo=SOFIA).astimezone(UTC))
    assert start == expected.replace(tzinfo=SOFIA).astimezone(UTC)
