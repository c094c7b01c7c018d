"""The sender against the fake Slack: DMs with metadata, faults, DnD, exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.clock import FixedClock
from bot.delivery.models import Delivery, DeliveryStatus
from bot.delivery.pacing import Pacer
from bot.delivery.planner import enroll_and_plan
from bot.delivery.sender import Sender, SenderRefused
from bot.people.models import Person
from bot.proof.models import BoxStatus, ReinforcementBox
from bot.services import Services
from tests.delivery.conftest import step, store_person, store_program
from tests.fakeslack import FakeSlack


def _setup(services: Services, fake: FakeSlack, users: list[str], steps=None) -> None:  # type: ignore[no-untyped-def]
    with services.session() as session:
        store_program(session, "welcome", steps or [step("hello", day=0)])
        for user in users:
            fake.add_user(user, name=user.lower(), tz="UTC")
            store_person(session, user, tz="UTC")
        enroll_and_plan(
            session,
            settings=services.settings,
            now=services.clock.now(),
            program_id="welcome",
            user_ids=users,
            starts_at=services.clock.now(),
            enrolled_by="t",
            source="t",
        )


def _rows(services: Services) -> list[Delivery]:
    with services.session() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def _nudges(fake: FakeSlack, user: str) -> list[dict]:  # type: ignore[type-arg]
    return [
        m
        for m in fake.dm_messages(user)
        if (m.get("metadata") or {}).get("event_type") == "nudge_delivery"
    ]


def test_a_due_nudge_arrives_as_a_dm_carrying_its_delivery_id_and_is_recorded_sent(
    services: Services, fake_slack: FakeSlack
) -> None:
    _setup(services, fake_slack, ["U0ALICE"], [step("hello", day=0), step("later", day=3)])
    stats = Sender(services).send_due()

    (message,) = _nudges(fake_slack, "U0ALICE")
    hello, later = _rows(services)
    assert stats.sent == 1
    assert message["metadata"]["event_payload"]["delivery_id"] == hello.id
    assert "Do hello now." in message["text"]
    assert message["blocks"][0]["text"]["text"] == "Do hello now."
    assert (hello.status, hello.channel_id, hello.message_ts) == (
        DeliveryStatus.sent,
        fake_slack.dm_channel_id("U0ALICE"),
        message["ts"],
    )
    assert later.status == DeliveryStatus.planned  # not due yet: not sent


def test_a_lost_answer_is_reconciled_from_history_instead_of_posting_twice(
    services: Services, fake_slack: FakeSlack, clock: FixedClock
) -> None:
    _setup(services, fake_slack, ["U0ALICE"])
    # Slack posts the message but the connection drops before the answer arrives.
    fake_slack.inject("chat.postMessage", "drop", commit=True)
    sender = Sender(services)
    first = sender.send_due()
    assert first.retried == 1 and _rows(services)[0].status == DeliveryStatus.planned

    clock.advance(timedelta(minutes=1))
    second = sender.send_due()
    (row,) = _rows(services)
    assert second.reconciled == 1
    assert len(_nudges(fake_slack, "U0ALICE")) == 1
    assert (
        row.status == DeliveryStatus.sent
        and row.message_ts == _nudges(fake_slack, "U0ALICE")[0]["ts"]
    )
    assert len(fake_slack.calls_to("conversations.history")) == 1


def test_an_expired_lease_is_reconciled_before_anyone_sends_again(
    services: Services, fake_slack: FakeSlack, clock: FixedClock
) -> None:
    _setup(services, fake_slack, ["U0ALICE", "U0BOB"])
    crashed = Sender(services, owner="host:1:crashed")
    claimed = crashed.claim(10)
    # It posted Alice's nudge and died before recording anything; Bob's never went out.
    alice = next(c for c in claimed if c.person.slack_user_id == "U0ALICE")
    crashed._process(alice)

    survivor = Sender(services)
    assert survivor.send_due().claimed == 0  # leased rows are not touched
    clock.advance(timedelta(seconds=services.settings.send_lease_seconds + 1))
    assert survivor.reap() == 2
    stats = survivor.send_due()

    assert (stats.reconciled, stats.sent) == (1, 1)
    assert len(_nudges(fake_slack, "U0ALICE")) == 1 and len(_nudges(fake_slack, "U0BOB")) == 1
    assert {r.status for r in _rows(services)} == {DeliveryStatus.sent}


def test_permanent_errors_are_recorded_once_and_never_retried(
    services: Services, fake_slack: FakeSlack, clock: FixedClock
) -> None:
    _setup(services, fake_slack, ["U0GONE", "U0INACT", "U0OK"])
    fake_slack.update_user("U0GONE", deleted=True)  # conversations.open: user_disabled
    sender = Sender(services)
    # The posting answer for one person is account_inactive.
    fake_slack.inject("chat.postMessage", "ok_false", error="account_inactive")
    stats = sender.send_due()
    clock.advance(timedelta(hours=1))
    again = sender.send_due()

    rows = {r.person_id: r for r in _rows(services)}
    failed = [r for r in rows.values() if r.status == DeliveryStatus.failed]
    assert stats.failed == 2 and again.claimed == 0
    assert sorted(r.last_error or "" for r in failed) == ["account_inactive", "user_disabled"]
    assert sum(1 for r in rows.values() if r.status == DeliveryStatus.sent) == 1
    assert len(fake_slack.calls_to("chat.postMessage")) == 2  # one refused, one sent


def test_temporary_errors_retry_with_backoff_up_to_a_limit(
    services: Services, fake_slack: FakeSlack, clock: FixedClock
) -> None:
    _setup(services, fake_slack, ["U0ALICE", "U0BOB"])
    fake_slack.inject("chat.postMessage", "server_error", times=2, status=503)
    # Pacing on the test clock: the one-second gap per conversation costs no real time.
    pacer = Pacer(
        0,
        now=lambda: clock.now().timestamp(),
        sleep=lambda s: clock.advance(timedelta(seconds=s)),
    )
    sender = Sender(services, pacer=pacer)
    sender.send_due()
    planned = [r for r in _rows(services) if r.status == DeliveryStatus.planned]
    assert len(planned) == 2 and all(r.due_at > clock.now() for r in planned)  # backed off

    for _ in range(3):
        clock.advance(timedelta(minutes=2))
        sender.send_due()
    assert [r.status for r in _rows(services)] == [DeliveryStatus.sent] * 2
    assert len(_nudges(fake_slack, "U0ALICE")) == 1 and len(_nudges(fake_slack, "U0BOB")) == 1

    # A fault that never ends: the row fails after NUDGEBOT_SEND_MAX_ATTEMPTS, once.
    with services.session() as session:
        store_program(session, "second", [step("s", day=0)])
        enroll_and_plan(
            session,
            settings=services.settings,
            now=clock.now(),
            program_id="second",
            user_ids=["U0ALICE"],
            starts_at=clock.now(),
            enrolled_by="t",
            source="t",
        )
    fake_slack.inject("chat.postMessage", "server_error", times=None)
    for _ in range(services.settings.send_max_attempts + 2):
        clock.advance(timedelta(minutes=20))
        sender.send_due()
    last = _rows(services)[-1]
    assert last.status == DeliveryStatus.failed and last.last_error is not None
    assert last.last_error.startswith(
        f"gave up after {services.settings.send_max_attempts} attempts"
    )


def test_a_429_pauses_the_budget_for_retry_after_and_nothing_is_lost(
    services: Services, fake_slack: FakeSlack, clock: FixedClock
) -> None:
    _setup(services, fake_slack, ["U0ALICE", "U0BOB"])
    # Longer than a claim may wait inside its lease: whatever is in hand is handed back.
    fake_slack.inject("chat.postMessage", "rate_limited", retry_after=60)

    def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))

    pacer = Pacer(60, now=lambda: clock.now().timestamp(), sleep=sleep)
    sender = Sender(services, pacer=pacer)
    sender.threads = 1  # one post after the other, so the 429 comes before the second
    first = sender.send_due()
    # One post was answered 429: it and every post after it wait out Retry-After.
    assert first.sent == 0 and first.deferred == 2
    rows = _rows(services)
    assert all(r.status == DeliveryStatus.planned for r in rows)
    assert all(r.due_at >= clock.now() + timedelta(seconds=59) for r in rows)
    assert sender.send_due().claimed == 0  # nobody claims them during the pause

    clock.advance(timedelta(seconds=60))
    assert sender.send_due().sent == 2
    assert [r.status for r in _rows(services)] == [DeliveryStatus.sent] * 2
    assert all(r.attempts == 1 for r in _rows(services))  # a 429 is not an attempt
    assert len(fake_slack.calls_to("chat.postMessage")) == 3


def test_do_not_disturb_defers_inside_the_window_or_to_the_next_one(
    services: Services, fake_slack: FakeSlack, clock: FixedClock
) -> None:
    _setup(services, fake_slack, ["U0SHORT", "U0LONG"])
    now = clock.now().timestamp()
    fake_slack.set_dnd("U0SHORT", next_start_ts=int(now - 600), next_end_ts=int(now + 1800))
    fake_slack.set_dnd("U0LONG", next_start_ts=int(now - 600), next_end_ts=int(now + 12 * 3600))
    sender = Sender(services)
    assert sender.send_due().deferred == 2
    with services.session() as session:
        due = {
            p: d
            for p, d in session.execute(
                select(Person.slack_user_id, Delivery.due_at).join(
                    Person, Person.id == Delivery.person_id
                )
            )
        }
    assert due["U0SHORT"] == datetime.fromtimestamp(int(now + 1800), UTC)  # after DnD, same day
    assert due["U0LONG"] == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # next working morning
    assert fake_slack.dm_messages("U0SHORT") == []


def test_people_who_left_get_nothing(
    services: Services, fake_slack: FakeSlack, session: Session
) -> None:
    _setup(services, fake_slack, ["U0LEFT"])
    with services.session() as s:
        person = s.scalar(select(Person).where(Person.slack_user_id == "U0LEFT"))
        assert person is not None
        person.is_deleted = True  # deactivated after planning, before sending
    Sender(services).send_due()
    assert fake_slack.dm_messages("U0LEFT") == []
    assert _rows(services)[0].status == DeliveryStatus.cancelled


def test_a_second_sender_on_sqlite_is_refused_with_a_clear_message(
    services: Services, fake_slack: FakeSlack
) -> None:
    first, second = Sender(services), Sender(services)
    first.hold_lock()
    if services.engine.dialect.name == "sqlite":
        with pytest.raises(SenderRefused, match="SQLite allows one sender"):
            second.hold_lock()
        first.release_lock()
        second.hold_lock()  # free again once the first stops
    else:
        second.hold_lock()  # PostgreSQL: replicas share the work


def test_two_nudges_to_one_person_are_a_second_apart(
    services: Services, fake_slack: FakeSlack
) -> None:
    _setup(services, fake_slack, ["U0ALICE"], [step("one", day=0), step("two", day=0)])
    with services.session() as session:  # both due at once: the sender spaces them
        session.execute(update(Delivery).values(due_at=services.clock.now()))
    Sender(services).send_due()
    posts = [c.time for c in fake_slack.calls_to("chat.postMessage")]
    assert len(posts) == 2 and posts[1] - posts[0] >= 0.95


def test_a_repetition_of_a_settled_step_is_not_sent(
    services: Services, fake_slack: FakeSlack, clock: FixedClock
) -> None:
    repeat = step("habit", day=0, extra={"repeat": {"intervals_days": [2]}})
    _setup(services, fake_slack, ["U0ALICE"], [repeat])
    sender = Sender(services)
    assert sender.send_due().sent == 1
    with services.session() as session:
        first = session.scalar(select(Delivery).where(Delivery.repetition == 0))
        assert first is not None
        # Done in the top box: the habit holds (what bot.proof records on the click).
        session.add(
            ReinforcementBox(
                enrollment_id=first.enrollment_id,
                step_id="habit",
                box=1,
                status=BoxStatus.confirmed,
            )
        )
    clock.set(datetime(2026, 11, 30, 17, 29, tzinfo=UTC))  # day 2 is a Saturday: Monday
    stats = sender.send_due()
    assert stats.skipped == 1 and stats.sent == 0
    assert len(_nudges(fake_slack, "U0ALICE")) == 1
    assert _rows(services)[1].status == DeliveryStatus.skipped


def test_a_slow_post_holds_up_only_its_own_nudge(services: Services, fake_slack: FakeSlack) -> None:
    users = [f"U0P{i:04d}" for i in range(20)]
    _setup(services, fake_slack, users)
    # The first post is carried out at once, but its answer comes five seconds late.
    fake_slack.inject("chat.postMessage", "slow", seconds=5.0)
    sender = Sender(services, batch_size=5)
    sender.threads = 2
    assert sender.send_due().sent == 20

    posts = fake_slack.calls_to("chat.postMessage")
    (slow,) = [c for c in posts if c.fault == "slow"]
    others = [c for c in posts if c is not slow]
    assert len(others) == 19
    # The other thread went on claiming and posting while that answer was awaited:
    # nobody else's nudge waited for it (in batches, 15 of them did).
    assert max(c.time for c in others) < slow.time + 5.0
    assert all(r.status == DeliveryStatus.sent for r in _rows(services))


def test_slack_away_for_longer_than_every_retry_loses_no_nudge(
    services: Services, fake_slack: FakeSlack, clock: FixedClock
) -> None:
    _setup(services, fake_slack, ["U0ALICE"])
    # Slack answers nothing but 503 pages, far past NUDGEBOT_SEND_MAX_ATTEMPTS retries.
    fake_slack.inject(None, "server_error", times=None, status=503)
    sender = Sender(services)
    for _ in range(services.settings.send_max_attempts + 4):
        clock.advance(timedelta(minutes=20))
        sender.send_due()
    (row,) = _rows(services)
    assert row.status == DeliveryStatus.planned and row.last_error == "retrying: http_503"

    fake_slack.clear_faults()  # Slack is back: the nudge goes out, once
    clock.advance(timedelta(minutes=20))
    sender.send_due()
    (row,) = _rows(services)
    assert row.status == DeliveryStatus.sent
    assert len(_nudges(fake_slack, "U0ALICE")) == 1
