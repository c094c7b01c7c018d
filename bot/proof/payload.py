"""Reading proof's Slack payloads: where a message is, a modal's fields and metadata."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.people import directory

log = logging.getLogger(__name__)


def where(body: dict[str, Any]) -> dict[str, Any]:
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    return {"channel": channel, "ts": container.get("message_ts")}


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _value(view: dict[str, Any], block: str, action: str) -> dict[str, Any]:
    found = ((view.get("state") or {}).get("values") or {}).get(block, {}).get(action)
    return found if isinstance(found, dict) else {}


def state(view: dict[str, Any], block: str, action: str) -> str | None:
    value = _value(view, block, action).get("value")
    return str(value) if value is not None else None


def selected(view: dict[str, Any], block: str, action: str) -> str | None:
    option = _value(view, block, action).get("selected_option") or {}
    return str(option["value"]) if option.get("value") else None


def conversation(view: dict[str, Any], block: str) -> str | None:
    value = _value(view, block, "value").get("selected_conversation")
    return str(value) if value else None


def members(client: WebClient, channel: str | None, group: str) -> list[str]:
    members: list[str] = []
    if channel:
        members += directory.channel_members(client, channel)
    if group:
        members += directory.usergroup_members(client, group)
    return list(dict.fromkeys(members))


def open_modal(client: WebClient, trigger_id: str | None, view: dict[str, Any]) -> None:
    """Open a proof modal; a trigger Slack no longer honours is logged, not raised."""
    if not trigger_id:
        return
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as exc:
        log.warning("could not open a proof modal: %s", exc.response.get("error"))
