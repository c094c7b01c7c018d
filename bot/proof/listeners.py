"""Slack side of proof: answers in nudges, their modals, /nudges, App Home, the
vacation status, and the upkeep tick (pauses, silence, fatigue DMs).

Every handler acks first; the database work and Slack calls come after, so a
click is acknowledged in milliseconds even while the sender is busy. Nothing
here logs what people typed.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.content.blocks import message_locale
from bot.content.models import Program as ProgramRow
from bot.content.schema import localise
from bot.delivery.planner import enroll_and_plan
from bot.digest import service as digest_service
from bot.errors import PermissionDenied, UserError
from bot.people import directory
from bot.people.models import Person
from bot.people.service import find_person
from bot.proof import blocks, controls, home, pauses, service
from bot.proof.service import AnswerResult, Nudge
from bot.services import Services
from bot.slack import install
from bot.slack.acks import acks_first

log = logging.getLogger(__name__)

ANSWER_ACTIONS = ("nudge_done", "nudge_not_relevant", "nudge_snooze", "nudge_check")
RATE_ACTION = re.compile(r"^nudge_rate_[1-5]$")
UNKNOWN_PERSON = (
    "I don't know you yet (the directory has not synced your profile), so there is "
    "nothing to change. Try again in a few minutes."
)
NOT_A_LEAD = "Only L&D leads can do this, so nothing was changed."


def register(app: Any, services: Services) -> None:
    handlers = ProofListeners(services)
    for action_id in ANSWER_ACTIONS:
        app.action(action_id)(handlers.answer_click)
    app.action(RATE_ACTION)(handlers.answer_click)
    app.action("nudge_reflect")(handlers.reflect_click)
    app.action("nudge_link")(handlers.link_click)
    app.view_submission(blocks.NOT_RELEVANT_CALLBACK)(handlers.submit_reason)
    app.view_submission(blocks.REFLECTION_CALLBACK)(handlers.submit_reflection)
    app.view_submission(blocks.PREFERENCES_CALLBACK)(handlers.submit_preferences)
    app.view_submission(blocks.ENROLL_CALLBACK)(handlers.submit_enroll)
    app.action(blocks.RESUME_ACTION)(handlers.resume_click)
    app.action(blocks.PAUSE_ACTION)(handlers.pause_click)
    app.action(blocks.PREFERENCES_ACTION)(handlers.preferences_click)
    app.action(re.compile(f"^{blocks.PAGE_ACTION}_(prev|next)$"))(handlers.page_click)
    app.action(blocks.ENROLL_ACTION)(handlers.enroll_click)
    app.command("/nudges")(handlers.command)
    app.event("app_home_opened")(handlers.home_opened)
    app.event("user_change")(handlers.user_changed)
    services.add_tick("proof-upkeep", handlers.upkeep, 60)


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


class ProofListeners:
    def __init__(self, services: Services) -> None:
        self.services = services

    def _scope(self) -> str | None:
        """The request's workspace (OAuth mode): people are looked up in it only."""
        return install.current_scope(self.services)

    # -- answers in the message ----------------------------------------------------------

    @acks_first
    def answer_click(self, ack: Any, body: dict[str, Any], client: WebClient, respond: Any) -> None:
        ack()
        user = body["user"]["id"]
        try:
            click = parse_click(body["actions"][0], message=body.get("message"))
        except UserError:
            return  # not a nudge's button: nothing to record
        kind = click.kind
        try:
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
        except PermissionDenied:
            self._ephemeral(respond, blocks.SOMEONE_ELSE)
            return
        except UserError as exc:
            self._ephemeral(respond, f"Nothing was changed: {exc}.")
            return
        if kind == "not_relevant" and result.recorded:
            view = blocks.not_relevant_modal(click.delivery_id, lang)
            # The message's place, so the reason shows in it once given.
            where = {"delivery_id": click.delivery_id, **_where(body)}
            view["private_metadata"] = json.dumps(where)
            self._open(client, body.get("trigger_id"), view)
        self._update(client, body, message)
        if result.recorded and result.report_to_owner:
            self._report(client, result)

    @acks_first
    def link_click(self, ack: Any) -> None:
        ack()  # the link opens in the browser; Slack still tells us about the click

    @acks_first
    def reflect_click(
        self, ack: Any, body: dict[str, Any], client: WebClient, respond: Any
    ) -> None:
        ack()
        user = body["user"]["id"]
        try:
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
        except PermissionDenied:
            self._ephemeral(respond, blocks.SOMEONE_ELSE)
            return
        except UserError as exc:
            self._ephemeral(respond, f"Nothing was changed: {exc}.")
            return
        view = blocks.reflection_modal(delivery_id, question, lang)
        view["private_metadata"] = json.dumps({"delivery_id": delivery_id, **_where(body)})
        self._open(client, body.get("trigger_id"), view)

    def submit_reflection(
        self, ack: Any, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        text = _state(view, "answer", "text") or ""
        if len(text.strip()) < 2:
            ack(response_action="errors", errors={"answer": "Write a few words first."})
            return
        self._save_from_modal(ack, body, view, client, "answer", kind="reflection", text=text)

    def submit_reason(
        self, ack: Any, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        choice = _selected(view, "reason", "choice")
        text = _state(view, "details", "text")
        if not choice and not (text or "").strip():
            ack()  # a reason is optional; an empty form just closes
            return
        self._save_from_modal(
            ack, body, view, client, "reason", kind="reason", value=choice, text=text
        )

    def _save_from_modal(
        self,
        ack: Any,
        body: dict[str, Any],
        view: dict[str, Any],
        client: WebClient,
        field: str,
        **answer: Any,
    ) -> None:
        """Record an answer given in a modal, then show it in the nudge it belongs to.
        A refusal is shown on the modal's `field`; nothing is saved then."""
        meta = _metadata(view)
        try:
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
        except PermissionDenied:
            ack(response_action="errors", errors={field: blocks.SOMEONE_ELSE})
            return
        except UserError as exc:
            ack(response_action="errors", errors={field: f"Not saved: {exc}."})
            return
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
        self._update_at(client, _where(body), message)

    def _update_at(self, client: WebClient, where: dict[str, Any], message: dict[str, Any]) -> None:
        if not where.get("channel") or not where.get("ts"):
            return
        try:
            client.chat_update(channel=where["channel"], ts=where["ts"], **message)
        except SlackApiError as exc:
            # The answer is saved either way; only the message keeps its old look.
            log.warning("could not update the answered nudge: %s", exc.response.get("error"))

    def _open(self, client: WebClient, trigger_id: str | None, view: dict[str, Any]) -> None:
        if not trigger_id:
            return
        try:
            client.views_open(trigger_id=trigger_id, view=view)
        except SlackApiError as exc:
            log.warning("could not open a proof modal: %s", exc.response.get("error"))

    @staticmethod
    def _ephemeral(respond: Any, text: str) -> None:
        respond(text=text, response_type="ephemeral", replace_original=False)

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

    # -- /nudges -------------------------------------------------------------------------------

    @acks_first  # the reply goes to response_url: Slack waits only for the ack
    def command(self, ack: Any, command: dict[str, Any], respond: Any, client: WebClient) -> None:
        ack()
        user = command["user_id"]
        parsed = controls.parse(command.get("text") or "")
        if parsed.verb == "digest":
            self._digest(user, respond)
            return
        try:
            with self.services.session() as session:
                person = find_person(session, user, workspace_id=self._scope())
                if person is None:
                    reply = blocks.HELP if parsed.verb == "help" else UNKNOWN_PERSON
                else:
                    reply = controls.run(
                        session,
                        person=person,
                        command=parsed,
                        now=self.services.clock.now(),
                        settings=self.services.settings,
                    )
        except UserError as exc:
            reply = f"Nothing was changed: {str(exc).rstrip('.')}."  # one full stop, not two
        respond(text=reply, response_type="ephemeral")
        if parsed.verb in ("pause", "resume", "vacation", "stop"):
            self.publish_home(client, user)

    def _digest(self, user: str, respond: Any) -> None:
        """`/nudges digest`: a manager's weekly team digest, now (the digest slice builds it;
        its privacy threshold decides what may be shown)."""
        with self.services.session() as session:
            if not digest_service.has_reports(
                session, manager_user_id=user, workspace_id=self._scope()
            ):
                respond(text=digest_service.NO_REPORTS, response_type="ephemeral")
                return
            found = digest_service.manager_digest_blocks(
                session,
                manager_user_id=user,
                now=self.services.clock.now(),
                settings=self.services.settings,
            )
        respond(text="Your team's behaviors this week", blocks=found, response_type="ephemeral")

    # -- App Home ------------------------------------------------------------------------------

    def home_opened(self, event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        user = str(event.get("user"))
        self._read_status(client, user)
        self.publish_home(client, user)

    def _read_status(self, client: WebClient, user: str) -> None:
        """The Slack status as of now (users.info), in case a user_change never came."""
        try:
            found = client.users_info(user=user).get("user") or {}
        except SlackApiError as exc:
            log.warning("could not read a Slack status: %s", exc.response.get("error"))
            return
        self.user_changed({"user": found})

    def publish_home(self, client: WebClient, user: str, *, page: int = 0) -> None:
        with self.services.session() as session:
            person = find_person(session, user, workspace_id=self._scope())
            if person is None:
                return
            data = home.home_data(
                session,
                person=person,
                now=self.services.clock.now(),
                settings=self.services.settings,
                is_lead=self.services.leads.is_ld_lead(session, user, workspace_id=self._scope()),
                page=page,
            )
            view = blocks.home_view(data)
        try:
            client.views_publish(user_id=user, view=view)
        except SlackApiError as exc:
            log.warning("could not publish App Home: %s", exc.response.get("error"))

    @acks_first
    def resume_click(self, ack: Any, body: dict[str, Any], client: WebClient, respond: Any) -> None:
        ack()
        user = body["user"]["id"]
        reply = self._as_person(
            user,
            lambda s, p: controls.resume(
                s, person=p, now=self.services.clock.now(), settings=self.services.settings
            ),
        )
        if body.get("container", {}).get("type") == "message":
            self._update(
                client,
                body,
                {
                    "text": reply,
                    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": reply}}],
                },
            )
        self.publish_home(client, user)

    @acks_first
    def pause_click(self, ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        user = body["user"]["id"]
        now = self.services.clock.now()
        self._as_person(
            user,
            lambda s, p: controls.pause_now(
                s,
                person=p,
                now=now,
                settings=self.services.settings,
                ends_at=now + timedelta(days=7),
            ),
        )
        self.publish_home(client, user)

    def _as_person(self, user: str, work: Any) -> str:
        with self.services.session() as session:
            person = find_person(session, user, workspace_id=self._scope())
            if person is None:
                return UNKNOWN_PERSON
            return str(work(session, person))

    @acks_first
    def preferences_click(self, ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        with self.services.session() as session:
            person = find_person(session, body["user"]["id"], workspace_id=self._scope())
            if person is None:
                return
            data = home.home_data(
                session,
                person=person,
                now=self.services.clock.now(),
                settings=self.services.settings,
                is_lead=False,
            )
        self._open(
            client,
            body.get("trigger_id"),
            blocks.preferences_modal(
                working_hours=data.working_hours,
                tz_override=data.tz_override,
                language=data.language,
            ),
        )

    def submit_preferences(
        self, ack: Any, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        hours = _state(view, "hours", "value") or ""
        tz = _state(view, "tz", "value") or ""
        language = _selected(view, "language", "value") or "slack"
        errors = controls.preference_errors(hours=hours, tz=tz, language=language)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()
        user = body["user"]["id"]
        self._as_person(
            user,
            lambda s, p: controls.save_preferences(
                s,
                person=p,
                hours=hours,
                tz=tz,
                language=language,
                now=self.services.clock.now(),
                settings=self.services.settings,
            ),
        )
        self.publish_home(client, user)

    @acks_first
    def page_click(self, ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        value = str(body["actions"][0].get("value") or "0")
        self.publish_home(client, body["user"]["id"], page=int(value) if value.isdigit() else 0)

    @acks_first
    def enroll_click(self, ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        user = body["user"]["id"]
        program_id = str(body["actions"][0].get("value") or "")
        with self.services.session() as session:
            if not self.services.leads.is_ld_lead(session, user, workspace_id=self._scope()):
                # A Home tab click has no response_url: the refusal goes by DM.
                self._dm(client, user, NOT_A_LEAD)
                return
            row = session.get(ProgramRow, program_id)
            title = row.title if row else program_id
        self._open(
            client, body.get("trigger_id"), blocks.enroll_modal(program_id=program_id, title=title)
        )

    def submit_enroll(
        self, ack: Any, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        user = body["user"]["id"]
        channel = _conversation(view, "channel")
        group = (_state(view, "usergroup", "value") or "").strip()
        if not channel and not group:
            ack(
                response_action="errors", errors={"channel": "Pick a channel or give a user group."}
            )
            return
        if group and not re.fullmatch(r"S[A-Z0-9]{2,}", group):
            ack(
                response_action="errors",
                errors={"usergroup": "A user group id starts with S, like S0123ABCD."},
            )
            return
        with self.services.session() as session:
            allowed = self.services.leads.is_ld_lead(session, user, workspace_id=self._scope())
        if not allowed:
            ack(response_action="errors", errors={"channel": NOT_A_LEAD})
            return
        ack()
        program_id = str(_metadata(view).get("program_id", ""))
        self._enroll(client, user, program_id, channel, group)

    def _enroll(
        self, client: WebClient, lead: str, program_id: str, channel: str | None, group: str
    ) -> None:
        try:
            members = _members(client, channel, group)
        except (SlackApiError, UserError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else str(exc)
            self._dm(client, lead, f"Nobody was enrolled: could not read the members ({error}).")
            return
        now = self.services.clock.now()
        try:
            with self.services.session() as session:
                result = enroll_and_plan(
                    session,
                    settings=self.services.settings,
                    now=now,
                    program_id=program_id,
                    user_ids=members,
                    starts_at=now,
                    enrolled_by=lead,
                    source="app_home",
                    workspace_id=self._scope(),
                )
        except UserError as exc:
            self._dm(client, lead, f"Nobody was enrolled: {exc}.")
            return
        self._dm(
            client,
            lead,
            (
                f"Enrolled {len(result.enrolled)} into `{program_id}`; "
                f"{len(result.already)} were already in, "
                f"{len(result.skipped)} skipped (not in the directory, bots, deactivated)."
            ),
        )
        self.publish_home(client, lead)

    def _dm(self, client: WebClient, user: str, text: str) -> None:
        try:
            client.chat_postMessage(channel=user, text=text)
        except SlackApiError as exc:
            log.warning("could not DM: %s", exc.response.get("error"))

    # -- Slack status and upkeep -----------------------------------------------------------------

    def user_changed(self, event: dict[str, Any]) -> None:
        user = event.get("user")
        if not isinstance(user, dict):
            return
        with self.services.session() as session:
            person: Person | None = find_person(
                session, str(user.get("id") or ""), workspace_id=self._scope()
            )
            if person is None:
                return
            changed = pauses.apply_status(
                session,
                person=person,
                profile=user.get("profile") or {},
                now=self.services.clock.now(),
                settings=self.services.settings,
            )
        if changed:
            log.info("nudges %s by a Slack status", changed)

    def upkeep(self) -> None:
        now = self.services.clock.now()
        settings = self.services.settings
        with self.services.session() as session:
            pauses.enforce(session, now=now, settings=settings)
            service.apply_silence(session, now=now, settings=settings)
            pauses.pause_the_fatigued(session, now=now, settings=settings)
            due = pauses.unnotified_fatigue(session)
        for item in due:
            client = install.client_for(self.services, item.workspace_id)
            if client is None:
                continue  # the app was uninstalled from that workspace
            try:
                client.chat_postMessage(
                    channel=item.slack_user_id, **blocks.fatigue_dm(settings.fatigue_limit)
                )
            except SlackApiError as exc:
                log.warning("fatigue DM failed, will retry: %s", exc.response.get("error"))
                continue
            with self.services.session() as session:
                pauses.mark_notified(session, pause_id=item.pause_id, now=now)


def _where(body: dict[str, Any]) -> dict[str, Any]:
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    return {"channel": channel, "ts": container.get("message_ts")}


def _metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _value(view: dict[str, Any], block: str, action: str) -> dict[str, Any]:
    found = ((view.get("state") or {}).get("values") or {}).get(block, {}).get(action)
    return found if isinstance(found, dict) else {}


def _state(view: dict[str, Any], block: str, action: str) -> str | None:
    value = _value(view, block, action).get("value")
    return str(value) if value is not None else None


def _selected(view: dict[str, Any], block: str, action: str) -> str | None:
    option = _value(view, block, action).get("selected_option") or {}
    return str(option["value"]) if option.get("value") else None


def _conversation(view: dict[str, Any], block: str) -> str | None:
    value = _value(view, block, "value").get("selected_conversation")
    return str(value) if value else None


def _members(client: WebClient, channel: str | None, group: str) -> list[str]:
    members: list[str] = []
    if channel:
        members += directory.channel_members(client, channel)
    if group:
        members += directory.usergroup_members(client, group)
    return list(dict.fromkeys(members))
