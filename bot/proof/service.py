"""Answers to nudges and the append-only proof log.

Every click becomes at most one ProofEvent: its `dedupe_key` names the action's
identity (the delivery, the kind of answer, the checklist item, the sending a
snooze applies to), so a Slack retry or a double click finds the key taken and
changes nothing. Events are only ever inserted here.

This module is the slice's entry: what a nudge is (`nudges.py`), silence as an
answer (`silence.py`) and the export (`export.py`) live next to it and are named
here too, so callers write `service.find_nudge` as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.delivery.models import DeliveryStatus
from bot.delivery.planner import person_calendar, program_calendar
from bot.errors import PermissionDenied, UserError
from bot.proof import reinforcement
from bot.proof.export import EXPORT_COLUMNS as EXPORT_COLUMNS
from bot.proof.export import export as export
from bot.proof.export import not_relevant_reports as not_relevant_reports
from bot.proof.models import ProofEvent
from bot.proof.nudges import Nudge as Nudge
from bot.proof.nudges import events_of as events_of
from bot.proof.nudges import find_nudge as find_nudge
from bot.proof.nudges import local_time_text as local_time_text
from bot.proof.nudges import nudge_locale as nudge_locale
from bot.proof.nudges import parse_value as parse_value
from bot.proof.silence import apply_silence as apply_silence
from bot.settings import Settings

# Answers that close a nudge: its buttons go away and later clicks are refused.
FINAL = frozenset({"done", "not_relevant", "reflection"})
KINDS = frozenset({"done", "snooze", "not_relevant", "reason", "rating", "check", "reflection"})
SNOOZES = ("1h", "tomorrow")
NOT_RELEVANT_REASONS = {
    "not_my_role": "Not part of my role",
    "already_do_it": "I already do this",
    "wrong_time": "Wrong moment in my work",
    "unclear": "I don't understand what to do",
    "other": "Something else",
}
SNOOZED_NOTE = "snoozed by the person"
OWNER_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
MAX_REFLECTION = 3000


class AlreadyAnswered(UserError):
    """A click on a nudge that was already closed by another answer."""


@dataclass
class AnswerResult:
    nudge: Nudge
    recorded: bool  # False: a retry or double click, nothing changed
    kind: str
    events: list[ProofEvent] = field(default_factory=list)  # all of this delivery's
    snoozed_until: datetime | None = None
    next_repetition: datetime | None = None
    report_to_owner: str | None = None  # owner's Slack id when Not relevant must be reported


def answer(
    session: Session,
    *,
    delivery_id: int,
    user_id: str,
    kind: str,
    now: datetime,
    settings: Settings,
    value: str | None = None,
    text: str | None = None,
    checked: Sequence[int] = (),
    workspace_id: str | None = None,
) -> AnswerResult:
    """Record one answer and do what it means (snooze, repetition, stop).

    PermissionDenied when `user_id` is not the person the nudge was sent to (in
    `workspace_id`, OAuth mode: the same user id in another workspace is someone
    else); AlreadyAnswered when the nudge was closed by a different answer.
    """
    if kind not in KINDS:
        raise UserError(f"unknown answer {kind!r}")
    nudge = find_nudge(session, delivery_id=delivery_id, lock=True)
    if nudge.person.slack_user_id != user_id or (
        workspace_id is not None and nudge.person.workspace_id != workspace_id
    ):
        raise PermissionDenied("this nudge is for someone else")
    existing = events_of(session, delivery_id=delivery_id)
    result = AnswerResult(nudge=nudge, recorded=False, kind=kind)
    closed = next((e for e in existing if e.kind in FINAL), None)
    if kind == "check":
        _check(session, nudge, existing, checked, now, result)
    elif kind == "reason" and (closed is None or closed.kind != "not_relevant"):
        raise UserError("a reason goes with Not relevant; press Not relevant first")
    elif closed is not None and kind not in ("rating", "reason"):
        if _key(nudge, kind, value) != closed.dedupe_key:
            raise AlreadyAnswered(f"you already answered this nudge ({closed.kind})")
    else:
        _one(session, nudge, kind, value, text, now, settings, result)
    if result.recorded and kind != "snooze":
        _after_answer(session, nudge, kind, value, now, settings, result)
    delivery = nudge.delivery
    snoozed = (delivery.last_error or "").startswith(SNOOZED_NOTE)
    if result.snoozed_until is None and delivery.status == DeliveryStatus.planned and snoozed:
        result.snoozed_until = delivery.due_at  # a repeated click still shows the snooze
    result.events = standing_events(events_of(session, delivery_id=delivery_id))
    return result


def _key(nudge: Nudge, kind: str, value: str | None) -> str:
    delivery = nudge.delivery
    if kind == "snooze":
        # One snooze per sending: the same nudge, sent again later, may be snoozed again.
        sent = delivery.sent_at.timestamp() if delivery.sent_at else 0
        return f"snooze:{delivery.id}:{int(sent)}"
    return f"{kind}:{delivery.id}"


def _one(
    session: Session,
    nudge: Nudge,
    kind: str,
    value: str | None,
    text: str | None,
    now: datetime,
    settings: Settings,
    result: AnswerResult,
) -> None:
    value, text = _clean(nudge, kind, value, text)
    if kind == "snooze":
        if nudge.delivery.status != DeliveryStatus.sent:
            return  # already snoozed from this message: the second click changes nothing
        event = _event(nudge, kind, value, text, now)
        if _insert(session, event):
            result.recorded = True
            result.snoozed_until = snooze(
                session, nudge=nudge, choice=value or "1h", now=now, settings=settings
            )
        return
    result.recorded = _insert(session, _event(nudge, kind, value, text, now))


def _clean(
    nudge: Nudge, kind: str, value: str | None, text: str | None
) -> tuple[str | None, str | None]:
    step = nudge.step
    if kind == "snooze" and value not in SNOOZES:
        raise UserError("choose in an hour or tomorrow")
    if kind in ("rating", "reflection") and value not in (None, "1", "2", "3", "4", "5"):
        raise UserError("a rating is a number from 1 to 5")
    if kind == "rating" and step.rating is None:
        raise UserError("this nudge has no rating")
    if kind == "reflection":
        text = (text or "").strip()[:MAX_REFLECTION] or None
        if value is None and text is None:
            raise UserError("write a few words first")
    if kind in ("not_relevant", "reason"):
        if value and value not in NOT_RELEVANT_REASONS:
            raise UserError("choose one of the reasons")
        text = (text or "").strip()[:MAX_REFLECTION] or None
        if kind == "reason" and not value and not text:
            raise UserError("choose a reason or write a few words")
    return value, text


def _check(
    session: Session,
    nudge: Nudge,
    existing: list[ProofEvent],
    checked: Sequence[int],
    now: datetime,
    result: AnswerResult,
) -> None:
    items = nudge.step.items or []
    if any(e.kind in FINAL and e.kind != "done" for e in existing):
        raise AlreadyAnswered("you already answered this nudge")
    ticked = ticked_items(existing)
    for index in sorted(set(checked) - ticked):
        if not 0 <= index < len(items):
            raise UserError("that checklist item does not exist")
        result.recorded |= _insert(session, _tick(nudge, existing, "check", index, now))
        ticked.add(index)
    if any(e.kind == "done" for e in existing):
        return  # a closed checklist is no longer shown as boxes; a late click unticks nothing
    # Unticking is appended too (the log is never edited): the list shows what stands.
    for index in sorted(ticked - set(checked)):
        result.recorded |= _insert(session, _tick(nudge, existing, "uncheck", index, now))
        ticked.discard(index)
    if items and len(ticked) >= len(items):
        result.recorded |= _insert(session, _event(nudge, "done", "checklist", None, now))
        result.kind = "done"


def ticked_items(events: Sequence[ProofEvent]) -> set[int]:
    """The checklist items ticked now: each item's last tick or untick stands."""
    ticked: set[int] = set()
    for event in events:
        if event.kind in ("check", "uncheck") and (event.value or "").isdigit():
            if event.kind == "check":
                ticked.add(int(event.value or 0))
            else:
                ticked.discard(int(event.value or 0))
    return ticked


def standing_events(events: Sequence[ProofEvent]) -> list[ProofEvent]:
    """The events a message shows: ticks taken back, and the untickings, left out."""
    ticked = ticked_items(events)
    return [
        e
        for e in events
        if e.kind != "uncheck" and (e.kind != "check" or int(e.value or -1) in ticked)
    ]


def _tick(
    nudge: Nudge, existing: Sequence[ProofEvent], kind: str, index: int, now: datetime
) -> ProofEvent:
    # The n-th untick of an item and the tick after it each get a key of their own, so a
    # box may go on and off; a retry of the same click computes the same key again.
    undone = sum(1 for e in existing if e.kind == "uncheck" and e.value == str(index))
    event = _event(nudge, kind, str(index), None, now)
    event.dedupe_key = f"{kind}:{nudge.delivery.id}:{index}" + (f":{undone}" if undone else "")
    return event


def _event(
    nudge: Nudge, kind: str, value: str | None, text: str | None, now: datetime
) -> ProofEvent:
    delivery = nudge.delivery
    since = int((now - delivery.sent_at).total_seconds()) if delivery.sent_at else None
    return ProofEvent(
        dedupe_key=_key(nudge, kind, value),
        person_id=nudge.person.id,
        program_id=nudge.enrollment.program_id,
        program_version=nudge.version_number,
        step_id=delivery.step_id,
        delivery_id=delivery.id,
        kind=kind,
        value=value,
        text=text,
        occurred_at=now,
        seconds_since_delivery=max(since, 0) if since is not None else None,
    )


def _insert(session: Session, event: ProofEvent) -> bool:
    """Append; False when the action's identity is already in the log."""
    try:
        with session.begin_nested():
            session.add(event)
            session.flush()
    except IntegrityError:
        return False
    return True


def _after_answer(
    session: Session,
    nudge: Nudge,
    kind: str,
    value: str | None,
    now: datetime,
    settings: Settings,
    result: AnswerResult,
) -> None:
    outcome = {"done": "done", "reflection": "done", "not_relevant": "not_relevant"}.get(
        result.kind if kind == "check" else kind
    )
    if outcome is None:
        return
    if nudge.delivery.status == DeliveryStatus.planned:
        # Answered from the message before a snoozed copy went out: do not send it again.
        nudge.delivery.status = DeliveryStatus.cancelled
        nudge.delivery.last_error = "answered before it came back"
        nudge.delivery.updated_at = now
    move = reinforcement.apply_outcome(
        session,
        delivery=nudge.delivery,
        enrollment=nudge.enrollment,
        person=nudge.person,
        program=nudge.program,
        outcome=outcome,
        now=now,
        settings=settings,
    )
    result.next_repetition = move.next_due if move else None
    if outcome == "not_relevant" and OWNER_USER_ID.match(nudge.program.owner):
        result.report_to_owner = nudge.program.owner


def snooze(
    session: Session, *, nudge: Nudge, choice: str, now: datetime, settings: Settings
) -> datetime:
    """The same delivery comes back later, inside the person's working window."""
    cal = program_calendar(person_calendar(nudge.person, settings), nudge.program)
    if choice == "tomorrow":
        local = now.astimezone(cal.tz)
        day = local.date() + timedelta(days=1)
        while not cal.is_open_day(day):
            day += timedelta(days=1)
        start, end = cal.bounds(day)
        at = datetime.combine(day, local.time(), tzinfo=cal.tz)
        due = min(max(at, start), end - timedelta(minutes=1))
    else:
        due, end = cal.next_open(now + timedelta(hours=1))
    delivery = nudge.delivery
    delivery.status = DeliveryStatus.planned
    delivery.due_at = due
    delivery.window_end = end
    # A note the planner respects: it does not move a row that carries one.
    delivery.last_error = f"{SNOOZED_NOTE} ({choice})"
    delivery.lease_until = None
    delivery.lease_owner = None
    delivery.updated_at = now
    reinforcement.apply_outcome(
        session,
        delivery=delivery,
        enrollment=nudge.enrollment,
        person=nudge.person,
        program=nudge.program,
        outcome="not_yet",
        now=now,
        settings=settings,
    )
    session.flush()
    return due
