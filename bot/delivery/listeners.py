"""The delivery engine's ticks (plan, send, reap) and its triggers (events, webhooks)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.delivery import triggers
from bot.delivery.planner import plan
from bot.delivery.sender import Sender, SenderRefused
from bot.services import HookResponse, Services

log = logging.getLogger(__name__)
PLAN_SECONDS = 60
SEND_SECONDS = 1
REAP_SECONDS = 15


class _Ticks:
    """The periodic work of one process; APScheduler calls these (max one at a time each)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._sender: Sender | None = None
        self._refused_at = 0.0

    @property
    def sender(self) -> Sender:
        if self._sender is None:
            self._sender = Sender(self.services)
            # Rows a send tick left in hand (a slow answer) are recorded on the way out.
            self.services.closers.append(lambda: self._sender and self._sender.close(timeout=5))
        return self._sender

    def plan(self) -> None:
        with self.services.session() as session:
            result = plan(session, settings=self.services.settings, now=self.services.clock.now())
        if result.inserted or result.moved:
            log.info("planned %d new nudge(s), moved %d", result.inserted, result.moved)

    def send(self) -> None:
        try:
            stats = self.sender.send_due(max_seconds=20.0)
        except SenderRefused as exc:
            if time.monotonic() - self._refused_at > 60:
                log.error("not sending: %s", exc)
                self._refused_at = time.monotonic()
            return
        if stats.claimed:
            log.info(
                "sent %d, reconciled %d, failed %d, deferred %d, retrying %d, skipped %d",
                stats.sent, stats.reconciled, stats.failed, stats.deferred, stats.retried,
                stats.skipped,
            )  # fmt: skip

    def reap(self) -> None:
        self.sender.reap()


def register(app: App, services: Services) -> None:
    ticks = _Ticks(services)
    services.add_tick("delivery-plan", ticks.plan, PLAN_SECONDS)
    services.add_tick("delivery-send", ticks.send, SEND_SECONDS)
    services.add_tick("delivery-reap", ticks.reap, REAP_SECONDS)
    services.add_hook("trigger", lambda body, headers: _hook(services, body, headers))
    for event_type, to_firing in _EVENTS.items():
        app.event(event_type)(_on_event(services, to_firing))


def _hook(services: Services, body: bytes, headers: dict[str, str]) -> HookResponse:
    result = triggers.handle_hook(
        services.session, services.settings, services.clock.now(), headers, body
    )
    return HookResponse(result.status, result.body)


def _on_event(
    services: Services, to_firing: Callable[[dict[str, Any]], triggers.Firing | None]
) -> Callable[[dict[str, Any]], None]:
    def handler(event: dict[str, Any]) -> None:
        firing = to_firing(event)
        if firing is None:
            return
        with services.session() as session:
            queued = triggers.fire(
                session, settings=services.settings, now=services.clock.now(), firing=firing
            )
        if queued:
            log.info("%s trigger queued %d nudge(s) for %s", firing.source, len(queued),
                     firing.user_id)  # fmt: skip

    return handler


def _joined(event: dict[str, Any]) -> triggers.Firing | None:
    user = event.get("user")
    return (
        triggers.Firing(str(user), "channel_join", channel=event.get("channel")) if user else None
    )


def _message(event: dict[str, Any]) -> triggers.Firing | None:
    # People's own messages only: no edits, joins, bots or the bot's own posts.
    if event.get("subtype") or event.get("bot_id") or not event.get("user"):
        return None
    return triggers.Firing(str(event["user"]), "message", channel=event.get("channel"),
                           text=str(event.get("text") or ""))  # fmt: skip


def _reaction(event: dict[str, Any]) -> triggers.Firing | None:
    user = event.get("user")
    channel = (event.get("item") or {}).get("channel")
    if not user:
        return None
    return triggers.Firing(str(user), "reaction", channel=channel, reaction=event.get("reaction"))


def _home(event: dict[str, Any]) -> triggers.Firing | None:
    user = event.get("user")
    return triggers.Firing(str(user), "app_home") if user and event.get("tab") == "home" else None


_EVENTS: dict[str, Callable[[dict[str, Any]], triggers.Firing | None]] = {
    "member_joined_channel": _joined,
    "message": _message,
    "reaction_added": _reaction,
    "app_home_opened": _home,
}
