"""Decisions: a prevention for a top risk, its owner, due date and status."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.errors import PermissionDenied, UserError
from bot.premortem.models import (
    FollowupKind,
    Phase,
    Premortem,
    Prevention,
    PreventionStatus,
    Risk,
)
from bot.premortem.planning import cancel_followups
from bot.premortem.threads import get
from bot.premortem.votes import top_risks

# -- decisions ---------------------------------------------------------------------------


MAX_ACTION_CHARS = 1000


def decision_errors(
    *, action: str, owner_id: str | None, due: date | None, today: date
) -> dict[str, str]:
    """Field errors for the decision modal, keyed by block id."""
    errors: dict[str, str] = {}
    if not action.strip():
        errors["action"] = "Describe the prevention: what will be done to stop this risk?"
    elif len(action) > MAX_ACTION_CHARS:
        errors["action"] = f"Keep it under {MAX_ACTION_CHARS} characters."
    if not owner_id:
        errors["owner"] = "Pick the person who owns this prevention."
    if due is None:
        errors["due"] = "Pick a due date."
    elif due <= today:
        errors["due"] = "Pick a date after today."
    return errors


def record_prevention(
    session: Session,
    *,
    premortem: Premortem,
    risk_id: int,
    action: str,
    owner_id: str,
    due: date,
    decided_by: str,
) -> Prevention:
    if premortem.phase != Phase.decide:
        raise UserError("decisions are recorded in the decide phase")
    risk = session.get(Risk, risk_id)
    if risk is None or risk.premortem_id != premortem.id:
        raise UserError("that risk is not part of this pre-mortem")
    if risk.id not in {r.risk.id for r in top_risks(session, premortem)}:
        raise UserError(f"risk #{risk.number} is not among the top {premortem.top_risks}")
    prevention = session.scalar(select(Prevention).where(Prevention.risk_id == risk.id))
    if prevention is None:
        prevention = Prevention(premortem_id=premortem.id, risk_id=risk.id)
        session.add(prevention)
    prevention.action = action.strip()
    prevention.owner_id = owner_id
    prevention.due_date = due
    prevention.decided_by = decided_by
    prevention.status = PreventionStatus.open
    session.flush()
    return prevention


def risk_of(session: Session, premortem: Premortem, risk_id: int) -> Risk:
    risk = session.get(Risk, risk_id)
    if risk is None or risk.premortem_id != premortem.id:
        raise UserError("that risk is not part of this pre-mortem")
    return risk


def prevention_for(session: Session, risk_id: int) -> Prevention | None:
    return session.scalar(select(Prevention).where(Prevention.risk_id == risk_id))


def preventions(session: Session, premortem_id: int) -> list[Prevention]:
    return list(
        session.scalars(
            select(Prevention)
            .where(Prevention.premortem_id == premortem_id)
            .order_by(Prevention.due_date, Prevention.id)
        )
    )


def set_prevention_status(
    session: Session,
    *,
    prevention_id: int,
    status: PreventionStatus,
    actor_id: str,
    is_lead: bool,
    now: datetime | None = None,
    workspace_id: str | None = None,
) -> Prevention:
    prevention = session.get(Prevention, prevention_id)
    if prevention is None:
        raise UserError("that prevention no longer exists")
    premortem = get(session, prevention.premortem_id, workspace_id=workspace_id)
    if actor_id not in (prevention.owner_id, premortem.facilitator_id) and not is_lead:
        raise PermissionDenied(
            f"Only the owner (<@{prevention.owner_id}>), the facilitator or an L&D lead can "
            "change this prevention. Nothing was changed."
        )
    prevention.status = status
    prevention.status_changed_by = actor_id
    if status != PreventionStatus.open:
        # A closed prevention needs no reminder (one already on its way is stopped by the
        # sender, which checks again just before posting).
        cancel_followups(
            session,
            kind=FollowupKind.owner,
            ref_ids=[prevention.id],
            reason=f"prevention {status.value}",
            now=now or utcnow(),
        )
    return prevention
