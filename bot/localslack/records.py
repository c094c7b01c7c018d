"""The local Slack's records: users, conversations, views, files, and the
helpers Slack's shapes need (timestamps, time zones, cursors, errors).

Plain data; nothing here is thread-safe on its own: the server holds one lock
around every use.
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
class FunctionExecution:
    """One run of an app's custom step (a function) in a workflow, as Slack keeps it:
    ``running`` until the app calls functions.completeSuccess or completeError."""

    id: str
    callback_id: str
    inputs: JSON
    bot_access_token: str  # the workflow's just-in-time token, sent in the event
    workflow_execution_id: str
    created: float
    # The function's declared outputs (name -> {type, is_required, ...}), as in the
    # manifest; completeSuccess checks outputs against them. None: not checked.
    output_parameters: JSON | None = None
    state: str = "running"  # running | completed | failed
    outputs: JSON | None = None
    error: str | None = None


@dataclass
class ViewRecord:
    view: JSON
    user_id: str
    root_id: str


def with_block_ids(blocks: Iterable[Any]) -> list[Any]:
    """Slack gives every block without a block_id a short random one."""
    result = copy.deepcopy(list(blocks))
    for block in result:
        if isinstance(block, dict) and not block.get("block_id"):
            block["block_id"] = secrets.token_urlsafe(4)[:5]
    return result
