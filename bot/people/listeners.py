"""Keep people current as Slack changes them (user_change, team_join)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App

from bot.people import service
from bot.services import Services
from bot.slack import install

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    def on_user(event: dict[str, Any], body: dict[str, Any]) -> None:
        user = event.get("user")
        if not isinstance(user, dict):
            return
        scope = install.request_scope(services, body)
        with services.session() as session:
            person = service.apply_slack_user(session, user=user, workspace_id=scope)
            if person is not None:
                log.info("person %s updated from %s", person.slack_user_id, event.get("type"))

    # Bolt acks events itself before the listener runs.
    app.event("user_change")(on_user)
    app.event("team_join")(on_user)
