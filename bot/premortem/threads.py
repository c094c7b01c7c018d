"""A pre-mortem's thread: starting and finding it, the risks raised in it, who runs it.

Permission checks live here too, so every entry point (button, modal, CLI) runs them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.errors import PermissionDenied, UserError
from bot.premortem.command import MAX_RISK_CHARS, StartRequest, add_months
from bot.premortem.models import (
    Phase,
    Premortem,
    Risk,
    RiskStatus,
    Vote,
)
from bot.settings import Settings

# -- starting and finding --------------------------------------------------------------


def start(
    session: Session,
    *,
    settings: Settings,
    channel_id: str,
    user_id: str,
    request: StartRequest,
    now: datetime,
    workspace_id: str = "",
) -> Premortem:
    premortem = Premortem(
        workspace_id=workspace_id,
        channel_id=channel_id,
        initiative=request.initiative,
        template=request.template,
        facilitator_id=user_id,
        started_by=user_id,
        horizon=add_months(now.date(), request.horizon_months),
        phase=Phase.collect,
        phase_deadline=now + timedelta(hours=settings.premortem_collect_hours),
        vote_budget=settings.premortem_vote_budget,
        votes_per_risk=settings.premortem_votes_per_risk,
        top_risks=settings.premortem_top_risks,
        board_ts=[],
    )
    session.add(premortem)
    session.flush()
    return premortem


def _in_workspace(premortem: Premortem | None, workspace_id: str | None) -> bool:
    """`workspace_id` (OAuth mode): another workspace's pre-mortem does not exist for
    the caller. None: one workspace, every pre-mortem is its own."""
    return premortem is not None and (
        workspace_id is None or premortem.workspace_id == workspace_id
    )


def get(session: Session, premortem_id: int, *, workspace_id: str | None = None) -> Premortem:
    premortem = session.get(Premortem, premortem_id)
    if premortem is None or not _in_workspace(premortem, workspace_id):
        raise UserError(f"no pre-mortem with id {premortem_id}; see `nudgebot premortem list`")
    return premortem


def get_for_update(
    session: Session, premortem_id: int, *, workspace_id: str | None = None
) -> Premortem:
    """The pre-mortem, row-locked on PostgreSQL so concurrent clicks queue up."""
    premortem = session.scalar(
        select(Premortem).where(Premortem.id == premortem_id).with_for_update()
    )
    if premortem is None or not _in_workspace(premortem, workspace_id):
        raise UserError(f"no pre-mortem with id {premortem_id}")
    return premortem


def find_by_thread(
    session: Session, *, channel_id: str, thread_ts: str, workspace_id: str | None = None
) -> Premortem | None:
    query = select(Premortem).where(
        Premortem.channel_id == channel_id, Premortem.parent_ts == thread_ts
    )
    if workspace_id is not None:
        query = query.where(Premortem.workspace_id == workspace_id)
    return session.scalar(query)


# -- risks -------------------------------------------------------------------------


def _next_number(session: Session, premortem_id: int) -> int:
    top = session.scalar(select(func.max(Risk.number)).where(Risk.premortem_id == premortem_id))
    return (top or 0) + 1


def clean_risk_text(text: str) -> str:
    text = (text or "").strip()
    return text[:MAX_RISK_CHARS]


def add_thread_risk(
    session: Session, *, premortem: Premortem, user_id: str, text: str, message_ts: str
) -> Risk | None:
    """A reply in the thread. Replies after collection are kept as late risks."""
    text = clean_risk_text(text)
    if not text:
        return None
    existing = session.scalar(
        select(Risk).where(Risk.premortem_id == premortem.id, Risk.message_ts == message_ts)
    )
    if existing is not None:
        return existing
    risk = Risk(
        premortem_id=premortem.id,
        number=_next_number(session, premortem.id),
        text=text,
        author_id=user_id,
        anonymous=False,
        message_ts=message_ts,
        late=premortem.phase != Phase.collect,
    )
    session.add(risk)
    session.flush()
    return risk


def add_anonymous_risk(session: Session, *, premortem: Premortem, text: str) -> Risk:
    """Stored with no author, no message link to a person and no hash of one."""
    if premortem.phase != Phase.collect:
        raise UserError(
            "collection has closed for this pre-mortem; anonymous risks are no longer taken"
        )
    text = clean_risk_text(text)
    if not text:
        raise UserError("write the risk before submitting")
    risk = Risk(
        premortem_id=premortem.id,
        number=_next_number(session, premortem.id),
        text=text,
        author_id=None,
        anonymous=True,
    )
    session.add(risk)
    session.flush()
    return risk


def _thread_risk(session: Session, premortem: Premortem, message_ts: str) -> Risk | None:
    return session.scalar(
        select(Risk).where(
            Risk.premortem_id == premortem.id,
            Risk.message_ts == message_ts,
            Risk.anonymous.is_(False),
        )
    )


def edit_thread_risk(
    session: Session, *, premortem: Premortem, message_ts: str, text: str
) -> Risk | None:
    """Follow an edit while collecting; afterwards keep what was collected and note it."""
    risk = _thread_risk(session, premortem, message_ts)
    if risk is None:
        return None
    if premortem.phase == Phase.collect:
        cleaned = clean_risk_text(text)
        if cleaned:
            risk.text = cleaned
    else:
        risk.changed_after_collect = True
    return risk


def delete_thread_risk(session: Session, *, premortem: Premortem, message_ts: str) -> Risk | None:
    risk = _thread_risk(session, premortem, message_ts)
    if risk is None:
        return None
    if premortem.phase == Phase.collect:
        risk.status = RiskStatus.deleted
    else:
        # Votes and decisions already rest on it: keep it, say it was withdrawn later.
        risk.changed_after_collect = True
    return risk


def active_risks(session: Session, premortem_id: int, *, include_late: bool = False) -> list[Risk]:
    query = select(Risk).where(Risk.premortem_id == premortem_id, Risk.status == RiskStatus.active)
    if not include_late:
        query = query.where(Risk.late.is_(False))
    return list(session.scalars(query.order_by(Risk.number)))


def risk_by_number(session: Session, premortem_id: int, number: int) -> Risk:
    risk = session.scalar(
        select(Risk).where(Risk.premortem_id == premortem_id, Risk.number == number)
    )
    if risk is None or risk.status != RiskStatus.active:
        raise UserError(f"there is no open risk #{number} in this pre-mortem")
    return risk


# -- who may do what --------------------------------------------------------------------


def is_facilitator(premortem: Premortem, user_id: str, *, is_lead: bool) -> bool:
    return is_lead or premortem.facilitator_id == user_id


def require_facilitator(premortem: Premortem, user_id: str, *, is_lead: bool, doing: str) -> None:
    if not is_facilitator(premortem, user_id, is_lead=is_lead):
        raise PermissionDenied(
            f"Only the facilitator (<@{premortem.facilitator_id}>) or an L&D lead can {doing}. "
            "Nothing was changed."
        )


def take_over(
    session: Session, *, premortem: Premortem, user_id: str, is_lead: bool, facilitator_gone: bool
) -> None:
    """A new facilitator: an L&D lead any time, a participant once the facilitator has left."""
    if premortem.facilitator_id == user_id:
        raise UserError("you are already the facilitator of this pre-mortem")
    if premortem.phase == Phase.done:
        raise UserError("this pre-mortem is finished; there is nothing left to facilitate")
    if not is_lead and not facilitator_gone:
        raise PermissionDenied(
            f"<@{premortem.facilitator_id}> is still here and facilitating. Ask them, or an L&D "
            "lead, to hand over. Nothing was changed."
        )
    if not is_lead and not _took_part(session, premortem.id, user_id):
        raise PermissionDenied(
            "Only someone who took part (a risk or a vote) or an L&D lead can take over. "
            "Nothing was changed."
        )
    premortem.facilitator_id = user_id


def _took_part(session: Session, premortem_id: int, user_id: str) -> bool:
    wrote = session.scalar(
        select(func.count()).where(Risk.premortem_id == premortem_id, Risk.author_id == user_id)
    )
    voted = session.scalar(
        select(func.count()).where(Vote.premortem_id == premortem_id, Vote.voter_id == user_id)
    )
    return bool(wrote or voted)
