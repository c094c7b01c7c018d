"""Bolt handlers of /premortem: ack first, check who acts on the server, then do the work.

Thread replies: Bolt runs only the first listener whose matchers accept an event, so the
message listener here matches only replies in a pre-mortem thread; every other message
event stays free for other features' listeners.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.errors import PermissionDenied, UserError
from bot.people.roles import lead_directory
from bot.premortem import blocks, modals, service
from bot.premortem.models import Phase
from bot.premortem.posting import CHANNEL_GONE, Poster, slack_error
from bot.services import Services
from bot.slack import blocks as kit
from bot.slack import install
from bot.slack.acks import acks_first

log = logging.getLogger(__name__)

Respond = Callable[..., Any]
Ack = Callable[..., Any]
NEW_REPLY_SUBTYPES = (None, "thread_broadcast", "file_share")


def with_help(exc: UserError | PermissionDenied) -> str:
    """A refused /premortem, told with where to read how."""
    return f"{exc} (`/premortem help` shows how)"


def tell(respond: Respond, text: str) -> None:
    """An ephemeral answer to the person who acted, never seen by the channel."""
    respond(text=text, response_type="ephemeral", replace_original=False)


def thread_event(event: dict[str, Any]) -> tuple[str, str, str] | None:
    """(kind, thread_ts, message_ts) of a thread reply, edit or deletion; None otherwise."""
    subtype = event.get("subtype")
    if subtype in NEW_REPLY_SUBTYPES:
        message, kind = event, "new"
    elif subtype == "message_changed":
        message, kind = event.get("message") or {}, "edit"
    elif subtype == "message_deleted":
        message, kind = event.get("previous_message") or {}, "delete"
    else:
        return None  # bot_message, channel_join and the like are not risks
    thread_ts, ts = message.get("thread_ts"), message.get("ts") or event.get("deleted_ts")
    if not thread_ts or not ts or thread_ts == ts:
        return None
    return kind, str(thread_ts), str(ts)


def _from_bot(event: dict[str, Any], bot_user_id: str | None) -> bool:
    message = event.get("message") if event.get("subtype") == "message_changed" else event
    message = message or {}
    return bool(
        message.get("bot_id")
        or message.get("subtype") == "bot_message"
        or (bot_user_id and message.get("user") == bot_user_id)
        or not message.get("user")
    )


def field_state(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    value: dict[str, Any] = (
        view.get("state", {}).get("values", {}).get(block_id, {}).get("value", {})
    )
    return value


class PremortemListeners:
    """/premortem, replies in its thread, and the parent message's buttons."""

    def __init__(self, services: Services, poster: Poster) -> None:
        self.services = services
        self.poster = poster

    def _now(self) -> datetime:
        return self.services.clock.now()

    def _scope(self) -> str | None:
        """The workspace of the request (OAuth mode): other workspaces' pre-mortems
        and leads do not exist for it. None with a single workspace."""
        return install.current_scope(self.services)

    # -- /premortem -----------------------------------------------------------------------

    @acks_first  # the board and any reply are posted after the ack
    def command(self, ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        ack()
        parsed = service.parse_command(command.get("text", ""), settings=self.services.settings)
        if parsed.kind == "help":
            tell(respond, blocks.HELP)
        elif parsed.kind == "list":
            with self.services.session() as session:
                rows = service.list_premortems(
                    session, channel_id=command["channel_id"], workspace_id=self._scope()
                )
            tell(respond, blocks.list_text(rows))
        elif parsed.start is not None:
            self._start(command, parsed.start, respond)

    def _start(
        self, command: dict[str, Any], request: service.StartRequest, respond: Respond
    ) -> None:
        channel = str(command["channel_id"])
        if channel.startswith("D"):
            raise UserError("start a pre-mortem in the team's channel, not in a direct message")
        with self.services.session() as session:
            p = service.start(
                session,
                settings=self.services.settings,
                channel_id=channel,
                user_id=str(command["user_id"]),
                request=request,
                now=self._now(),
                workspace_id=install.stored(self._scope()),
            )
            premortem_id = p.id
        error = self._post_parent_joining(premortem_id, channel)
        if error is None:
            return
        with self.services.session() as session:
            session.delete(service.get(session, premortem_id, workspace_id=self._scope()))
        tell(respond, _cannot_post(error))

    def _post_parent_joining(self, premortem_id: int, channel: str) -> str | None:
        """Post the parent; when the bot is not in a public channel, join it and retry."""
        try:
            self.poster.post_parent(premortem_id)
            return None
        except SlackApiError as exc:
            error = slack_error(exc)
        if error != "not_in_channel":
            return error
        try:
            self.poster.client.conversations_join(channel=channel)
            self.poster.post_parent(premortem_id)
            return None
        except SlackApiError as exc:
            return slack_error(exc)

    # -- thread replies ------------------------------------------------------------------

    def is_premortem_thread(self, body: dict[str, Any]) -> bool:
        event = body.get("event") or {}
        found = thread_event(event)
        if found is None or not event.get("channel"):
            return False
        with self.services.session() as session:
            p = service.find_by_thread(
                session,
                channel_id=event["channel"],
                thread_ts=found[1],
                workspace_id=self._scope(),
            )
            return p is not None

    def message(self, body: dict[str, Any], context: dict[str, Any]) -> None:
        event = body.get("event") or {}
        found = thread_event(event)
        if found is None:
            return
        kind, thread_ts, ts = found
        if kind != "delete" and _from_bot(event, context.get("bot_user_id")):
            return  # the bot's own board and notes, other apps' messages
        with self.services.session() as session:
            found_p = service.find_by_thread(
                session,
                channel_id=event["channel"],
                thread_ts=thread_ts,
                workspace_id=self._scope(),
            )
        if found_p is None:
            return
        # Replies arrive concurrently; numbering (#1, #2 …) is one writer at a time.
        with self.poster.lock(found_p.id), self.services.session() as session:
            p = service.get_for_update(session, found_p.id)
            if kind == "new":
                service.add_thread_risk(
                    session,
                    premortem=p,
                    user_id=str(event["user"]),
                    text=event.get("text", ""),
                    message_ts=ts,
                )
            elif kind == "edit":
                text = (event.get("message") or {}).get("text", "")
                service.edit_thread_risk(session, premortem=p, message_ts=ts, text=text)
            else:
                service.delete_thread_risk(session, premortem=p, message_ts=ts)

    # -- the parent's buttons ----------------------------------------------------------------

    def add_anonymous(self, ack: Ack, body: dict[str, Any], client: Any) -> None:
        ack()
        premortem_id = int(body["actions"][0]["value"])
        with self.services.session() as session:
            p = service.get(session, premortem_id, workspace_id=self._scope())
            if p.phase != Phase.collect:  # told by the router, once the session is closed
                raise UserError(
                    "Collection has closed for this pre-mortem; no new risks are taken."
                )
            view = modals.anonymous_modal(p)
        client.views_open(trigger_id=body["trigger_id"], view=view)

    def submit_anonymous(self, ack: Ack, view: dict[str, Any]) -> None:
        text = str(field_state(view, "risk").get("value") or "")
        premortem_id = int(view["private_metadata"])
        with self.poster.lock(premortem_id), self.services.session() as session:
            p = service.get(session, premortem_id, workspace_id=self._scope())
            risk = service.add_anonymous_risk(session, premortem=p, text=text)
            number = risk.number
        ack()
        # Shown in the thread by the bot, so nobody can tell who wrote it.
        self._quietly(
            lambda: self.poster.post_in_thread(
                premortem_id,
                f":bust_in_silhouette: *Anonymous risk #{number}:* "
                + kit.escape(service.clean_risk_text(text)),
            )
        )

    def next_phase(self, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        user = body["user"]["id"]
        raw_id, _, leaving = str(body["actions"][0]["value"]).partition(":")
        premortem_id = int(raw_id)
        with self.poster.lock(premortem_id), self.services.session() as session:
            p = service.get_for_update(session, premortem_id, workspace_id=self._scope())
            is_lead = lead_directory(self.services).is_ld_lead(
                session, user, workspace_id=self._scope()
            )
            service.require_facilitator(p, user, is_lead=is_lead, doing="move the phase on")
            if leaving and leaving != p.phase.value:
                raise UserError(
                    f"This pre-mortem has already moved on ({blocks.PHASE_LABEL[p.phase]})."
                )
            service.advance(session, premortem=p, settings=self.services.settings, now=self._now())
        if not self.poster.sync(premortem_id):
            tell(respond, "Moved on, but I could not post in this channel; I will keep trying.")

    def take_over(self, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        user = body["user"]["id"]
        premortem_id = int(body["actions"][0]["value"])
        with self.services.session() as session:
            p = service.get(session, premortem_id, workspace_id=self._scope())
            current, channel = p.facilitator_id, p.channel_id
        gone = self._has_left(current, channel)
        with self.services.session() as session:
            p = service.get_for_update(session, premortem_id, workspace_id=self._scope())
            service.take_over(
                session,
                premortem=p,
                user_id=user,
                is_lead=lead_directory(self.services).is_ld_lead(
                    session, user, workspace_id=self._scope()
                ),
                facilitator_gone=gone,
            )
        self._quietly(lambda: self.poster.refresh_parent(premortem_id))
        self._quietly(
            lambda: self.poster.post_in_thread(
                premortem_id, f"<@{user}> now facilitates this pre-mortem."
            )
        )

    def _has_left(self, user_id: str, channel: str) -> bool:
        """Deactivated, or no longer a member of the channel."""
        client = self.poster.client
        try:
            if client.users_info(user=user_id)["user"].get("deleted"):
                return True
            # Iterating a SlackResponse fetches the next page with its cursor.
            for page in client.conversations_members(channel=channel, limit=1000):
                if user_id in page.get("members", []):
                    return False
            return True
        except SlackApiError as exc:
            log.info("cannot tell whether the facilitator left: %s", slack_error(exc))
            return False

    # -- helpers ------------------------------------------------------------------------------

    def _quietly(self, work: Callable[[], None], *, only_if_done: int | None = None) -> None:
        """Slack I/O after the state is saved: a failure is logged, the state stays."""
        if only_if_done is not None:
            with self.services.session() as session:
                p = service.get(session, only_if_done)
                if p.phase != Phase.done or p.summary_ts is None:
                    return
        try:
            work()
        except SlackApiError as exc:
            log.warning("pre-mortem Slack update failed: %s", slack_error(exc))


def _cannot_post(error: str) -> str:
    if error in CHANNEL_GONE or error == "method_not_supported_for_channel_type":
        return (
            "I am not in this channel, and I can only join public channels myself. Invite me "
            "with `/invite @Nudgebot`, then run `/premortem` again. Nothing was started."
        )
    return f"I could not post the pre-mortem here ({error}). Nothing was started; try again."
