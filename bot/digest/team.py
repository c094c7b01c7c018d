"""The manager digest as data: a team's behaviors per program, under the privacy rules.

Privacy rules (docs/privacy.md) enforced here, not in the rendering:
- a figure is computed only from at least k distinct people (bot.people.privacy);
- "not relevant", snoozes and reflection texts are never read for managers;
- a person's own counts appear only when that person opted in.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from bot.content.models import Program as ProgramRow
from bot.content.schema import Program, localise
from bot.content.service import current_version, load_program_version
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment
from bot.digest.experiments import HOLDOUT
from bot.digest.models import PrivacyChoice
from bot.digest.weeks import Week, anchor_day, digest_weekday, sparkline, week_index, weeks_before
from bot.people import privacy
from bot.people.models import Person
from bot.people.service import effective_tz
from bot.proof.models import ProofEvent
from bot.settings import Settings

# Answers that mean "I did it". Snooze and "not relevant" are not acting, and
# managers never learn who chose them.
ACTED_KINDS = ("done", "checklist", "rating", "reflection")
SPARK_WEEKS = 8
STREAK_WEEKS = 3


@dataclass(frozen=True)
class SentNudge:
    program_id: str
    step_id: str
    person_id: int
    sent_at: datetime
    acted: bool


@dataclass
class BehaviorFigures:
    step_id: str
    label: str
    # Per week, oldest first: None where fewer than k people got the nudge.
    shares: list[float | None]
    people_last_week: int
    sent_last_week: int
    acted_last_week: int

    @property
    def share(self) -> float | None:
        return self.shares[-1]

    @property
    def change(self) -> float | None:
        if len(self.shares) < 2 or self.shares[-1] is None or self.shares[-2] is None:
            return None
        return self.shares[-1] - self.shares[-2]

    @property
    def spark(self) -> str:
        return sparkline(self.shares)


@dataclass
class ProgramFigures:
    program_id: str
    title: str
    people: int
    behaviors: list[BehaviorFigures]
    on_streak: int | None  # people who acted in each of the last STREAK_WEEKS weeks
    coming_up: list[str]
    coaching: str | None


@dataclass(frozen=True)
class SharedPerson:
    name: str
    sent: int
    acted: int


@dataclass
class ManagerDigest:
    manager_user_id: str
    week: Week
    min_group: int
    team_size: int  # enrolled, nudged team members (holdout excluded)
    programs: list[ProgramFigures] = field(default_factory=list)
    shared: list[SharedPerson] = field(default_factory=list)

    @property
    def below_threshold(self) -> bool:
        return not privacy.may_show(self.team_size, k=self.min_group)


def reader(
    session: Session, user_id: str, settings: Settings, *, workspace_id: str | None = None
) -> tuple[ZoneInfo, str | None]:
    """The reader's time zone and locale (defaults when they are not in the directory).
    `workspace_id` (OAuth mode): the reader's workspace; None: the one directory."""
    query = select(Person).where(Person.slack_user_id == user_id)
    if workspace_id is not None:
        query = query.where(Person.workspace_id == workspace_id)
    person = session.scalar(query.limit(1))
    if person is None:
        return ZoneInfo(settings.default_timezone), None
    return ZoneInfo(effective_tz(person, settings.default_timezone)), person.locale


def reader_zone(
    session: Session, user_id: str, settings: Settings, *, workspace_id: str | None = None
) -> ZoneInfo:
    return reader(session, user_id, settings, workspace_id=workspace_id)[0]


def team_members(
    session: Session, *, manager_user_id: str, workspace_id: str | None = None
) -> list[Person]:
    """Direct reports. Filtering by the manager's workspace lets ix_people_manager serve it.
    `workspace_id` (OAuth mode): only that workspace's people, never a namesake's team."""
    if workspace_id is not None:
        return list(
            session.scalars(
                select(Person).where(
                    Person.workspace_id == workspace_id,
                    Person.manager_slack_user_id == manager_user_id,
                    Person.is_deleted.is_(False),
                    Person.is_bot.is_(False),
                )
            )
        )
    workspaces = select(Person.workspace_id).where(Person.slack_user_id == manager_user_id)
    query = select(Person).where(
        Person.manager_slack_user_id == manager_user_id,
        Person.is_deleted.is_(False),
        Person.is_bot.is_(False),
    )
    found = list(session.scalars(query.where(Person.workspace_id.in_(workspaces))))
    return found or list(session.scalars(query))


def sent_nudges(
    session: Session, *, person_ids: list[int], start: datetime, end: datetime
) -> list[SentNudge]:
    """Nudges sent to these people in [start, end), each with whether it was acted on."""
    if not person_ids:
        return []
    acted = exists().where(ProofEvent.delivery_id == Delivery.id, ProofEvent.kind.in_(ACTED_KINDS))
    rows = session.execute(
        select(Enrollment.program_id, Delivery.step_id, Delivery.person_id, Delivery.sent_at, acted)
        .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
        .where(
            Delivery.person_id.in_(person_ids),
            Delivery.sent_at >= start,
            Delivery.sent_at < end,
            Delivery.status == DeliveryStatus.sent,
            Enrollment.arm != HOLDOUT,
        )
    )
    return [SentNudge(p, s, pid, at, bool(a)) for p, s, pid, at, a in rows if at is not None]


def step_label(program: Program | None, step_id: str, locale: str | None) -> str:
    if program is None:
        return step_id
    try:
        text = localise(program.step(step_id).text, locale)
    except KeyError:
        return step_id
    first = text.strip().splitlines()[0].replace("*", "").replace("_", "").strip()
    return first if len(first) <= 70 else first[:69].rstrip() + "…"


def program_content(session: Session, program_id: str) -> Program | None:
    version = current_version(session, program_id)
    return load_program_version(session, version.id) if version else None


def manager_digest(
    session: Session,
    *,
    manager_user_id: str,
    now: datetime,
    settings: Settings,
    workspace_id: str | None = None,
) -> ManagerDigest:
    zone, locale = reader(session, manager_user_id, settings, workspace_id=workspace_id)
    anchor = anchor_day(now, zone=zone, weekday=digest_weekday(settings))
    weeks = weeks_before(anchor, SPARK_WEEKS, zone=zone)
    k = privacy.min_group(settings)
    members = team_members(session, manager_user_id=manager_user_id, workspace_id=workspace_id)
    nudges = sent_nudges(
        session, person_ids=[m.id for m in members], start=weeks[0].start, end=weeks[-1].end
    )
    digest = ManagerDigest(manager_user_id, weeks[-1], k, len({n.person_id for n in nudges}))
    if digest.below_threshold:
        return digest  # nothing finer than "too few people" leaves this function
    by_program: dict[str, list[SentNudge]] = defaultdict(list)
    for nudge in nudges:
        by_program[nudge.program_id].append(nudge)
    active = set(session.scalars(select(ProgramRow.id).where(ProgramRow.active.is_(True))))
    for program_id in sorted(by_program):
        if program_id in active:
            content = program_content(session, program_id)
            figures = _program_figures(
                content, program_id, by_program[program_id], weeks, k, locale
            )
            figures.coming_up = coming_up(
                session,
                program=content,
                person_ids=[m.id for m in members],
                start=weeks[-1].end,
                end=weeks[-1].end + timedelta(days=7),
                locale=locale,
            )
            digest.programs.append(figures)
    digest.shared = shared_people(session, members=members, nudges=nudges, week=weeks[-1])
    return digest


def _program_figures(
    content: Program | None,
    program_id: str,
    nudges: list[SentNudge],
    weeks: list[Week],
    k: int,
    locale: str | None,
) -> ProgramFigures:
    title = localise(content.title, locale) if content else program_id
    people = len({n.person_id for n in nudges})
    order = [s.id for s in content.steps] if content else []
    step_ids = sorted(
        {n.step_id for n in nudges},
        key=lambda s: (s not in order, order.index(s) if s in order else 0, s),
    )
    behaviors = [
        _behavior(step_id, step_label(content, step_id, locale), nudges, weeks, k)
        for step_id in step_ids
    ]
    figures = ProgramFigures(program_id, title, people, [], None, [], None)
    if not privacy.may_show(people, k=k):
        return figures  # the program line says "too few people" and nothing else
    figures.behaviors = behaviors
    figures.on_streak = _on_streak(nudges, weeks)
    figures.coaching = coaching_suggestion(content, behaviors, locale)
    return figures


def _behavior(
    step_id: str, label: str, nudges: list[SentNudge], weeks: list[Week], k: int
) -> BehaviorFigures:
    sent = [0] * len(weeks)
    acted = [0] * len(weeks)
    people: list[set[int]] = [set() for _ in weeks]
    for nudge in nudges:
        index = week_index(nudge.sent_at, weeks) if nudge.step_id == step_id else None
        if index is not None:
            sent[index] += 1
            acted[index] += nudge.acted
            people[index].add(nudge.person_id)
    shares = [
        privacy.shown_or_withheld(acted[i] / sent[i], people[i], k=k) if sent[i] else None
        for i in range(len(weeks))
    ]
    shown = privacy.may_show(people[-1], k=k)
    return BehaviorFigures(
        step_id,
        label,
        shares,
        len(people[-1]),
        sent[-1] if shown else 0,
        acted[-1] if shown else 0,
    )


def _on_streak(nudges: list[SentNudge], weeks: list[Week]) -> int:
    recent = weeks[-STREAK_WEEKS:]
    acted_weeks: dict[int, set[int]] = defaultdict(set)
    for nudge in nudges:
        index = week_index(nudge.sent_at, recent)
        if nudge.acted and index is not None:
            acted_weeks[nudge.person_id].add(index)
    return sum(1 for seen in acted_weeks.values() if len(seen) == len(recent))


def coaching_suggestion(
    content: Program | None, behaviors: list[BehaviorFigures], locale: str | None
) -> str | None:
    """One conversation to have, from the program's own words, on its weakest behavior."""
    shown = [b for b in behaviors if b.share is not None]
    if content is None or not shown:
        return None
    weakest = min(shown, key=lambda b: (b.share, behaviors.index(b)))
    behavior = localise(content.behavior, locale).strip()
    if len(behavior) > 400:
        behavior = behavior[:399].rstrip() + "…"
    return (
        f"The team acted least on “{weakest.label}”. In your next one-to-ones, ask what got in "
        f"the way of this: {behavior} What would make it easier next week?"
    )


def coming_up(
    session: Session,
    *,
    program: Program | None,
    person_ids: list[int],
    start: datetime,
    end: datetime,
    locale: str | None,
) -> list[str]:
    """Behaviors the team will be nudged on next week (planned nudges, no names)."""
    if program is None or not person_ids:
        return []
    step_ids = set(
        session.scalars(
            select(Delivery.step_id)
            .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
            .where(
                Enrollment.program_id == program.id,
                Delivery.person_id.in_(person_ids),
                Delivery.status == DeliveryStatus.planned,
                Delivery.due_at >= start,
                Delivery.due_at < end,
            )
        )
    )
    return [step_label(program, s.id, locale) for s in program.steps if s.id in step_ids]


def shared_people(
    session: Session, *, members: list[Person], nudges: list[SentNudge], week: Week
) -> list[SharedPerson]:
    """Own counts of the people who chose to share them with their manager; nobody else."""
    ids = [m.id for m in members]
    if not ids:
        return []
    sharing = set(
        session.scalars(
            select(PrivacyChoice.person_id).where(
                PrivacyChoice.person_id.in_(ids), PrivacyChoice.share_with_manager.is_(True)
            )
        )
    )
    out = []
    for member in sorted(members, key=lambda m: m.name or m.slack_user_id):
        if member.id in sharing:
            mine = [
                n for n in nudges if n.person_id == member.id and week.start <= n.sent_at < week.end
            ]
            out.append(
                SharedPerson(
                    member.name or member.slack_user_id, len(mine), sum(n.acted for n in mine)
                )
            )
    return out
