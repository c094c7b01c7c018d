"""Periodic work of intake: post the triage messages that failed earlier."""

from __future__ import annotations

from bot.intake import service
from bot.intake.posting import TriagePosting
from bot.services import Services
from bot.slack import install

REPOST_SECONDS = 60


def repost_unposted(services: Services) -> None:
    """Post the triage messages that failed earlier (Slack error, no channel yet)."""
    if services.settings.triage_channel is None:
        return
    posting = TriagePosting(services)
    with services.session() as session:
        waiting = service.unposted(session)
    for request in waiting:
        client = install.client_for(services, request.workspace_id)
        if client is None:
            continue  # the app was uninstalled from that workspace
        if posting.post_triage(client, request):
            posting.dm(
                client,
                request.requester_slack_user_id,
                f"Your training request *#{request.id}* is now in the L&amp;D triage queue.",
            )
