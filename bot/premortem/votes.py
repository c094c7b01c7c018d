"""Votes on risks, the ranking they give, and merging risks that say the same thing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.premortem.models import (
    Phase,
    Premortem,
    Risk,
    RiskStatus,
    Vote,
)
from bot.premortem.threads import active_risks, risk_by_number

# -- votes --------------------------------------------------------------------------


@dataclass(frozen=True)
class VoteResult:
    counted: bool
    message: str
    risk: Risk
    remaining: int


def votes_used(session: Session, premortem_id: int, voter_id: str) -> int:
    used = session.scalar(
        select(func.coalesce(func.sum(Vote.weight), 0)).where(
            Vote.premortem_id == premortem_id, Vote.voter_id == voter_id
        )
    )
    return int(used or 0)


def cast_vote(session: Session, *, premortem: Premortem, risk_id: int, voter_id: str) -> VoteResult:
    """One click = one vote, within the budget and the per-risk maximum; never more."""
    risk = session.get(Risk, risk_id)
    if risk is None or risk.premortem_id != premortem.id:
        raise UserError("that risk is not part of this pre-mortem")
    if premortem.phase != Phase.vote:
        raise UserError("voting is closed for this pre-mortem; your click was not counted")
    if risk.status != RiskStatus.active:
        raise UserError(f"risk #{risk.number} was merged into another; vote on that one instead")
    used = votes_used(session, premortem.id, voter_id)
    vote = session.scalar(select(Vote).where(Vote.risk_id == risk.id, Vote.voter_id == voter_id))
    on_risk = vote.weight if vote else 0
    if on_risk >= premortem.votes_per_risk:
        return VoteResult(
            False,
            f"Your vote on #{risk.number} is already counted (at most {premortem.votes_per_risk} "
            f"per risk). You have {premortem.vote_budget - used} left.",
            risk,
            premortem.vote_budget - used,
        )
    if used >= premortem.vote_budget:
        return VoteResult(
            False,
            f"You have used all {premortem.vote_budget} of your votes. Use *Take back my votes* "
            "to vote again.",
            risk,
            0,
        )
    if vote is None:
        session.add(Vote(premortem_id=premortem.id, risk_id=risk.id, voter_id=voter_id, weight=1))
    else:
        vote.weight += 1
    session.flush()
    left = premortem.vote_budget - used - 1
    return VoteResult(True, f"Vote counted on #{risk.number}. {left} left.", risk, left)


def take_back_votes(session: Session, *, premortem: Premortem, voter_id: str) -> int:
    if premortem.phase != Phase.vote:
        raise UserError("voting is closed for this pre-mortem; votes can no longer change")
    votes = list(
        session.scalars(
            select(Vote).where(Vote.premortem_id == premortem.id, Vote.voter_id == voter_id)
        )
    )
    for vote in votes:
        session.delete(vote)
    session.flush()
    return sum(v.weight for v in votes)


def tallies(session: Session, premortem_id: int) -> dict[int, int]:
    rows = session.execute(
        select(Vote.risk_id, func.sum(Vote.weight))
        .where(Vote.premortem_id == premortem_id)
        .group_by(Vote.risk_id)
    )
    return {risk_id: int(total) for risk_id, total in rows}


@dataclass(frozen=True)
class RankedRisk:
    rank: int
    risk: Risk
    votes: int
    merged_numbers: tuple[int, ...]


def ranked_risks(session: Session, premortem_id: int) -> list[RankedRisk]:
    """Active, on-time risks by votes (most first), ties by the order they were raised."""
    counts = tallies(session, premortem_id)
    merged: dict[int, list[int]] = {}
    for risk in session.scalars(
        select(Risk).where(Risk.premortem_id == premortem_id, Risk.status == RiskStatus.merged)
    ):
        if risk.merged_into_id is not None:
            merged.setdefault(risk.merged_into_id, []).append(risk.number)
    risks = sorted(
        active_risks(session, premortem_id), key=lambda r: (-counts.get(r.id, 0), r.number)
    )
    return [
        RankedRisk(i + 1, r, counts.get(r.id, 0), tuple(sorted(merged.get(r.id, []))))
        for i, r in enumerate(risks)
    ]


def top_risks(session: Session, premortem: Premortem) -> list[RankedRisk]:
    return ranked_risks(session, premortem.id)[: premortem.top_risks]


def merge(
    session: Session, *, premortem: Premortem, source_number: int, target_number: int
) -> tuple[Risk, Risk]:
    """Fold `source` into `target`; votes move along, each person still within the maximum."""
    if premortem.phase not in (Phase.collect, Phase.vote):
        raise UserError("risks can be merged only while collecting or voting")
    if source_number == target_number:
        raise UserError("pick two different risks to merge")
    source = risk_by_number(session, premortem.id, source_number)
    target = risk_by_number(session, premortem.id, target_number)
    for vote in list(session.scalars(select(Vote).where(Vote.risk_id == source.id))):
        mine = session.scalar(
            select(Vote).where(Vote.risk_id == target.id, Vote.voter_id == vote.voter_id)
        )
        if mine is None:
            vote.risk_id = target.id
        else:
            # Over the per-risk maximum after the merge: the extra votes go back to the voter.
            mine.weight = min(mine.weight + vote.weight, premortem.votes_per_risk)
            session.delete(vote)
    source.status = RiskStatus.merged
    source.merged_into_id = target.id
    if target.board_page is None:
        target.board_page = source.board_page
    session.flush()
    return source, target
