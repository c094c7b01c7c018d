"""What one person's Slack shows right now, as the page draws it.

Read from the local Slack (messages, threads, ephemerals, the App Home, the open
modal) and rendered by :mod:`bot.sandbox.render`, the same renderer the author
preview uses; nothing here reads the bot's database except the next nudge due.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.sandbox import seed
from bot.sandbox.parts import SandboxParts
from bot.sandbox.render import Directory, render_blocks, render_message, text_object

JSON = dict[str, Any]
HOME = "home"


def person_json(sandbox: SandboxParts, user_id: str) -> JSON:
    known = {p.id: p for p in seed.seed_people(empty=sandbox.empty)}
    person = known.get(user_id)
    if person is not None:
        return {
            "id": person.id,
            "name": person.name,
            "title": person.title,
            "tz": person.tz,
            "locale": person.locale,
            "role": person.role,
        }
    users, _ = sandbox.slack.directory()
    return {
        "id": user_id,
        "name": users.get(user_id, user_id),
        "title": "",
        "tz": "UTC",
        "locale": "en-US",
        "role": "employee",
    }


def people(sandbox: SandboxParts) -> JSON:
    users, _ = sandbox.slack.directory()
    listed = [
        person_json(sandbox, uid)
        for uid in users
        if uid not in (sandbox.slack.bot_user_id, "USLACKBOT")
    ]
    default = seed.DEFAULT_USER_ID if seed.DEFAULT_USER_ID in users else listed[0]["id"]
    return {"people": listed, "default": default}


def local_time(moment: datetime, tz: str, fmt: str = "%a %-d %b, %H:%M") -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime(fmt)


def screen(sandbox: SandboxParts, user_id: str, conversation: str | None) -> JSON:
    """The page's whole state for ``user_id`` looking at ``conversation``."""
    version = sandbox.slack.version
    me = person_json(sandbox, user_id)
    tz = me["tz"]
    users, channels = sandbox.slack.directory()
    directory = Directory(users=users, channels=channels)
    dm_id = sandbox.slack.dm_channel_id(user_id)
    conversations: list[JSON] = [
        {
            "id": dm_id,
            "kind": "dm",
            "name": "Nudgebot",
            "count": sandbox.slack.message_count(dm_id),
        },
        *sandbox.slack.member_channels(user_id),
    ]
    selected = conversation or dm_id
    home_view = sandbox.slack.home_view(user_id)
    modal = sandbox.slack.open_modal(user_id)
    due = _next_due(sandbox)
    now = sandbox.clock.now()
    return {
        "version": version,
        "clock": {
            "utc": now.isoformat(),
            "local": local_time(now, tz),
            "tz": tz,
            "moving": sandbox.moving.is_set(),
        },
        "me": me,
        "conversations": conversations,
        "conversation": None
        if selected == HOME
        else _conversation(sandbox, user_id, selected, conversations, directory, tz),
        "home": render_blocks(home_view.get("blocks") or [], directory, surface="home")
        if home_view
        else None,
        "modal": _modal(modal, directory) if modal else None,
        "next_nudge": local_time(due, tz) if due else None,
    }


def _next_due(sandbox: SandboxParts) -> datetime | None:
    try:
        return sandbox.next_due()
    except Exception:  # the page still shows Slack while the database is busy
        return None


def _conversation(
    sandbox: SandboxParts,
    user_id: str,
    conversation_id: str,
    listed: list[JSON],
    directory: Directory,
    tz: str,
) -> JSON | None:
    entry = next((c for c in listed if c["id"] == conversation_id), None)
    if entry is None:
        return None
    messages = sandbox.slack.messages(conversation_id)
    roots: list[JSON] = []
    replies: dict[str, list[JSON]] = {}
    for message in messages:
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != message["ts"]:
            replies.setdefault(thread_ts, []).append(message)
        else:
            roots.append(message)
    shown = []
    for message in roots:
        item = _message(message, directory, tz)
        item["thread"] = [_message(r, directory, tz) for r in replies.get(message["ts"], [])]
        shown.append(item)
    for ephemeral in sandbox.slack.ephemerals_for(user_id, conversation_id):
        item = _message(
            {
                "ts": ephemeral.get("message_ts", "0"),
                "user": sandbox.slack.bot_user_id,
                "bot_id": "B",
                "text": ephemeral.get("text", ""),
                "blocks": ephemeral.get("blocks") or [],
            },
            directory,
            tz,
        )
        item["ephemeral"] = True
        item["thread"] = []
        target = ephemeral.get("thread_ts")
        parent = next((m for m in shown if m["ts"] == target), None) if target else None
        if parent is not None:
            parent["thread"].append(item)
        else:
            shown.append(item)
    shown.sort(key=lambda m: float(m["ts"]))
    return {**entry, "messages": shown}


def _message(message: JSON, directory: Directory, tz: str) -> JSON:
    user = message.get("user", "")
    is_bot = bool(message.get("bot_id"))
    when = datetime.fromtimestamp(float(message.get("ts", "0")), UTC)
    return {
        "ts": message.get("ts"),
        "user_name": "Nudgebot" if is_bot else directory.users.get(user, user),
        "is_bot": is_bot,
        "time": local_time(when, tz, "%H:%M"),
        "html": render_message(message, directory),
        "ephemeral": False,
        "edited": "edited" in message,
    }


def _modal(view: JSON, directory: Directory) -> JSON:
    return {
        "view_id": view["id"],
        "title": text_object(view.get("title"), directory),
        "submit": text_object(view["submit"], directory) if view.get("submit") else None,
        "close": text_object(view["close"], directory) if view.get("close") else "Cancel",
        "html": render_blocks(view.get("blocks") or [], directory, surface="modal"),
        "stacked": view.get("previous_view_id") is not None,
    }
