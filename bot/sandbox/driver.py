"""The local Slack's driver, keeping what it sent the bot for the developer pane."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from bot.localslack import DriverResponse, SlackDriver

KEEP_REQUESTS = 500


@dataclass(frozen=True)
class SentRequest:
    n: int
    time: float
    kind: str
    summary: str
    status: int
    ack_ms: float


class SandboxDriver(SlackDriver):
    """A SlackDriver that remembers each request: what it was and how fast the bot acked."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sent: list[SentRequest] = []
        self._count = 0
        self._sent_lock = threading.Lock()

    def _send(self, body: bytes, headers: dict[str, str]) -> DriverResponse:
        response = super()._send(body, headers)
        kind, summary = describe(body)
        with self._sent_lock:
            self._count += 1
            self._sent.append(
                SentRequest(
                    self._count,
                    time.time(),
                    kind,
                    summary,
                    response.status,
                    round(response.elapsed * 1000, 1),
                )
            )
            del self._sent[:-KEEP_REQUESTS]
        return response

    def sent_since(self, n: int) -> list[SentRequest]:
        with self._sent_lock:
            return [r for r in self._sent if r.n > n]


def describe(body: bytes) -> tuple[str, str]:
    """(kind, a short summary) of a request Slack sends an app."""
    text = body.decode("utf-8", "replace")
    if text.startswith("{"):
        envelope = json.loads(text)
        event = envelope.get("event") or {}
        return "event", str(event.get("type", envelope.get("type", "?")))
    form = parse_qs(text)
    if "payload" in form:
        payload = json.loads(form["payload"][0])
        kind = str(payload.get("type", "?"))
        if kind == "block_actions":
            ids = [a.get("action_id", "?") for a in payload.get("actions", [])]
            return kind, ", ".join(ids)
        view = payload.get("view") or {}
        return kind, str(view.get("callback_id") or payload.get("callback_id") or "")
    if "command" in form:
        return "slash_command", f"{form['command'][0]} {form.get('text', [''])[0]}"[:80]
    return "other", ""
