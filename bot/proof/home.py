"""What App Home shows, as plain data: a person's week, streaks, what comes next,
preferences; for L&D leads also programs, enrollments and adoption, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.calendars import feeds as calendar_feeds
from bot.calendars import secret as calendar_secret
from bot.content.models import Program as ProgramRow
from bot.content.schema import localise
from bot.content.service import load_program_version
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment, EnrollmentStatus
from bot.people import privacy
from bot.people.models import Person
from bot.people.service import effective_tz
from bot.proof.models import NudgePreference, Pause, ProofEvent
from bot.proof.pauses import active_pauses, upcoming_pauses
from bot.settings import Settings

PAGE_SIZE = 10
WEEK_ITEMS = 10
NEXT_ITEMS = 3
SNIPPET = 80


@dataclass(frozen=True)
class NudgeLine:
    when: datetime
    program: str
    snippet: str
    answer: str  # "" when not answered (yet)


@dataclass(frozen=True)
class Streak:
    program: str
    behavior: str
    count: int


@dataclass(frozen=True)
class StepAdoption:
    step_id: str
    answered: int | None  # None: withheld, fewer than k people got this step
    delivered: int


@dataclass(frozen=True)
class ProgramLine:
    id: str
    title: str
    active: bool
    enrolled: int
    steps: list[StepAdoption]


@dataclass
class LeadData:
    page: int
    pages: int
    total: int
    programs: list[ProgramLine]
    min_group: int = 1  # k of the privacy rule, to say why a figure is withheld


@dataclass
class HomeData:
    name: str
    tz: ZoneInfo
    tz_override: str | None
    working_hours: str
    language: str | None
    pauses: list[Pause]
    upcoming: list[Pause]
    week: list[NudgeLine] = field(default_factory=list)
    streaks: list[Streak] = field(default_factory=list)
    next: list[NudgeLine] = field(default_factory=list)
    lead: LeadData | None = None
    # The calendar connection's status line; None when connections are off here.
    calendar: str | None = None
    calendar_connected: bool = False


def home_data(
    session: Session,
    *,
    person: Person,
    now: datetime,
    settings: Settings,
    is_lead: bool,
    page: int = 0,
) -> HomeData:
    pref = session.get(NudgePreference, person.id)
    tz = ZoneInfo(effective_tz(person, settings.default_timezone))
    data = HomeData(
        name=person.name,
        tz=tz,
        tz_override=person.tz_override,
        working_hours=person.working_hours or str(settings.working_hours),
        language=pref.language if pref else None,
        pauses=active_pauses(session, person_id=person.id, now=now),
        upcoming=upcoming_pauses(session, person_id=person.id, now=now),
    )
    local = now.astimezone(tz)
    week_start = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    data.week = _week(session, person, since=week_start, locale=data.language or person.locale)
    data.streaks = _streaks(session, person, now=now, settings=settings)
    data.next = next_nudges(session, person, now=now, locale=data.language or person.locale)
    if calendar_secret.available(settings) is None:
        feed = calendar_feeds.feed_of(session, person.id)
        data.calendar = calendar_feeds.status_line(feed, now)
        data.calendar_connected = feed is not None
    if is_lead:
        data.lead = lead_data(session, page=page, min_group=privacy.min_group(settings))
    return data


def _label(session: Session, version_id: int, step_id: str, locale: str | None) -> tuple[str, str]:
    program = load_program_version(session, version_id)
    title = program.text("title", locale or "en")
    try:
        text = localise(program.step(step_id).text, locale)
    except KeyError:
        text = step_id
    first = text.strip().splitlines()[0] if text.strip() else step_id
    return title, first if len(first) <= SNIPPET else first[: SNIPPET - 1] + "…"


ANSWER_LABELS = {
    "done": "✅ done",
    "reflection": "📝 reflected",
    "not_relevant": "🚫 not relevant",
    "rating": "⭐ rated",
    "check": "☑️ started",
    "snooze": "⏰ snoozed",
}
_RANK = ["done", "reflection", "not_relevant", "rating", "check", "snooze"]


def _answers(session: Session, delivery_ids: list[int]) -> dict[int, tuple[str, str]]:
    """(kind, label) of the most telling answer per delivery; Done beats a rating beats a snooze."""
    best: dict[int, tuple[int, str, str]] = {}
    rows = session.execute(
        select(ProofEvent.delivery_id, ProofEvent.kind, ProofEvent.value).where(
            ProofEvent.delivery_id.in_(delivery_ids)
        )
    )
    for delivery_id, kind, value in rows:
        if delivery_id is None or kind not in ANSWER_LABELS:
            continue
        rank = _RANK.index(kind)
        label = f"⭐ {value}/5" if kind == "rating" else ANSWER_LABELS[kind]
        if delivery_id not in best or rank < best[delivery_id][0]:
            best[delivery_id] = (rank, kind, label)
    return {d: (kind, label) for d, (_, kind, label) in best.items()}


def _week(
    session: Session, person: Person, *, since: datetime, locale: str | None
) -> list[NudgeLine]:
    rows = session.execute(
        select(Delivery.id, Delivery.sent_at, Delivery.step_id, Enrollment.program_version_id)
        .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
        .where(
            Delivery.person_id == person.id,
            Delivery.sent_at.is_not(None),
            Delivery.sent_at >= since,
        )
        .order_by(Delivery.sent_at.desc())
        .limit(WEEK_ITEMS)
    ).all()
    answers = _answers(session, [r.id for r in rows])
    lines = []
    for r in rows:
        title, snippet = _label(session, r.program_version_id, r.step_id, locale)
        lines.append(NudgeLine(r.sent_at, title, snippet, answers.get(r.id, ("", ""))[1]))
    return lines


def _streaks(
    session: Session, person: Person, *, now: datetime, settings: Settings
) -> list[Streak]:
    """Per program: answered nudges in a row, newest first (a fresh one does not break it)."""
    grace = now - timedelta(hours=settings.answer_grace_hours)
    rows = session.execute(
        select(Delivery.id, Delivery.sent_at, Enrollment.program_id, Enrollment.program_version_id)
        .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
        .where(Delivery.person_id == person.id, Delivery.status == DeliveryStatus.sent)
        .order_by(Delivery.sent_at.desc())
        .limit(500)
    ).all()
    answers = _answers(session, [r.id for r in rows])
    counts: dict[str, int] = {}
    broken: set[str] = set()
    versions: dict[str, int] = {}
    for r in rows:
        versions.setdefault(r.program_id, r.program_version_id)
        counts.setdefault(r.program_id, 0)
        if r.program_id in broken:
            continue
        kind = answers.get(r.id, ("", ""))[0]
        if kind and kind not in ("not_relevant", "snooze"):
            counts[r.program_id] += 1
        elif not kind and r.sent_at is not None and r.sent_at > grace:
            continue  # still fresh: the person may yet answer it
        else:
            broken.add(r.program_id)
    streaks = []
    for program_id, count in counts.items():
        program = load_program_version(session, versions[program_id])
        title = program.text("title", person.locale or "en")
        behavior = program.text("behavior", person.locale or "en").strip().splitlines()[0]
        streaks.append(Streak(title, behavior[:SNIPPET], count))
    return sorted(streaks, key=lambda s: (-s.count, s.program))


def next_nudges(
    session: Session, person: Person, *, now: datetime, locale: str | None
) -> list[NudgeLine]:
    rows = session.execute(
        select(Delivery.due_at, Delivery.step_id, Enrollment.program_version_id)
        .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
        .where(
            Delivery.person_id == person.id,
            Delivery.status == DeliveryStatus.planned,
            Enrollment.status == EnrollmentStatus.active,
        )
        .order_by(Delivery.due_at)
        .limit(NEXT_ITEMS)
    ).all()
    lines = []
    for r in rows:
        title, snippet = _label(session, r.program_version_id, r.step_id, locale)
        lines.append(NudgeLine(r.due_at, title, snippet, ""))
    return lines


def lead_data(session: Session, *, page: int, min_group: int) -> LeadData:
    total = session.scalar(select(func.count()).select_from(ProgramRow)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    programs = session.scalars(
        select(ProgramRow)
        .order_by(ProgramRow.active.desc(), ProgramRow.title, ProgramRow.id)
        .offset(page * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    ids = [p.id for p in programs]
    enrolled = {
        row[0]: int(row[1])
        for row in session.execute(
            select(Enrollment.program_id, func.count())
            .where(Enrollment.program_id.in_(ids), Enrollment.status == EnrollmentStatus.active)
            .group_by(Enrollment.program_id)
        )
    }
    adoption = _adoption(session, ids, k=min_group)
    lines = [
        ProgramLine(p.id, p.title, p.active, int(enrolled.get(p.id, 0)), adoption.get(p.id, []))
        for p in programs
    ]
    return LeadData(page=page, pages=pages, total=total, programs=lines, min_group=min_group)


def _adoption(session: Session, program_ids: list[str], *, k: int) -> dict[str, list[StepAdoption]]:
    """Answered ÷ delivered per step: a nudge counts as answered with any proof event.
    Who answered is a figure about people: withheld where fewer than k got the step."""
    answered = (
        select(ProofEvent.delivery_id.label("delivery_id"))
        .where(ProofEvent.delivery_id.is_not(None))
        .distinct()
        .subquery()
    )
    rows = session.execute(
        select(
            Enrollment.program_id,
            Delivery.step_id,
            func.count(Delivery.id),
            func.count(answered.c.delivery_id),
            func.count(func.distinct(Delivery.person_id)),
        )
        .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
        .outerjoin(answered, answered.c.delivery_id == Delivery.id)
        .where(Enrollment.program_id.in_(program_ids), Delivery.sent_at.is_not(None))
        .group_by(Enrollment.program_id, Delivery.step_id)
        .order_by(Enrollment.program_id, Delivery.step_id)
    )
    out: dict[str, list[StepAdoption]] = {}
    for program_id, step_id, delivered, got, people in rows:
        shown = privacy.shown_or_withheld(int(got), int(people), k=k)
        out.setdefault(program_id, []).append(StepAdoption(step_id, shown, int(delivered)))
    return out
