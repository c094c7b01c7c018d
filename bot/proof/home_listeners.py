"""Slack side of proof for a person's own controls: /nudges, App Home (habits,
preferences, pause; for L&D leads programs and enrolment) and the Slack status
(vacation pauses nudges).

`/nudges digest` is the digest slice's verb (bot/surface.py routes it there).
A refusal (bot.errors) raised by /nudges is answered by the router, worded by
`nothing_changed`.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.content.models import Program as ProgramRow
from bot.delivery.planner import enroll_and_plan
from bot.errors import FieldErrors, PermissionDenied, Refusal, UserError
from bot.people.listeners import PeopleListeners
from bot.people.models import Person
from bot.people.roles import lead_directory
from bot.people.service import find_person
from bot.proof import blocks, controls, home, home_blocks, pauses, payload
from bot.services import Services
from bot.slack import install
from bot.slack.acks import acks_first

log = logging.getLogger(__name__)

UNKNOWN_PERSON = (
    "I don't know you yet (the directory has not synced your profile), so there is "
    "nothing to change. Try again in a few minutes."
)
NOT_A_LEAD = "Only L&D leads can do this, so nothing was changed."


def nothing_changed(exc: UserError | PermissionDenied) -> str:
    """A refused /nudges, told to the person (one full stop, not two)."""
    return f"Nothing was changed: {str(exc).rstrip('.')}."


class HomeListeners:
    """/nudges, App Home and the Slack status of one person."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def _scope(self) -> str | None:
        """The request's workspace (OAuth mode): people are looked up in it only."""
        return install.current_scope(self.services)

    def _update(self, client: WebClient, body: dict[str, Any], message: dict[str, Any]) -> None:
        at = payload.where(body)
        if not at.get("channel") or not at.get("ts"):
            return
        try:
            client.chat_update(channel=at["channel"], ts=at["ts"], **message)
        except SlackApiError as exc:
            log.warning("could not update the message: %s", exc.response.get("error"))

    # -- /nudges -------------------------------------------------------------------------------

    @acks_first  # the reply goes to response_url: Slack waits only for the ack
    def command(self, ack: Any, command: dict[str, Any], respond: Any, client: WebClient) -> None:
        ack()
        user = command["user_id"]
        parsed = controls.parse(command.get("text") or "")
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
        respond(text=reply, response_type="ephemeral")
        if parsed.verb in ("pause", "resume", "vacation", "stop"):
            self.publish_home(client, user)

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
                is_lead=lead_directory(self.services).is_ld_lead(
                    session, user, workspace_id=self._scope()
                ),
                page=page,
            )
            view = home_blocks.home_view(data)
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
        payload.open_modal(
            client,
            body.get("trigger_id"),
            home_blocks.preferences_modal(
                working_hours=data.working_hours,
                tz_override=data.tz_override,
                language=data.language,
            ),
        )

    def submit_preferences(
        self, ack: Any, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        hours = payload.state(view, "hours", "value") or ""
        tz = payload.state(view, "tz", "value") or ""
        language = payload.selected(view, "language", "value") or "slack"
        errors = controls.preference_errors(hours=hours, tz=tz, language=language)
        if errors:
            raise FieldErrors(errors)
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
            allowed = lead_directory(self.services).is_ld_lead(
                session, user, workspace_id=self._scope()
            )
            row = session.get(ProgramRow, program_id) if allowed else None
            title = row.title if row else program_id
        if not allowed:  # a Home tab click has no response_url: the router DMs the refusal
            raise Refusal(NOT_A_LEAD)
        payload.open_modal(
            client,
            body.get("trigger_id"),
            home_blocks.enroll_modal(program_id=program_id, title=title),
        )

    def submit_enroll(
        self, ack: Any, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        user = body["user"]["id"]
        channel = payload.conversation(view, "channel")
        group = (payload.state(view, "usergroup", "value") or "").strip()
        if not channel and not group:
            raise FieldErrors({"channel": "Pick a channel or give a user group."})
        if group and not re.fullmatch(r"S[A-Z0-9]{2,}", group):
            raise FieldErrors({"usergroup": "A user group id starts with S, like S0123ABCD."})
        with self.services.session() as session:
            allowed = lead_directory(self.services).is_ld_lead(
                session, user, workspace_id=self._scope()
            )
        if not allowed:
            raise FieldErrors({"channel": NOT_A_LEAD})
        ack()
        program_id = str(payload.metadata(view).get("program_id", ""))
        self._enroll(client, user, program_id, channel, group)

    def _enroll(
        self, client: WebClient, lead: str, program_id: str, channel: str | None, group: str
    ) -> None:
        try:
            members = payload.members(client, channel, group)
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

    def user_change(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        """A person's Slack profile changed: the directory first, then their status."""
        PeopleListeners(self.services).on_user(event, body)
        self.user_changed(event)

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
