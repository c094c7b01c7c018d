"""No Slack listeners: only the hourly retention tick, registered with the app."""

from __future__ import annotations

from slack_bolt import App

from bot.governance.cli import run_retention
from bot.services import Services

# Hourly, so a process restarted more often than daily still purges; a run with
# nothing past retention costs one small query per table.
RETENTION_TICK_SECONDS = 3600


def register(app: App, services: Services) -> None:
    services.add_tick("retention", lambda: run_retention(services), RETENTION_TICK_SECONDS)
