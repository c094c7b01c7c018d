"""A pre-mortem's phases: collect, vote, decide, done, moved by hand or on deadline."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.premortem.command import PAGE_SIZE
from bot.premortem.models import (
    Phase,
    Premortem,
    Risk,
    Vote,
)
from bot.premortem.threads import active_risks
from bot.settings import Settings

# -- phases -------------------------------------------------------------------------


def advance(session: Session, *, premortem: Premortem, settings: Settings, now: datetime) -> Phase:
    """Move to the next phase. Permission is the caller's check (ticks move on deadline)."""
    if premortem.phase == Phase.collect:
        _open_vote(session, premortem, settings, now)
    elif premortem.phase == Phase.vote:
        _close_vote(session, premortem)
    elif premortem.phase == Phase.decide:
        premortem.phase = Phase.done
        premortem.phase_deadline = None
        premortem.finished_at = now
    else:
        raise UserError("this pre-mortem is already finished")
    return premortem.phase


def _open_vote(session: Session, premortem: Premortem, settings: Settings, now: datetime) -> None:
    for index, risk in enumerate(active_risks(session, premortem.id)):
        risk.board_page = index // PAGE_SIZE
    premortem.phase = Phase.vote
    premortem.phase_deadline = now + timedelta(hours=settings.premortem_vote_hours)
    premortem.board_ts = []


def _close_vote(session: Session, premortem: Premortem) -> None:
    premortem.phase = Phase.decide
    premortem.phase_deadline = None
    # The count stays, who gave it goes: votes on anonymous risks lose their voter.
    anonymous = select(Risk.id).where(Risk.premortem_id == premortem.id, Risk.anonymous.is_(True))
    session.execute(update(Vote).where(Vote.risk_id.in_(anonymous)).values(voter_id=None))


def due_for_advance(session: Session, *, now: datetime) -> list[int]:
    return list(
        session.scalars(
            select(Premortem.id).where(
                Premortem.phase.in_([Phase.collect, Phase.vote]),
                Premortem.phase_deadline.is_not(None),
                Premortem.phase_deadline <= now,
            )
        )
    )


def needing_repost(session: Session) -> list[int]:
    """Pre-mortems whose current phase message never reached the channel."""
    return list(session.scalars(select(Premortem.id).where(Premortem.channel_problem.is_not(None))))
