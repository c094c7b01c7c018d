"""Slack side of proof: the answers in a nudge (buttons, checklists, ratings) and their
modals (a reason, a reflection). App Home, /nudges and the Slack status are in
home_listeners.py; the upkeep tick in jobs.py.

Every handler acks first; the database work and Slack calls come after, so a
click is acknowledged in milliseconds even while the sender is busy. A refusal
(bot.errors) is answered by the router (bot.slack.router), worded by
`nothing_changed` / `not_saved`. Nothing here logs what people typed.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.content.blocks import message_locale
from bot.content.schema import localise
from bot.errors import FieldErrors, PermissionDenied, UserError
from bot.proof import blocks, controls, payload, service
from bot.proof.service import AnswerResult, Nudge
from bot.services import Services
from bot.slack import install
from bot.slack.acks import acks_first

log = logging.getLogger(__name__)

ANSWER_ACTIONS = ("nudge_done", "nudge_not_relevant", "nudge_snooze", "nudge_check")
RATE_ACTION = re.compile(r"^nudge_rate_[1-5]$")


def nothing_changed(exc: UserError | PermissionDenied) -> str:
    """A refused click on a nudge, told to the person who clicked."""
    if isinstance(exc, PermissionDenied):
        return blocks.SOMEONE_ELSE
    return f"Nothing was changed: {exc}."


def not_saved(exc: UserError | PermissionDenied) -> str:
    """A refused answer in a modal, shown on its field."""
    if isinstance(exc, PermissionDenied):
        return blocks.SOMEONE_ELSE
    return f"Not saved: {exc}."


@dataclass(frozen=True)
class Click:
    kind: str
    delivery_id: int
    value: str | None
    checked: tuple[int, ...] = ()


def parse_click(
    action: dict[str, Any], step_kind: str | None = None, message: dict[str, Any] | None = None
) -> Click:
    """The answer an action payload carries (every value starts with the delivery id)."""
    action_id = str(action.get("action_id", ""))
    if action_id == "nudge_check":
        options = action.get("selected_options") or []
        values = [service.parse_value(o.get("value")) for o in options]
        first = values[0][0] if values else _delivery_of_checkboxes(action, message)
        checked = tuple(int(extra) for _, extra in values if extra.isdigit())
        return Click("check", first, None, checked)
    if action_id == "nudge_snooze":
        delivery_id, extra = service.parse_value((action.get("selected_option") or {}).get("value"))
        return Click("snooze", delivery_id, extra)
    delivery_id, extra = service.parse_value(action.get("value"))
    if RATE_ACTION.match(action_id):
        return Click("rating", delivery_id, extra)
    kind = {"nudge_done": "done", "nudge_not_relevant": "not_relevant"}.get(action_id)
    if kind is None:
        raise UserError("this button does not belong to a nudge")
    return Click(kind, delivery_id, None)


def _delivery_of_checkboxes(action: dict[str, Any], message: dict[str, Any] | None) -> int:
    # Unticking the last box leaves `selected_options` empty, and Slack's checkbox action
    # carries nothing else: the delivery id is in the options of the message's checklist.
    for block in (message or {}).get("blocks") or []:
        if block.get("block_id") != action.get("block_id"):
            continue
        for element in block.get("elements") or [block.get("accessory") or {}]:
            if element.get("action_id") == action.get("action_id"):
                for option in element.get("options") or []:
                    return service.parse_value(option.get("value"))[0]
    raise UserError("this checklist does not belong to a nudge")


class AnswerListeners:
    """The answers in a nudge and the modals they open."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def _scope(self) -> str | None:
        """The request's workspace (OAuth mode): people are looked up in it only."""
        return install.current_scope(self.services)

    # -- answers in the message ----------------------------------------------------------

    @acks_first
    def answer_click(self, ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        user = body["user"]["id"]
        try:
            click = parse_click(body["actions"][0], message=body.get("message"))
        except UserError:
            return  # not a nudge's button: nothing to record
        kind = click.kind
        with self.services.session() as session:
            if kind == "rating":
                nudge = service.find_nudge(session, delivery_id=click.delivery_id)
                kind = "reflection" if nudge.step.kind == "reflection" else "rating"
            result = service.answer(
                session,
                delivery_id=click.delivery_id,
                user_id=user,
                kind=kind,
                value=click.value,
                checked=click.checked,
                now=self.services.clock.now(),
                settings=self.services.settings,
                workspace_id=self._scope(),
            )
            message = self._render(session, result.nudge, result)
            lang = message_locale(
                result.nudge.program, service.nudge_locale(session, result.nudge.person)
            )
        if kind == "not_relevant" and result.recorded:
            view = blocks.not_relevant_modal(click.delivery_id, lang)
            # The message's place, so the reason shows in it once given.
            where = {"delivery_id": click.delivery_id, **payload.where(body)}
            view["private_metadata"] = json.dumps(where)
            payload.open_modal(client, body.get("trigger_id"), view)
        self._update(client, body, message)
        if result.recorded and result.report_to_owner:
            self._report(client, result)

    @acks_first
    def link_click(self, ack: Any) -> None:
        ack()  # the link opens in the browser; Slack still tells us about the click

    @acks_first
    def reflect_click(self, ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        user = body["user"]["id"]
        delivery_id, _ = service.parse_value(body["actions"][0].get("value"))
        with self.services.session() as session:
            nudge = service.find_nudge(session, delivery_id=delivery_id)
            scope = self._scope()
            if nudge.person.slack_user_id != user or (
                scope is not None and nudge.person.workspace_id != scope
            ):
                raise PermissionDenied("someone else")
            lang = message_locale(nudge.program, service.nudge_locale(session, nudge.person))
            question = localise(nudge.step.text_for(nudge.enrollment.arm), lang)
        view = blocks.reflection_modal(delivery_id, question, lang)
        view["private_metadata"] = json.dumps({"delivery_id": delivery_id, **payload.where(body)})
        payload.open_modal(client, body.get("trigger_id"), view)

    def submit_reflection(
        self, ack: Any, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        text = payload.state(view, "answer", "text") or ""
        if len(text.strip()) < 2:
            raise FieldErrors({"answer": "Write a few words first."})
        self._save_from_modal(ack, body, view, client, kind="reflection", text=text)

    def submit_reason(
        self, ack: Any, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        choice = payload.selected(view, "reason", "choice")
        text = payload.state(view, "details", "text")
        if not choice and not (text or "").strip():
            ack()  # a reason is optional; an empty form just closes
            return
        self._save_from_modal(ack, body, view, client, kind="reason", value=choice, text=text)

    def _save_from_modal(
        self,
        ack: Any,
        body: dict[str, Any],
        view: dict[str, Any],
        client: WebClient,
        **answer: Any,
    ) -> None:
        """Record an answer given in a modal, then show it in the nudge it belongs to.
        A refusal raises before the ack: the router shows it on the modal's field
        (the route's error_block) and nothing is saved."""
        meta = payload.metadata(view)
        with self.services.session() as session:
            result = service.answer(
                session,
                delivery_id=int(meta.get("delivery_id", 0)),
                user_id=body["user"]["id"],
                now=self.services.clock.now(),
                settings=self.services.settings,
                workspace_id=self._scope(),
                **answer,
            )
            message = self._render(session, result.nudge, result)
        ack()
        self._update_at(client, meta, message)

    # -- rendering and Slack I/O ------------------------------------------------------------

    def _render(self, session: Any, nudge: Nudge, result: AnswerResult) -> dict[str, Any]:
        return blocks.answered_message(
            nudge.program,
            nudge.delivery.step_id,
            locale=service.nudge_locale(session, nudge.person),
            delivery_id=nudge.delivery.id,
            arm=nudge.enrollment.arm,
            events=result.events,
            tz=controls.person_tz(nudge.person, self.services.settings),
            snoozed_until=result.snoozed_until,
        )

    def _update(self, client: WebClient, body: dict[str, Any], message: dict[str, Any]) -> None:
        self._update_at(client, payload.where(body), message)

    def _update_at(self, client: WebClient, where: dict[str, Any], message: dict[str, Any]) -> None:
        if not where.get("channel") or not where.get("ts"):
            return
        try:
            client.chat_update(channel=where["channel"], ts=where["ts"], **message)
        except SlackApiError as exc:
            # The answer is saved either way; only the message keeps its old look.
            log.warning("could not update the answered nudge: %s", exc.response.get("error"))

    def _report(self, client: WebClient, result: AnswerResult) -> None:
        nudge = result.nudge
        with self.services.session() as session:
            count = len(
                [
                    e
                    for e in service.not_relevant_reports(
                        session, since=nudge.enrollment.created_at
                    )
                    if e.program_id == nudge.enrollment.program_id
                    and e.step_id == nudge.delivery.step_id
                ]
            )
        text = blocks.owner_report(
            program_title=nudge.program.text("title", "en"),
            step_id=nudge.delivery.step_id,
            count=count,
        )
        try:
            client.chat_postMessage(channel=str(result.report_to_owner), text=text)
        except SlackApiError as exc:
            log.warning("could not tell the program owner: %s", exc.response.get("error"))
