"""Slack side of /intake: the form, triage buttons, notes, the portfolio.

Commands and buttons ack first, then work. Posting to the triage channel is in
posting.py, its retry tick in jobs.py; a refusal (bot.errors) is answered by the
router (bot.slack.router), worded by `form_refused` / `nothing_changed`.
The form's submission is the one
place that saves before it acks: field errors and "could not save, your text is
still here" travel in the ack itself, so the person never loses what they typed.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import FieldErrors, PermissionDenied, Refusal, UserError
from bot.intake import blocks, portfolio_blocks, service
from bot.intake.form import validate
from bot.intake.models import DecisionAction, IntakeRequest, RequestStatus
from bot.intake.posting import TriagePosting
from bot.people.roles import lead_directory
from bot.slack import blocks as kit
from bot.slack import install
from bot.slack.acks import acks_first

log = logging.getLogger(__name__)

CLICKS = {
    "intake_claim": DecisionAction.claimed,
    "intake_approve": DecisionAction.approved,
    "intake_decline": DecisionAction.declined,
    "intake_needs_info": DecisionAction.needs_info,
}
NOT_A_LEAD = (
    "Only L&amp;D leads can triage training requests, so nothing was changed. "
    "If you should be one, ask your admin to add you to NUDGEBOT_LD_LEADS."
)
SAVE_FAILED = (
    "We could not save your request just now (our database did not answer). "
    "Everything you typed is still here: press Send again in a minute."
)


def form_refused(exc: UserError | PermissionDenied) -> str:
    """A refused form, shown on its first field."""
    return f"{str(exc).capitalize()}."


def nothing_changed(exc: UserError | PermissionDenied) -> str:
    """A refused triage decision, told to the lead."""
    return f"Nothing changed: {exc}."


class IntakeListeners(TriagePosting):
    """/intake, its form, the triage buttons and notes, the requester's answer."""

    # /intake and /intake list ---------------------------------------------------------

    @acks_first  # acked at once; the form opens well inside the trigger_id's 3 s
    def command(self, ack: Any, command: dict[str, Any], client: WebClient, respond: Any) -> None:
        ack()
        text = command.get("text") or ""
        user = command["user_id"]
        scope = install.request_scope(self.services, command)
        if text.strip().lower() in ("list", "ls"):
            self._portfolio(client, user, command["trigger_id"], respond, scope)
            return
        # Open the form before anything slow: the trigger_id lives 3 seconds.
        answers = {"goal": text.strip()} if text.strip() else {}
        opened = client.views_open(
            trigger_id=command["trigger_id"], view=blocks.form_view(answers=answers)
        )
        self._restore_draft(client, user, opened.get("view") or {}, answers, scope)

    def _restore_draft(
        self,
        client: WebClient,
        user: str,
        view: dict[str, Any],
        typed: dict[str, str],
        scope: str | None = None,
    ) -> None:
        try:
            with self.services.session() as session:
                draft = service.get_draft(session, user_id=user, workspace_id=install.stored(scope))
                if draft is None:
                    return
                answers = {**draft.answers, **typed}
                request_id = draft.request_id
                question = None
                if request_id is not None:
                    request = session.get(IntakeRequest, request_id)
                    if request is None or blocks.status_is_final(request.status):
                        request_id = None  # decided meanwhile: the draft becomes a new request
                    else:
                        question = request.question
        except SQLAlchemyError:
            log.warning("intake: could not read the draft; the form opened empty")
            return
        client.views_update(
            view_id=view["id"],
            hash=view.get("hash"),
            view=blocks.form_view(
                answers=answers,
                request_id=request_id,
                question=question,
                notice=":floppy_disk: We kept what you typed last time; here it is.",
            ),
        )

    def _portfolio(
        self, client: WebClient, user: str, trigger_id: str, respond: Any, scope: str | None
    ) -> None:
        with self.services.session() as session:
            is_lead = lead_directory(self.services).is_ld_lead(session, user, workspace_id=scope)
            rows = (
                service.ranked(session, now=self.services.clock.now(), workspace_id=scope)
                if is_lead
                else []
            )
        if not is_lead:  # answered after the session: no transaction waits on Slack
            respond(
                text="`/intake list` shows the L&amp;D portfolio and is for L&amp;D leads. "
                "To ask for training, type `/intake`.",
                response_type="ephemeral",
            )
            return
        client.views_open(
            trigger_id=trigger_id,
            view=portfolio_blocks.portfolio_view([(r.request, r.score) for r in rows]),
        )

    # The form -------------------------------------------------------------------------

    def submit_form(
        self, ack: Any, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        user = body["user"]["id"]
        scope = install.request_scope(self.services, body)
        answers = blocks.read_form(view)
        reply = answers.pop("reply", None)
        request_id = blocks.form_request_id(view)
        errors = validate(answers)
        if errors:
            raise FieldErrors(errors)
        try:  # a refusal (InvalidAnswers: per field) goes to the router, before the ack
            with self.services.session() as session:
                request = service.submit(
                    session,
                    user_id=user,
                    answers=answers,
                    now=self.services.clock.now(),
                    request_id=request_id,
                    reply=reply,
                    workspace_id=scope,
                )
        except SQLAlchemyError as exc:
            # The type only: SQLAlchemy's message carries the bound parameters (people's text).
            log.error(
                "intake: saving a request failed (%s); the form stays open", type(exc).__name__
            )
            self._keep_draft(user, answers, request_id, scope)
            ack(response_action="errors", errors={"goal": SAVE_FAILED})
            return
        ack()
        log.info("intake: request %s %s", request.id, "resubmitted" if request_id else "submitted")
        self._after_submit(client, request, reply=reply, edited=request_id is not None)

    def _keep_draft(
        self,
        user: str,
        answers: dict[str, str],
        request_id: int | None,
        scope: str | None = None,
    ) -> None:
        try:
            with self.services.session() as session:
                service.save_draft(
                    session,
                    user_id=user,
                    answers=answers,
                    now=self.services.clock.now(),
                    request_id=request_id,
                    workspace_id=install.stored(scope),
                )
        except SQLAlchemyError:
            log.warning("intake: the draft could not be saved either; it stays in the open form")

    def close_form(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        ack()
        answers = blocks.read_form(view)
        answers.pop("reply", None)
        if any(value.strip() for value in answers.values()):
            self._keep_draft(
                body["user"]["id"],
                answers,
                blocks.form_request_id(view),
                install.request_scope(self.services, body),
            )

    # Triage ---------------------------------------------------------------------------

    def triage_click(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        user = body["user"]["id"]
        kind = CLICKS[action["action_id"]]
        request_id = int(action["value"])
        scope = install.request_scope(self.services, body)
        with self.services.session() as session:
            is_lead = lead_directory(self.services).is_ld_lead(session, user, workspace_id=scope)
            request = session.get(IntakeRequest, request_id)
            if request is not None and not service.in_workspace(request, scope):
                request = None
        if not is_lead:
            log.info("intake: %s refused for a non-lead on request %s", kind.value, request_id)
            raise Refusal(NOT_A_LEAD)
        if request is not None and blocks.status_is_final(request.status):
            # Say so now rather than after the lead typed a question into a modal.
            raise Refusal(
                f"Nothing changed: request #{request_id} was already {request.status.value}."
            )
        if kind in (DecisionAction.needs_info, DecisionAction.declined):
            client.views_open(
                trigger_id=body["trigger_id"],
                view=blocks.note_view(action=kind, request_id=request_id),
            )
            return
        self._decide(client, request_id=request_id, kind=kind, user=user, note=None, scope=scope)

    def submit_note(
        self, ack: Any, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        user = body["user"]["id"]
        meta = blocks.note_metadata(view)
        note = blocks.read_form(view).get("note") or ""
        if meta is None:
            raise FieldErrors({"note": "This form is out of date; close it."})
        request_id, kind = meta
        scope = install.request_scope(self.services, body)
        with self.services.session() as session:
            is_lead = lead_directory(self.services).is_ld_lead(session, user, workspace_id=scope)
        if not is_lead:
            raise FieldErrors({"note": NOT_A_LEAD.replace("&amp;", "&")})
        if kind is DecisionAction.needs_info and not note.strip():
            raise FieldErrors(
                {
                    "note": "Write the question the requester should answer, e.g. "
                    "“How is the repeat-call rate measured today?”"
                }
            )
        ack()
        self._decide(client, request_id=request_id, kind=kind, user=user, note=note, scope=scope)

    def _decide(
        self,
        client: WebClient,
        *,
        request_id: int,
        kind: DecisionAction,
        user: str,
        note: str | None,
        scope: str | None = None,
    ) -> None:
        # A refusal (PermissionDenied, UserError) goes to the router: `nothing_changed`.
        with self.services.session() as session:
            request = service.decide(
                session,
                request_id=request_id,
                action=kind,
                actor_id=user,
                actor_is_lead=lead_directory(self.services).is_ld_lead(
                    session, user, workspace_id=scope
                ),
                now=self.services.clock.now(),
                note=note,
                workspace_id=scope,
            )
        log.info("intake: request %s %s", request_id, kind.value)
        self._refresh_triage(client, request)
        text = blocks.decision_dm(request, kind, user, note)
        if kind is DecisionAction.needs_info:
            if request.triage_channel_id and request.triage_ts:
                self._safe_post(
                    client,
                    channel=request.triage_channel_id,
                    thread_ts=request.triage_ts,
                    text=f"<@{user}> asked <@{request.requester_slack_user_id}>: "
                    f"{kit.escape_within(note or '', 2800)}",
                )
            self.dm(
                client,
                request.requester_slack_user_id,
                text,
                blocks.answer_button_blocks(text, request.id),
            )
            return
        self.dm(client, request.requester_slack_user_id, text)

    # The requester's answer to a question ---------------------------------------------------

    def answer_click(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        user = body["user"]["id"]
        request_id = int(action["value"])
        scope = install.request_scope(self.services, body)
        with self.services.session() as session:
            request = session.get(IntakeRequest, request_id)
            mine = (
                request is not None
                and request.requester_slack_user_id == user
                and service.in_workspace(request, scope)
            )
            status = request.status if request else None
        if request is None or not mine:
            self.dm(client, user, "Only the person who sent this request can edit it.")
            return
        if status is not RequestStatus.needs_info:
            self.dm(
                client, user, f"Request *#{request_id}* is {status}; there is no open question."
            )
            return
        client.views_open(
            trigger_id=body["trigger_id"],
            view=blocks.form_view(
                answers=service.answers_of(request),
                request_id=request_id,
                question=request.question,
            ),
        )
