"""SlackDriver: sends an app what Slack sends it, encoded and signed as Slack does.

Slash commands and interactivity payloads are form-encoded (interactivity as a
single ``payload=<json>`` field), Events API callbacks are JSON; signing and
sending are :mod:`.signed`'s.

With a :class:`LocalSlack` attached (``fake=``), trigger_ids and response_urls come
from it, so an app's views.open / response_url calls behave as they would in Slack.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

from .signed import JSON, JSON_TYPE, DriverResponse, SignedSender


class SlackDriver(SignedSender):
    """Plays Slack's side of slash commands, interactivity and the Events API."""

    # -- slash commands ------------------------------------------------------

    def slash_command(
        self,
        command: str,
        text: str = "",
        *,
        user_id: str,
        channel_id: str = "C0GENERAL",
        team_id: str | None = None,
        user_name: str | None = None,
        channel_name: str | None = None,
        trigger_id: str | None = None,
        response_url: str | None = None,
    ) -> DriverResponse:
        """POST a slash command invocation, fields in the order Slack sends them."""
        trigger = trigger_id or self._trigger(user_id)
        url = response_url or self._response_url(channel_id=channel_id, user_id=user_id)
        fields = [
            ("token", self.verification_token),
            ("team_id", team_id or self.team_id),
            ("team_domain", self.team_domain),
            ("channel_id", channel_id),
            ("channel_name", channel_name or self._channel_name(channel_id)),
            ("user_id", user_id),
            ("user_name", user_name or self._user(user_id)["username"]),
            ("command", command),
            ("text", text),
            ("api_app_id", self.api_app_id),
            ("is_enterprise_install", "false"),
            ("response_url", url),
            ("trigger_id", trigger),
        ]
        return self._form(fields, trigger_id=trigger, response_url=url)

    # -- interactivity -------------------------------------------------------

    def block_actions(
        self,
        *,
        user_id: str,
        actions: Sequence[JSON],
        message: JSON | None = None,
        message_ts: str | None = None,
        channel_id: str | None = None,
        view: JSON | None = None,
        view_id: str | None = None,
        container: JSON | None = None,
        state_values: JSON | None = None,
        trigger_id: str | None = None,
        response_url: str | None = None,
    ) -> DriverResponse:
        """A click (or select) in a message or a view. Each action needs at least
        ``action_id``; type, block_id, text and value are filled in from the
        message's or view's blocks when the element is found there."""
        if view is None and view_id and self.fake is not None:
            view = self.fake.view(view_id)
        if message is None and message_ts and channel_id and self.fake is not None:
            message = self.fake.message(channel_id, message_ts)
        blocks = (view or message or {}).get("blocks") or []
        payload: JSON = {
            "type": "block_actions",
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "container": container or self._container(message, channel_id, view),
            "trigger_id": trigger_id or self._trigger(user_id, view["id"] if view else None),
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "actions": [self._action(a, blocks) for a in actions],
        }
        if channel_id:
            payload["channel"] = {"id": channel_id, "name": self._channel_name(channel_id)}
        if view is not None:
            payload["view"] = {
                **view,
                "state": {"values": state_values or view.get("state", {}).get("values", {})},
            }
        else:
            payload["state"] = {"values": state_values or {}}
            ts = (message or {}).get("ts")
            payload["response_url"] = response_url or self._response_url(
                channel_id=channel_id, user_id=user_id, message_ts=ts
            )
        if message is not None:
            payload["message"] = message
        return self._interaction(payload)

    @staticmethod
    def _container(message: JSON | None, channel_id: str | None, view: JSON | None) -> JSON:
        if view is not None:
            return {"type": "view", "view_id": view.get("id")}
        return {
            "type": "message",
            "message_ts": (message or {}).get("ts"),
            "channel_id": channel_id,
            "is_ephemeral": False,
        }

    def _action(self, action: JSON, blocks: Sequence[Any]) -> JSON:
        block_id, element = _find_element(blocks, action.get("action_id"))
        filled: JSON = {"type": "button", "block_id": block_id or secrets.token_urlsafe(4)[:5]}
        if element is not None:
            filled.update(
                {k: element[k] for k in ("type", "text", "value", "style") if k in element}
            )
        filled.update(action)
        filled.setdefault("action_ts", self._action_ts())
        if filled.get("type") == "checkboxes":
            return _checkbox_action(filled, element)
        return filled

    def _view_for(self, view_id: str | None, view: JSON | None, callback_id: str | None) -> JSON:
        if view is None and view_id and self.fake is not None:
            view = self.fake.view(view_id)
        if view is None:
            view = {
                "id": view_id or f"V0{secrets.token_hex(4).upper()}",
                "type": "modal",
                "blocks": [],
                "private_metadata": "",
                "callback_id": callback_id or "",
                "hash": f"{int(self.clock())}.x",
                "title": {"type": "plain_text", "text": "Modal"},
            }
        return dict(view)

    def view_submission(
        self,
        *,
        user_id: str,
        view_callback_id: str | None = None,
        state_values: JSON,
        private_metadata: str | None = None,
        view_id: str | None = None,
        view: JSON | None = None,
    ) -> DriverResponse:
        """Submit a modal. With a local Slack and a ``view_id`` the stored view
        (blocks, hash, callback_id, private_metadata) is what gets submitted."""
        submitted = self._view_for(view_id, view, view_callback_id)
        if view_callback_id is not None:
            submitted["callback_id"] = view_callback_id
        if private_metadata is not None:
            submitted["private_metadata"] = private_metadata
        submitted.setdefault("private_metadata", "")
        submitted["state"] = {"values": state_values}
        payload: JSON = {
            "type": "view_submission",
            "team": self._team(),
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "trigger_id": self._trigger(user_id, submitted.get("id")),
            "view": submitted,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self._interaction(payload)

    def view_closed(
        self,
        *,
        user_id: str,
        view_callback_id: str | None = None,
        view_id: str | None = None,
        view: JSON | None = None,
        is_cleared: bool = False,
    ) -> DriverResponse:
        """The user closed a modal (sent only if it had notify_on_close)."""
        closed = self._view_for(view_id, view, view_callback_id)
        if view_callback_id is not None:
            closed["callback_id"] = view_callback_id
        payload: JSON = {
            "type": "view_closed",
            "team": self._team(),
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "view": closed,
            "is_cleared": is_cleared,
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self._interaction(payload)

    def shortcut(self, callback_id: str, *, user_id: str) -> DriverResponse:
        """A global shortcut."""
        payload: JSON = {
            "type": "shortcut",
            "token": self.verification_token,
            "action_ts": self._action_ts(),
            "team": self._team(),
            "user": self._user(user_id),
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self._trigger(user_id),
        }
        return self._interaction(payload)

    def message_action(
        self, callback_id: str, *, user_id: str, channel_id: str, message: JSON
    ) -> DriverResponse:
        """A message shortcut on ``message`` (a dict with at least ``ts``)."""
        payload: JSON = {
            "type": "message_action",
            "token": self.verification_token,
            "action_ts": self._action_ts(),
            "team": self._team(),
            "user": self._user(user_id),
            "channel": {"id": channel_id, "name": self._channel_name(channel_id)},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self._trigger(user_id),
            "response_url": self._response_url(channel_id=channel_id, user_id=user_id),
            "message_ts": message.get("ts"),
            "message": message,
        }
        return self._interaction(payload)

    # -- Events API ----------------------------------------------------------

    def new_event_id(self) -> str:
        return f"Ev{next(self._serial):03d}{secrets.token_hex(4).upper()}"

    def event(
        self,
        event: JSON,
        *,
        team_id: str | None = None,
        event_id: str | None = None,
        event_time: int | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> DriverResponse:
        """An ``event_callback``. With ``retry_num`` it is a redelivery: Slack
        adds X-Slack-Retry-Num / X-Slack-Retry-Reason and keeps the event_id."""
        team = team_id or self.team_id
        envelope: JSON = {
            "token": self.verification_token,
            "team_id": team,
            "context_team_id": team,
            "context_enterprise_id": None,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or self.new_event_id(),
            "event_time": event_time if event_time is not None else int(self.clock()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{secrets.token_urlsafe(24)}",
        }
        headers: dict[str, str | None] = {}
        if retry_num is not None:
            headers = {
                "X-Slack-Retry-Num": str(retry_num),
                "X-Slack-Retry-Reason": retry_reason or "http_timeout",
            }
        body = json.dumps(envelope, separators=(",", ":")).encode()
        return self.raw(body, headers=headers, content_type=JSON_TYPE)

    def redeliver(
        self, sent: DriverResponse, *, retry_num: int = 1, retry_reason: str = "http_timeout"
    ) -> DriverResponse:
        """Slack sending an Events API callback again (same body and event_id,
        signed anew, with X-Slack-Retry-Num / X-Slack-Retry-Reason)."""
        headers: dict[str, str | None] = {
            "X-Slack-Retry-Num": str(retry_num),
            "X-Slack-Retry-Reason": retry_reason,
        }
        again = self.raw(sent.sent_body, headers=headers, content_type=JSON_TYPE)
        again.function_execution_id = sent.function_execution_id
        return again

    def url_verification(self, challenge: str) -> DriverResponse:
        body = json.dumps(
            {"token": self.verification_token, "challenge": challenge, "type": "url_verification"}
        )
        return self.raw(body.encode(), content_type=JSON_TYPE)

    # -- common events, shaped as Slack delivers them ------------------------

    def app_home_opened(self, user_id: str, *, tab: str = "home") -> DriverResponse:
        event: JSON = {
            "type": "app_home_opened",
            "user": user_id,
            "tab": tab,
            "event_ts": self._action_ts(),
            "channel": self.fake.dm_channel_id(user_id) if self.fake else "D" + user_id[1:],
        }
        home = self.fake.home_view(user_id) if self.fake else None
        if tab == "home" and home is not None:
            event["view"] = home
        return self.event(event)

    def message_event(
        self,
        channel_id: str,
        *,
        user_id: str,
        text: str,
        thread_ts: str | None = None,
        store: bool = True,
    ) -> DriverResponse:
        """A person's message. With a local Slack (and ``store``) the message is
        first added to the conversation, as it exists before Slack tells you."""
        if self.fake is not None and store:
            ts = self.fake.add_message(channel_id, user=user_id, text=text, thread_ts=thread_ts)
        else:
            ts = self._action_ts()
        kinds = {"D": "im", "G": "group", "C": "channel"}
        event: JSON = {
            "type": "message",
            "channel": channel_id,
            "user": user_id,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "channel_type": kinds.get(channel_id[:1], "channel"),
            "team": self.team_id,
            "client_msg_id": str(uuid.uuid4()),
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return self.event(event)

    def member_joined_channel(
        self, channel_id: str, *, user_id: str, inviter: str | None = None
    ) -> DriverResponse:
        event: JSON = {
            "type": "member_joined_channel",
            "user": user_id,
            "channel": channel_id,
            "channel_type": "G" if channel_id.startswith("G") else "C",
            "team": self.team_id,
            "event_ts": self._action_ts(),
        }
        if inviter:
            event["inviter"] = inviter
        return self.event(event)

    def reaction_added(
        self,
        channel_id: str,
        *,
        user_id: str,
        reaction: str,
        item_ts: str,
        item_user: str | None = None,
    ) -> DriverResponse:
        event: JSON = {
            "type": "reaction_added",
            "user": user_id,
            "reaction": reaction,
            "item": {"type": "message", "channel": channel_id, "ts": item_ts},
            "event_ts": self._action_ts(),
        }
        if item_user:
            event["item_user"] = item_user
        return self.event(event)

    # -- Workflow Builder: the app's custom steps ----------------------------

    def function_executed(
        self,
        callback_id: str,
        inputs: JSON,
        *,
        function: JSON | None = None,
        event_id: str | None = None,
    ) -> DriverResponse:
        """A workflow reached the app's custom step ``callback_id`` with ``inputs``:
        the ``function_executed`` event, as Slack sends it (Events API envelope,
        signed). ``function``: the step's definition from the app manifest
        (``functions.<callback_id>``: title, description, input_parameters,
        output_parameters), sent in the event as Slack does. With a local Slack
        the execution and its workflow token (``bot_access_token``) come from it,
        so functions.completeSuccess/completeError behave as in Slack; the
        answer's ``function_execution_id`` names it."""
        definition = function or {}
        outputs = definition.get("output_parameters")
        if self.fake is not None:
            execution = self.fake.start_function(callback_id, inputs, output_parameters=outputs)
            execution_id, token = execution.id, execution.bot_access_token
            workflow_execution_id = execution.workflow_execution_id
        else:
            execution_id = f"Fx{secrets.token_hex(5).upper()}"
            token = f"xwfp-{secrets.token_hex(12)}"
            workflow_execution_id = f"Wx{secrets.token_hex(5).upper()}"
        now = int(self.clock())
        event: JSON = {
            "type": "function_executed",
            "function": {
                "id": f"Fn{secrets.token_hex(5).upper()}",
                "callback_id": callback_id,
                "title": definition.get("title", callback_id),
                "description": definition.get("description", ""),
                "type": "app",
                "input_parameters": _parameter_list(definition.get("input_parameters")),
                "output_parameters": _parameter_list(outputs),
                "app_id": self.api_app_id,
                "date_created": now,
                "date_updated": now,
                "date_deleted": 0,
            },
            "inputs": inputs,
            "function_execution_id": execution_id,
            "workflow_execution_id": workflow_execution_id,
            "event_ts": self._action_ts(),
            "bot_access_token": token,
        }
        response = self.event(event, event_id=event_id)
        response.function_execution_id = execution_id
        return response


def _parameter_list(declared: JSON | None) -> list[JSON]:
    """The manifest's parameters (name -> definition) as the event lists them."""
    return [{"name": name, **spec} for name, spec in (declared or {}).items()]


def _find_element(blocks: Sequence[Any], action_id: Any) -> tuple[str | None, JSON | None]:
    """The (block_id, element) holding an action_id in a list of blocks."""
    for block in blocks:
        if not isinstance(block, dict):
            continue
        candidates = [*(block.get("elements") or []), block.get("accessory"), block.get("element")]
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return block.get("block_id"), element
    return None, None


def _checkbox_action(action: JSON, element: JSON | None) -> JSON:
    """A checkbox action as Slack sends it: every option ticked now, in full, in
    ``selected_options`` (empty when the last box was unticked), and nothing about
    what was ticked before: Slack's action has no ``initial_options``."""
    if "initial_options" in action:
        raise ValueError("Slack's checkbox action carries no initial_options")
    known = {o.get("value"): o for o in (element or {}).get("options") or []}
    ticked = action.get("selected_options") or []
    selected = [{**known.get(o.get("value"), {}), **o} for o in ticked]
    keep = ("type", "block_id", "action_id", "action_ts")
    return {**{k: action[k] for k in keep if k in action}, "selected_options": selected}
