"""Slack Web API methods of the local Slack, one small function per method.

Each handler gets a parsed :class:`Call` and returns the success fields (the
dispatcher adds ``"ok": true``) or raises :class:`SlackError`. Shapes and error
names follow Slack's method reference pages.
"""

from __future__ import annotations

import copy
import json
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from .blocks import message_block_errors, view_errors
from .workspace import (
    JSON,
    Channel,
    SlackError,
    UploadedFile,
    ViewRecord,
    Workspace,
    decode_cursor,
    encode_cursor,
    invalid_arguments,
    paginate,
    ts_key,
    with_block_ids,
)

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


# -- auth -------------------------------------------------------------------


@api("auth.test")
def auth_test(self: WebApi, call: Call) -> JSON:
    ws = self.ws
    user = ws.user(call.auth.user_id)
    result: JSON = {
        "url": f"https://{ws.team_domain}.slack.com/",
        "team": ws.team_name,
        "user": user.name,
        "team_id": ws.team_id,
        "user_id": user.id,
        "is_enterprise_install": False,
    }
    if call.auth.bot_id:
        result["bot_id"] = call.auth.bot_id
    return result


# -- chat -------------------------------------------------------------------


@api("chat.postMessage")
def chat_post_message(self: WebApi, call: Call) -> JSON:
    channel = self.postable(call)
    message = {**self.ws.bot_message_base(), **self.content(call)}
    thread_ts = self.thread_ts(channel, call)
    if thread_ts:
        message["thread_ts"] = thread_ts
        if call.flag("reply_broadcast"):
            message["subtype"] = "thread_broadcast"
    self.ws.append_message(channel, message)
    return {
        "channel": channel.id,
        "ts": message["ts"],
        "message": rendered(message, include_metadata=True),
    }


@api("chat.update")
def chat_update(self: WebApi, call: Call) -> JSON:
    # chat.update wants the conversation id; a user id is not accepted here.
    channel = self.ws.channel(call.text("channel"))
    message = self.own_message(
        channel, call.required("ts", "message_not_found"), "cant_update_message"
    )
    content = self.content(call, required=False)
    if not content and "blocks" not in call.params:
        raise SlackError("no_text")
    message.update(content)
    message["edited"] = {"user": self.ws.bot_user_id, "ts": self.ws.next_ts()}
    return {
        "channel": channel.id,
        "ts": message["ts"],
        "text": message.get("text", ""),
        "message": rendered(message, include_metadata=True),
    }


@api("chat.postEphemeral")
def chat_post_ephemeral(self: WebApi, call: Call) -> JSON:
    channel = self.postable(call, allow_user=False)
    user = self.ws.user(call.required("user", "user_not_found"))
    if user.id not in channel.members:
        raise SlackError("user_not_in_channel")
    content = self.content(call)
    message_ts = self.ws.next_ts()
    self.ws.ephemerals.append(
        {
            "source": "chat.postEphemeral",
            "channel": channel.id,
            "user": user.id,
            "thread_ts": self.thread_ts(channel, call),
            "message_ts": message_ts,
            **content,
        }
    )
    return {"message_ts": message_ts}


@api("chat.delete")
def chat_delete(self: WebApi, call: Call) -> JSON:
    channel = self.ws.channel(call.text("channel"))
    message = self.own_message(
        channel, call.required("ts", "message_not_found"), "cant_delete_message"
    )
    channel.messages.remove(message)
    channel.pins.discard(message["ts"])
    return {"channel": channel.id, "ts": message["ts"]}


@api("chat.getPermalink")
def chat_get_permalink(self: WebApi, call: Call) -> JSON:
    channel = self.ws.channel(call.text("channel"))
    message = self.ws.message(channel, call.required("message_ts", "message_not_found"))
    archive = f"https://{self.ws.team_domain}.slack.com/archives/{channel.id}"
    link = f"{archive}/p{message['ts'].replace('.', '')}"
    thread_ts = message.get("thread_ts")
    if thread_ts and thread_ts != message["ts"]:
        link += f"?thread_ts={thread_ts}&cid={channel.id}"
    return {"channel": channel.id, "permalink": link}


# -- conversations ----------------------------------------------------------


@api("conversations.open")
def conversations_open(self: WebApi, call: Call) -> JSON:
    users = [u.strip() for u in (call.text("users") or "").split(",") if u.strip()]
    if not users:
        if call.text("channel"):
            return {"channel": {"id": self.ws.channel(call.text("channel")).id}}
        raise SlackError("users_list_not_supplied")
    if len(users) > 8:
        raise SlackError("too_many_users")
    for user_id in users:
        user = self.ws.user(user_id)
        if user.deleted:
            raise SlackError("user_disabled")
        if user.is_bot and len(users) == 1:
            raise SlackError("cannot_dm_bot")
    channel, already = self.ws.open_dm(users[0]) if len(users) == 1 else self.ws.open_mpim(users)
    full = channel.to_api(member_id=self.ws.bot_user_id)
    result: JSON = {"channel": full if call.flag("return_im") else {"id": channel.id}}
    if already:
        result.update(no_op=True, already_open=True)
    return result


def _time_window(call: Call) -> Callable[[str], bool]:
    """The oldest/latest/inclusive filter of history and replies: both ends
    are exclusive unless ``inclusive`` is set, as Slack documents."""
    latest = call.text("latest")
    oldest = call.text("oldest")
    low = ts_key(oldest, error="invalid_ts_oldest") if oldest else -1
    high = ts_key(latest, error="invalid_ts_latest") if latest else 2**63
    inclusive = call.flag("inclusive")

    def inside(ts: str) -> bool:
        key = ts_key(ts)
        return low <= key <= high if inclusive else low < key < high

    return inside


@api("conversations.history")
def conversations_history(self: WebApi, call: Call) -> JSON:
    ws = self.ws
    channel = ws.readable(ws.channel(call.text("channel")))
    inside = _time_window(call)
    limit = call.number("limit", 100, low=1, high=999)
    newest_first = [m for m in reversed(channel.messages) if ws.in_history(m) and inside(m["ts"])]
    cursor = call.text("cursor")
    if cursor:
        # The cursor holds the ts of the first message of the next page.
        start = ts_key(decode_cursor("next_ts", cursor), error="invalid_cursor")
        newest_first = [m for m in newest_first if ts_key(m["ts"]) <= start]
    page, more = newest_first[:limit], newest_first[limit:]
    include = call.flag("include_all_metadata")
    return {
        "messages": [rendered(m, include_metadata=include) for m in page],
        "has_more": bool(more),
        "pin_count": len(channel.pins),
        "channel_actions_ts": None,
        "channel_actions_count": 0,
        "response_metadata": {
            "next_cursor": encode_cursor("next_ts", more[0]["ts"]) if more else ""
        },
    }


@api("conversations.replies")
def conversations_replies(self: WebApi, call: Call) -> JSON:
    ws = self.ws
    channel = ws.readable(ws.channel(call.text("channel")))
    anchor = channel.find(call.required("ts", "thread_not_found"))
    if anchor is None:
        raise SlackError("thread_not_found")
    # Any message of a thread names the thread; the parent always comes first.
    parent_ts = anchor.get("thread_ts") or anchor["ts"]
    inside = _time_window(call)
    thread = [
        m
        for m in channel.messages
        if m["ts"] == parent_ts or (m.get("thread_ts") == parent_ts and inside(m["ts"]))
    ]
    limit = call.number("limit", 1000, low=1, high=1000)
    cursor = call.text("cursor") or ""
    page, next_cursor = paginate(thread, _ts_of, prefix="next_ts", cursor=cursor, limit=limit)
    include = call.flag("include_all_metadata")
    return {
        "messages": [rendered(m, include_metadata=include) for m in page],
        "has_more": bool(next_cursor),
        "response_metadata": {"next_cursor": next_cursor},
    }


def _ts_of(message: JSON) -> str:
    return str(message["ts"])


@api("conversations.members")
def conversations_members(self: WebApi, call: Call) -> JSON:
    channel = self.ws.channel(call.text("channel"))
    if channel.kind == "private" and self.ws.bot_user_id not in channel.members:
        raise SlackError("channel_not_found")
    limit = call.number("limit", 100, low=1, high=1000)
    page, next_cursor = paginate(
        channel.members, str, prefix="user", cursor=call.text("cursor") or "", limit=limit
    )
    return {"members": page, "response_metadata": {"next_cursor": next_cursor}}


@api("conversations.info")
def conversations_info(self: WebApi, call: Call) -> JSON:
    channel = self.ws.channel(call.text("channel"))
    if channel.kind != "public":
        self.ws.readable(channel)
    info = channel.to_api(
        member_id=self.ws.bot_user_id, include_num_members=call.flag("include_num_members")
    )
    if call.flag("include_locale"):
        info["locale"] = "en-US"
    return {"channel": info}


@api("conversations.join")
def conversations_join(self: WebApi, call: Call) -> JSON:
    channel = self.ws.channel(call.text("channel"))
    if channel.kind != "public":
        raise SlackError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise SlackError("is_archived")
    result: JSON = {}
    if self.ws.bot_user_id in channel.members:
        result = {
            "warning": "already_in_channel",
            "response_metadata": {"warnings": ["already_in_channel"]},
        }
    else:
        channel.members.append(self.ws.bot_user_id)
    return {"channel": channel.to_api(member_id=self.ws.bot_user_id), **result}


# -- users ------------------------------------------------------------------


@api("users.info")
def users_info(self: WebApi, call: Call) -> JSON:
    user = self.ws.user(call.text("user"))
    return {"user": user.to_api(now=self.ws.now(), include_locale=call.flag("include_locale"))}


@api("users.list")
def users_list(self: WebApi, call: Call) -> JSON:
    ws = self.ws
    limit = call.number("limit", 0, low=0, high=1000)
    users = list(ws.users.values())
    page, next_cursor = paginate(
        users, lambda u: u.id, prefix="user", cursor=call.text("cursor") or "", limit=limit
    )
    include_locale = call.flag("include_locale")
    return {
        "members": [u.to_api(now=ws.now(), include_locale=include_locale) for u in page],
        "cache_ts": int(ws.now()),
        "response_metadata": {"next_cursor": next_cursor},
    }


@api("usergroups.users.list")
def usergroups_users_list(self: WebApi, call: Call) -> JSON:
    group = self.ws.usergroups.get(call.text("usergroup") or "")
    if group is None:
        raise SlackError("no_such_subteam")
    return {"users": list(group.users)}


@api("dnd.info")
def dnd_info(self: WebApi, call: Call) -> JSON:
    user = self.ws.user(call.text("user") or call.auth.user_id)
    state = self.ws.dnd.get(user.id)
    result: JSON = {
        "dnd_enabled": bool(state and state.enabled),
        "next_dnd_start_ts": state.next_start_ts if state else 1,
        "next_dnd_end_ts": state.next_end_ts if state else 1,
    }
    # Slack's reference: snooze_* fields are only visible when the queried
    # user is the caller; a bot asking about a person never sees them.
    if user.id == call.auth.user_id or self.expose_others_snooze:
        snoozing = bool(state and state.snooze_endtime and state.snooze_endtime > self.ws.now())
        result["snooze_enabled"] = snoozing
        if snoozing and state and state.snooze_endtime:
            result["snooze_endtime"] = state.snooze_endtime
            result["snooze_remaining"] = int(state.snooze_endtime - self.ws.now())
    return result


# -- pins and reactions -----------------------------------------------------


@api("pins.add")
def pins_add(self: WebApi, call: Call) -> JSON:
    channel = self.ws.readable(self.ws.channel(call.text("channel")))
    message = self.ws.message(channel, call.required("timestamp", "no_item_specified"))
    if message["ts"] in channel.pins:
        raise SlackError("already_pinned")
    channel.pins.add(message["ts"])
    message["pinned_to"] = [channel.id]
    return {}


@api("reactions.add")
def reactions_add(self: WebApi, call: Call) -> JSON:
    channel = self.ws.readable(self.ws.channel(call.text("channel")))
    message = self.ws.message(channel, call.required("timestamp", "no_item_specified"))
    name = (call.text("name") or "").strip(":")
    if not name:
        raise SlackError("invalid_name")
    reactions: list[JSON] = message.setdefault("reactions", [])
    reaction = next((r for r in reactions if r["name"] == name), None)
    if reaction is None:
        reaction = {"name": name, "users": [], "count": 0}
        reactions.append(reaction)
    if call.auth.user_id in reaction["users"]:
        raise SlackError("already_reacted")
    reaction["users"].append(call.auth.user_id)
    reaction["count"] += 1
    return {}


# -- views ------------------------------------------------------------------


def _view_payload(call: Call, *, home: bool) -> JSON:
    view = call.json("view")
    if view is None:
        raise invalid_arguments("missing required field: view")
    errors = view_errors(view, home=home)
    if errors or not isinstance(view, dict):
        raise invalid_arguments(*errors)
    return view


@api("views.open")
def views_open(self: WebApi, call: Call) -> JSON:
    payload = _view_payload(call, home=False)
    self.ws.check_external_id(payload.get("external_id", ""))
    trigger = self.ws.exchange_trigger(
        call.text("trigger_id") or call.text("interactivity_pointer")
    )
    view_id = self.ws.new_id("V")
    view = self.ws.build_view(payload, view_id=view_id, root_id=view_id, previous_id=None)
    self.ws.views[view_id] = ViewRecord(view, trigger.user_id, view_id)
    self.ws.view_stacks[view_id] = [view_id]
    return {"view": copy.deepcopy(view)}


@api("views.push")
def views_push(self: WebApi, call: Call) -> JSON:
    ws = self.ws
    payload = _view_payload(call, home=False)
    ws.check_external_id(payload.get("external_id", ""))
    trigger = ws.exchange_trigger(call.text("trigger_id") or call.text("interactivity_pointer"))
    # Push onto the modal the interaction came from, else the user's latest modal.
    source = ws.views.get(trigger.view_id or "")
    if source is None:
        modals = [
            r
            for r in ws.views.values()
            if r.user_id == trigger.user_id and r.view["type"] == "modal"
        ]
        source = modals[-1] if modals else None
    if source is None:
        raise SlackError("not_found")
    stack = ws.view_stacks[source.root_id]
    if len(stack) >= MAX_VIEW_STACK:
        raise SlackError("push_limit_reached")
    view_id = ws.new_id("V")
    view = ws.build_view(payload, view_id=view_id, root_id=source.root_id, previous_id=stack[-1])
    ws.views[view_id] = ViewRecord(view, trigger.user_id, source.root_id)
    stack.append(view_id)
    return {"view": copy.deepcopy(view)}


@api("views.update")
def views_update(self: WebApi, call: Call) -> JSON:
    ws = self.ws
    view_id, external_id = call.text("view_id"), call.text("external_id")
    if not view_id and not external_id:
        raise invalid_arguments("either view_id or external_id is required")
    record = ws.find_view(view_id, external_id)
    expected_hash = call.text("hash")
    if expected_hash and expected_hash != record.view["hash"]:
        raise SlackError("hash_conflict")
    payload = _view_payload(call, home=record.view["type"] == "home")
    ws.check_external_id(payload.get("external_id", ""), except_view=record.view["id"])
    old = record.view
    # A view keeps its external_id when the update payload does not restate it.
    payload = {"external_id": old.get("external_id", ""), **payload}
    record.view = ws.build_view(
        payload, view_id=old["id"], root_id=old["root_view_id"], previous_id=old["previous_view_id"]
    )
    return {"view": copy.deepcopy(record.view)}


@api("views.publish")
def views_publish(self: WebApi, call: Call) -> JSON:
    ws = self.ws
    user = ws.user(call.text("user_id"))
    payload = _view_payload(call, home=True)
    view_id = ws.home_views.get(user.id)
    current = ws.views.get(view_id or "")
    expected_hash = call.text("hash")
    if current and expected_hash and expected_hash != current.view["hash"]:
        raise SlackError("hash_conflict")
    view_id = view_id or ws.new_id("V")
    view = ws.build_view(payload, view_id=view_id, root_id=view_id, previous_id=None)
    ws.views[view_id] = ViewRecord(view, user.id, view_id)
    ws.home_views[user.id] = view_id
    return {"view": copy.deepcopy(view)}


# -- files (the two-step external upload) -----------------------------------


@api("files.getUploadURLExternal")
def files_get_upload_url_external(self: WebApi, call: Call) -> JSON:
    filename = call.required("filename")
    length = call.number("length", 0, low=0, high=1_000_000_000)
    if length <= 0:
        raise invalid_arguments("length must be a positive integer")
    file_id = self.ws.new_id("F")
    self.ws.files[file_id] = UploadedFile(
        file_id, filename, length, self.ws.now(), alt_txt=call.text("alt_txt") or ""
    )
    return {"upload_url": f"{self.public_url()}/upload/v1/{file_id}", "file_id": file_id}


def _file_object(ws: Workspace, upload: UploadedFile, title: str, channel_id: str | None) -> JSON:
    mimetype = (
        "image/png"
        if (upload.data or b"").startswith(b"\x89PNG")
        else (mimetypes.guess_type(upload.filename)[0] or "application/octet-stream")
    )
    return {
        "id": upload.id,
        "created": int(upload.created),
        "timestamp": int(upload.created),
        "name": upload.filename,
        "title": title,
        "mimetype": mimetype,
        "filetype": upload.filename.rsplit(".", 1)[-1].lower()
        if "." in upload.filename
        else "binary",
        "user": ws.bot_user_id,
        "size": len(upload.data or b""),
        "alt_txt": upload.alt_txt,
        "url_private": f"https://files.slack.com/files-pri/{ws.team_id}-{upload.id}/{upload.filename}",
        "permalink": f"https://{ws.team_domain}.slack.com/files/{ws.bot_user_id}/{upload.id}/{upload.filename}",
        "channels": [channel_id] if channel_id else [],
        "is_public": False,
    }


@api("files.completeUploadExternal")
def files_complete_upload_external(self: WebApi, call: Call) -> JSON:
    ws = self.ws
    entries = call.json("files")
    if not isinstance(entries, list) or not entries:
        raise invalid_arguments("files must be a non-empty JSON array")
    channel_id = call.text("channel_id") or call.text("channels")
    channel = ws.readable(ws.channel(channel_id)) if channel_id else None
    files: list[JSON] = []
    for entry in entries:
        upload = ws.files.get(entry.get("id", "") if isinstance(entry, dict) else "")
        # The bytes must have reached the upload URL before completion.
        if upload is None or upload.data is None or upload.completed:
            raise SlackError("file_not_found")
        upload.completed = True
        files.append(
            _file_object(
                ws, upload, entry.get("title") or upload.filename, channel.id if channel else None
            )
        )
    if channel is not None:
        message = {
            **ws.bot_message_base(),
            "text": call.text("initial_comment") or "",
            "files": files,
            "upload": True,
        }
        thread_ts = self.thread_ts(channel, call)
        if thread_ts:
            message["thread_ts"] = thread_ts
        ws.append_message(channel, message)
    return {"files": files}
