"""No Slack listeners: only the hourly retention tick, registered with the app."""

from __future__ import annotations

from slack_bolt import App

from bot.governance.jobs import RETENTION_TICK_SECONDS, run_retention
from bot.services import Services


def register(app: App, services: Services) -> None:
    services.add_tick("retention", lambda: run_retention(services), RETENTION_TICK_SECONDS)
