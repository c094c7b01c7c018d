"""/metrics: the series issue 9 names, with values a scenario produced."""

from __future__ import annotations

import time
import urllib.request
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from sqlalchemy.orm import Session

from bot.clock import FixedClock
from bot.content.models import Program, ProgramVersion
from bot.db import make_engine
from bot.delivery.metrics import OutboxCollector
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment
from bot.metrics import Metrics
from bot.people.models import Person
from tests.conftest import RunningBot
from tests.fakeslack import FakeSlack


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _outbox(session: Session, clock: FixedClock) -> None:
    now = clock.now()
    person = Person(slack_user_id="U0EMP1", name="Emp")
    session.add_all([person, Program(id="feedback", title="Feedback", owner="ld")])
    session.flush()
    version = ProgramVersion(program_id="feedback", number=1, content_hash="h", content={})
    session.add(version)
    session.flush()
    enrollment = Enrollment(
        person_id=person.id, program_id="feedback", program_version_id=version.id, starts_at=now
    )
    session.add(enrollment)
    session.flush()
    rows = [
        (DeliveryStatus.sent, now - timedelta(hours=3)),
        (DeliveryStatus.planned, now - timedelta(minutes=7)),  # overdue by 7 minutes
        (DeliveryStatus.planned, now - timedelta(minutes=1)),
        (DeliveryStatus.planned, now + timedelta(days=1)),  # not due yet
        (DeliveryStatus.failed, now - timedelta(days=1)),
    ]
    for n, (status, due) in enumerate(rows):
        session.add(
            Delivery(
                enrollment_id=enrollment.id,
                person_id=person.id,
                step_id=f"s{n}",
                status=status,
                due_at=due,
            )
        )


def test_metrics_endpoint_shows_every_named_series(bot: RunningBot, clock: FixedClock) -> None:
    services = bot.services
    metrics = services.metrics  # the instruments the app, sender and ticks report to
    with services.session() as session:
        _outbox(session, clock)
    metrics.observe_send(outcome="sent")
    metrics.observe_send(outcome="sent")
    metrics.observe_slack_error("chat.postMessage", "ratelimited")
    metrics.observe_slack_error("chat.postMessage", "channel_not_found")
    metrics.observe_ack(0.04)
    with metrics.time_tick("send"):
        pass
    with pytest.raises(RuntimeError), metrics.time_tick("plan"):
        raise RuntimeError("planner failed")

    with urllib.request.urlopen(f"{bot.url}/metrics", timeout=5) as response:
        assert response.status == 200
        got = _samples(response.read().decode())

    assert got[("nudgebot_deliveries", (("status", "planned"),))] == 3
    assert got[("nudgebot_deliveries", (("status", "sent"),))] == 1
    assert got[("nudgebot_deliveries", (("status", "sending"),))] == 0
    assert got[("nudgebot_outbox_depth", ())] == 2
    assert got[("nudgebot_outbox_oldest_due_age_seconds", ())] == 7 * 60
    assert got[("nudgebot_sends_total", (("outcome", "sent"),))] == 2
    assert got[("nudgebot_slack_rate_limited_total", (("method", "chat.postMessage"),))] == 1
    assert (
        got[
            (
                "nudgebot_slack_errors_total",
                (("error", "channel_not_found"), ("method", "chat.postMessage")),
            )
        ]
        == 1
    )
    assert got[("nudgebot_ack_seconds_count", ())] == 1
    assert got[("nudgebot_ack_seconds_bucket", (("le", "0.05"),))] == 1
    assert got[("nudgebot_tick_seconds_count", (("tick", "send"),))] == 1
    assert got[("nudgebot_tick_failures_total", (("tick", "plan"),))] == 1
    assert got[("nudgebot_metrics_database_up", ())] == 1


def test_a_scrape_survives_an_unreachable_database(tmp_path: object, clock: FixedClock) -> None:
    registry = CollectorRegistry()
    engine = make_engine(f"sqlite:///{tmp_path}/missing/dir/x.db")
    metrics = Metrics(registry, clock=clock)
    registry.register(OutboxCollector(engine, clock, database=metrics.database_outage))
    got = _samples(generate_latest(registry).decode())
    assert got[("nudgebot_metrics_database_up", ())] == 0
    assert not any(name == "nudgebot_outbox_depth" for name, _ in got)


def test_every_slack_request_answered_is_timed_from_arrival_to_answer(
    bot: RunningBot, clock: FixedClock
) -> None:
    bot.fake.add_user("U0EMP1", name="emp")
    for _ in range(3):
        bot.driver.event({"type": "app_home_opened", "user": "U0EMP1", "tab": "home"})
    got = _samples(generate_latest(bot.services.registry).decode())
    assert got[("nudgebot_ack_seconds_count", ())] == 3
    # The signature check and Bolt's dispatch take real time; a timer that only saw
    # Bolt's middleware chain (which returns before the listener runs) read ~0.
    assert got[("nudgebot_ack_seconds_sum", ())] > 0.0005


def test_slack_errors_are_counted_by_method_from_the_client(
    fake_slack: FakeSlack, clock: FixedClock
) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry, clock=clock)
    client = WebClient(
        base_url=fake_slack.base_url,
        token=fake_slack.bot_token,
        retry_handlers=[metrics.slack_observer(), RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    fake_slack.add_user("U0EMP1", name="emp")
    fake_slack.inject("chat.postMessage", "rate_limited", retry_after=0)
    fake_slack.inject("users.info", "ok_false", error="user_not_visible")
    fake_slack.inject("users.list", "server_error", status=503)

    assert client.chat_postMessage(channel="U0EMP1", text="hi")["ok"]  # retried after the 429
    with pytest.raises(SlackApiError):
        client.users_info(user="U0EMP1")
    with pytest.raises(SlackApiError):
        client.users_list()

    got = _samples(generate_latest(registry).decode())
    assert got[("nudgebot_slack_rate_limited_total", (("method", "chat.postMessage"),))] == 1
    assert (
        got[
            (
                "nudgebot_slack_errors_total",
                (("error", "user_not_visible"), ("method", "users.info")),
            )
        ]
        == 1
    )
    assert (
        got[("nudgebot_slack_errors_total", (("error", "http_503"), ("method", "users.list")))] == 1
    )
    assert sum(v for (name, _), v in got.items() if name == "nudgebot_slack_errors_total") == 3


def test_a_scenario_run_shows_in_metrics(bot: RunningBot) -> None:
    """Send real nudges through the fake, click one, run a tick: the series move."""
    from bot.delivery.planner import enroll_and_plan
    from bot.delivery.sender import Sender
    from tests.delivery.conftest import step, store_person, store_program

    services = bot.services
    with services.session() as session:
        store_program(session, "welcome", [step("hello", day=0)])
        for user in ("U0ANA", "U0BEN"):
            bot.fake.add_user(user, name=user.lower())
            store_person(session, user)
        enroll_and_plan(
            session,
            settings=services.settings,
            now=services.clock.now(),
            program_id="welcome",
            user_ids=["U0ANA", "U0BEN"],
            starts_at=services.clock.now(),
            enrolled_by="t",
            source="t",
        )
    bot.fake.inject("chat.postMessage", "ok_false", error="channel_not_found", times=1)
    Sender(services).send_due()
    services.metrics.timed("delivery-send", lambda: None)()
    bot.driver.event({"type": "app_home_opened", "user": "U0ANA", "tab": "home"})
    deadline = time.monotonic() + 10
    while bot.fake.home_view("U0ANA") is None and time.monotonic() < deadline:
        time.sleep(0.05)  # Home renders after the ack; let it finish before the fake stops

    with urllib.request.urlopen(f"{bot.url}/metrics", timeout=5) as response:
        got = _samples(response.read().decode())
    assert got[("nudgebot_sends_total", (("outcome", "sent"),))] == 1
    assert got[("nudgebot_sends_total", (("outcome", "failed"),))] == 1
    assert got[("nudgebot_deliveries", (("status", "sent"),))] == 1
    assert got[("nudgebot_deliveries", (("status", "failed"),))] == 1
    errors = (("error", "channel_not_found"), ("method", "chat.postMessage"))
    assert got[("nudgebot_slack_errors_total", errors)] == 1
    assert got[("nudgebot_tick_seconds_count", (("tick", "delivery-send"),))] == 1
    assert got[("nudgebot_ack_seconds_count", ())] >= 1
