"""Slack events of the delivery engine: the triggers (a message, a reaction, a channel
joined, Home opened) and the uninstall (`app_uninstalled`, `tokens_revoked`).
Its ticks (plan, send, reap) are in jobs.py, the trigger webhook in hooks.py."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext
from slack_sdk.oauth.installation_store import InstallationStore

from bot.delivery import triggers, uninstall
from bot.services import Services
from bot.slack import install

log = logging.getLogger(__name__)


def trigger_listener(
    services: Services, to_firing: Callable[[dict[str, Any]], triggers.Firing | None]
) -> Callable[[dict[str, Any]], None]:
    """A listener that fires the triggers `to_firing` finds in an event."""

    def handler(event: dict[str, Any]) -> None:
        firing = to_firing(event)
        if firing is None:
            return
        with services.session() as session:
            queued = triggers.fire(
                session, settings=services.settings, now=services.clock.now(), firing=firing
            )
        if queued:
            log.info(
                "%s trigger queued %d nudge(s) for %s", firing.source, len(queued), firing.user_id
            )

    return handler


def joined(event: dict[str, Any]) -> triggers.Firing | None:
    user = event.get("user")
    return (
        triggers.Firing(str(user), "channel_join", channel=event.get("channel")) if user else None
    )


def message(event: dict[str, Any]) -> triggers.Firing | None:
    # People's own messages only: no edits, joins, bots or the bot's own posts.
    if event.get("subtype") or event.get("bot_id") or not event.get("user"):
        return None
    return triggers.Firing(
        str(event["user"]),
        "message",
        channel=event.get("channel"),
        text=str(event.get("text") or ""),
    )


def reaction(event: dict[str, Any]) -> triggers.Firing | None:
    user = event.get("user")
    channel = (event.get("item") or {}).get("channel")
    if not user:
        return None
    return triggers.Firing(str(user), "reaction", channel=channel, reaction=event.get("reaction"))


def home(event: dict[str, Any]) -> triggers.Firing | None:
    user = event.get("user")
    return triggers.Firing(str(user), "app_home") if user and event.get("tab") == "home" else None


class UninstallListeners:
    """The app removed from a workspace: tokens forgotten, its queued nudges cancelled."""

    def __init__(self, services: Services, store: InstallationStore | None) -> None:
        self.services = services
        self.store = store

    def app_uninstalled(self, context: BoltContext, body: dict[str, Any]) -> None:
        team_id, enterprise_id = install.event_workspace(context, body)
        uninstall.handle_uninstall(
            self.services, team_id=team_id, enterprise_id=enterprise_id, store=self.store
        )

    def tokens_revoked(
        self, event: dict[str, Any], context: BoltContext, body: dict[str, Any]
    ) -> None:
        team_id, enterprise_id = install.event_workspace(context, body)
        uninstall.handle_tokens_revoked(
            self.services,
            team_id=team_id,
            event=event,
            enterprise_id=enterprise_id,
            store=self.store,
        )
