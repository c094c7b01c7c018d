"""Moment-of-work triggers: a Slack event or a signed webhook sends a step now.

A program names its triggers (source webhook, channel_join, message, reaction,
app_home) and steps refer to them (`when: {trigger: id, delay: "30m"}`). When
one fires for a person enrolled in that program, the step becomes a delivery
due now (plus the delay), moved to the person's next open window if that
moment falls outside it. Each firing is a new repetition of the step, so a deal
that moves twice nudges twice, with three guards against noise: a webhook's
`event_id` counts once (retries), a step still waiting to go out absorbs new
firings, and after a firing the same step rests for COOLDOWN. A firing that would
go over the person's weekly cap (all programs together, in their own week) is
recorded as `skipped` with the reason and not sent: a moment-of-work nudge is
worth sending at that moment or not at all (see docs/delivery.md).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as dtime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import webhooks
from bot.content.schema import Program, Trigger
from bot.delivery.arms import HOLDOUT
from bot.delivery.calendar import Calendar, to_utc
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment, EnrollmentStatus
from bot.delivery.placement import HELD_IN_WEEK, person_calendar, program_calendar
from bot.delivery.service import load_program
from bot.people.models import Person
from bot.settings import Settings
from bot.slack import dedupe
from bot.webhooks import signature  # noqa: F401 - the scheme senders implement

# After a firing, the same step of the same enrollment rests this long: a chatty
# channel or a CRM that saves a deal three times in a minute nudges once.
COOLDOWN = timedelta(hours=1)
CAP_REASON = "weekly cap reached"
_DELAY = re.compile(r"^([1-9]\d*)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class Firing:
    """What happened: who, which source, and the facts a trigger may filter on."""

    user_id: str
    source: str
    channel: str | None = None
    text: str | None = None  # a message's text: matched, never stored or logged
    reaction: str | None = None
    trigger_id: str | None = None  # webhooks name the trigger
    program_id: str | None = None  # webhooks may name the program

    def matches(self, trigger: Trigger) -> bool:
        if trigger.source != self.source:
            return False
        if self.source == "webhook":
            return trigger.id == self.trigger_id
        if trigger.channel and trigger.channel != self.channel:
            return False
        if self.source == "message":
            return bool(trigger.pattern and re.search(trigger.pattern, self.text or ""))
        if self.source == "reaction":
            return trigger.reaction == self.reaction
        return True


def delay_of(value: str | None) -> timedelta:
    match = _DELAY.match(value or "")
    if not match:
        return timedelta(0)
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def fire(session: Session, *, settings: Settings, now: datetime, firing: Firing) -> list[int]:
    """Queue every step this firing triggers for the person; returns the delivery ids."""
    person = session.scalar(select(Person).where(Person.slack_user_id == firing.user_id))
    if person is None or person.is_deleted or person.is_bot:
        return []
    enrollments = session.scalars(
        select(Enrollment).where(
            Enrollment.person_id == person.id,
            Enrollment.status == EnrollmentStatus.active,
            Enrollment.arm != HOLDOUT,
        )
    )
    queued: list[int] = []
    for enrollment in enrollments:
        if firing.program_id and enrollment.program_id != firing.program_id:
            continue
        program = load_program(session, enrollment.program_version_id)
        fired = {t.id for t in program.triggers if firing.matches(t)}
        for step_id, delay in _steps_for(program, fired, enrollment.arm):
            delivery_id = _queue(
                session, settings, person, enrollment, program, step_id, now, delay
            )
            if delivery_id is not None:
                queued.append(delivery_id)
    return queued


def _steps_for(program: Program, fired: set[str], arm: str) -> list[tuple[str, timedelta]]:
    out = []
    for step in program.steps:
        when = step.when_for(arm)
        if when.trigger in fired:
            out.append((step.id, delay_of(when.delay)))
    return out


def _queue(
    session: Session,
    settings: Settings,
    person: Person,
    enrollment: Enrollment,
    program: Program,
    step_id: str,
    now: datetime,
    delay: timedelta,
) -> int | None:
    mine = (Delivery.enrollment_id == enrollment.id) & (Delivery.step_id == step_id)
    waiting = session.scalar(
        select(Delivery.id)
        .where(mine, Delivery.status.in_([DeliveryStatus.planned, DeliveryStatus.sending]))
        .limit(1)
    )
    if waiting is not None:
        return None
    last = session.scalar(select(func.max(Delivery.created_at)).where(mine))
    if last is not None and last > now - COOLDOWN:
        return None
    latest = session.scalar(select(func.max(Delivery.repetition)).where(mine))
    repetition = 0 if latest is None else latest + 1  # 0 is a repetition too
    cal = program_calendar(person_calendar(person, settings), program)
    due, window_end = cal.next_open(now + delay)
    held = held_in_week(session, person.id, cal, due)
    status = DeliveryStatus.planned if held < settings.weekly_cap else DeliveryStatus.skipped
    row = Delivery(
        enrollment_id=enrollment.id,
        person_id=person.id,
        step_id=step_id,
        repetition=repetition,
        status=status,
        due_at=due,
        window_end=window_end,
        attempts=0,
        created_at=now,
        updated_at=now,
    )
    if status == DeliveryStatus.skipped:
        row.last_error = f"{CAP_REASON} ({held} of {settings.weekly_cap} this week); not sent"
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None  # the same firing on another replica got there first
    return row.id if status == DeliveryStatus.planned else None


def held_in_week(session: Session, person_id: int, cal: Calendar, due: datetime) -> int:
    """The person's nudges (every program) that hold a place in the local week of `due`
    (calendar nudges are counted the same way: bot.calendars.service)."""
    day = cal.local_date(due)
    monday = day - timedelta(days=day.weekday())
    start = to_utc(monday, dtime(), cal.tz)
    end = to_utc(monday + timedelta(days=7), dtime(), cal.tz)
    return int(
        session.scalar(
            select(func.count()).where(
                Delivery.person_id == person_id,
                Delivery.enrollment_id.is_not(None),
                Delivery.status.in_(HELD_IN_WEEK),
                Delivery.due_at >= start,
                Delivery.due_at < end,
            )
        )
        or 0
    )


@dataclass(frozen=True)
class Queued:
    """What became of one step asked for now (a Workflow Builder step): the
    delivery that will carry it (None while the step rests) and why, in words."""

    delivery_id: int | None
    status: str


def queue_step(
    session: Session,
    *,
    settings: Settings,
    now: datetime,
    enrollment: Enrollment,
    step_id: str,
    delay: timedelta = timedelta(0),
) -> Queued:
    """One step of one active enrollment, due now plus `delay` in the person's next
    open window, with a firing's guards: a step still waiting absorbs it (its
    delivery is the answer, so a repeated request names the same one), a step
    sent within COOLDOWN rests, and over the weekly cap it is recorded `skipped`."""
    person = session.get(Person, enrollment.person_id)
    assert person is not None
    program = load_program(session, enrollment.program_version_id)
    queued = _queue(session, settings, person, enrollment, program, step_id, now, delay)
    if queued is not None:
        return Queued(queued, "queued")
    mine = (Delivery.enrollment_id == enrollment.id) & (Delivery.step_id == step_id)
    waiting = session.scalar(
        select(Delivery.id)
        .where(mine, Delivery.status.in_([DeliveryStatus.planned, DeliveryStatus.sending]))
        .limit(1)
    )
    if waiting is not None:
        return Queued(waiting, "already queued")
    skipped = session.scalar(
        select(Delivery.id).where(
            mine, Delivery.status == DeliveryStatus.skipped, Delivery.created_at == now
        )
    )
    if skipped is not None:
        return Queued(skipped, f"not sent: {CAP_REASON}")
    hours = int(COOLDOWN.total_seconds() // 3600)
    return Queued(None, f"not sent: this step went out less than {hours} hour ago")


# -- the signed webhook: POST /hooks/trigger -----------------------------------------------


@dataclass(frozen=True)
class HookResult:
    status: int
    body: dict[str, Any]


def verify(
    settings: Settings, headers: Mapping[str, str], body: bytes, *, now: float | None = None
) -> str | None:
    """The source name when the request is signed by it and fresh; None otherwise."""
    try:
        return webhooks.verify(
            settings.hook_secrets,
            headers,
            body,
            now=now if now is not None else time.time(),
            setting="NUDGEBOT_HOOK_SECRETS",
        )
    except webhooks.BadSignature:
        return None


def handle_hook(
    session_scope: Callable[[], Any],
    settings: Settings,
    now: datetime,
    headers: Mapping[str, str],
    body: bytes,
) -> HookResult:
    source = verify(settings, headers, body, now=now.timestamp())
    if source is None:
        why = "bad or missing signature, unknown source or stale timestamp"
        return HookResult(401, {"error": f"{why} (X-Nudgebot-Source, -Timestamp, -Signature)"})
    try:
        payload = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return HookResult(400, {"error": "the body is not JSON"})
    problem = _payload_problem(payload)
    if problem:
        return HookResult(400, {"error": problem})
    with session_scope() as session:
        return _fire_from_hook(session, settings, now, source, payload)


def _payload_problem(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return "expected a JSON object"
    if not isinstance(payload.get("trigger"), str):
        return "trigger: required, the trigger id named in the program file"
    user, email = payload.get("user"), payload.get("email")
    if not (isinstance(user, str) and user) and not (isinstance(email, str) and email):
        return "user or email: required (non-empty), who the nudge is for"
    for key in ("program", "event_id"):
        if key in payload and not isinstance(payload[key], str):
            return f"{key}: must be a string"
    return None


def _fire_from_hook(
    session: Session, settings: Settings, now: datetime, source: str, payload: dict[str, Any]
) -> HookResult:
    user_id = payload.get("user")
    if not user_id:
        email = str(payload["email"]).lower()
        user_id = session.scalar(select(Person.slack_user_id).where(Person.email == email))
    if not user_id:
        return HookResult(404, {"error": "no person with this user id or email"})
    event_id = payload.get("event_id")
    if event_id and not dedupe.first_sighting(
        session, event_id=f"hook:{source}:{event_id}"[:64], now=now
    ):
        return HookResult(200, {"queued": 0, "duplicate": True})
    firing = Firing(
        user_id=str(user_id),
        source="webhook",
        trigger_id=payload["trigger"],
        program_id=payload.get("program"),
    )
    queued = fire(session, settings=settings, now=now, firing=firing)
    return HookResult(202 if queued else 200, {"queued": len(queued)})
