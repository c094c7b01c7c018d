"""Pre-mortem follow-ups as the delivery outbox sees them: who receives one, what it says.

Planning lives in `planning` (plan_owner_nudge, plan_review, cancel_followups); the
sender (bot.delivery.sender) calls `render` when it claims a follow-up row, inside
its session, and posts the result like any nudge. No Slack calls here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from bot.delivery import plugins
from bot.delivery.models import Delivery
from bot.people.models import Person
from bot.people.service import apply_slack_user, find_person
from bot.premortem import blocks
from bot.premortem.decisions import preventions
from bot.premortem.models import FollowupKind, Premortem, Prevention, PreventionStatus, Risk

KINDS = frozenset(FollowupKind)


class NotWanted(plugins.NotWanted):
    """The follow-up has nothing left to say (the prevention was closed, the pre-mortem
    is gone); the message says why, and the sender records it on the row."""


def recipient(
    session: Session, *, user_id: str, slack_user: Mapping[str, Any] | None, workspace_id: str
) -> Person:
    """The person a follow-up goes to. An owner picked in the decision form may not be in
    the directory yet: they are added from their Slack profile (time zone, locale), or
    with the defaults when Slack could not be asked; the next people sync completes them."""
    workspace = workspace_id or None
    person = find_person(session, user_id, workspace_id=workspace)
    if person is not None:
        return person
    if slack_user is not None:
        person = apply_slack_user(session, user=slack_user, workspace_id=workspace)
    if person is None:
        person = Person(slack_user_id=user_id, workspace_id=workspace_id, name="")
        session.add(person)
        session.flush()
    return person


def render(session: Session, delivery: Delivery) -> dict[str, Any]:
    """`{"text", "blocks"}` of a follow-up as it stands now; NotWanted when it has none."""
    if delivery.kind == FollowupKind.owner:
        return _owner_nudge(session, delivery)
    if delivery.kind == FollowupKind.review:
        return _review(session, delivery)
    raise NotWanted(f"not a pre-mortem follow-up: {delivery.kind}")


def _owner_nudge(session: Session, delivery: Delivery) -> dict[str, Any]:
    prevention = session.get(Prevention, delivery.ref_id)
    if prevention is None:
        raise NotWanted("the prevention was deleted")
    if prevention.status != PreventionStatus.open:
        raise NotWanted(f"prevention {prevention.status.value}")
    premortem = session.get(Premortem, prevention.premortem_id)
    risk = session.get(Risk, prevention.risk_id)
    owner = session.get(Person, delivery.person_id)
    if premortem is None or risk is None:
        raise NotWanted("the pre-mortem was deleted")
    if owner is None or owner.slack_user_id != prevention.owner_id:
        raise NotWanted("the prevention has another owner now")
    return {
        "text": f"Reminder: your pre-mortem prevention is due {prevention.due_date}",
        "blocks": blocks.nudge_blocks(premortem, prevention, risk),
    }


def _review(session: Session, delivery: Delivery) -> dict[str, Any]:
    premortem = session.get(Premortem, delivery.ref_id)
    if premortem is None:
        raise NotWanted("the pre-mortem was deleted")
    still_open = [
        p
        for p in preventions(session, premortem.id)
        if p.status in (PreventionStatus.open, PreventionStatus.blocked)
    ]
    return {
        "text": f"Time to re-review the pre-mortem {premortem.initiative}",
        "blocks": blocks.review_blocks(premortem, still_open),
    }
