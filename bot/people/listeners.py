"""Keep people current as Slack changes them (team_join; user_change also reaches
proof, through bot.proof.home_listeners.HomeListeners.user_change)."""

from __future__ import annotations

import logging
from typing import Any

from bot.people import service
from bot.services import Services
from bot.slack import install

log = logging.getLogger(__name__)


class PeopleListeners:
    def __init__(self, services: Services) -> None:
        self.services = services

    def on_user(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        """Bolt acks events itself before the listener runs."""
        user = event.get("user")
        if not isinstance(user, dict):
            return
        scope = install.request_scope(self.services, body)
        with self.services.session() as session:
            person = service.apply_slack_user(session, user=user, workspace_id=scope)
            if person is not None:
                log.info("person %s updated from %s", person.slack_user_id, event.get("type"))
