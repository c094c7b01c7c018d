"""Training requests: submit, triage decisions, drafts, the portfolio. No Slack here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit import service as audit
from bot.errors import FieldErrors, PermissionDenied, UserError
from bot.intake.form import OPTIONAL, REQUIRED, validate
from bot.intake.models import (
    OPEN_STATUSES,
    DecisionAction,
    IntakeDecision,
    IntakeDraft,
    IntakeRequest,
    RequestStatus,
)
from bot.intake.scoring import Score, score

ANSWER_FIELDS = (*REQUIRED, *OPTIONAL)
LEAD_ACTIONS = (
    DecisionAction.claimed,
    DecisionAction.needs_info,
    DecisionAction.approved,
    DecisionAction.declined,
)


class InvalidAnswers(FieldErrors):
    """The form is not good yet; `errors` maps field name → what a good answer looks like."""


@dataclass(frozen=True)
class Ranked:
    request: IntakeRequest
    score: Score


def answers_of(request: IntakeRequest) -> dict[str, str]:
    return {name: getattr(request, name) or "" for name in ANSWER_FIELDS}


def _clean(answers: dict[str, Any]) -> dict[str, str | None]:
    # Stored exactly as typed: no strip, no normalisation. Empty optional → None.
    out: dict[str, str | None] = {}
    for name in ANSWER_FIELDS:
        value = answers.get(name)
        out[name] = value if isinstance(value, str) and value.strip() else None
    return out


def submit(
    session: Session,
    *,
    user_id: str,
    answers: dict[str, Any],
    now: datetime,
    request_id: int | None = None,
    reply: str | None = None,
    workspace_id: str | None = None,
) -> IntakeRequest:
    """A new request, or the requester's edit of one that needs info. Drops their draft.
    `workspace_id` (OAuth mode): the requester's workspace; None with a single one."""
    errors = validate({k: v for k, v in answers.items() if isinstance(v, str)})
    if errors:
        raise InvalidAnswers(errors)
    values = _clean(answers)
    if request_id is None:
        request = IntakeRequest(
            requester_slack_user_id=user_id,
            workspace_id=workspace_id or "",
            created_at=now,
            updated_at=now,
        )
        session.add(request)
        action = DecisionAction.submitted
    else:
        request = _editable(
            session, request_id=request_id, user_id=user_id, workspace_id=workspace_id
        )
        request.status = RequestStatus.claimed if request.claimed_by else RequestStatus.open
        request.question = None
        request.updated_at = now
        action = DecisionAction.resubmitted
    for name, value in values.items():
        setattr(request, name, value)
    session.flush()
    note = reply if reply and reply.strip() else None
    _record(session, request, action, actor=user_id, note=note, now=now)
    drop_draft(session, user_id=user_id, workspace_id=workspace_id or "")
    return request


def _editable(
    session: Session, *, request_id: int, user_id: str, workspace_id: str | None
) -> IntakeRequest:
    request = get_request(session, request_id, workspace_id=workspace_id)
    if request.requester_slack_user_id != user_id:
        raise PermissionDenied(f"request #{request_id} is someone else's; only they can edit it")
    if request.status not in OPEN_STATUSES:
        raise UserError(f"request #{request_id} is already {request.status.value}; start a new one")
    return request


def get_request(
    session: Session, request_id: int, *, workspace_id: str | None = None
) -> IntakeRequest:
    """The request; another workspace's request (OAuth mode) does not exist for the caller."""
    request = session.get(IntakeRequest, request_id)
    if request is None or not in_workspace(request, workspace_id):
        raise UserError(f"there is no training request #{request_id}")
    return request


def in_workspace(request: IntakeRequest, workspace_id: str | None) -> bool:
    return workspace_id is None or request.workspace_id == workspace_id


def decide(
    session: Session,
    *,
    request_id: int,
    action: DecisionAction,
    actor_id: str,
    actor_is_lead: bool,
    now: datetime,
    note: str | None = None,
    workspace_id: str | None = None,
) -> IntakeRequest:
    """An L&D lead's triage decision. Refused for anyone else and for closed requests.
    `workspace_id` (OAuth mode): the lead's workspace; other workspaces' requests
    are not found."""
    if not actor_is_lead:
        raise PermissionDenied(
            "only L&D leads can triage training requests (ask to be added to NUDGEBOT_LD_LEADS)"
        )
    if action not in LEAD_ACTIONS:
        raise UserError(f"{action.value} is not a triage decision")
    request = session.scalars(
        select(IntakeRequest).where(IntakeRequest.id == request_id).with_for_update()
    ).one_or_none()
    if request is None or not in_workspace(request, workspace_id):
        raise UserError(f"there is no training request #{request_id}")
    if request.status not in OPEN_STATUSES:
        who = f" by <@{request.decided_by}>" if request.decided_by else ""
        raise UserError(f"request #{request_id} was already {request.status.value}{who}")
    if action is DecisionAction.needs_info and not (note and note.strip()):
        raise UserError("write the question you want the requester to answer")
    _apply(request, action, actor_id=actor_id, note=note, now=now)
    _record(session, request, action, actor=actor_id, note=note, now=now)
    # The audit keeps who decided what, never the note (it may quote the requester).
    audit.record(
        session,
        actor=actor_id,
        action=audit.Action.intake_decide,
        target=f"intake:{request.id}",
        details={"decision": action.value},
        now=now,
        workspace_id=request.workspace_id,
    )
    return request


def _apply(
    request: IntakeRequest,
    action: DecisionAction,
    *,
    actor_id: str,
    note: str | None,
    now: datetime,
) -> None:
    request.updated_at = now
    if action is DecisionAction.claimed:
        request.claimed_by = actor_id
        if request.status is RequestStatus.open:
            request.status = RequestStatus.claimed
    elif action is DecisionAction.needs_info:
        request.status = RequestStatus.needs_info
        request.question = note
    else:
        request.status = (
            RequestStatus.approved if action is DecisionAction.approved else RequestStatus.declined
        )
        request.decided_by = actor_id
        request.decided_at = now


def _record(
    session: Session,
    request: IntakeRequest,
    action: DecisionAction,
    *,
    actor: str,
    note: str | None,
    now: datetime,
) -> None:
    session.add(
        IntakeDecision(
            request_id=request.id,
            action=action,
            actor_slack_user_id=actor,
            note=note,
            created_at=now,
        )
    )


def history(session: Session, request_id: int) -> list[IntakeDecision]:
    return list(
        session.scalars(
            select(IntakeDecision)
            .where(IntakeDecision.request_id == request_id)
            .order_by(IntakeDecision.created_at, IntakeDecision.id)
        )
    )


def mark_posted(session: Session, *, request_id: int, channel_id: str, ts: str) -> None:
    request = get_request(session, request_id)
    request.triage_channel_id = channel_id
    request.triage_ts = ts


def unposted(session: Session) -> list[IntakeRequest]:
    """Open requests whose triage message never made it to Slack (the tick retries them)."""
    return list(
        session.scalars(
            select(IntakeRequest)
            .where(IntakeRequest.triage_ts.is_(None), IntakeRequest.status.in_(OPEN_STATUSES))
            .order_by(IntakeRequest.id)
        )
    )


def ranked(
    session: Session,
    *,
    now: datetime,
    include_closed: bool = False,
    workspace_id: str | None = None,
) -> list[Ranked]:
    """The portfolio, highest impact first (ties: oldest first); one workspace's
    requests when `workspace_id` is given (OAuth mode)."""
    query = select(IntakeRequest).order_by(IntakeRequest.id)
    if workspace_id is not None:
        query = query.where(IntakeRequest.workspace_id == workspace_id)
    if not include_closed:
        query = query.where(IntakeRequest.status.in_(OPEN_STATUSES))
    today = now.date()
    rows = [Ranked(r, score_of(r, today=today)) for r in session.scalars(query)]
    rows.sort(key=lambda row: -row.score.impact)
    return rows


def score_of(request: IntakeRequest, *, today: date) -> Score:
    return score(
        goal=request.goal,
        cost_of_inaction=request.cost_of_inaction,
        horizon=request.horizon,
        audience=request.audience,
        today=today,
    )


def save_draft(
    session: Session,
    *,
    user_id: str,
    answers: dict[str, Any],
    now: datetime,
    request_id: int | None = None,
    workspace_id: str = "",
) -> None:
    """Keep what someone typed (one draft per person and workspace, the newest wins)."""
    kept = {k: v for k, v in answers.items() if isinstance(v, str) and v}
    draft = get_draft(session, user_id=user_id, workspace_id=workspace_id)
    if draft is None:
        draft = IntakeDraft(
            slack_user_id=user_id, workspace_id=workspace_id, answers=kept, updated_at=now
        )
        session.add(draft)
    draft.answers = kept
    draft.request_id = request_id
    draft.updated_at = now


def get_draft(session: Session, *, user_id: str, workspace_id: str = "") -> IntakeDraft | None:
    return session.scalars(
        select(IntakeDraft).where(
            IntakeDraft.workspace_id == workspace_id, IntakeDraft.slack_user_id == user_id
        )
    ).first()


def drop_draft(session: Session, *, user_id: str, workspace_id: str = "") -> None:
    draft = get_draft(session, user_id=user_id, workspace_id=workspace_id)
    if draft is not None:
        session.delete(draft)
