"""A realistic feed over real HTTP through the poller: a weekly one-to-one series with
a moved and a cancelled occurrence, a series the person declined, an all-day event,
and the week Berlin moves to summer time (Sunday 28 March 2027)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.calendars import feeds as feeds_module
from bot.calendars.fetch import Fetcher
from bot.clock import FixedClock
from bot.delivery.models import Delivery
from bot.delivery.planner import enroll_and_plan
from bot.people.models import Person
from bot.services import Services
from tests.calendars.conftest import FeedServer
from tests.calendars.ics_samples import calendar, event
from tests.delivery.conftest import step, store_person, store_program

NOW = datetime(2027, 3, 25, 9, 0, tzinfo=UTC)  # Thursday, 10:00 in Berlin (winter time)
ME = "maria@example.com"
TRIGGERS = [
    {
        "id": "one-to-one",
        "source": "calendar",
        "pattern": r"(?i)\b1:1\b",
        "max_attendees": 2,
        "recurring": True,
    }
]
STEPS = [
    step("before", trigger="one-to-one", at="start-10m"),
    step("after", trigger="one-to-one", at="end+5m"),
    step("daily", day=60),
]
FEED = calendar(
    event(
        "weekly-bo",
        "20270301T100000",
        "20270301T103000",
        title="1:1 Bo",
        organizer=ME,
        attendees=("bo@example.com",),
        rrule="FREQ=WEEKLY;BYDAY=MO,WE,FR",
    ),
    event(
        "weekly-bo",
        "20270331T140000",
        "20270331T143000",
        title="1:1 Bo",
        organizer=ME,
        attendees=("bo@example.com",),
        recurrence_id="20270331T100000",
    ),
    event(
        "weekly-bo",
        "20270326T100000",
        "20270326T103000",
        title="1:1 Bo",
        organizer=ME,
        attendees=("bo@example.com",),
        recurrence_id="20270326T100000",
        status="CANCELLED",
    ),
    event(
        "weekly-cy",
        "20270301T110000",
        "20270301T113000",
        title="1:1 Cy",
        organizer="cy@example.com",
        declined=(ME,),
        rrule="FREQ=WEEKLY;BYDAY=MO",
    ),
    event("offsite", "20270329", "20270330", title="1:1 offsite", all_day=True),
)


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    reader = Fetcher(threads=2, timeout=5)
    yield reader
    reader.close()


def test_series_exceptions_declines_all_day_and_dst(
    services: Services, feeds: FeedServer, clock: FixedClock, fetcher: Fetcher
) -> None:
    clock.set(NOW)
    feeds.files["/maria.ics"] = FEED
    with services.session() as session:
        store_program(session, "one-to-ones", STEPS, triggers=TRIGGERS)
        store_person(session, "U0MARIA", email=ME, tz="Europe/Berlin")
        enroll_and_plan(
            session,
            settings=services.settings,
            now=NOW,
            program_id="one-to-ones",
            user_ids=["U0MARIA"],
            starts_at=NOW,
            enrolled_by="t",
            source="t",
        )
        maria = session.scalars(select(Person)).one()
        feeds_module.connect(
            session,
            settings=services.settings,
            person=maria,
            address=feeds.url("/maria.ics"),
            now=NOW,
        )
    stats = feeds_module.poll(
        services.session, settings=services.settings, fetcher=fetcher, now=clock.now
    )
    assert stats.read == 1
    with services.session() as session:
        rows = session.scalars(
            select(Delivery).where(Delivery.step_id != "daily").order_by(Delivery.due_at)
        )
        got = [(r.step_id, r.due_at, str(r.status)) for r in rows]
    assert got == [
        # Monday 29 March, 10:00 in Berlin is now summer time: 08:00 UTC
        ("before", datetime(2027, 3, 29, 7, 50, tzinfo=UTC), "planned"),
        ("after", datetime(2027, 3, 29, 8, 35, tzinfo=UTC), "planned"),
        # Wednesday 31 March moved to 14:00
        ("before", datetime(2027, 3, 31, 11, 50, tzinfo=UTC), "planned"),
        ("after", datetime(2027, 3, 31, 12, 35, tzinfo=UTC), "planned"),
    ]
