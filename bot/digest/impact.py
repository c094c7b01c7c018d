"""The impact brief: goal, metric baseline → current → target, adoption over time,
the experiment's result, top reasons and next steps, all from the raw tables."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from bot.content.models import Program as ProgramRow
from bot.content.schema import localise
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment
from bot.digest.experiments import HOLDOUT, MAIN, Comparison, Rate, arm_label, compare
from bot.digest.models import MetricObservation
from bot.digest.programs import TOP_REASONS, not_relevant_reasons, of_workspace
from bot.digest.team import ACTED_KINDS, program_content
from bot.digest.weeks import anchor_day, week_index, weeks_before
from bot.errors import UserError
from bot.people import privacy
from bot.proof.models import ProofEvent
from bot.settings import Settings

BRIEF_WEEKS = 12
UTC_ZONE = ZoneInfo("UTC")


@dataclass(frozen=True)
class WeekPoint:
    first_day: date
    sent: int
    acted: int
    people: int
    adoption: float | None  # None where fewer than k people were nudged
    metric: float | None  # mean of the company-wide observations that week


@dataclass
class ImpactBrief:
    program_id: str
    title: str
    goal: str
    behavior: str
    metric_name: str
    unit: str
    direction: str
    baseline: float
    current: float | None
    current_on: date | None
    target: float
    by: str
    min_group: int
    weeks: list[WeekPoint] = field(default_factory=list)
    arms: list[Rate] = field(default_factory=list)
    hidden_arms: list[str] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    holdout_people: int = 0
    reasons: list[tuple[str, int]] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)

    @property
    def progress(self) -> float | None:
        """Share of the way from baseline to target (1.0 = target met)."""
        if self.current is None or self.target == self.baseline:
            return None
        return (self.current - self.baseline) / (self.target - self.baseline)

    def as_dict(self) -> dict[str, Any]:
        return {
            "program": self.program_id,
            "title": self.title,
            "goal": self.goal,
            "behavior": self.behavior,
            "metric": {
                "name": self.metric_name,
                "unit": self.unit,
                "direction": self.direction,
                "baseline": self.baseline,
                "current": self.current,
                "current_on": self.current_on.isoformat() if self.current_on else None,
                "target": self.target,
                "by": self.by,
                "progress": self.progress,
            },
            "weeks": [
                {
                    "week": w.first_day.isoformat(),
                    "nudges_sent": w.sent,
                    "acted_on": w.acted,
                    "people": w.people,
                    "adoption": w.adoption,
                    "metric": w.metric,
                }
                for w in self.weeks
            ],
            "experiment": {
                "arms": [
                    {
                        "arm": arm_label(r.arm),
                        "acted_on": r.acted,
                        "nudges_sent": r.total,
                        "rate": r.share,
                        "ci95": list(r.interval) if r.interval else None,
                    }
                    for r in self.arms
                ],
                "arms_with_too_few_people": [arm_label(a) for a in self.hidden_arms],
                "holdout_people": self.holdout_people,
                "results": [c.statement for c in self.comparisons],
            },
            "not_relevant_reasons": [{"reason": r, "count": n} for r, n in self.reasons],
            "next_steps": self.next_steps,
        }


def impact_brief(
    session: Session,
    *,
    program_id: str,
    now: datetime,
    settings: Settings,
    workspace_id: str | None = None,
) -> ImpactBrief:
    """`workspace_id` (OAuth mode): that workspace's people and KPI values only."""
    row = session.get(ProgramRow, program_id)
    content = program_content(session, program_id)
    if row is None or content is None:
        raise UserError(f"no program {program_id!r}; see `nudgebot content list`")
    metric = content.metric
    current = _current_metric(session, program_id, workspace_id)
    brief = ImpactBrief(
        program_id=program_id,
        title=localise(content.title, None),
        goal=localise(content.problem, None).strip(),
        behavior=localise(content.behavior, None).strip(),
        metric_name=metric.name,
        unit=metric.unit,
        direction=metric.direction,
        baseline=metric.baseline,
        current=current[1] if current else None,
        current_on=current[0] if current else None,
        target=metric.target,
        by=metric.by,
        min_group=privacy.min_group(settings),
    )
    brief.weeks = _weekly(session, program_id, now, settings, workspace_id)
    _experiment(session, brief, settings, workspace_id)
    enrolled = session.scalar(
        select(func.count()).where(
            Enrollment.program_id == program_id,
            Enrollment.arm != HOLDOUT,
            of_workspace(Enrollment.person_id, workspace_id),
        )
    )
    if privacy.may_show(int(enrolled or 0), k=brief.min_group):
        brief.reasons = not_relevant_reasons(
            session, program_id=program_id, limit=TOP_REASONS, workspace_id=workspace_id
        )
    brief.next_steps = next_steps(brief)
    return brief


def _metric_of(workspace_id: str | None) -> Any:
    if workspace_id is None:
        return true()
    return MetricObservation.workspace_id == workspace_id


def _current_metric(
    session: Session, program_id: str, workspace_id: str | None = None
) -> tuple[date, float] | None:
    """The newest company-wide value (team ""): the mean of that day's sources."""
    newest = session.scalar(
        select(func.max(MetricObservation.observed_on)).where(
            MetricObservation.program_id == program_id,
            MetricObservation.team == "",
            _metric_of(workspace_id),
        )
    )
    if newest is None:
        return None
    values = session.scalars(
        select(MetricObservation.value).where(
            MetricObservation.program_id == program_id,
            MetricObservation.team == "",
            MetricObservation.observed_on == newest,
            _metric_of(workspace_id),
        )
    ).all()
    return newest, sum(values) / len(values)


def _weekly(
    session: Session,
    program_id: str,
    now: datetime,
    settings: Settings,
    workspace_id: str | None = None,
) -> list[WeekPoint]:
    # Leadership reads company weeks: Monday-based, in UTC, ending with the last full week.
    anchor = anchor_day(now, zone=UTC_ZONE, weekday=0)
    weeks = weeks_before(anchor, BRIEF_WEEKS, zone=UTC_ZONE)
    acted = (
        select(ProofEvent.id)
        .where(ProofEvent.delivery_id == Delivery.id, ProofEvent.kind.in_(ACTED_KINDS))
        .exists()
    )
    rows = session.execute(
        select(Delivery.person_id, Delivery.sent_at, acted)
        .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
        .where(
            Enrollment.program_id == program_id,
            Delivery.status == DeliveryStatus.sent,
            Delivery.sent_at >= weeks[0].start,
            Delivery.sent_at < weeks[-1].end,
            of_workspace(Delivery.person_id, workspace_id),
        )
    ).all()
    sent = [0] * len(weeks)
    done = [0] * len(weeks)
    people: list[set[int]] = [set() for _ in weeks]
    for person_id, sent_at, was_acted in rows:
        index = week_index(sent_at, weeks) if sent_at is not None else None
        if index is not None:
            sent[index] += 1
            done[index] += bool(was_acted)
            people[index].add(person_id)
    metric: dict[int, list[float]] = defaultdict(list)
    for day, value in session.execute(
        select(MetricObservation.observed_on, MetricObservation.value).where(
            MetricObservation.program_id == program_id,
            MetricObservation.team == "",
            MetricObservation.observed_on >= weeks[0].first_day,
            MetricObservation.observed_on < anchor,
            _metric_of(workspace_id),
        )
    ):
        metric[(day - weeks[0].first_day).days // 7].append(value)
    k = privacy.min_group(settings)
    return [
        WeekPoint(
            w.first_day,
            sent[i],
            done[i],
            len(people[i]),
            privacy.shown_or_withheld(done[i] / sent[i], people[i], k=k) if sent[i] else None,
            sum(metric[i]) / len(metric[i]) if metric.get(i) else None,
        )
        for i, w in enumerate(weeks)
    ]


def _experiment(
    session: Session, brief: ImpactBrief, settings: Settings, workspace_id: str | None = None
) -> None:
    acted = (
        select(ProofEvent.id)
        .where(ProofEvent.delivery_id == Delivery.id, ProofEvent.kind.in_(ACTED_KINDS))
        .exists()
    )
    rows = session.execute(
        select(Enrollment.arm, Delivery.person_id, acted)
        .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
        .where(
            Enrollment.program_id == brief.program_id,
            Delivery.status == DeliveryStatus.sent,
            of_workspace(Delivery.person_id, workspace_id),
        )
    ).all()
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    people: dict[str, set[int]] = defaultdict(set)
    for arm, person_id, was_acted in rows:
        totals[arm][0] += bool(was_acted)
        totals[arm][1] += 1
        people[arm].add(person_id)
    for arm in sorted(totals):
        if arm == HOLDOUT:
            continue
        if not privacy.may_show(people[arm], k=brief.min_group):
            brief.hidden_arms.append(arm)
        else:
            brief.arms.append(Rate(arm, totals[arm][0], totals[arm][1]))
    brief.holdout_people = int(
        session.scalar(
            select(func.count()).where(
                Enrollment.program_id == brief.program_id,
                Enrollment.arm == HOLDOUT,
                of_workspace(Enrollment.person_id, workspace_id),
            )
        )
        or 0
    )
    main = next((r for r in brief.arms if r.arm == MAIN), None)
    if main is not None:
        brief.comparisons = [compare(main, r) for r in brief.arms if r.arm != MAIN]


def next_steps(brief: ImpactBrief) -> list[str]:
    """Plain suggestions that follow from the figures; a starting point for the L&D lead."""
    steps: list[str] = []
    if brief.current is None:
        steps.append(
            f"Record the KPI ({brief.metric_name}) weekly: `nudgebot metric record "
            f"{brief.program_id} VALUE`, a CSV import or the /hooks/metric webhook."
        )
    elif brief.progress is not None and brief.progress >= 1:
        steps.append("The target is met: decide whether to keep the nudges or retire the program.")
    elif brief.progress is not None and brief.progress <= 0:
        steps.append(
            "The metric has not moved toward the target yet: check whether the behavior is the "
            "right lever (re-read the top reasons below with the team)."
        )
    else:
        steps.append(f"Keep going: the metric is on its way to {brief.target:g} {brief.unit}.")
    shown = [w.adoption for w in brief.weeks if w.adoption is not None]
    if shown and shown[-1] < 0.5:
        steps.append(
            "Fewer than half of the nudges were acted on last week: shorten the weakest step "
            "or move it closer to the moment of work."
        )
    winners = [c for c in brief.comparisons if c.meaningful and (c.diff or 0) > 0]
    if winners:
        steps.append(f"Roll out the variant “{arm_label(winners[0].other.arm)}” to everyone.")
    elif brief.comparisons:
        steps.append("Keep the experiment running until the difference is clear.")
    if brief.reasons:
        steps.append(
            f"Most common “not relevant” reason: {brief.reasons[0][0]}; review who is enrolled."
        )
    return steps
