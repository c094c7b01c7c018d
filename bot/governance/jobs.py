"""Periodic work of governance: the retention purge."""

from __future__ import annotations

from bot.governance import service
from bot.services import Services

# Hourly, so a process restarted more often than daily still purges; a run with
# nothing past retention costs one small query per table.
RETENTION_TICK_SECONDS = 3600


def run_retention(services: Services) -> dict[str, int]:
    """Delete what is past NUDGEBOT_RETENTION_DAYS; the count per table."""
    with services.session() as session:
        return service.purge_expired(
            session, retention_days=services.settings.retention_days, now=services.clock.now()
        )
