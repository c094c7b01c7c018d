"""The service refuses what the UI would never offer: forged edits and decisions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import FixedClock
from bot.errors import PermissionDenied, UserError
from bot.intake import service
from bot.intake.models import DecisionAction, IntakeDecision, RequestStatus
from tests.intake.conftest import GOOD, LEAD, REQUESTER


def test_only_the_requester_may_edit_and_only_leads_may_decide(
    session: Session, clock: FixedClock
) -> None:
    request = service.submit(session, user_id=REQUESTER, answers=GOOD, now=clock.now())

    with pytest.raises(PermissionDenied):
        service.submit(
            session, user_id="U0MALLORY", answers=GOOD, now=clock.now(), request_id=request.id
        )
    with pytest.raises(PermissionDenied):
        service.decide(
            session,
            request_id=request.id,
            action=DecisionAction.approved,
            actor_id=REQUESTER,
            actor_is_lead=False,
            now=clock.now(),
        )
    with pytest.raises(UserError, match="write the question"):
        service.decide(
            session,
            request_id=request.id,
            action=DecisionAction.needs_info,
            actor_id=LEAD,
            actor_is_lead=True,
            now=clock.now(),
            note="  ",
        )
    assert request.status is RequestStatus.open
    assert [d.action for d in service.history(session, request.id)] == [DecisionAction.submitted]


def test_decisions_are_kept_with_who_and_when_and_a_closed_request_stays_closed(
    session: Session, clock: FixedClock
) -> None:
    request = service.submit(session, user_id=REQUESTER, answers=GOOD, now=clock.now())
    clock.advance(timedelta(hours=2))
    service.decide(
        session,
        request_id=request.id,
        action=DecisionAction.declined,
        actor_id=LEAD,
        actor_is_lead=True,
        now=clock.now(),
        note="A job aid will do",
    )

    with pytest.raises(UserError, match=f"already declined by <@{LEAD}>"):
        service.decide(
            session,
            request_id=request.id,
            action=DecisionAction.approved,
            actor_id=LEAD,
            actor_is_lead=True,
            now=clock.now(),
        )
    with pytest.raises(UserError, match="already declined"):
        service.submit(
            session, user_id=REQUESTER, answers=GOOD, now=clock.now(), request_id=request.id
        )
    trail = session.scalars(select(IntakeDecision).order_by(IntakeDecision.id)).all()
    assert [(d.action, d.actor_slack_user_id, d.note, d.created_at) for d in trail] == [
        (DecisionAction.submitted, REQUESTER, None, clock.now() - timedelta(hours=2)),
        (DecisionAction.declined, LEAD, "A job aid will do", clock.now()),
    ]
    assert (request.decided_by, request.decided_at) == (LEAD, clock.now())
    assert service.ranked(session, now=clock.now()) == []  # no longer in the open portfolio
    assert len(service.ranked(session, now=clock.now(), include_closed=True)) == 1
