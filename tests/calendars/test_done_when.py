"""Issue #18, done when: a person who connected a feed with a customer call at 14:00
gets the opener nudge at 13:50 local, once; moving the call to 15:00 moves the nudge
to 14:50; cancelling it cancels the nudge. On SQLite and PostgreSQL, with the feed
served over real HTTP, the real poller and the real sender against the fake Slack."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.calendars import feeds, service
from bot.calendars.fetch import Fetcher
from bot.calendars.ics import Event
from bot.calendars.models import CalendarFeed, CalendarMatch
from bot.clock import FixedClock
from bot.delivery.models import Delivery, DeliveryStatus
from bot.delivery.placement import person_calendar
from bot.delivery.planner import enroll_and_plan
from bot.delivery.sender import Sender
from bot.people.models import Person
from bot.services import Services
from tests.calendars.conftest import FeedServer
from tests.calendars.ics_samples import calendar, event
from tests.delivery.conftest import step, store_person, store_program
from tests.fakeslack import FakeSlack

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # Thursday, 11:00 in Berlin
ME = "ana@example.com"
TRIGGERS = [{"id": "external-call", "source": "calendar", "external": True, "min_attendees": 2}]
STEPS = [
    step("call-opener", trigger="external-call", at="start-10m"),
    step("daily", day=30),
]


def call(start: str, end: str, status: str | None = None) -> bytes:
    return calendar(
        event(
            "call-1@crm",
            start,
            end,
            title="Call with ACME",
            attendees=(ME, "buyer@acme.org"),
            status=status,
        ),
        event("lunch", "20261126T120000", "20261126T130000", title="Lunch"),  # no match
    )


def enroll_ana(services: Services) -> None:
    """Ana (Berlin, ana@example.com) enrolled now in `calls`: STEPS timed by TRIGGERS."""
    with services.session() as session:
        store_program(session, "calls", STEPS, triggers=TRIGGERS)
        store_person(session, "U0ANA", email=ME, tz="Europe/Berlin")
        enroll_and_plan(
            session,
            settings=services.settings,
            now=NOW,
            program_id="calls",
            user_ids=["U0ANA"],
            starts_at=NOW,
            enrolled_by="t",
            source="t",
        )


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    reader = Fetcher(threads=2, timeout=5)
    yield reader
    reader.close()


@pytest.fixture
def connected(services: Services, feeds_server: FeedServer, clock: FixedClock) -> int:
    clock.set(NOW)
    enroll_ana(services)
    feeds_server.files["/ana.ics"] = call("20261126T140000", "20261126T150000")
    with services.session() as session:
        ana = session.scalars(select(Person).where(Person.slack_user_id == "U0ANA")).one()
        feed = feeds.connect(
            session,
            settings=services.settings,
            person=ana,
            address=feeds_server.url("/ana.ics"),
            now=NOW,
        )
        return feed.id


@pytest.fixture
def feeds_server(feeds: FeedServer) -> FeedServer:
    return feeds


def _poll(services: Services, fetcher: Fetcher) -> feeds.PollStats:
    return feeds.poll(
        services.session, settings=services.settings, fetcher=fetcher, now=services.clock.now
    )


def _opener_rows(services: Services) -> list[Delivery]:
    with services.session() as session:
        return list(
            session.scalars(
                select(Delivery).where(Delivery.step_id == "call-opener").order_by(Delivery.id)
            )
        )


def test_the_opener_comes_at_13_50_local_once(
    services: Services,
    fake_slack: FakeSlack,
    clock: FixedClock,
    feeds_server: FeedServer,
    fetcher: Fetcher,
    connected: int,
) -> None:
    fake_slack.add_user("U0ANA", name="ana")
    stats = _poll(services, fetcher)
    assert (stats.read, stats.planned) == (1, 1)
    (row,) = _opener_rows(services)
    assert row.status == DeliveryStatus.planned
    assert row.due_at == datetime(2026, 11, 26, 12, 50, tzinfo=UTC)  # 13:50 in Berlin

    clock.set(datetime(2026, 11, 26, 12, 49, tzinfo=UTC))
    Sender(services).send_due()
    assert fake_slack.dm_messages("U0ANA") == []
    clock.set(datetime(2026, 11, 26, 12, 50, tzinfo=UTC))
    Sender(services).send_due()
    clock.set(datetime(2026, 11, 26, 12, 51, tzinfo=UTC))
    _poll(services, fetcher)  # the feed read again, unchanged: nothing new
    Sender(services).send_due()
    assert [m["text"] for m in fake_slack.dm_messages("U0ANA")] == ["Do call-opener now."]
    assert [r.status for r in _opener_rows(services)] == [DeliveryStatus.sent]


def test_moving_the_call_moves_the_nudge_and_cancelling_cancels_it(
    services: Services,
    fake_slack: FakeSlack,
    clock: FixedClock,
    feeds_server: FeedServer,
    fetcher: Fetcher,
    connected: int,
) -> None:
    fake_slack.add_user("U0ANA", name="ana")
    _poll(services, fetcher)
    feeds_server.files["/ana.ics"] = call("20261126T150000", "20261126T160000")
    clock.set(NOW + timedelta(minutes=15))
    stats = _poll(services, fetcher)
    assert stats.moved == 1
    (row,) = _opener_rows(services)
    assert (row.status, row.due_at) == (
        DeliveryStatus.planned,
        datetime(2026, 11, 26, 13, 50, tzinfo=UTC),  # 14:50 in Berlin
    )
    clock.set(datetime(2026, 11, 26, 12, 50, tzinfo=UTC))
    Sender(services).send_due()
    assert fake_slack.dm_messages("U0ANA") == []  # not at the old time

    feeds_server.files["/ana.ics"] = call("20261126T150000", "20261126T160000", "CANCELLED")
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
    assert _poll(services, fetcher).cancelled == 1
    clock.set(datetime(2026, 11, 26, 13, 50, tzinfo=UTC))
    Sender(services).send_due()
    assert fake_slack.dm_messages("U0ANA") == []
    (row,) = _opener_rows(services)
    assert row.status == DeliveryStatus.cancelled
    with services.session() as session:
        assert session.scalars(select(CalendarMatch)).all() == []


def test_reads_are_conditional_and_nothing_of_the_event_is_stored(
    services: Services,
    feeds_server: FeedServer,
    fetcher: Fetcher,
    connected: int,
    clock: FixedClock,
) -> None:
    _poll(services, fetcher)
    clock.set(NOW + timedelta(minutes=16))
    stats = _poll(services, fetcher)
    assert (stats.read, stats.not_modified) == (0, 1)
    assert feeds_server.requests[0][1] is None and feeds_server.requests[1][1] is not None
    with services.session() as session:
        feed = session.get(CalendarFeed, connected)
        assert feed is not None and "ana.ics" not in feed.address_secret
        assert feeds.status_line(feed, NOW + timedelta(minutes=21)).startswith(
            "Connected, last read 5 minutes ago, 2 events ahead"
        )
        (match,) = session.scalars(select(CalendarMatch)).all()
        stored = " ".join(str(v) for v in vars(match).values())
        assert "ACME" not in stored and "acme.org" not in stored and "call-1" not in stored


def test_a_paused_person_gets_no_calendar_nudge_later_instead(
    services: Services,
    fake_slack: FakeSlack,
    clock: FixedClock,
    feeds_server: FeedServer,
    fetcher: Fetcher,
    connected: int,
) -> None:
    fake_slack.add_user("U0ANA", name="ana")
    _poll(services, fetcher)
    with services.session() as session:
        ana = session.scalars(select(Person).where(Person.slack_user_id == "U0ANA")).one()
        ana.paused_until = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # past the call
    clock.set(datetime(2026, 11, 26, 12, 50, tzinfo=UTC))
    Sender(services).send_due()
    (row,) = _opener_rows(services)
    assert row.status == DeliveryStatus.skipped
    assert row.last_error == "paused by the person; its calendar event's moment passed"
    assert fake_slack.dm_messages("U0ANA") == []


def test_a_match_another_reader_wrote_meanwhile_is_not_planned_twice(
    services: Services, feeds_server: FeedServer, fetcher: Fetcher, connected: int
) -> None:
    _poll(services, fetcher)
    with services.session() as session:
        (match,) = session.scalars(select(CalendarMatch)).all()
        enrollment_id, person_id = match.enrollment_id, match.person_id
        ana = session.get(Person, person_id)
        assert ana is not None
        cal = person_calendar(ana, services.settings)
        same = Event(match.event_key, match.starts_at, match.ends_at, "", frozenset(), False)
        other = Event("k" * 40, match.starts_at, match.ends_at, "", frozenset(), False)
        fresh = [
            (enrollment_id, "call-opener", service._Want(same, match.starts_at, person_id, 0)),
            (enrollment_id, "call-opener", service._Want(other, match.starts_at, person_id, 0)),
        ]
        made = service._new_rows(session, services.settings, cal, fresh, NOW)
        assert [m.repetition for m in made] == [1]  # the one already written is skipped
    assert len(_opener_rows(services)) == 2


def test_parse_workers_read_the_feed_as_the_reading_thread_does(
    services: Services,
    clock: FixedClock,
    feeds_server: FeedServer,
    fetcher: Fetcher,
    connected: int,
) -> None:
    parser = feeds.Parser(1)
    try:
        stats = feeds.poll(
            services.session,
            settings=services.settings,
            fetcher=fetcher,
            now=services.clock.now,
            parser=parser,
        )
        assert parser.worker_cpu_seconds > 0 and parser.worker_peak_kib > 0
    finally:
        parser.close()
    assert (stats.read, stats.planned) == (1, 1)
    (row,) = _opener_rows(services)
    assert row.due_at == datetime(2026, 11, 26, 12, 50, tzinfo=UTC)
