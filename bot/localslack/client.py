"""What Slack's own client does with the answers an app gives.

The Web API half of the local Slack stores what an app posts; this half is the
Slack app on a person's screen: which modal is open for them, what a
``view_submission`` answer (``response_action``) does to it, how a slash
command's acknowledgement shows, and a change counter a page can wait on so it
shows what changed without polling the whole state.
"""

from __future__ import annotations

import copy
import json
import threading
from typing import Any

from .records import JSON, ViewRecord, with_block_ids
from .teams import Teams

#: Web API methods after which a person's screen may look different.
SCREEN_METHODS = (
    "chat.",
    "views.",
    "reactions.",
    "pins.",
    "files.",
    "conversations.open",
    "conversations.invite",
    "conversations.kick",
)


class ClientSide(Teams):
    """The Slack client's side: open modals per person, submission answers, a change counter."""

    _version = 0
    _changed: threading.Condition | None = None
    _closed_stacks: set[str] | None = None

    # -- the change counter --------------------------------------------------

    @property
    def _client_root(self) -> ClientSide:
        """Team handles share their root's screen state."""
        root = self._root
        return root if isinstance(root, ClientSide) else self

    def _change_condition(self) -> threading.Condition:
        root = self._client_root
        with self._lock:
            if root._changed is None:
                root._changed = threading.Condition()
            return root._changed

    def note_change(self) -> None:
        """Something a person could see changed (the server calls it after
        screen-changing Web API calls and response_url posts)."""
        condition = self._change_condition()
        with condition:
            self._client_root._version += 1
            condition.notify_all()

    @property
    def version(self) -> int:
        return int(self._client_root._version)

    def wait_for_change(self, since: int, timeout: float) -> int:
        """Block until the version is past ``since`` (or ``timeout`` seconds); the version."""
        condition = self._change_condition()
        with condition:
            condition.wait_for(lambda: self._client_root._version > since, timeout=timeout)
            return int(self._client_root._version)

    def add_message(
        self,
        channel: str,
        *,
        user: str,
        text: str = "",
        thread_ts: str | None = None,
        blocks: list[JSON] | None = None,
        metadata: JSON | None = None,
    ) -> str:
        ts = super().add_message(
            channel, user=user, text=text, thread_ts=thread_ts, blocks=blocks, metadata=metadata
        )
        self.note_change()
        return ts

    # -- modals --------------------------------------------------------------

    def _closed(self) -> set[str]:
        root = self._client_root
        if root._closed_stacks is None:
            root._closed_stacks = set()
        return root._closed_stacks

    def open_modal(self, user_id: str) -> JSON | None:
        """The modal on ``user_id``'s screen: the top of their newest stack, if it is
        still open. A person sees one modal stack at a time: opening another puts
        the older one away for good, so closing the new one shows no old modal."""
        with self._lock:
            closed = self._closed()
            for root_id in reversed(list(self._ws.view_stacks)):
                stack = self._ws.view_stacks[root_id]
                record = self._ws.views.get(stack[-1]) if stack else None
                if record is None or record.user_id != user_id:
                    continue
                return None if root_id in closed else copy.deepcopy(record.view)
            return None

    def close_modal(self, view_id: str, *, all_views: bool = False) -> None:
        """The person pressed Cancel (one view back) or the X (``all_views``)."""
        with self._lock:
            record = self._ws.views.get(view_id)
            if record is None:
                return
            stack = self._ws.view_stacks.get(record.root_id, [])
            if all_views or len(stack) <= 1:
                self._closed().add(record.root_id)
            elif stack and stack[-1] == view_id:
                stack.pop()
        self.note_change()

    def answer_submission(self, view_id: str, body: str) -> dict[str, str]:
        """Apply an app's answer to a ``view_submission`` as Slack does; the
        field errors to show (block_id -> message), empty when the modal moved on.

        No body (or no ``response_action``) closes this view and the ones below
        it stay; ``update`` replaces it, ``push`` adds one, ``clear`` closes all."""
        try:
            answer: Any = json.loads(body) if body.strip() else {}
        except json.JSONDecodeError:
            answer = {}
        action = answer.get("response_action") if isinstance(answer, dict) else None
        if action == "errors":
            errors = answer.get("errors") or {}
            return {str(k): str(v) for k, v in errors.items()}
        with self._lock:
            record = self._ws.views.get(view_id)
            if record is None:
                return {}
            stack = self._ws.view_stacks.get(record.root_id, [])
            if action == "update" and isinstance(answer.get("view"), dict):
                record.view = self._ws.build_view(
                    answer["view"],
                    view_id=view_id,
                    root_id=record.root_id,
                    previous_id=record.view.get("previous_view_id"),
                )
            elif action == "push" and isinstance(answer.get("view"), dict):
                new_id = self._ws.new_id("V")
                view = self._ws.build_view(
                    answer["view"], view_id=new_id, root_id=record.root_id, previous_id=view_id
                )
                self._ws.views[new_id] = ViewRecord(view, record.user_id, record.root_id)
                stack.append(new_id)
            elif action == "clear" or len(stack) <= 1:
                self._closed().add(record.root_id)
            elif stack and stack[-1] == view_id:
                stack.pop()
        self.note_change()
        return {}

    def keep_input(self, view_id: str, values: JSON) -> None:
        """What a person typed into a modal stays there (``view.state``), as in Slack."""
        with self._lock:
            record = self._ws.views.get(view_id)
            if record is not None:
                record.view["state"] = {"values": copy.deepcopy(values)}

    # -- slash commands --------------------------------------------------------

    def show_command_answer(self, channel_id: str, user_id: str, body: str) -> None:
        """A slash command's acknowledgement body, shown as Slack shows it: an
        ephemeral message for the person, or with ``response_type: in_channel``
        a message everybody in the conversation sees. An empty body shows nothing."""
        if not body.strip():
            return
        try:
            answer: Any = json.loads(body)
        except json.JSONDecodeError:
            answer = {"text": body}
        if not isinstance(answer, dict) or not (answer.get("text") or answer.get("blocks")):
            return
        with self._lock:
            channel = self._ws.channels.get(channel_id)
            if answer.get("response_type") == "in_channel" and channel is not None:
                message: JSON = {**self._ws.bot_message_base(), "text": answer.get("text", "")}
                if answer.get("blocks"):
                    message["blocks"] = with_block_ids(answer["blocks"])
                self._ws.append_message(channel, message)
            else:
                self._ws.ephemerals.append(
                    {
                        "source": "command",
                        "channel": channel_id,
                        "user": user_id,
                        "message_ts": self._ws.next_ts(),
                        "text": answer.get("text", ""),
                        "blocks": answer.get("blocks"),
                    }
                )
        self.note_change()

    # -- what a person's screen lists ------------------------------------------

    def directory(self) -> tuple[dict[str, str], dict[str, str]]:
        """(user id -> name shown, channel id -> name) of the workspace, for
        showing mentions and filling user and conversation selects."""
        with self._lock:
            users = {
                u.id: u.real_name or u.display_name or u.name
                for u in self._ws.users.values()
                if not u.deleted
            }
            channels = {c.id: c.name for c in self._ws.channels.values() if not c.is_dm}
            return users, channels

    def member_channels(self, user_id: str) -> list[JSON]:
        """The channels ``user_id`` is in (public and private, not archived), by name."""
        with self._lock:
            found = [
                {"id": c.id, "name": c.name, "kind": "channel", "count": len(c.messages)}
                for c in self._ws.channels.values()
                if not c.is_dm and not c.is_archived and user_id in c.members
            ]
            return sorted(found, key=lambda c: str(c["name"]))

    def message_count(self, channel_id: str) -> int:
        """How many messages a conversation holds (0: none, or no such conversation)."""
        with self._lock:
            found = self._ws.channels.get(channel_id)
            return len(found.messages) if found else 0

    def ephemerals_for(self, user_id: str, channel_id: str) -> list[JSON]:
        """Ephemeral messages ``user_id`` was shown in ``channel_id``, oldest first."""
        with self._lock:
            return [
                copy.deepcopy(e)
                for e in self._ws.ephemerals
                if e.get("user") == user_id and e.get("channel") == channel_id
            ]
