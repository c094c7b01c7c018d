"""The CalDAV path against a real server: Radicale, started by the fixture on a free
port. Events are PUT into a calendar collection over HTTP, and the collection's
iCalendar export (a GET on it) is the feed a person connects."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.calendars import feeds
from bot.calendars.fetch import Fetcher
from bot.clock import FixedClock
from bot.delivery.models import Delivery, DeliveryStatus
from bot.people.models import Person
from bot.services import Services
from tests.calendars.ics_samples import calendar, event
from tests.calendars.test_done_when import ME, NOW, enroll_ana

MKCALENDAR = b"""<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:set><D:prop><D:displayname>Work</D:displayname></D:prop></D:set>
</C:mkcalendar>"""


def _request(method: str, url: str, body: bytes | None = None, kind: str = "") -> int:
    request = urllib.request.Request(url, data=body, method=method)
    if kind:
        request.add_header("Content-Type", kind)
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def put_call(collection: str, start: str, end: str, status: str | None = None) -> None:
    body = calendar(
        event(
            "call-1@crm",
            start,
            end,
            title="Call with ACME",
            attendees=(ME, "buyer@acme.org"),
            status=status,
        )
    )
    assert _request("PUT", f"{collection}call-1.ics", body, "text/calendar") in (201, 204)


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    reader = Fetcher(threads=2, timeout=5)
    yield reader
    reader.close()


def test_a_radicale_calendar_times_moves_and_cancels_the_nudge(
    services: Services, radicale: str, clock: FixedClock, fetcher: Fetcher
) -> None:
    collection = f"{radicale}/ana/work/"
    assert _request("MKCOL", f"{radicale}/ana/") == 201
    assert _request("MKCALENDAR", collection, MKCALENDAR, "application/xml") == 201
    put_call(collection, "20261126T140000", "20261126T150000")
    clock.set(NOW)
    enroll_ana(services)
    with services.session() as session:
        ana = session.scalars(select(Person)).one()
        feeds.connect(session, settings=services.settings, person=ana, address=collection, now=NOW)

    def poll() -> feeds.PollStats:
        return feeds.poll(
            services.session, settings=services.settings, fetcher=fetcher, now=clock.now
        )

    def due() -> list[tuple[str, datetime]]:
        with services.session() as session:
            rows = session.scalars(select(Delivery).where(Delivery.step_id == "call-opener"))
            return [(str(r.status), r.due_at) for r in rows]

    assert poll().planned == 1
    assert due() == [("planned", datetime(2026, 11, 26, 12, 50, tzinfo=UTC))]
    put_call(collection, "20261126T150000", "20261126T160000")
    clock.set(datetime(2026, 11, 26, 10, 20, tzinfo=UTC))
    assert poll().moved == 1
    assert due() == [("planned", datetime(2026, 11, 26, 13, 50, tzinfo=UTC))]
    assert _request("DELETE", f"{collection}call-1.ics") in (200, 204)
    clock.set(datetime(2026, 11, 26, 10, 40, tzinfo=UTC))
    assert poll().cancelled == 1
    assert due() == [(DeliveryStatus.cancelled.value, datetime(2026, 11, 26, 13, 50, tzinfo=UTC))]
