"""Reading feeds correctly: recurrences and their exceptions, cancellations, all-day
events, declined invitations, other time zones, X-WR-TIMEZONE and DST."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.calendars.ics import FeedError, read_events
from bot.calendars.matching import company_domains, firsts_of_day, is_external, matches
from bot.content.schema import Trigger
from tests.calendars.ics_samples import calendar, event

BERLIN = ZoneInfo("Europe/Berlin")
ME = "ana@example.com"


def _read(data: bytes, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
    events = read_events(data, start=start, end=end, email=ME, floating_tz=BERLIN)
    return [(e.title, e.start) for e in events]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_a_weekly_series_with_an_exdate_a_moved_and_a_cancelled_occurrence() -> None:
    data = calendar(
        event(
            "weekly",
            "20261102T100000",
            "20261102T103000",
            title="1:1",
            rrule="FREQ=WEEKLY",
            exdate="20261109T100000",
        ),
        # the 16th moved to 14:00, the 23rd cancelled
        event(
            "weekly",
            "20261116T140000",
            "20261116T143000",
            title="1:1",
            recurrence_id="20261116T100000",
        ),
        event(
            "weekly",
            "20261123T100000",
            "20261123T103000",
            title="1:1",
            recurrence_id="20261123T100000",
            status="CANCELLED",
        ),
    )
    got = _read(data, utc(2026, 11, 1), utc(2026, 12, 1))
    assert [s for _, s in got] == [
        utc(2026, 11, 2, 9),  # 10:00 CET
        utc(2026, 11, 16, 13),  # moved
        utc(2026, 11, 30, 9),
    ]
    events = read_events(
        data, start=utc(2026, 11, 1), end=utc(2026, 12, 1), email=ME, floating_tz=BERLIN
    )
    assert all(e.recurring for e in events)
    assert len({e.key for e in events}) == 3


def test_the_key_of_a_moved_occurrence_stays_the_same() -> None:
    before = calendar(event("w", "20261102T100000", "20261102T103000", rrule="FREQ=WEEKLY"))
    after = calendar(
        event("w", "20261102T100000", "20261102T103000", rrule="FREQ=WEEKLY"),
        event("w", "20261116T150000", "20261116T153000", recurrence_id="20261116T100000"),
    )
    window = (utc(2026, 11, 15), utc(2026, 11, 17))
    (one,) = read_events(before, start=window[0], end=window[1], email=ME, floating_tz=BERLIN)
    (two,) = read_events(after, start=window[0], end=window[1], email=ME, floating_tz=BERLIN)
    assert one.key == two.key and (one.start, two.start) == (
        utc(2026, 11, 16, 9),
        utc(2026, 11, 16, 14),
    )


def test_all_day_cancelled_and_declined_events_are_left_out() -> None:
    data = calendar(
        event("holiday", "20261126", "20261127", all_day=True, title="Offsite"),
        event("gone", "20261126T140000", "20261126T150000", status="CANCELLED"),
        event(
            "no",
            "20261126T150000",
            "20261126T160000",
            attendees=("bo@example.com",),
            declined=(ME,),
        ),
        event("yes", "20261126T160000", "20261126T170000", attendees=(ME, "bo@example.com")),
    )
    assert [t for t, _ in _read(data, utc(2026, 11, 26), utc(2026, 11, 27))] == ["Meeting"]


def test_other_time_zones_and_googles_x_wr_timezone() -> None:
    data = calendar(
        event("ny", "20261126T090000", "20261126T093000", tzid="America/New_York", title="NY"),
        event("utc", "20261126T120000Z", "20261126T123000Z", tzid=None, title="UTC"),
    )
    got = dict(_read(data, utc(2026, 11, 26), utc(2026, 11, 27)))
    assert got == {"NY": utc(2026, 11, 26, 14), "UTC": utc(2026, 11, 26, 12)}
    # Google: floating times in the calendar's X-WR-TIMEZONE, not the reader's zone
    google = calendar(
        event(
            "g",
            "20261126T090000",
            "20261126T093000",
            tzid=None,
            title="G",
            rrule="FREQ=DAILY;COUNT=2",
        ),
        extra="X-WR-TIMEZONE:America/New_York\r\n",
    )
    assert [s for _, s in _read(google, utc(2026, 11, 26), utc(2026, 11, 28))] == [
        utc(2026, 11, 26, 14),
        utc(2026, 11, 27, 14),
    ]


def test_a_weekly_meeting_keeps_its_local_time_across_the_dst_change() -> None:
    # Berlin leaves summer time on Sunday 25 October 2026.
    data = calendar(event("dst", "20261022T100000", "20261022T103000", rrule="FREQ=WEEKLY"))
    assert [s for _, s in _read(data, utc(2026, 10, 20), utc(2026, 11, 2))] == [
        utc(2026, 10, 22, 8),  # 10:00 CEST
        utc(2026, 10, 29, 9),  # 10:00 CET
    ]


def test_a_broken_file_is_a_feed_error_without_details_of_the_address() -> None:
    with pytest.raises(FeedError, match="not a readable iCalendar file"):
        read_events(
            b"<html>login</html>",
            start=utc(2026, 1, 1),
            end=utc(2026, 1, 2),
            email=ME,
            floating_tz=BERLIN,
        )


def test_matching_by_title_attendees_external_recurring_and_first_of_day() -> None:
    data = calendar(
        event(
            "a",
            "20261126T090000",
            "20261126T093000",
            title="Standup",
            attendees=(ME, "bo@example.com", "cy@example.com"),
            rrule="FREQ=DAILY;COUNT=1",
        ),
        event(
            "b",
            "20261126T140000",
            "20261126T150000",
            title="Call with ACME",
            attendees=(ME, "buyer@acme.org"),
        ),
        event(
            "c",
            "20261126T160000",
            "20261126T163000",
            title="1:1 Bo",
            organizer=ME,
            attendees=("bo@example.com",),
        ),
    )
    events = read_events(
        data, start=utc(2026, 11, 26), end=utc(2026, 11, 27), email=ME, floating_tz=BERLIN
    )
    domains = company_domains([], ME)
    firsts = firsts_of_day(events, BERLIN)

    def hits(**rule: object) -> list[str]:
        trigger = Trigger.model_validate({"id": "t", "source": "calendar", **rule})
        return [
            e.title for e in events if matches(trigger, e, domains=domains, first=e.key in firsts)
        ]

    assert hits(external=True) == ["Call with ACME"]
    assert hits(external=False, max_attendees=2) == ["1:1 Bo"]
    assert hits(min_attendees=3) == ["Standup"]
    assert hits(recurring=True) == ["Standup"]
    assert hits(first_of_day=True) == ["Standup"]
    assert hits(pattern="(?i)acme") == ["Call with ACME"]
    assert is_external(events[1], frozenset({"example.com", "acme.org"})) is False
