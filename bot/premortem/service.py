"""Pre-mortem rules: phases, risks, votes, merges, preventions, follow-up times.

Plain functions over a Session; no Slack calls here (listeners and posting.py do those).
Permission checks live here too, so every entry point (button, modal, CLI) runs them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.delivery.calendar import Calendar
from bot.delivery.models import Delivery, DeliveryKind, DeliveryStatus
from bot.delivery.planner import person_calendar
from bot.errors import PermissionDenied, UserError
from bot.people.models import Person
from bot.premortem.models import (
    Phase,
    Premortem,
    Prevention,
    PreventionStatus,
    Risk,
    RiskStatus,
    Vote,
)
from bot.settings import Settings

# Risks per vote-board message: 40 sections + a header + an actions row stay under
# Slack's 50 blocks per message, so a thread of 300 risks becomes 8 board messages.
PAGE_SIZE = 40
MAX_RISK_CHARS = 2000
MAX_INITIATIVE_CHARS = 300


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    questions: tuple[str, ...]


TEMPLATES: dict[str, Template] = {
    "why": Template(
        "why",
        "Why did it fail?",
        (
            "It is {horizon} and {initiative} has failed. What went wrong?",
            "What did someone see coming but never say out loud?",
            "Which dependency, person or decision let us down?",
        ),
    ),
    "risks": Template(
        "risks",
        "Risks and precautions",
        (
            "What could go wrong with {initiative} before {horizon}?",
            "Which of these would hurt most, and how likely is it?",
            "What precaution would have stopped it?",
        ),
    ),
    "stakeholders": Template(
        "stakeholders",
        "Stakeholder concerns",
        (
            "It is {horizon} and {initiative} has failed. What worried the team?",
            "What worried leadership?",
            "What worried customers?",
        ),
    ),
}


# -- the slash command --------------------------------------------------------------


@dataclass(frozen=True)
class StartRequest:
    initiative: str
    template: str
    horizon_months: int


@dataclass(frozen=True)
class Command:
    kind: str  # "start" | "list" | "help"
    start: StartRequest | None = None


_TEMPLATE_OPT = re.compile(r"(?:^|\s)--template(?:=|\s+)(\S+)")
_HORIZON_OPT = re.compile(r"(?:^|\s)--horizon(?:=|\s+)(\S+)")


def parse_command(text: str, *, settings: Settings) -> Command:
    """`/premortem <initiative> [--template NAME] [--horizon 6m]`, `list` or `help`."""
    text = (text or "").strip()
    if text.lower() in ("", "help", "-h", "--help"):
        return Command("help")
    if text.lower() == "list":
        return Command("list")
    template: str = settings.premortem_template
    months = settings.premortem_horizon_months
    if m := _TEMPLATE_OPT.search(text):
        template = m.group(1).lower()
        if template not in TEMPLATES:
            raise UserError(f"unknown template {m.group(1)!r}; use one of: {', '.join(TEMPLATES)}")
        text = _TEMPLATE_OPT.sub(" ", text, count=1)
    if m := _HORIZON_OPT.search(text):
        months = _parse_months(m.group(1))
        text = _HORIZON_OPT.sub(" ", text, count=1)
    initiative = " ".join(text.split())
    if not initiative:
        raise UserError("name the initiative, for example: /premortem Launch the new onboarding")
    if len(initiative) > MAX_INITIATIVE_CHARS:
        raise UserError(f"keep the initiative under {MAX_INITIATIVE_CHARS} characters")
    return Command("start", StartRequest(initiative, template, months))


def _parse_months(value: str) -> int:
    m = re.fullmatch(r"(\d{1,2})\s*m?", value.strip().lower())
    if not m or not 1 <= int(m.group(1)) <= 60:
        raise UserError(f"--horizon takes months between 1 and 60, like 6m; got {value!r}")
    return int(m.group(1))


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for candidate in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


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
            session, kind=DeliveryKind.premortem_owner, ref_ids=[prevention.id],
            reason=f"prevention {status.value}", now=now or utcnow(),
        )  # fmt: skip
    return prevention


# -- follow-ups: rows of the delivery outbox -------------------------------------------


# A follow-up is a delivery (bot.delivery.models.Delivery) of kind premortem_owner
# (ref: the prevention) or premortem_review (ref: the pre-mortem), so the sender
# applies the working window, Do Not Disturb, pauses, pacing, permanent errors and
# exactly-once to it like to any nudge. Its time lands on the person's working
# calendar, the delivery engine's, so zone, hours, days and public holidays mean the
# same thing for every DM.

REVIEW_ABOUT = "review"


def followup_due_at(*, schedule: Calendar, target: date, now: datetime) -> datetime:
    """The one place that turns "nudge on this local day" into a UTC moment.

    The start of working hours on the latest working day on or before `target`; if that
    has passed, the next moment inside working hours from now.
    """
    day = target
    for _ in range(14):
        if schedule.is_open_day(day):
            break
        day -= timedelta(days=1)
    start, _end = schedule.bounds(day)
    if start >= now:
        return start
    return next_allowed(schedule=schedule, now=now)


def window_end(schedule: Calendar, due: datetime) -> datetime | None:
    """The end of the working window `due` falls in: the sender never posts after it
    (a follow-up deferred past it waits for the next window, never the night)."""
    start, end = schedule.bounds(schedule.local_date(due))
    return end if start <= due < end else None


def next_allowed(*, schedule: Calendar, now: datetime) -> datetime:
    try:
        return schedule.next_open(now)[0]
    except ValueError:
        return now.astimezone(UTC)  # no working day at all: never hold a follow-up forever


def working_days_before(day: date, count: int, schedule: Calendar) -> date:
    while count > 0:
        day -= timedelta(days=1)
        if schedule.is_open_day(day):
            count -= 1
    return day


def followups(session: Session, *, kind: DeliveryKind, ref_id: int) -> list[Delivery]:
    """Every outbox row of one follow-up, oldest repetition first."""
    return list(
        session.scalars(
            select(Delivery)
            .where(Delivery.kind == kind, Delivery.ref_id == ref_id)
            .order_by(Delivery.repetition)
        )
    )


def _plan_followup(
    session: Session,
    *,
    kind: DeliveryKind,
    ref_id: int,
    person: Person,
    about: str,
    schedule: Calendar,
    due: datetime,
    now: datetime,
) -> Delivery:
    """Idempotent: the same follow-up planned twice is one row. An untouched planned
    row is moved (new owner, new date); one that is on its way or sent stays, unless
    what it is about changed: then a new repetition replaces it."""
    rows = followups(session, kind=kind, ref_id=ref_id)
    latest = rows[-1] if rows else None
    values = {"person_id": person.id, "step_id": about, "due_at": due}
    if latest is not None and latest.status == DeliveryStatus.planned and latest.attempts == 0:
        for name, value in values.items():
            setattr(latest, name, value)
        latest.window_end = window_end(schedule, due)
        latest.last_error = None
        latest.updated_at = now
        session.flush()
        return latest
    same = latest is not None and (latest.person_id, latest.step_id) == (person.id, about)
    if latest is not None and same and latest.status in _ON_ITS_WAY:
        return latest
    if latest is not None and latest.status == DeliveryStatus.planned:
        # Tried before (it may have reached Slack): what it said no longer holds.
        latest.status = DeliveryStatus.cancelled
        latest.last_error = "superseded: re-planned"
        latest.updated_at = now
    row = Delivery(
        kind=kind,
        ref_id=ref_id,
        enrollment_id=None,
        repetition=latest.repetition + 1 if latest is not None else 0,
        window_end=window_end(schedule, due),
        status=DeliveryStatus.planned,
        attempts=0,
        created_at=now,
        updated_at=now,
        **values,
    )
    # Two replicas planning the same follow-up at once: the unique key keeps one.
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return followups(session, kind=kind, ref_id=ref_id)[-1]
    return row


_ON_ITS_WAY = (DeliveryStatus.planned, DeliveryStatus.sending, DeliveryStatus.sent)


def plan_owner_nudge(
    session: Session, *, prevention: Prevention, person: Person, settings: Settings, now: datetime
) -> Delivery | None:
    """The owner's reminder, `premortem_nudge_days_before` working days before the due
    date; re-planning follows a new owner or date. None when the prevention is closed."""
    if prevention.status != PreventionStatus.open:
        cancel_followups(
            session, kind=DeliveryKind.premortem_owner, ref_ids=[prevention.id],
            reason=f"prevention {prevention.status.value}", now=now,
        )  # fmt: skip
        return None
    schedule = person_calendar(person, settings)
    target = working_days_before(
        prevention.due_date, settings.premortem_nudge_days_before, schedule
    )
    return _plan_followup(
        session,
        kind=DeliveryKind.premortem_owner,
        ref_id=prevention.id,
        person=person,
        about=prevention.due_date.isoformat(),
        schedule=schedule,
        due=followup_due_at(schedule=schedule, target=target, now=now),
        now=now,
    )


def plan_review(
    session: Session, *, premortem: Premortem, person: Person, settings: Settings, now: datetime
) -> Delivery:
    """The facilitator's re-review, `premortem_review_weeks` after the summary, on the
    first working day on or after that date."""
    schedule = person_calendar(person, settings)
    target = schedule.local_date(now) + timedelta(weeks=settings.premortem_review_weeks)
    for _ in range(14):
        if schedule.is_open_day(target):
            break
        target += timedelta(days=1)
    due = followup_due_at(schedule=schedule, target=target, now=now)
    premortem.review_at = due
    return _plan_followup(
        session,
        kind=DeliveryKind.premortem_review,
        ref_id=premortem.id,
        person=person,
        about=REVIEW_ABOUT,
        schedule=schedule,
        due=due,
        now=now,
    )


def cancel_followups(
    session: Session, *, kind: DeliveryKind, ref_ids: list[int], reason: str, now: datetime
) -> int:
    """Follow-ups not yet claimed by a sender are cancelled, with the reason."""
    if not ref_ids:
        return 0
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.kind == kind,
            Delivery.ref_id.in_(ref_ids),
            Delivery.status == DeliveryStatus.planned,
        )
        .values(status=DeliveryStatus.cancelled, last_error=reason[:255], updated_at=now),
        execution_options={"synchronize_session": False},
    )
    return int(getattr(result, "rowcount", 0) or 0)


# -- records -------------------------------------------------------------------------------


def list_premortems(
    session: Session, *, channel_id: str | None = None, workspace_id: str | None = None
) -> list[dict[str, Any]]:
    query = select(Premortem).order_by(Premortem.id.desc())
    if channel_id:
        query = query.where(Premortem.channel_id == channel_id)
    if workspace_id is not None:
        query = query.where(Premortem.workspace_id == workspace_id)
    counts = dict(
        session.execute(
            select(Risk.premortem_id, func.count())
            .where(Risk.status == RiskStatus.active)
            .group_by(Risk.premortem_id)
        ).all()
    )
    decided = dict(
        session.execute(
            select(Prevention.premortem_id, func.count()).group_by(Prevention.premortem_id)
        ).all()
    )
    return [
        {
            "id": p.id,
            "initiative": p.initiative,
            "channel": p.channel_id,
            "facilitator": p.facilitator_id,
            "phase": p.phase.value,
            "risks": int(counts.get(p.id, 0)),
            "preventions": int(decided.get(p.id, 0)),
            "started": p.created_at,
            "finished": p.finished_at,
        }
        for p in session.scalars(query)
    ]


def _author(risk: Risk) -> str:
    return "anonymous" if risk.anonymous else f"<@{risk.author_id}>"


def _notes(risk: Risk, merged: tuple[int, ...] = ()) -> str:
    notes = []
    if merged:
        notes.append("merged with " + ", ".join(f"#{n}" for n in merged))
    if risk.changed_after_collect:
        notes.append("edited or deleted in Slack after collection; kept as collected")
    return f" _({'; '.join(notes)})_" if notes else ""


def _votes(count: int) -> str:
    return f"{count} vote" if count == 1 else f"{count} votes"


def _md_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def export_markdown(session: Session, *, premortem_id: int) -> str:
    """A finished pre-mortem as Markdown: ranked risks, preventions, late risks."""
    premortem = get(session, premortem_id)
    if premortem.phase != Phase.done:
        raise UserError(
            f"pre-mortem {premortem_id} is still in the {premortem.phase.value} phase; "
            "export works once its summary is published"
        )
    template = TEMPLATES.get(premortem.template)
    lines = [
        f"# Pre-mortem: {premortem.initiative}",
        "",
        f"- Channel: {premortem.channel_id}",
        f"- Facilitator: {premortem.facilitator_id}",
        f"- Template: {template.title if template else premortem.template}",
        f"- Horizon: imagine it is {premortem.horizon.isoformat()} and it failed",
        f"- Started: {premortem.created_at:%Y-%m-%d %H:%M} UTC",
        f"- Finished: {premortem.finished_at:%Y-%m-%d %H:%M} UTC" if premortem.finished_at else "",
        "",
        "## Risks, ranked by votes",
        "",
    ]
    ranked = ranked_risks(session, premortem.id)
    for item in ranked:
        risk = item.risk
        lines.append(
            f"{item.rank}. **#{risk.number}** ({_votes(item.votes)}, {_author(risk)}) "
            f"{_md_cell(risk.text)}{_notes(risk, item.merged_numbers)}"
        )
    if not ranked:
        lines.append("No risks were raised.")
    lines += ["", "## Preventions", ""]
    numbers = {r.risk.id: r.risk.number for r in ranked}
    rows = preventions(session, premortem.id)
    if rows:
        lines += ["| Risk | Prevention | Owner | Due | Status |", "|---|---|---|---|---|"]
        for p in rows:
            lines.append(
                f"| #{numbers.get(p.risk_id, '?')} | {_md_cell(p.action)} | {p.owner_id} "
                f"| {p.due_date.isoformat()} | {p.status.value} |"
            )
    else:
        lines.append("No preventions were recorded.")
    late = [r for r in active_risks(session, premortem.id, include_late=True) if r.late]
    if late:
        lines += ["", "## Raised after collection closed", ""]
        lines += [f"- **#{r.number}** ({_author(r)}) {_md_cell(r.text)}" for r in late]
    return "\n".join(line for line in lines if line is not None) + "\n"
