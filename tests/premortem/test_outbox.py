"""Pre-mortem follow-ups as outbox rows: what the sender, forget/export and the learning
rules (fatigue, spaced repetition) do with deliveries that are not steps of a program."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import FixedClock
from bot.delivery.models import Delivery, DeliveryStatus
from bot.delivery.sender import Sender
from bot.governance import service as governance
from bot.people.models import Person
from bot.premortem import service
from bot.premortem.models import FollowupKind, Premortem, Prevention, PreventionStatus
from bot.proof.pauses import fatigue_candidates, unanswered_streak
from bot.proof.service import apply_silence
from bot.services import Services
from bot.settings import Settings
from tests.fakeslack import FakeSlack

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
OWNER, FACILITATOR = "U0OWNER", "U0FACIL"


def _person(session: Session, user_id: str) -> Person:
    # Open every day, all day: the follow-up is due at once, whatever the weekday.
    person = Person(
        slack_user_id=user_id,
        name=user_id.lower(),
        tz="UTC",
        working_hours="00:00-23:59",
        working_days="mon,tue,wed,thu,fri,sat,sun",
    )
    session.add(person)
    session.flush()
    return person


def _finished(session: Session, settings: Settings) -> tuple[Premortem, Prevention]:
    request = service.StartRequest("Launch", "why", 6)
    p = service.start(
        session,
        settings=settings,
        channel_id="C0X",
        user_id=FACILITATOR,
        request=request,
        now=NOW,
    )
    risk = service.add_thread_risk(
        session, premortem=p, user_id="U0A", text="Slow", message_ts="1.1"
    )
    assert risk is not None
    service.advance(session, premortem=p, settings=settings, now=NOW)
    service.advance(session, premortem=p, settings=settings, now=NOW)
    prevention = service.record_prevention(
        session,
        premortem=p,
        risk_id=risk.id,
        action="Talk early",
        owner_id=OWNER,
        due=date(2026, 11, 27),
        decided_by=FACILITATOR,
    )
    service.advance(session, premortem=p, settings=settings, now=NOW)
    return p, prevention


def _plan_both(services: Services) -> tuple[int, int]:
    """An owner's reminder (due now) and the facilitator's review; their delivery ids."""
    settings = services.settings
    with services.session() as session:
        p, prevention = _finished(session, settings)
        nudge = service.plan_owner_nudge(
            session,
            prevention=prevention,
            person=_person(session, OWNER),
            settings=settings,
            now=NOW,
        )
        review = service.plan_review(
            session,
            premortem=p,
            person=_person(session, FACILITATOR),
            settings=settings,
            now=NOW,
        )
        assert nudge is not None
        return nudge.id, review.id


def _row(services: Services, delivery_id: int) -> Delivery:
    with services.session() as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        return row


def test_a_prevention_closed_while_its_reminder_was_stuck_in_a_sender_is_never_posted(
    services: Services, fake_slack: FakeSlack, clock: FixedClock
) -> None:
    fake_slack.add_user(OWNER, name="owner", tz="UTC")
    clock.set(NOW)
    nudge_id, _ = _plan_both(services)
    stuck = Sender(services, owner="elsewhere:1:stuck")
    assert [c.delivery.id for c in stuck.claim(10)] == [nudge_id]
    # The owner marks it done while that sender hangs: the row is not planned, so the
    # click cannot cancel it; the sender that takes it over must not post it.
    with services.session() as session:
        service.set_prevention_status(
            session,
            prevention_id=_row(services, nudge_id).ref_id or 0,
            status=PreventionStatus.done,
            actor_id=OWNER,
            is_lead=False,
            now=NOW,
        )
    clock.advance(timedelta(seconds=services.settings.send_lease_seconds + 1))
    survivor = Sender(services)
    assert survivor.reap() == 1
    survivor.send_due()
    assert fake_slack.dm_messages(OWNER) == []
    row = _row(services, nudge_id)
    assert (row.status, row.last_error) == (DeliveryStatus.cancelled, "prevention done")


def test_a_permanent_slack_error_is_recorded_once_on_the_follow_up(
    services: Services, fake_slack: FakeSlack, clock: FixedClock
) -> None:
    fake_slack.add_user(OWNER, name="owner", tz="UTC")
    clock.set(NOW)
    nudge_id, _ = _plan_both(services)
    fake_slack.inject("chat.postMessage", "ok_false", error="user_disabled", times=None)
    sender = Sender(services)
    assert sender.send_due().failed == 1
    clock.advance(timedelta(hours=1))
    assert sender.send_due().claimed == 0  # never retried
    row = _row(services, nudge_id)
    assert (row.status, row.last_error, row.attempts) == (DeliveryStatus.failed, "user_disabled", 1)


def test_forget_and_export_find_follow_ups_by_person(services: Services) -> None:
    nudge_id, review_id = _plan_both(services)
    with services.session() as session:
        subject = governance.find_subject(session, user=OWNER)
        exported = governance.export(session, subject=subject, actor="U0LEAD", now=NOW)
        assert [(d["id"], d["kind"]) for d in exported["tables"]["deliveries"]] == [
            (nudge_id, FollowupKind.owner.value)
        ]
        governance.forget(session, subject=subject, actor="U0LEAD", now=NOW)
    with services.session() as session:
        left = session.scalars(select(Delivery.id)).all()
        prevention = session.scalars(select(Prevention)).one()
    # The owner's reminder is gone with them; the facilitator's review stays.
    assert left == [review_id]
    assert prevention.owner_id == ""


def test_an_unanswered_follow_up_is_no_unanswered_nudge(
    services: Services, fake_slack: FakeSlack, clock: FixedClock
) -> None:
    """A follow-up asks for no answer: it never counts towards fatigue, and spaced
    repetition (which moves unanswered steps) leaves it alone."""
    fake_slack.add_user(OWNER, name="owner", tz="UTC")
    clock.set(NOW)
    nudge_id, _ = _plan_both(services)
    assert Sender(services).send_due().sent == 1
    settings = services.settings
    later = NOW + timedelta(hours=settings.answer_grace_hours + 1)
    with services.session() as session:
        owner = session.scalars(select(Person).where(Person.slack_user_id == OWNER)).one()
        assert (
            unanswered_streak(session, person_id=owner.id, now=later, settings=settings, limit=5)
            == 0
        )
        assert owner.id not in fatigue_candidates(session, now=later, settings=settings)
        assert apply_silence(session, now=later, settings=settings) == 0
    assert _row(services, nudge_id).status == DeliveryStatus.sent
