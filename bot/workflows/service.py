"""Nudgebot's custom steps for Slack's Workflow Builder, as plain functions.

Two steps (functions in config/manifest.yml, listed in bot/surface.py):

- "Send a Nudgebot nudge" (`send_nudge`): a person, a program and one of its
  steps, an optional delay. The step becomes a delivery of the `deliveries`
  outbox through the trigger machinery (`bot.delivery.triggers.queue_step`), so
  working hours, holidays, pauses, the weekly cap and exactly-once sending hold
  as for every nudge. Outputs: `delivery_id` and `status`.
- "Enroll in a Nudgebot program" (`enroll_in_program`): people, a program, an
  optional start date. Outputs: `enrollment_id` (the first person's),
  `enrollment_ids` and `summary`.

Who may enroll. Slack's `function_executed` event says which step of which
workflow run it is (`function_execution_id`, `workflow_execution_id`) and the
inputs the workflow's author chose; it does not say who built the workflow, and
an input such as "enrolled by" is whatever the author typed. So the enroll step
accepts one of two things Nudgebot can check itself:

1. An L&D lead's workflow key (input `nudgebot_key`): `/nudges workflow-key`
   gives each L&D lead a key of their own, an HMAC of their user id and the
   workspace under the app's signing secret. The step verifies the key and that
   its lead is still an L&D lead now; the enrollment is recorded as theirs.
2. A channel the settings allow (input `channel`, NUDGEBOT_WORKFLOW_CHANNELS):
   every person must be a member of that channel now (read from Slack), so a
   workflow anywhere can enroll only people an admin's allowed channel holds.

Anything else fails with "Not allowed". Every refusal is a `StepRefused`, worded
for the workflow's author: Slackbot shows it to them when the step fails.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.content.models import Program as ProgramRow
from bot.delivery import triggers
from bot.delivery.arms import HOLDOUT
from bot.delivery.models import Enrollment, EnrollmentStatus
from bot.delivery.planner import enroll_and_plan
from bot.delivery.service import load_program
from bot.errors import Refusal
from bot.people.models import Person
from bot.people.roles import LeadDirectory
from bot.settings import Settings

SEND_STEP = "send_nudge"
ENROLL_STEP = "enroll_in_program"
SOURCE = "workflow"
KEY_PREFIX = "nbk1"
_DELAY = re.compile(r"^([1-9]\d*)([mhd])$")
_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


class StepRefused(Refusal):
    """Why a step did not do its work, in words for the workflow's author."""


# -- inputs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendRequest:
    user_id: str
    program_id: str
    step_id: str
    delay: timedelta


@dataclass(frozen=True)
class EnrollRequest:
    user_ids: tuple[str, ...]
    program_id: str
    start_date: date | None
    channel: str | None
    key: str | None


def _text(inputs: Mapping[str, Any], name: str) -> str:
    value = inputs.get(name)
    return value.strip() if isinstance(value, str) else ""


def _required(inputs: Mapping[str, Any], name: str, what: str) -> str:
    value = _text(inputs, name)
    if not value:
        raise StepRefused(f"The step's {what} ({name}) is empty: fill it in Workflow Builder.")
    return value


def send_request(inputs: Mapping[str, Any]) -> SendRequest:
    user_id = _required(inputs, "person", "person")
    delay_text = _text(inputs, "delay")
    match = _DELAY.match(delay_text)
    if delay_text and not match:
        raise StepRefused(
            f"The delay {delay_text!r} is not one Nudgebot reads: write minutes, hours or "
            "days, such as 30m, 2h or 1d (or leave it empty for now)."
        )
    return SendRequest(
        user_id=user_id,
        program_id=_required(inputs, "program", "program id"),
        step_id=_required(inputs, "step", "step id"),
        delay=triggers.delay_of(delay_text) if match else timedelta(0),
    )


def enroll_request(inputs: Mapping[str, Any]) -> EnrollRequest:
    people = inputs.get("people")
    if isinstance(people, str):  # one person mapped into the list
        people = [people]
    user_ids = tuple(
        dict.fromkeys(p.strip() for p in people or [] if isinstance(p, str) and p.strip())
    )
    if not user_ids:
        raise StepRefused("The step's people (people) are empty: choose who to enroll.")
    start_text = _text(inputs, "start_date")
    try:
        start = date.fromisoformat(start_text) if start_text else None
    except ValueError:
        raise StepRefused(f"The start date {start_text!r} is not a date (YYYY-MM-DD).") from None
    return EnrollRequest(
        user_ids=user_ids,
        program_id=_required(inputs, "program", "program id"),
        start_date=start,
        channel=_text(inputs, "channel") or None,
        key=_text(inputs, "nudgebot_key") or None,
    )


# -- L&D leads' workflow keys --------------------------------------------------------------------


def workflow_key(secret: str, *, team_id: str, lead: str) -> str:
    """The key `/nudges workflow-key` gives `lead` for workflows of `team_id`."""
    return f"{KEY_PREFIX}-{lead}-{_digest(secret, team_id, lead)}"


def key_owner(secret: str, *, team_id: str, key: str) -> str | None:
    """The lead a key was made for, when it is one of this workspace's; else None."""
    parts = key.strip().split("-")
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not _USER.match(parts[1]):
        return None
    expected = _digest(secret, team_id, parts[1])
    return parts[1] if hmac.compare_digest(parts[2], expected) else None


def _digest(secret: str, team_id: str, lead: str) -> str:
    message = f"nudgebot-workflow-key:v1:{team_id}:{lead}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


# -- authorization ---------------------------------------------------------------------------------

NOT_ALLOWED = (
    "Not allowed: this workflow may not enroll people in Nudgebot programs. An L&D lead "
    "can allow it by pasting their key (from `/nudges workflow-key`) into the step's "
    "Nudgebot key; or a Nudgebot admin allows the workflow's channel "
    "(NUDGEBOT_WORKFLOW_CHANNELS) and the step names that channel."
)


def needs_members(settings: Settings, request: EnrollRequest) -> str | None:
    """The channel whose members the listener must read from Slack before `enroll`
    (the allowed-channel path), or None."""
    if request.key is None and request.channel in settings.workflow_channels:
        return request.channel
    return None


def enroller(
    session: Session,
    *,
    settings: Settings,
    leads: LeadDirectory,
    request: EnrollRequest,
    team_id: str,
    workspace_id: str | None,
    channel_members: Sequence[str] | None,
) -> str:
    """Who the enrollment is recorded as made by (a lead's id, or workflow:CHANNEL),
    or StepRefused with why not. See the module's docstring."""
    if request.key is not None:
        secret = settings.slack_signing_secret
        lead = (
            key_owner(secret.get_secret_value(), team_id=team_id, key=request.key)
            if secret
            else None
        )
        if lead is None:
            raise StepRefused(
                "Not allowed: the step's Nudgebot key is not valid here. Ask an L&D lead "
                "for theirs with `/nudges workflow-key` and paste it again."
            )
        if not leads.is_ld_lead(session, lead, workspace_id=workspace_id):
            raise StepRefused(
                f"Not allowed: the step's Nudgebot key is <@{lead}>'s, who is not an L&D "
                "lead any more. Ask a current L&D lead for their key."
            )
        return lead
    if request.channel is None or request.channel not in settings.workflow_channels:
        raise StepRefused(NOT_ALLOWED)
    present = set(channel_members or ())
    outside = [u for u in request.user_ids if u not in present]
    if outside:
        names = ", ".join(f"<@{u}>" for u in outside)
        raise StepRefused(
            f"Not allowed: {names} not in <#{request.channel}>; a workflow of that channel "
            "enrolls only its members."
        )
    return f"workflow:{request.channel}"


# -- the steps -------------------------------------------------------------------------------------


def _program(session: Session, program_id: str) -> ProgramRow:
    program = session.get(ProgramRow, program_id)
    if program is None:
        raise StepRefused(
            f"Unknown program {program_id!r}: Nudgebot has no program with this id. Check "
            "the id in the step (`nudgebot content list` shows them all)."
        )
    return program


def _person(session: Session, user_id: str, workspace_id: str | None) -> Person | None:
    query = select(Person).where(Person.slack_user_id == user_id)
    if workspace_id is not None:
        query = query.where(Person.workspace_id == workspace_id)
    return session.scalar(query)


def enroll(
    session: Session,
    *,
    settings: Settings,
    now: datetime,
    request: EnrollRequest,
    enrolled_by: str,
    workspace_id: str | None,
) -> dict[str, Any]:
    """Enroll the request's people (allowed already: see `enroller`); the outputs."""
    _program(session, request.program_id)
    result = enroll_and_plan(
        session,
        settings=settings,
        now=now,
        program_id=request.program_id,
        user_ids=list(request.user_ids),
        starts_at=now,
        enrolled_by=enrolled_by,
        source=SOURCE,
        workspace_id=workspace_id,
        start_date=request.start_date,
    )
    if not result.enrollment_ids:
        raise StepRefused(_nobody(result.skipped))
    summary = (
        f"Enrolled {len(result.enrolled)} in {request.program_id}; "
        f"{len(result.already)} already in; {len(result.skipped)} not enrolled"
    )
    if result.skipped:
        summary += " (" + "; ".join(f"<@{u}>: {why}" for u, why in result.skipped) + ")"
    return {
        "enrollment_id": result.enrollment_ids[0],
        "enrollment_ids": list(result.enrollment_ids),
        "summary": summary + ".",
    }


def _nobody(skipped: Sequence[tuple[str, str]]) -> str:
    missing = [u for u, why in skipped if why.startswith("not in the directory")]
    others = [f"<@{u}>: {why}" for u, why in skipped if u not in missing]
    parts = []
    if missing:
        names = ", ".join(f"<@{u}>" for u in missing)
        parts.append(
            f"Person not found: {names} not in Nudgebot's directory yet (it follows "
            "Slack's; a new account appears within minutes, or an admin runs "
            "`nudgebot people sync`)"
        )
    if others:
        parts.append("Nobody was enrolled: " + "; ".join(others))
    return ". ".join(parts) + "."


def send(
    session: Session,
    *,
    settings: Settings,
    now: datetime,
    request: SendRequest,
    workspace_id: str | None,
) -> dict[str, Any]:
    """Queue the request's step for its person now (plus the delay); the outputs."""
    _program(session, request.program_id)
    person = _person(session, request.user_id, workspace_id)
    if person is None or person.is_deleted or person.is_bot:
        raise StepRefused(
            f"Person not found: <@{request.user_id}> is not someone Nudgebot can nudge "
            "(not in its directory, a bot or a deactivated account)."
        )
    enrollment = session.scalar(
        select(Enrollment).where(
            Enrollment.person_id == person.id,
            Enrollment.program_id == request.program_id,
            Enrollment.status == EnrollmentStatus.active,
        )
    )
    if enrollment is None:
        raise StepRefused(
            f"Not enrolled: <@{request.user_id}> is not in program {request.program_id!r}. "
            'Put an "Enroll in a Nudgebot program" step before this one.'
        )
    program = load_program(session, enrollment.program_version_id)
    steps = [s.id for s in program.steps]
    if request.step_id not in steps:
        raise StepRefused(
            f"Unknown step {request.step_id!r} in program {request.program_id!r}; its steps "
            f"are: {', '.join(steps)}."
        )
    if enrollment.arm == HOLDOUT:
        return {"status": "not sent: the person is in the program's holdout group"}
    queued = triggers.queue_step(
        session,
        settings=settings,
        now=now,
        enrollment=enrollment,
        step_id=request.step_id,
        delay=request.delay,
    )
    outputs: dict[str, Any] = {"status": queued.status}
    if queued.delivery_id is not None:
        outputs["delivery_id"] = queued.delivery_id
    return outputs
