"""Web API methods of the local Slack: conversations, users, usergroups, dnd."""

from __future__ import annotations

from collections.abc import Callable

from .records import JSON, SlackError, decode_cursor, encode_cursor, paginate, ts_key
from .webapi import Call, WebApi, api, rendered

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
