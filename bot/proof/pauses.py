"""Fatigue controls: pauses (manual, fatigue, vacation, Slack status) and what
happens to nudges planned inside them.

Nothing planned is lost. A planned nudge due inside a pause is *held*: status
`skipped` with a `last_error` that starts with HELD_NOTE (the sender only claims
`planned` rows, the planner never moves a skipped one). When the last pause of a
person ends, held rows become `planned` again at their own time if it is still
ahead, otherwise spread one per open day from the next working moment, so a
two-week vacation does not end in a burst. `Person.paused_until` mirrors the
current pause for other parts of the bot (OPEN_ENDED when it waits for Resume).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from bot.delivery.models import Delivery, DeliveryKind, DeliveryStatus
from bot.delivery.planner import person_calendar
from bot.people.models import Person
from bot.proof.models import Pause, PauseReason, ProofEvent
from bot.settings import Settings

HELD_NOTE = "paused"
RESUMED_NOTE = "held while paused; waiting for its turn"
# "Until you resume". Far, yet a real calendar date: the sender defers to paused_until
# and looks for a working day after it, which must not overflow the calendar.
OPEN_ENDED = datetime(2100, 1, 1, tzinfo=UTC)
SENDER_DEFERRED = "deferred: paused"
VACATION_EMOJI = frozenset(
    {
        ":palm_tree:",
        ":airplane:",
        ":beach_with_umbrella:",
        ":desert_island:",
        ":island:",
        ":airplane_departure:",
        ":luggage:",
        ":sunny:",
        ":face_with_thermometer:",
        ":thermometer:",
    }
)
VACATION_TEXT = re.compile(
    r"\b(vacation|vacances|holidays?|ooo|out of (the )?office|on leave|annual leave|pto|"
    r"urlaub|отпуск)\b",
    re.IGNORECASE,
)


def is_vacation_status(emoji: str | None, text: str | None) -> bool:
    """True for a Slack status that says the person is away (emoji or words)."""
    return (emoji or "") in VACATION_EMOJI or bool(VACATION_TEXT.search(text or ""))


def active_pauses(session: Session, *, person_id: int, now: datetime) -> list[Pause]:
    return list(
        session.scalars(
            select(Pause)
            .where(
                Pause.person_id == person_id,
                Pause.ended_at.is_(None),
                Pause.starts_at <= now,
                or_(Pause.ends_at.is_(None), Pause.ends_at > now),
            )
            .order_by(Pause.starts_at)
        )
    )


def upcoming_pauses(session: Session, *, person_id: int, now: datetime) -> list[Pause]:
    return list(
        session.scalars(
            select(Pause)
            .where(Pause.person_id == person_id, Pause.ended_at.is_(None), Pause.starts_at > now)
            .order_by(Pause.starts_at)
        )
    )


def paused_until(pauses: list[Pause]) -> datetime | None:
    """When the person's nudges resume by themselves; OPEN_ENDED if only Resume does it."""
    if not pauses:
        return None
    return max(p.ends_at or OPEN_ENDED for p in pauses)


def pause(
    session: Session,
    *,
    person: Person,
    reason: PauseReason,
    now: datetime,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> Pause:
    """Start (or schedule) a pause and hold what is planned inside it."""
    row = Pause(
        person_id=person.id,
        reason=reason,
        starts_at=starts_at or now,
        ends_at=ends_at,
        created_at=now,
    )
    session.add(row)
    session.flush()
    hold(session, person=person, pause=row, now=now)
    _mirror(session, person, now)
    return row


def hold(session: Session, *, person: Person, pause: Pause, now: datetime) -> int:
    """Planned rows due inside the pause wait as `skipped` with a note; returns how many."""
    until = pause.ends_at or OPEN_ENDED
    conditions = [
        Delivery.person_id == person.id,
        Delivery.status == DeliveryStatus.planned,
        Delivery.due_at < until,
    ]
    if pause.starts_at > now:
        conditions.append(Delivery.due_at >= pause.starts_at)
    # A pause already running holds what is overdue too: none of it may go out now.
    rows = session.scalars(select(Delivery).where(*conditions))
    count = 0
    for row in rows:
        row.status = DeliveryStatus.skipped
        row.last_error = f"{HELD_NOTE} ({pause.reason}); waits for the pause to end"
        row.updated_at = now
        count += 1
    session.flush()
    return count


def resume(
    session: Session,
    *,
    person: Person,
    now: datetime,
    settings: Settings,
    reasons: set[str] | None = None,
) -> int:
    """End the person's current pauses (all, or those of `reasons`); returns how many ended."""
    ended = 0
    for row in active_pauses(session, person_id=person.id, now=now):
        if reasons is None or row.reason in reasons:
            row.ended_at = now
            ended += 1
    session.flush()
    if ended:
        release(session, person=person, now=now, settings=settings)
    return ended


def release(session: Session, *, person: Person, now: datetime, settings: Settings) -> int:
    """Held rows go back to `planned` once no pause covers them; returns how many."""
    pauses = active_pauses(session, person_id=person.id, now=now)
    _mirror(session, person, now)
    if pauses:
        return 0
    held = list(
        session.scalars(
            select(Delivery)
            .where(
                Delivery.person_id == person.id,
                or_(
                    and_(
                        Delivery.status == DeliveryStatus.skipped,
                        Delivery.last_error.startswith(HELD_NOTE),
                    ),
                    # Rows the sender itself put off to Person.paused_until.
                    and_(
                        Delivery.status == DeliveryStatus.planned,
                        Delivery.last_error.startswith(SENDER_DEFERRED),
                    ),
                ),
            )
            .order_by(Delivery.due_at, Delivery.id)
        )
    )
    upcoming = upcoming_pauses(session, person_id=person.id, now=now)
    cal = person_calendar(person, settings)
    cursor = now
    for row in held:
        if now < row.due_at < OPEN_ENDED - timedelta(days=1):
            row.status = DeliveryStatus.planned
        else:
            # One overdue nudge per open day from now, inside the working window.
            start, end = cal.next_open(cursor)
            row.status = DeliveryStatus.planned
            row.due_at, row.window_end = start, end
            cursor = cal.bounds(cal.local_date(start))[1] + timedelta(seconds=1)
        row.last_error = RESUMED_NOTE
        row.updated_at = now
    session.flush()
    for later in upcoming:
        hold(session, person=person, pause=later, now=now)
    return len(held)


def _mirror(session: Session, person: Person, now: datetime) -> None:
    person.paused_until = paused_until(active_pauses(session, person_id=person.id, now=now))
    session.flush()


# -- upkeep (a tick of `nudgebot run`) -----------------------------------------------------


def enforce(session: Session, *, now: datetime, settings: Settings) -> int:
    """End pauses whose time is up, and hold rows planned since into current or coming
    pauses (the planner does not know about pauses). Returns rows released or held."""
    changed = 0
    expired = session.scalars(
        select(Pause).where(
            Pause.ended_at.is_(None), Pause.ends_at.is_not(None), Pause.ends_at <= now
        )
    ).all()
    people: set[int] = set()
    for row in expired:
        row.ended_at = row.ends_at
        people.add(row.person_id)
    session.flush()
    for person_id in people:
        person = session.get(Person, person_id)
        if person is not None:
            changed += release(session, person=person, now=now, settings=settings)
    for row in session.scalars(select(Pause).where(Pause.ended_at.is_(None))).all():
        person = session.get(Person, row.person_id)
        if person is not None:
            changed += hold(session, person=person, pause=row, now=now)
            if row.starts_at <= now and person.paused_until is None:
                _mirror(session, person, now)
    return changed


# -- fatigue --------------------------------------------------------------------------------


def unanswered_streak(
    session: Session, *, person_id: int, now: datetime, settings: Settings, limit: int
) -> int:
    """How many of the person's latest nudges in a row went unanswered (up to `limit`),
    counting only nudges past the grace period and sent after their last pause."""
    cutoff = now - timedelta(hours=settings.answer_grace_hours)
    # Nudges from before the last pause do not count again after a Resume.
    floor = session.scalar(
        select(func.max(Pause.starts_at)).where(
            Pause.person_id == person_id, Pause.starts_at <= now
        )
    )
    query = select(Delivery.id).where(
        Delivery.person_id == person_id,
        Delivery.kind == DeliveryKind.step,  # a pre-mortem follow-up asks for no answer
        Delivery.status == DeliveryStatus.sent,
        Delivery.sent_at <= cutoff,
    )
    if floor is not None:
        query = query.where(Delivery.sent_at > floor)
    latest = list(session.scalars(query.order_by(Delivery.sent_at.desc()).limit(limit)))
    answered = set(
        session.scalars(select(ProofEvent.delivery_id).where(ProofEvent.delivery_id.in_(latest)))
    )
    streak = 0
    for delivery_id in latest:
        if delivery_id in answered:
            break
        streak += 1
    return streak


def fatigue_candidates(session: Session, *, now: datetime, settings: Settings) -> list[int]:
    """People with a nudge that just crossed the grace period unanswered, and no pause."""
    cutoff = now - timedelta(hours=settings.answer_grace_hours)
    answered = exists().where(ProofEvent.delivery_id == Delivery.id)
    paused = exists().where(
        Pause.person_id == Delivery.person_id,
        Pause.ended_at.is_(None),
        Pause.starts_at <= now,
        or_(Pause.ends_at.is_(None), Pause.ends_at > now),
    )
    query = (
        select(Delivery.person_id)
        .where(
            Delivery.kind == DeliveryKind.step,
            Delivery.status == DeliveryStatus.sent,
            and_(Delivery.sent_at <= cutoff, Delivery.sent_at > cutoff - timedelta(days=2)),
            ~answered,
            ~paused,
        )
        .distinct()
    )
    return sorted(session.scalars(query))


@dataclass(frozen=True)
class FatiguePause:
    pause_id: int
    slack_user_id: str
    workspace_id: str = ""


def pause_the_fatigued(
    session: Session, *, now: datetime, settings: Settings
) -> list[FatiguePause]:
    """Pause everyone whose last K nudges went unanswered; each needs one DM (listener)."""
    paused: list[FatiguePause] = []
    for person_id in fatigue_candidates(session, now=now, settings=settings):
        streak = unanswered_streak(
            session, person_id=person_id, now=now, settings=settings, limit=settings.fatigue_limit
        )
        person = session.get(Person, person_id)
        if streak < settings.fatigue_limit or person is None or person.is_deleted:
            continue
        row = pause(session, person=person, reason=PauseReason.fatigue, now=now)
        paused.append(FatiguePause(row.id, person.slack_user_id, person.workspace_id))
    return paused


def unnotified_fatigue(session: Session) -> list[FatiguePause]:
    """Fatigue pauses whose DM has not gone out yet (a failed DM is tried again)."""
    rows = session.execute(
        select(Pause.id, Person.slack_user_id, Person.workspace_id)
        .join(Person, Person.id == Pause.person_id)
        .where(
            Pause.reason == PauseReason.fatigue,
            Pause.ended_at.is_(None),
            Pause.notified_at.is_(None),
        )
    )
    return [FatiguePause(r.id, r.slack_user_id, r.workspace_id) for r in rows]


def mark_notified(session: Session, *, pause_id: int, now: datetime) -> None:
    row = session.get(Pause, pause_id)
    if row is not None:
        row.notified_at = now


# -- Slack status ----------------------------------------------------------------------------


def apply_status(
    session: Session,
    *,
    person: Person,
    profile: Mapping[str, Any],
    now: datetime,
    settings: Settings,
) -> str | None:
    """Pause while a vacation status lasts, resume when it is cleared.
    Returns "paused", "resumed" or None (nothing changed)."""
    away = is_vacation_status(profile.get("status_emoji"), profile.get("status_text"))
    current = [
        p
        for p in active_pauses(session, person_id=person.id, now=now)
        if p.reason == PauseReason.status
    ]
    expiration = int(profile.get("status_expiration") or 0)
    ends_at = datetime.fromtimestamp(expiration, UTC) if expiration else None
    if away and ends_at is not None and ends_at <= now:
        away = False
    if away and not current:
        pause(session, person=person, reason=PauseReason.status, now=now, ends_at=ends_at)
        return "paused"
    if away:
        for row in current:
            row.ends_at = ends_at
        _mirror(session, person, now)
        return None
    if current:
        resume(session, person=person, now=now, settings=settings, reasons={PauseReason.status})
        return "resumed"
    return None
