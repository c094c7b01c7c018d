"""Periodic work of proof: pauses ending, silence, fatigue pauses and their DMs."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.proof import blocks, pauses, service
from bot.services import Services
from bot.slack import install

log = logging.getLogger(__name__)
UPKEEP_SECONDS = 60


def upkeep(services: Services) -> None:
    now = services.clock.now()
    settings = services.settings
    with services.session() as session:
        pauses.enforce(session, now=now, settings=settings)
        service.apply_silence(session, now=now, settings=settings)
        pauses.pause_the_fatigued(session, now=now, settings=settings)
        due = pauses.unnotified_fatigue(session)
    for item in due:
        client = install.client_for(services, item.workspace_id)
        if client is None:
            continue  # the app was uninstalled from that workspace
        try:
            client.chat_postMessage(
                channel=item.slack_user_id, **blocks.fatigue_dm(settings.fatigue_limit)
            )
        except SlackApiError as exc:
            log.warning("fatigue DM failed, will retry: %s", exc.response.get("error"))
            continue
        with services.session() as session:
            pauses.mark_notified(session, pause_id=item.pause_id, now=now)
