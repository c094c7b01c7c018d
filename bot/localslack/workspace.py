"""The local Slack's workspace: users, conversations, messages, views, files.

Plain data plus the small operations several Web API methods share. Nothing
here is thread-safe on its own: the server holds one lock around every use.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

JSON = dict[str, Any]
T = TypeVar("T")

#: Slack's own system user, listed by users.list in every real workspace.
SLACKBOT_ID: Final = "USLACKBOT"
#: A trigger_id may be exchanged once, within this many seconds.
TRIGGER_TTL: Final = 3.0
#: A response_url works this many times, for this long (Slack's documented limits).
RESPONSE_URL_USES: Final = 5
RESPONSE_URL_TTL: Final = 30 * 60.0


class SlackError(Exception):
    """An ``{"ok": false, "error": ...}`` answer, with optional extra fields."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def invalid_arguments(*messages: str) -> SlackError:
    return SlackError(
        "invalid_arguments", response_metadata={"messages": [f"[ERROR] {m}" for m in messages]}
    )


def ts_key(ts: str, *, error: str = "invalid_arguments") -> int:
    """Message timestamps compare as microseconds, never as strings or floats."""
    try:
        return int(Decimal(ts) * 1_000_000)
    except (InvalidOperation, ValueError) as exc:
        raise SlackError(error) from exc


def format_ts(micros: int) -> str:
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def tz_details(tz_name: str, now: float) -> tuple[str, int]:
    """(tz_label, tz_offset seconds) for a zone at a moment, as users.info gives them."""
    try:
        zone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        return ("Coordinated Universal Time", 0)
    moment = dt.datetime.fromtimestamp(now, zone)
    offset = moment.utcoffset() or dt.timedelta(0)
    return (moment.tzname() or tz_name, int(offset.total_seconds()))


def encode_cursor(prefix: str, key: str) -> str:
    return base64.b64encode(f"{prefix}:{key}".encode()).decode()


def decode_cursor(prefix: str, cursor: str) -> str:
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise SlackError("invalid_cursor") from exc
    head, _, key = text.partition(":")
    if head != prefix or not key:
        raise SlackError("invalid_cursor")
    return key


def paginate(
    items: Sequence[T], key: Callable[[T], str], *, prefix: str, cursor: str, limit: int
) -> tuple[list[T], str]:
    """One page of ``items`` and the cursor for the next page ("" at the end).

    The cursor names the first item of the next page, as Slack's opaque
    cursors do, so a page boundary survives items added at the end.
    """
    start = 0
    if cursor:
        wanted = decode_cursor(prefix, cursor)
        keys = [key(item) for item in items]
        if wanted not in keys:
            raise SlackError("invalid_cursor")
        start = keys.index(wanted)
    page = list(items[start : start + limit]) if limit > 0 else list(items[start:])
    rest = start + len(page)
    return page, (encode_cursor(prefix, key(items[rest])) if rest < len(items) else "")


@dataclass
class User:
    id: str
    name: str
    team_id: str
    real_name: str = ""
    display_name: str = ""
    tz: str = "UTC"
    locale: str = "en-US"
    email: str | None = None
    deleted: bool = False
    is_bot: bool = False
    is_admin: bool = False
    status_emoji: str = ""
    status_text: str = ""
    status_expiration: int = 0
    bot_id: str | None = None
    app_id: str | None = None
    updated: int = 0

    def to_api(self, *, now: float, include_locale: bool) -> JSON:
        tz_label, tz_offset = tz_details(self.tz, now)
        profile: JSON = {
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": self.display_name,
            "display_name_normalized": self.display_name,
            "status_text": self.status_text,
            "status_emoji": self.status_emoji,
            "status_expiration": self.status_expiration,
            "team": self.team_id,
        }
        if self.email is not None:
            profile["email"] = self.email
        if self.bot_id:
            profile.update(
                {"bot_id": self.bot_id, "api_app_id": self.app_id or "", "always_active": True}
            )
        user: JSON = {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_label": tz_label,
            "tz_offset": tz_offset,
            "profile": profile,
            "is_admin": self.is_admin,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": self.updated,
        }
        if include_locale:
            user["locale"] = self.locale
        return user


@dataclass
class Channel:
    id: str
    name: str
    kind: str  # "public" | "private" | "im" | "mpim"
    created: int
    creator: str = ""
    members: list[str] = field(default_factory=list)
    user: str | None = None  # the other person of an IM
    is_archived: bool = False
    topic: str = ""
    purpose: str = ""
    messages: list[JSON] = field(default_factory=list)  # every message, oldest first
    pins: set[str] = field(default_factory=set)

    @property
    def is_dm(self) -> bool:
        return self.kind in ("im", "mpim")

    def find(self, ts: str) -> JSON | None:
        return next((m for m in self.messages if m["ts"] == ts), None)

    def has_ts(self, ts: str) -> bool:
        """Whether a message with this timestamp exists, compared as a number
        (Slack accepts "1700000000.0001" for "1700000000.000100" here)."""
        try:
            wanted = ts_key(ts)
        except SlackError:
            return False
        return any(ts_key(m["ts"]) == wanted for m in self.messages)

    def to_api(self, *, member_id: str, include_num_members: bool = False) -> JSON:
        if self.kind == "im":
            return {
                "id": self.id,
                "created": self.created,
                "is_im": True,
                "is_org_shared": False,
                "user": self.user,
                "is_user_deleted": False,
                "priority": 0,
                "is_open": True,
            }
        info: JSON = {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": self.kind == "public",
            "is_group": self.kind == "private",
            "is_im": False,
            "is_mpim": self.kind == "mpim",
            "is_private": self.kind != "public",
            "is_archived": self.is_archived,
            "is_general": self.name == "general",
            "is_shared": False,
            "is_org_shared": False,
            "is_ext_shared": False,
            "is_member": member_id in self.members,
            "created": self.created,
            "creator": self.creator,
            "topic": {"value": self.topic, "creator": "", "last_set": 0},
            "purpose": {"value": self.purpose, "creator": "", "last_set": 0},
        }
        if include_num_members:
            info["num_members"] = len(self.members)
        return info


@dataclass
class Usergroup:
    id: str
    handle: str
    users: list[str]


@dataclass
class Dnd:
    enabled: bool = False
    next_start_ts: int = 1
    next_end_ts: int = 1
    snooze_endtime: int | None = None


@dataclass
class Trigger:
    user_id: str
    issued_at: float
    view_id: str | None = None  # set when the interaction happened inside a modal
    used: bool = False


@dataclass
class ResponseUrl:
    id: str
    created: float
    channel_id: str | None
    message_ts: str | None
    user_id: str | None
    uses: int = 0


@dataclass
class UploadedFile:
    id: str
    filename: str
    length: int
    created: float
    alt_txt: str = ""
    data: bytes | None = None  # None until the upload URL received the bytes
    completed: bool = False


@dataclass
class ViewRecord:
    view: JSON
    user_id: str
    root_id: str


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


def with_block_ids(blocks: Iterable[Any]) -> list[Any]:
    """Slack gives every block without a block_id a short random one."""
    result = copy.deepcopy(list(blocks))
    for block in result:
        if isinstance(block, dict) and not block.get("block_id"):
            block["block_id"] = secrets.token_urlsafe(4)[:5]
    return result
