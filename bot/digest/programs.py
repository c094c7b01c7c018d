"""Program-level figures for L&D: adoption, drop-off per step, "not relevant" reasons,
the intake queue and overdue pre-mortem preventions (the L&D digest)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from bot.content.models import Program as ProgramRow
from bot.content.schema import localise
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment
from bot.digest.experiments import HOLDOUT
from bot.digest.team import ACTED_KINDS, program_content, step_label
from bot.digest.weeks import Week
from bot.people import privacy
from bot.people.models import Person
from bot.proof.models import ProofEvent
from bot.settings import Settings

TOP_REASONS = 3
TOP_INTAKE = 3
NO_REASON = "(no reason given)"


@dataclass(frozen=True)
class StepFunnel:
    step_id: str
    label: str
    reached: int  # people who got this nudge
    acted: int  # of them, people who acted on it


@dataclass
class ProgramAdoption:
    program_id: str
    title: str
    enrolled: int
    nudged_last_week: int
    acted_last_week: int
    funnel: list[StepFunnel]
    reasons: list[tuple[str, int]]
    too_few: bool
    # Fewer than k people were nudged last week: who acted is withheld, however many
    # are enrolled (a share of 2 people points at them).
    week_withheld: bool = False

    @property
    def adoption(self) -> float | None:
        if self.too_few or self.week_withheld or not self.nudged_last_week:
            return None
        return self.acted_last_week / self.nudged_last_week


@dataclass(frozen=True)
class IntakeItem:
    request_id: int
    goal: str
    impact: float


@dataclass(frozen=True)
class OverduePrevention:
    premortem_id: int
    action: str
    owner_id: str
    due: str


@dataclass
class LDDigest:
    week: Week
    min_group: int
    programs: list[ProgramAdoption] = field(default_factory=list)
    intake: list[IntakeItem] | None = None
    overdue: list[OverduePrevention] | None = None


def of_workspace(person_id: Any, workspace_id: str | None) -> Any:
    """A condition keeping rows of people in `workspace_id` (None: everyone)."""
    if workspace_id is None:
        return true()
    return person_id.in_(select(Person.id).where(Person.workspace_id == workspace_id))


def not_relevant_reasons(
    session: Session, *, program_id: str, limit: int, workspace_id: str | None = None
) -> list[tuple[str, int]]:
    """The chosen reasons (the button value), counted; never who chose them, never free text."""
    rows = session.execute(
        select(ProofEvent.value, func.count())
        .where(
            ProofEvent.program_id == program_id,
            ProofEvent.kind == "not_relevant",
            of_workspace(ProofEvent.person_id, workspace_id),
        )
        .group_by(ProofEvent.value)
    )
    counts: Counter[str] = Counter()
    for value, count in rows:
        counts[(value or "").strip() or NO_REASON] += int(count)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def _funnel(
    session: Session, program_id: str, locale: str | None, workspace_id: str | None = None
) -> list[StepFunnel]:
    content = program_content(session, program_id)
    acted = (
        select(ProofEvent.delivery_id)
        .where(ProofEvent.kind.in_(ACTED_KINDS), ProofEvent.delivery_id.is_not(None))
        .scalar_subquery()
    )
    base = (
        select(Delivery.step_id, func.count(func.distinct(Delivery.person_id)))
        .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
        .where(
            Enrollment.program_id == program_id,
            Delivery.status == DeliveryStatus.sent,
            of_workspace(Delivery.person_id, workspace_id),
        )
        .group_by(Delivery.step_id)
    )
    reached = {step: int(n) for step, n in session.execute(base)}
    done = {step: int(n) for step, n in session.execute(base.where(Delivery.id.in_(acted)))}
    order = [s.id for s in content.steps] if content else sorted(reached)
    return [
        StepFunnel(s, step_label(content, s, locale), int(reached.get(s, 0)), int(done.get(s, 0)))
        for s in order
    ]


def program_adoption(
    session: Session,
    *,
    program_id: str,
    week: Week,
    settings: Settings,
    locale: str | None = None,
    workspace_id: str | None = None,
) -> ProgramAdoption:
    content = program_content(session, program_id)
    title = localise(content.title, locale) if content else program_id
    enrolled = session.scalar(
        select(func.count()).where(
            Enrollment.program_id == program_id,
            Enrollment.arm != HOLDOUT,
            of_workspace(Enrollment.person_id, workspace_id),
        )
    )
    week_rows = session.execute(
        select(Delivery.person_id, Delivery.id)
        .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
        .where(
            Enrollment.program_id == program_id,
            Delivery.status == DeliveryStatus.sent,
            Delivery.sent_at >= week.start,
            Delivery.sent_at < week.end,
            of_workspace(Delivery.person_id, workspace_id),
        )
    ).all()
    acted_ids = _acted_delivery_ids(session, [d for _, d in week_rows])
    nudged = {p for p, _ in week_rows}
    acted_people = {p for p, d in week_rows if d in acted_ids}
    k = privacy.min_group(settings)
    too_few = not privacy.may_show(int(enrolled or 0), k=k)
    week_withheld = not too_few and not privacy.may_show(nudged, k=k)
    return ProgramAdoption(
        program_id=program_id,
        title=title,
        enrolled=int(enrolled or 0),
        nudged_last_week=0 if too_few else len(nudged),
        acted_last_week=0 if too_few or week_withheld else len(acted_people),
        funnel=[]
        if too_few
        else _small_counts_hidden(_funnel(session, program_id, locale, workspace_id), settings),
        reasons=[]
        if too_few
        else not_relevant_reasons(
            session, program_id=program_id, limit=TOP_REASONS, workspace_id=workspace_id
        ),
        too_few=too_few,
        week_withheld=week_withheld,
    )


def _small_counts_hidden(funnel: list[StepFunnel], settings: Settings) -> list[StepFunnel]:
    # A step that reached fewer than k people could point at who skipped it.
    k = privacy.min_group(settings)
    return [
        f if privacy.may_show(f.reached, k=k) else StepFunnel(f.step_id, f.label, f.reached, -1)
        for f in funnel
    ]


def _acted_delivery_ids(session: Session, delivery_ids: list[int]) -> set[int]:
    found: set[int] = set()
    for start in range(0, len(delivery_ids), 1000):
        chunk = delivery_ids[start : start + 1000]
        found.update(
            d
            for d in session.scalars(
                select(ProofEvent.delivery_id).where(
                    ProofEvent.delivery_id.in_(chunk), ProofEvent.kind.in_(ACTED_KINDS)
                )
            )
            if d is not None
        )
    return found


def intake_top(
    session: Session, *, now: datetime, limit: int = TOP_INTAKE, workspace_id: str | None = None
) -> list[IntakeItem]:
    from bot.intake import service as intake  # a sibling slice: read through its service

    return [
        IntakeItem(r.request.id, _short(r.request.goal, 120), round(r.score.impact, 1))
        for r in intake.ranked(session, now=now, workspace_id=workspace_id)[:limit]
    ]


def overdue_preventions(
    session: Session, *, now: datetime, workspace_id: str | None = None
) -> list[OverduePrevention]:
    from bot.premortem.models import Premortem, Prevention, PreventionStatus

    mine = (
        Prevention.premortem_id.in_(
            select(Premortem.id).where(Premortem.workspace_id == workspace_id)
        )
        if workspace_id is not None
        else true()
    )
    rows = session.scalars(
        select(Prevention)
        .where(Prevention.status == PreventionStatus.open, Prevention.due_date < now.date(), mine)
        .order_by(Prevention.due_date, Prevention.id)
        .limit(10)
    )
    return [
        OverduePrevention(p.premortem_id, _short(p.action, 120), p.owner_id, p.due_date.isoformat())
        for p in rows
    ]


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def ld_digest(
    session: Session,
    *,
    week: Week,
    now: datetime,
    settings: Settings,
    workspace_id: str | None = None,
) -> LDDigest:
    """`workspace_id` (OAuth mode): the figures, requests and preventions of that
    workspace only; None: the whole database (a single workspace)."""
    digest = LDDigest(week, privacy.min_group(settings))
    for program_id in session.scalars(
        select(ProgramRow.id).where(ProgramRow.active.is_(True)).order_by(ProgramRow.id)
    ):
        digest.programs.append(
            program_adoption(
                session,
                program_id=program_id,
                week=week,
                settings=settings,
                workspace_id=workspace_id,
            )
        )
    digest.intake = intake_top(session, now=now, workspace_id=workspace_id)
    digest.overdue = overdue_preventions(session, now=now, workspace_id=workspace_id)
    return digest
