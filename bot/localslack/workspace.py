"""The local Slack's workspace: users, conversations, messages, views, files.

Plain data plus the small operations several Web API methods share. Nothing
here is thread-safe on its own: the server holds one lock around every use.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable, Sequence

from .records import (
    JSON,
    SLACKBOT_ID,
    TRIGGER_TTL,
    Channel,
    Dnd,
    FunctionExecution,
    ResponseUrl,
    SlackError,
    Trigger,
    UploadedFile,
    User,
    Usergroup,
    ViewRecord,
    format_ts,
    with_block_ids,
)


class Workspace:
    """All mutable state of one team, with the operations methods share."""

    def __init__(
        self,
        *,
        team_id: str,
        team_name: str,
        team_domain: str,
        app_id: str,
        bot_user_id: str,
        bot_id: str,
        bot_name: str,
        clock: Callable[[], float],
        include_system_users: bool,
    ) -> None:
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = team_domain
        self.app_id = app_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.clock = clock
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.usergroups: dict[str, Usergroup] = {}
        self.dnd: dict[str, Dnd] = {}
        self.views: dict[str, ViewRecord] = {}
        self.home_views: dict[str, str] = {}
        self.view_stacks: dict[str, list[str]] = {}
        self.triggers: dict[str, Trigger] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.response_url_posts: list[JSON] = []
        self.ephemerals: list[JSON] = []
        self.files: dict[str, UploadedFile] = {}
        self.function_executions: dict[str, FunctionExecution] = {}
        self._last_ts = 0
        self._serial = 0
        if include_system_users:
            self.users[SLACKBOT_ID] = User(
                SLACKBOT_ID, "slackbot", team_id, real_name="Slackbot", display_name="Slackbot"
            )
        self.users[bot_user_id] = User(
            bot_user_id,
            bot_name,
            team_id,
            real_name=bot_name.capitalize(),
            is_bot=True,
            bot_id=bot_id,
            app_id=app_id,
        )

    # -- identifiers ---------------------------------------------------------

    def now(self) -> float:
        return self.clock()

    def next_ts(self) -> str:
        """A fresh message ts: from the clock, but strictly increasing even
        when the clock stands still (tests drive it by hand)."""
        micros = max(int(self.now() * 1_000_000), self._last_ts + 1)
        self._last_ts = micros
        return format_ts(micros)

    def new_id(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}0{self._serial:08X}"

    def new_trigger(self, user_id: str, view_id: str | None) -> str:
        self._serial += 1
        trigger_id = f"{int(self.now() * 1000) % 10**13}.{self._serial}.{secrets.token_hex(16)}"
        self.triggers[trigger_id] = Trigger(user_id, self.now(), view_id)
        return trigger_id

    # -- users and conversations ---------------------------------------------

    def user(self, user_id: str | None, *, error: str = "user_not_found") -> User:
        found = self.users.get(user_id or "")
        if found is None:
            raise SlackError(error)
        return found

    def dm_id(self, user_id: str) -> str:
        # Stable per user, so tests can predict it; real IDs are opaque D… ids.
        return "D" + user_id[1:]

    def open_dm(self, user_id: str) -> tuple[Channel, bool]:
        """The bot's IM with a user, created on first use; (channel, already_open)."""
        self.user(user_id)
        channel_id = self.dm_id(user_id)
        existing = self.channels.get(channel_id)
        if existing is not None:
            return existing, True
        channel = Channel(
            channel_id,
            channel_id,
            "im",
            int(self.now()),
            members=[user_id, self.bot_user_id],
            user=user_id,
        )
        self.channels[channel_id] = channel
        return channel, False

    def open_mpim(self, user_ids: Sequence[str]) -> tuple[Channel, bool]:
        members = sorted({*user_ids, self.bot_user_id})
        for user_id in user_ids:
            self.user(user_id)
        for channel in self.channels.values():
            if channel.kind == "mpim" and sorted(channel.members) == members:
                return channel, True
        channel_id = self.new_id("G")
        name = "mpdm-" + "--".join(self.users[m].name for m in members) + "-1"
        channel = Channel(channel_id, name, "mpim", int(self.now()), members=members)
        self.channels[channel_id] = channel
        return channel, False

    def channel(self, ref: str | None, *, allow_user: bool = False) -> Channel:
        """Resolve a channel argument: an id, a ``#name``/name, or (where Slack
        allows it) a user id meaning the bot's DM with that user."""
        if not ref:
            raise SlackError("channel_not_found")
        if ref in self.channels:
            return self.channels[ref]
        if allow_user and ref[:1] in ("U", "W") and ref in self.users:
            return self.open_dm(ref)[0]
        name = ref.removeprefix("#")
        for channel in self.channels.values():
            if not channel.is_dm and channel.name == name:
                return channel
        raise SlackError("channel_not_found")

    def readable(self, channel: Channel) -> Channel:
        """The bot can read public channels it is in, and private ones it is in;
        a private channel it is not in does not exist as far as it knows."""
        if self.bot_user_id in channel.members or channel.kind == "im":
            return channel
        raise SlackError("not_in_channel" if channel.kind == "public" else "channel_not_found")

    def channel_key(self, ref: str) -> str:
        """The id a rate limit bucket is kept under, without side effects."""
        if ref[:1] in ("U", "W") and ref in self.users:
            return self.dm_id(ref)
        try:
            return self.channel(ref).id
        except SlackError:
            return ref

    # -- messages ------------------------------------------------------------

    def bot_message_base(self) -> JSON:
        return {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "bot_profile": {
                "id": self.bot_id,
                "app_id": self.app_id,
                "name": self.bot_name,
                "team_id": self.team_id,
                "deleted": False,
            },
        }

    def append_message(self, channel: Channel, message: JSON) -> JSON:
        """Store a message (ts assigned here) and keep its thread parent's
        reply counters in step, as Slack does."""
        message["ts"] = self.next_ts()
        thread_ts = message.get("thread_ts")
        parent = channel.find(thread_ts) if thread_ts else None
        if parent is not None and parent is not message:
            message["parent_user_id"] = parent.get("user", "")
            replies = [
                m
                for m in channel.messages
                if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts
            ]
            users = list(
                dict.fromkeys([*(m.get("user", "") for m in replies), message.get("user", "")])
            )
            parent.update(
                thread_ts=thread_ts,
                reply_count=len(replies) + 1,
                reply_users_count=len(users),
                reply_users=users,
                latest_reply=message["ts"],
            )
        channel.messages.append(message)
        return message

    def message(self, channel: Channel, ts: str | None) -> JSON:
        found = channel.find(ts or "")
        if found is None:
            raise SlackError("message_not_found")
        return found

    def in_history(self, message: JSON) -> bool:
        """conversations.history lists thread parents and plain messages, and
        replies only when they were broadcast to the channel."""
        thread_ts = message.get("thread_ts")
        return (
            thread_ts is None
            or thread_ts == message["ts"]
            or message.get("subtype") == "thread_broadcast"
        )

    # -- views ---------------------------------------------------------------

    def exchange_trigger(self, trigger_id: str | None) -> Trigger:
        trigger = self.triggers.get(trigger_id or "")
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if self.now() - trigger.issued_at > TRIGGER_TTL:
            raise SlackError("expired_trigger_id")
        trigger.used = True
        return trigger

    def find_view(self, view_id: str | None, external_id: str | None) -> ViewRecord:
        if view_id:
            record = self.views.get(view_id)
        else:
            record = next(
                (
                    r
                    for r in self.views.values()
                    if external_id and r.view.get("external_id") == external_id
                ),
                None,
            )
        if record is None:
            raise SlackError("not_found")
        return record

    def check_external_id(self, external_id: str, *, except_view: str | None = None) -> None:
        for view_id, record in self.views.items():
            if (
                external_id
                and record.view.get("external_id") == external_id
                and view_id != except_view
            ):
                raise SlackError("duplicate_external_id")

    def new_hash(self) -> str:
        return f"{int(self.now())}.{secrets.token_hex(4)}"

    def build_view(
        self, payload: JSON, *, view_id: str, root_id: str, previous_id: str | None
    ) -> JSON:
        """The view object Slack stores and returns, from the payload an app sent."""
        view: JSON = {
            "id": view_id,
            "team_id": self.team_id,
            "type": payload.get("type"),
            "blocks": with_block_ids(payload.get("blocks") or []),
            "private_metadata": payload.get("private_metadata", ""),
            "callback_id": payload.get("callback_id", ""),
            "state": {"values": {}},
            "hash": self.new_hash(),
            "clear_on_close": bool(payload.get("clear_on_close", False)),
            "notify_on_close": bool(payload.get("notify_on_close", False)),
            "root_view_id": root_id,
            "previous_view_id": previous_id,
            "app_id": self.app_id,
            "external_id": payload.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        for key in ("title", "submit", "close"):
            view[key] = copy.deepcopy(payload.get(key))
        return view

    # -- response_url --------------------------------------------------------

    def new_response_url(
        self, channel_id: str | None, message_ts: str | None, user_id: str | None
    ) -> str:
        url_id = f"{self.team_id}/{self.new_id('')[1:]}/{secrets.token_urlsafe(18)}"
        self.response_urls[url_id] = ResponseUrl(
            url_id, self.now(), channel_id, message_ts, user_id
        )
        return url_id
