"""Connecting a calendar: /nudges calendar, the secret address, a broken feed's one DM,
and a person's data (forget, export-user). The bot runs on its real HTTP surface
against the fake Slack; the feed is served over real HTTP."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.calendars import feeds as feeds_module
from bot.calendars import secret
from bot.calendars.fetch import Fetcher, address_problem
from bot.calendars.models import CalendarFeed, CalendarMatch, FeedStatus
from bot.clock import FixedClock
from bot.delivery.models import Delivery
from bot.delivery.sender import Sender
from bot.governance import service as governance
from bot.services import Services
from tests.calendars.conftest import FeedServer
from tests.calendars.test_done_when import NOW, call, enroll_ana
from tests.conftest import RunningBot, make_settings
from tests.proof.conftest import wait_for


@pytest.fixture
def ana(services: Services, bot: RunningBot, clock: FixedClock) -> None:
    clock.set(NOW)
    enroll_ana(services)
    bot.fake.add_user("U0ANA", name="ana")


def nudges(bot: RunningBot, text: str) -> str:
    before = len(bot.fake.response_url_posts)
    response = bot.driver.slash_command("/nudges", text, user_id="U0ANA")
    assert response.status == 200 and response.acked_in_time
    posts = wait_for(lambda: bot.fake.response_url_posts[before:])
    return str(posts[0]["payload"]["text"])


def test_connect_status_and_disconnect_never_show_or_log_the_address(
    bot: RunningBot,
    services: Services,
    feeds: FeedServer,
    ana: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    feeds.files["/secret-4f9a.ics"] = call("20261126T140000", "20261126T150000")
    address = feeds.url("/secret-4f9a.ics")
    answer = nudges(bot, f"calendar {address}")
    assert answer == (
        "Connected. I found 2 events in the next 7 days; 1 of them will get a nudge from "
        "your programs."
    )
    assert nudges(bot, "calendar").startswith("Connected, last read just now, 2 events ahead.")
    with services.session() as session:
        (feed,) = session.scalars(select(CalendarFeed)).all()
        assert "secret-4f9a" not in feed.address_secret
        assert secret.open_sealed(services.settings, feed.address_secret) == address
        assert len(session.scalars(select(CalendarMatch)).all()) == 1
    assert nudges(bot, "calendar off").startswith("Disconnected")
    with services.session() as session:
        assert session.scalars(select(CalendarFeed)).all() == []
        assert session.scalars(select(CalendarMatch)).all() == []
        (row,) = session.scalars(select(Delivery).where(Delivery.step_id == "call-opener"))
        assert row.status == "cancelled"
    assert "secret-4f9a" not in caplog.text
    assert not any("secret-4f9a" in str(p) for p in bot.fake.response_url_posts)


def test_only_https_unless_allowed_and_no_key_means_no_feature() -> None:
    assert address_problem("http://cal.example.com/a.ics", allow_http=False) == (
        "only https:// addresses are accepted (the address is a secret in transit too)"
    )
    assert address_problem("webcal://cal.example.com/a.ics", allow_http=False) is None
    assert address_problem("ftp://x", allow_http=True) is not None
    assert secret.available(make_settings()) == secret.NO_KEY
    assert secret.available(make_settings(calendar_enabled=False)) == secret.OFF


def test_a_feed_that_keeps_failing_is_marked_broken_and_its_owner_told_once(
    bot: RunningBot, services: Services, feeds: FeedServer, ana: None, clock: FixedClock
) -> None:
    feeds.files["/ana.ics"] = call("20261126T140000", "20261126T150000")
    nudges(bot, f"calendar {feeds.url('/ana.ics')}")
    feeds.status["/ana.ics"] = 500
    reader = Fetcher(threads=2, timeout=5)
    try:
        for _ in range(feeds_module.BROKEN_AFTER + 2):
            with services.session() as session:
                (feed,) = session.scalars(select(CalendarFeed)).all()
                clock.set(max(clock.now(), feed.next_read_at))
            feeds_module.poll(
                services.session, settings=services.settings, fetcher=reader, now=clock.now
            )
    finally:
        reader.close()
    with services.session() as session:
        (feed,) = session.scalars(select(CalendarFeed)).all()
        assert (feed.status, feed.failures) == (FeedStatus.broken, feeds_module.BROKEN_AFTER)
        assert feed.last_error == "the calendar server answered HTTP 500"
    reads = [p for p, _ in feeds.requests if p == "/ana.ics"]
    assert len(reads) == 1 + feeds_module.BROKEN_AFTER  # none after it broke
    clock.set(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))  # Friday 10:00 in Berlin
    sender = Sender(services)
    try:
        sender.send_due()
        sender.send_due()
    finally:
        sender.close()
    dms = [m for m in bot.fake.dm_messages("U0ANA") if "calendar" in m["text"]]
    assert len(dms) == 1 and "HTTP 500" in dms[0]["text"]
    (button,) = [e for b in dms[0]["blocks"] if b.get("accessory") for e in [b["accessory"]]]
    assert button["action_id"] == "calendar_reconnect"
    # Reconnecting makes it readable again.
    del feeds.status["/ana.ics"]
    assert nudges(bot, f"calendar {feeds.url('/ana.ics')}").startswith("Connected.")


def test_forget_deletes_the_calendar_and_export_says_connected(
    bot: RunningBot, services: Services, feeds: FeedServer, ana: None
) -> None:
    feeds.files["/ana.ics"] = call("20261126T140000", "20261126T150000")
    nudges(bot, f"calendar {feeds.url('/ana.ics')}")
    with services.session() as session:
        subject = governance.find_subject(session, user="U0ANA")
        exported: dict[str, Any] = governance.export(
            session, subject=subject, actor="admin", now=NOW
        )
    assert exported["calendar"] == "connected"
    assert exported["tables"]["calendar_feeds"][0]["address_secret"] == "(withheld)"
    assert "ana.ics" not in str(exported)
    with services.session() as session:
        subject = governance.find_subject(session, user="U0ANA")
        governance.forget(session, subject=subject, actor="admin", now=NOW + timedelta(hours=1))
    with services.session() as session:
        assert session.scalars(select(CalendarFeed)).all() == []
        assert session.scalars(select(CalendarMatch)).all() == []


def test_app_home_connects_through_a_modal_and_disconnects(
    bot: RunningBot, services: Services, feeds: FeedServer, ana: None
) -> None:
    feeds.files["/ana.ics"] = call("20261126T140000", "20261126T150000")
    bot.driver.app_home_opened("U0ANA")
    home = wait_for(lambda: bot.fake.home_view("U0ANA"))
    assert "*Calendar*" in str(home["blocks"]) and "Not connected." in str(home["blocks"])
    bot.driver.block_actions(
        user_id="U0ANA", view=home, actions=[{"action_id": "calendar_connect"}]
    )
    opened = wait_for(lambda: bot.fake.calls_to("views.open"))
    view_id = opened[0].response["view"]["id"]

    def submit(address: str) -> Any:
        return bot.driver.view_submission(
            user_id="U0ANA",
            view_id=view_id,
            state_values={
                "address": {"address_input": {"type": "plain_text_input", "value": address}}
            },
        )

    refused = submit("ftp://nope").json()
    assert refused["response_action"] == "errors" and "address" in refused["errors"]
    assert submit(feeds.url("/ana.ics")).status == 200
    answer = wait_for(
        lambda: [m for m in bot.fake.dm_messages("U0ANA") if "Connected" in m["text"]]
    )
    assert answer[0]["text"].startswith("Connected. I found 2 events")
    home = wait_for(
        lambda: (v := bot.fake.home_view("U0ANA")) and "Disconnect" in str(v["blocks"]) and v
    )
    assert "Connected, last read just now, 2 events ahead." in str(home["blocks"])
    bot.driver.block_actions(
        user_id="U0ANA", view=home, actions=[{"action_id": "calendar_disconnect"}]
    )
    wait_for(lambda: "Not connected." in str((bot.fake.home_view("U0ANA") or {}).get("blocks")))
    with services.session() as session:
        assert session.scalars(select(CalendarFeed)).all() == []
