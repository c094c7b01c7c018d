"""What a person does on the page, turned into what Slack sends the bot.

A typed slash command becomes a signed, form-encoded command; a message a
message event; a click or a choice a ``block_actions`` payload carrying the
element's value in Slack's shape; a submitted modal a ``view_submission`` with
``view.state.values`` as Slack builds them. Slack's client checks required
fields and lengths before it sends anything; so does this.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from bot.sandbox.parts import SandboxParts

JSON = dict[str, Any]
MANIFEST = Path(__file__).resolve().parents[2] / "config" / "manifest.yml"
REQUIRED = "Please complete this required field."


class Refused(Exception):
    """What Slack's client would say instead of sending (shown to the person)."""


@functools.cache
def slash_commands() -> frozenset[str]:
    """The commands the app's manifest declares (what Slack would offer; read once)."""
    try:
        manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
        return frozenset(c["command"] for c in manifest["features"]["slash_commands"])
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return frozenset({"/intake", "/premortem", "/nudges"})


def compose(
    sandbox: SandboxParts, *, user: str, conversation: str, text: str, thread_ts: str | None = None
) -> float:
    """Send what the person typed; the bot's acknowledgement time in ms."""
    text = text.strip()
    if not text:
        raise Refused("Type a message or a command.")
    if text.startswith("/"):
        command, _, rest = text.partition(" ")
        if command not in slash_commands():
            raise Refused(
                f"{command} is not a valid command. In Slack, try /intake, /premortem or /nudges."
            )
        response = sandbox.driver.slash_command(
            command, rest.strip(), user_id=user, channel_id=conversation
        )
        if response.status == 200:
            sandbox.slack.show_command_answer(conversation, user, response.body)
        return _acked(response.status, response.elapsed)
    if conversation == sandbox.slack.dm_channel_id(user):
        # config/manifest.yml: messages_tab_read_only_enabled
        raise Refused("Sending messages to this app has been turned off; use its / commands.")
    response = sandbox.driver.message_event(
        conversation, user_id=user, text=text, thread_ts=thread_ts
    )
    return _acked(response.status, response.elapsed)


def act(
    sandbox: SandboxParts,
    *,
    user: str,
    block_id: str,
    action_id: str,
    kind: str,
    value: str | None = None,
    values: list[str] | None = None,
    conversation: str | None = None,
    ts: str | None = None,
    view_id: str | None = None,
) -> float:
    """A click or a choice in a message, the App Home or a modal."""
    if view_id:
        view = sandbox.slack.view(view_id)
        if view is None:
            raise Refused("That view is gone.")
        blocks = view.get("blocks") or []
    else:
        message = sandbox.slack.message(conversation or "", ts or "") if ts else None
        if message is None:  # an ephemeral message lives on the person's screen only
            message = next(
                (
                    e
                    for e in sandbox.slack.ephemerals_for(user, conversation or "")
                    if e.get("message_ts") == ts
                ),
                None,
            )
        blocks = (message or {}).get("blocks") or []
    stored = find_element(blocks, block_id, action_id)
    element = stored or {"type": kind}
    action: JSON = {"action_id": action_id, "block_id": block_id, "type": element.get("type", kind)}
    action.update(selection(element, value, values, for_action=True))
    if action["type"] == "button" and stored is not None:
        # A button sends the value the app gave it, whatever the page says.
        action.pop("value", None)
        if stored.get("value") is not None:
            action["value"] = stored["value"]
    if view_id:
        response = sandbox.driver.block_actions(user_id=user, actions=[action], view_id=view_id)
    else:
        response = sandbox.driver.block_actions(
            user_id=user, actions=[action], message_ts=ts, channel_id=conversation
        )
    return _acked(response.status, response.elapsed)


def submit(sandbox: SandboxParts, *, user: str, view_id: str, fields: list[JSON]) -> dict[str, str]:
    """Submit a modal; the errors to show beside fields (empty: it moved on)."""
    view = sandbox.slack.view(view_id)
    if view is None:
        raise Refused("That modal is gone.")
    given = {(str(f.get("block_id")), str(f.get("action_id"))): f for f in fields}
    values: JSON = {}
    errors: dict[str, str] = {}
    for block, element in input_elements(view.get("blocks") or []):
        block_id, action_id = block.get("block_id", ""), element.get("action_id", "")
        field = given.get((block_id, action_id), {})
        state = selection(element, field.get("value"), field.get("values"), for_action=False)
        values.setdefault(block_id, {})[action_id] = {"type": element.get("type"), **state}
        problem = client_check(block, element, field)
        if problem:
            errors[block_id] = problem
    sandbox.slack.keep_input(view_id, values)
    if errors:
        return errors
    response = sandbox.driver.view_submission(user_id=user, view_id=view_id, state_values=values)
    if response.status != 200:
        return {"": f"The app did not accept this (HTTP {response.status}); try again."}
    return sandbox.slack.answer_submission(view_id, response.body)


def close(sandbox: SandboxParts, *, user: str, view_id: str, all_views: bool = False) -> None:
    """Cancel (or the X): Slack tells the app only when the view asked (notify_on_close)."""
    view = sandbox.slack.view(view_id)
    if view is None:
        return
    if view.get("notify_on_close"):
        sandbox.driver.view_closed(user_id=user, view_id=view_id, is_cleared=all_views)
    sandbox.slack.close_modal(view_id, all_views=all_views)


def open_home(sandbox: SandboxParts, *, user: str) -> float:
    response = sandbox.driver.app_home_opened(user)
    return _acked(response.status, response.elapsed)


# -- Block Kit: finding elements, and their values in Slack's shapes ---------------


def _elements(block: JSON) -> Iterator[JSON]:
    for element in [*(block.get("elements") or []), block.get("accessory"), block.get("element")]:
        if isinstance(element, dict) and element.get("action_id"):
            yield element


def find_element(blocks: list[JSON], block_id: str, action_id: str) -> JSON | None:
    for block in blocks:
        if block.get("block_id") != block_id:
            continue
        for element in _elements(block):
            if element.get("action_id") == action_id:
                return element
    return None


def input_elements(blocks: list[JSON]) -> Iterator[tuple[JSON, JSON]]:
    for block in blocks:
        if block.get("type") == "input" and isinstance(block.get("element"), dict):
            yield block, block["element"]


def _options(element: JSON) -> list[JSON]:
    found = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        found.extend(group.get("options") or [])
    return found


def selection(element: JSON, value: Any, values: Any, *, for_action: bool) -> JSON:
    """The element's current value as Slack puts it in an action or in view state."""
    kind = element.get("type", "")
    chosen = [str(v) for v in values] if isinstance(values, list) else []
    single = None if value in (None, "") else str(value)
    by_value = {str(o.get("value")): o for o in _options(element)}
    if kind in ("static_select", "external_select", "radio_buttons", "overflow"):
        option = by_value.get(single or "")
        return {"selected_option": option}
    if kind in ("multi_static_select", "multi_external_select", "checkboxes"):
        return {"selected_options": [by_value[v] for v in chosen if v in by_value]}
    if kind == "datepicker":
        return {"selected_date": single}
    if kind == "timepicker":
        return {"selected_time": single}
    if kind == "users_select":
        return {"selected_user": single}
    if kind == "multi_users_select":
        return {"selected_users": chosen}
    if kind == "conversations_select":
        return {"selected_conversation": single}
    if kind == "multi_conversations_select":
        return {"selected_conversations": chosen}
    if kind == "channels_select":
        return {"selected_channel": single}
    if kind == "multi_channels_select":
        return {"selected_channels": chosen}
    if kind == "button":
        return {"value": single} if for_action and single is not None else {}
    return {"value": single}


def client_check(block: JSON, element: JSON, field: JSON) -> str | None:
    """What Slack's client refuses to send: an empty required field, text too short or long."""
    value = field.get("value")
    values = field.get("values")
    empty = (value in (None, "")) and not values
    if empty:
        return None if block.get("optional") else REQUIRED
    if isinstance(value, str):
        low, high = element.get("min_length"), element.get("max_length")
        if isinstance(low, int) and len(value) < low:
            return f"Please enter at least {low} characters."
        if isinstance(high, int) and len(value) > high:
            return f"Please enter no more than {high} characters."
    return None


def _acked(status: int, elapsed: float) -> float:
    if status != 200:
        raise Refused(f"The app answered HTTP {status}; see the developer pane.")
    return round(elapsed * 1000, 1)
