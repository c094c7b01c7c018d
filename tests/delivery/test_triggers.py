"""Moment-of-work triggers: Slack events and the signed webhook send a step now."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from urllib.error import HTTPError

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.app import ListenerPool
from bot.clock import FixedClock
from bot.delivery.models import Delivery, DeliveryStatus
from bot.delivery.planner import enroll_and_plan
from bot.delivery.sender import Sender
from bot.delivery.triggers import Firing, fire, signature
from bot.services import Services
from bot.slack import bolt
from tests.conftest import RunningBot, make_settings
from tests.delivery.clihelp import wait_until
from tests.delivery.conftest import HOOK_SECRET, step, store_person, store_program
from tests.delivery.test_planner import NOW

TRIGGERS = [
    {"id": "deal-moved", "source": "webhook"},
    {"id": "joined", "source": "channel_join", "channel": "C0TEAM"},
    {"id": "asked", "source": "message", "channel": "C0HELP", "pattern": r"(?i)\bhow do i\b"},
    {"id": "shipped", "source": "reaction", "reaction": "rocket"},
    {"id": "home", "source": "app_home"},
]
STEPS = [
    step("after-deal", trigger="deal-moved"),
    step("welcome", trigger="joined", delay="15m"),
    step("answer-tip", trigger="asked"),
    step("celebrate", trigger="shipped"),
    step("home-tip", trigger="home"),
    step("daily", day=3),
]


@pytest.fixture
def enrolled(services: Services, bot: RunningBot) -> None:
    with services.session() as session:
        store_program(session, "moments", STEPS, triggers=TRIGGERS)
        store_person(session, "U0ANA", email="ana@example.com")
        store_person(session, "U0BEN")
        enroll_and_plan(
            session,
            settings=services.settings,
            now=NOW,
            program_id="moments",
            user_ids=["U0ANA"],
            starts_at=NOW,
            enrolled_by="t",
            source="t",
        )
    bot.fake.add_user("U0ANA", name="ana")


def _queued(services: Services) -> dict[str, list[Delivery]]:
    with services.session() as session:
        rows = session.scalars(select(Delivery).where(Delivery.step_id != "daily"))
        out: dict[str, list[Delivery]] = {}
        for row in rows:
            out.setdefault(row.step_id, []).append(row)
        return out


def _post(bot: RunningBot, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    request = urllib.request.Request(
        f"{bot.url}/hooks/trigger",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _signed(
    body: dict,
    *,
    secret: str = HOOK_SECRET,
    source: str = "crm",  # type: ignore[type-arg]
    at: float | None = None,
) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    ts = str(int(at if at is not None else NOW.timestamp()))  # the bot's clock
    return raw, {
        "X-Nudgebot-Source": source,
        "X-Nudgebot-Timestamp": ts,
        "X-Nudgebot-Signature": signature(secret, ts, raw),
    }


def test_a_signed_webhook_sends_the_step_now_and_a_bad_signature_stores_nothing(
    bot: RunningBot, services: Services, enrolled: None
) -> None:
    body = {"trigger": "deal-moved", "email": "ana@example.com", "event_id": "deal-42"}
    forged = _signed(body, secret="not-the-secret-at-all")
    stale = _signed(body, at=NOW.timestamp() - 600)
    unknown = _signed(body, source="erp")
    for raw, headers in (forged, stale, unknown, (json.dumps(body).encode(), {})):
        status, answer = _post(bot, raw, headers)
        assert status == 401 and "signature" in answer["error"]
    assert _queued(services) == {}

    status, answer = _post(bot, *_signed(body))
    assert (status, answer) == (202, {"queued": 1})
    assert _post(bot, *_signed(body)) == (200, {"queued": 0, "duplicate": True})  # redelivery
    (row,) = _queued(services)["after-deal"]
    assert row.due_at == NOW

    Sender(services).send_due()
    (dm,) = bot.fake.dm_messages("U0ANA")
    assert dm["text"] == "Do after-deal now."


def test_webhook_input_errors_are_4xx_with_a_reason(
    bot: RunningBot, services: Services, enrolled: None
) -> None:
    assert _post(bot, *_signed({"trigger": "deal-moved", "user": "U0NOBODY"}))[0] == 200
    assert _post(bot, *_signed({"trigger": "deal-moved", "email": "x@example.com"}))[0] == 404
    status, answer = _post(bot, *_signed({"user": "U0ANA"}))
    assert status == 400 and answer["error"].startswith("trigger:")
    raw = b"{not json"
    ts = str(int(NOW.timestamp()))
    headers = {
        "X-Nudgebot-Source": "crm",
        "X-Nudgebot-Timestamp": ts,
        "X-Nudgebot-Signature": signature(HOOK_SECRET, ts, raw),
    }
    assert _post(bot, raw, headers)[0] == 400
    assert _queued(services) == {}


def _settled(bot: RunningBot) -> None:
    """Wait for the bot's own idle signal: no listener running or queued behind acks."""
    pool = bolt.listener_executor(bot.app)
    assert isinstance(pool, ListenerPool) and pool.wait_idle(10), "a listener never finished"


def test_slack_events_fire_the_steps_their_program_names(
    bot: RunningBot, services: Services, enrolled: None, clock: FixedClock
) -> None:
    driver = bot.driver
    driver.event({"type": "member_joined_channel", "user": "U0ANA", "channel": "C0TEAM"})
    driver.event({"type": "member_joined_channel", "user": "U0ANA", "channel": "C0OTHER"})
    driver.event(
        {"type": "message", "user": "U0ANA", "channel": "C0HELP", "text": "How do I file it?"}
    )
    driver.event({"type": "message", "user": "U0ANA", "channel": "C0HELP", "text": "thanks!"})
    driver.event({"type": "message", "user": "U0ANA", "channel": "C0RANDOM", "text": "how do i"})
    driver.event(
        {
            "type": "reaction_added",
            "user": "U0ANA",
            "reaction": "rocket",
            "item": {"type": "message", "channel": "C0X", "ts": "1.1"},
        }
    )
    driver.event(
        {
            "type": "reaction_added",
            "user": "U0ANA",
            "reaction": "eyes",
            "item": {"type": "message", "channel": "C0X", "ts": "1.1"},
        }
    )
    driver.event({"type": "app_home_opened", "user": "U0ANA", "tab": "home"})
    driver.event({"type": "app_home_opened", "user": "U0BEN", "tab": "home"})  # not enrolled

    expected = {"welcome", "answer-tip", "celebrate", "home-tip"}
    assert wait_until(lambda: set(_queued(services)) == expected)
    _settled(bot)  # the non-matching events had their chance too: every listener is done
    queued = _queued(services)
    assert set(queued) == expected and all(len(rows) == 1 for rows in queued.values())
    assert queued["welcome"][0].due_at == NOW + timedelta(minutes=15)
    assert queued["answer-tip"][0].due_at == NOW

    # Firing again while the step still waits adds nothing.
    driver.event({"type": "app_home_opened", "user": "U0ANA", "tab": "home"})
    _settled(bot)
    assert len(_queued(services)["home-tip"]) == 1


def test_a_webhook_at_night_waits_for_the_persons_morning(
    bot: RunningBot, services: Services, enrolled: None, clock: FixedClock
) -> None:
    clock.set(NOW.replace(hour=22))  # 22:00 UTC, the person works 09:00-17:30 UTC
    body = {"trigger": "deal-moved", "user": "U0ANA"}
    assert _post(bot, *_signed(body, at=clock.now().timestamp()))[0] == 202
    (row,) = _queued(services)["after-deal"]
    assert row.due_at == NOW.replace(day=27, hour=9)


def test_a_deal_that_moves_twice_nudges_twice_and_a_burst_of_saves_nudges_once(
    bot: RunningBot, services: Services, enrolled: None, clock: FixedClock
) -> None:
    def move(event_id: str) -> tuple[int, dict]:  # type: ignore[type-arg]
        body = {"trigger": "deal-moved", "user": "U0ANA", "event_id": event_id}
        return _post(bot, *_signed(body, at=clock.now().timestamp()))

    assert move("deal-42:stage-2") == (202, {"queued": 1})
    Sender(services).send_due()
    clock.set(NOW + timedelta(minutes=20))  # the CRM saves the same deal again and again
    assert move("deal-42:stage-2b") == (200, {"queued": 0})
    clock.set(NOW + timedelta(hours=3))  # later that day the deal moves on
    assert move("deal-42:stage-3") == (202, {"queued": 1})
    assert move("deal-42:stage-3") == (200, {"queued": 0, "duplicate": True})  # a retry
    Sender(services).send_due()

    assert [m["text"] for m in bot.fake.dm_messages("U0ANA")] == ["Do after-deal now."] * 2
    rows = _queued(services)["after-deal"]
    assert sorted((r.repetition, str(r.status)) for r in rows) == [(0, "sent"), (1, "sent")]


def test_a_moment_of_work_nudge_over_the_weekly_cap_is_skipped_with_the_reason(
    services: Services, session: Session
) -> None:
    settings = make_settings(
        database_url=services.settings.database_url, weekly_cap=2, jitter_minutes=0
    )
    steps = [
        step("s1", day=0, time="11:00"),
        step("s2", day=1, time="11:00"),
        step("after-deal", trigger="deal-moved"),
    ]
    store_program(session, "capped", steps, triggers=TRIGGERS)
    store_person(session, "U0ANA")
    enroll_and_plan(
        session,
        settings=settings,
        now=NOW,
        program_id="capped",
        user_ids=["U0ANA"],
        starts_at=NOW,
        enrolled_by="t",
        source="t",
    )
    deal = Firing(user_id="U0ANA", source="webhook", trigger_id="deal-moved")

    # Thursday and Friday already hold this week's two nudges.
    assert fire(session, settings=settings, now=NOW, firing=deal) == []
    (skipped,) = session.scalars(select(Delivery).where(Delivery.step_id == "after-deal"))
    assert skipped.status == DeliveryStatus.skipped
    assert skipped.last_error == "weekly cap reached (2 of 2 this week); not sent"

    monday = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # a new week has room
    (queued,) = fire(session, settings=settings, now=monday, firing=deal)
    row = session.get(Delivery, queued)
    assert row is not None and (row.status, row.due_at) == (DeliveryStatus.planned, monday)
