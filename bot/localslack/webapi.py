"""The local Slack's Web API: calls, the method registry and the dispatcher.

The methods live in ``webapi_chat``, ``webapi_conversations`` and
``webapi_views``, one small function per method, registered with :func:`api`
when :mod:`.state` (which makes the :class:`WebApi`) imports them. Each handler gets a parsed
:class:`Call` and returns the success fields (the dispatcher adds
``"ok": true``) or raises :class:`SlackError`. Shapes and error names follow
Slack's method reference pages.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from .blocks import message_block_errors
from .records import JSON, Channel, SlackError, invalid_arguments, with_block_ids
from .workspace import Workspace

#: Methods under Slack's special posting limit (about 1 message/s per channel).
POSTING_METHODS: Final = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})
MAX_TEXT: Final = 40_000
MAX_VIEW_STACK: Final = 3


@dataclass(frozen=True)
class Auth:
    token: str
    user_id: str
    bot_id: str | None


@dataclass
class Call:
    """One authenticated API call with typed accessors for its arguments.

    Form bodies carry every value as a string and JSON bodies carry real types,
    so each accessor accepts both, as Slack does.
    """

    method: str
    params: JSON
    auth: Auth

    def text(self, name: str) -> str | None:
        value = self.params.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            raise invalid_arguments(f"{name} must be a string")
        return str(value)

    def required(self, name: str, error: str | None = None) -> str:
        value = self.text(name)
        if not value:
            raise (
                SlackError(error) if error else invalid_arguments(f"missing required field: {name}")
            )
        return value

    def flag(self, name: str) -> bool:
        value = self.params.get(name)
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("1", "true") if value is not None else False

    def number(self, name: str, default: int, *, low: int = 0, high: int = 1000) -> int:
        value = self.params.get(name)
        if value in (None, ""):
            return default
        try:
            number = int(str(value))
        except ValueError as exc:
            raise invalid_arguments(f"{name} must be an integer") from exc
        if number == 0 and low > 0:
            return default  # limit=0 means "the default page size", not one item
        return max(low, min(high, number))

    def json(self, name: str, *, error: str = "invalid_arguments") -> Any:
        """A JSON argument: already decoded in a JSON body, a string in a form."""
        value = self.params.get(name)
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise SlackError(error) from exc


Handler = Callable[["WebApi", Call], JSON]
_HANDLERS: dict[str, Handler] = {}


def api(name: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        _HANDLERS[name] = func
        return func

    return register


def known_method(name: str) -> bool:
    return name in _HANDLERS


class WebApi:
    """Dispatches calls to handlers over one :class:`Workspace`."""

    def __init__(
        self, ws: Workspace, public_url: Callable[[], str], *, expose_others_snooze: bool
    ) -> None:
        self.ws = ws
        self.public_url = public_url
        self.expose_others_snooze = expose_others_snooze

    def dispatch(self, call: Call) -> JSON:
        try:
            return {"ok": True, **_HANDLERS[call.method](self, call)}
        except SlackError as exc:
            return {"ok": False, "error": exc.error, **exc.extra}

    # -- helpers shared by several methods -----------------------------------

    def content(self, call: Call, *, required: bool = True) -> JSON:
        """text / blocks / attachments / metadata of a message, validated."""
        text = call.text("text") or ""
        blocks = call.json("blocks", error="invalid_blocks_format")
        attachments = call.json("attachments", error="invalid_attachments")
        if required and not (text or blocks or attachments):
            raise SlackError("no_text")
        if len(text) > MAX_TEXT:
            raise SlackError("msg_too_long")
        content: JSON = {}
        if "text" in call.params or required:
            content["text"] = text
        if blocks is not None:
            errors = message_block_errors(blocks)
            if errors:
                raise SlackError(
                    "invalid_blocks",
                    errors=errors,
                    response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
                )
            content["blocks"] = with_block_ids(blocks)
        if attachments is not None:
            if not isinstance(attachments, list):
                raise SlackError("invalid_attachments")
            content["attachments"] = [
                {"id": i + 1, **a} for i, a in enumerate(attachments) if isinstance(a, dict)
            ]
        metadata = call.json("metadata", error="invalid_metadata_format")
        if metadata is not None:
            content["metadata"] = checked_metadata(metadata)
        return content

    def postable(self, call: Call, *, allow_user: bool = True) -> Channel:
        """A conversation the bot may post into, or the error Slack gives."""
        channel = self.ws.channel(call.text("channel"), allow_user=allow_user)
        if channel.kind == "im" and channel.user and self.ws.users[channel.user].is_bot:
            raise SlackError("cannot_dm_bot")
        if channel.is_archived:
            raise SlackError("is_archived")
        if not channel.is_dm and self.ws.bot_user_id not in channel.members:
            raise SlackError("not_in_channel" if channel.kind == "public" else "channel_not_found")
        return channel

    def thread_ts(self, channel: Channel, call: Call) -> str | None:
        """A reply's thread_ts must name an existing message (Slack answers
        thread_not_found, e.g. when the parent was deleted). It is stored as
        given: a float-mangled ts is accepted but threads nowhere, as in Slack."""
        thread_ts = call.text("thread_ts")
        if thread_ts and not channel.has_ts(thread_ts):
            raise SlackError("thread_not_found")
        return thread_ts or None

    def own_message(self, channel: Channel, ts: str | None, error: str) -> JSON:
        message = self.ws.message(channel, ts)
        if message.get("bot_id") != self.ws.bot_id:
            raise SlackError(error)
        return message


def checked_metadata(metadata: Any) -> JSON:
    """Message metadata must be {event_type: str, event_payload: object}."""
    if not isinstance(metadata, dict):
        raise SlackError("invalid_metadata_format")
    event_type = metadata.get("event_type")
    payload = metadata.get("event_payload", {})
    if not isinstance(event_type, str) or not event_type or not isinstance(payload, dict):
        raise SlackError("invalid_metadata_format")
    if len(json.dumps(metadata)) > 8000:
        raise SlackError("metadata_too_large")
    return {"event_type": event_type, "event_payload": copy.deepcopy(payload)}


def rendered(message: JSON, *, include_metadata: bool) -> JSON:
    """A stored message as a read method returns it."""
    out = copy.deepcopy(message)
    if not include_metadata:
        out.pop("metadata", None)
    return out
