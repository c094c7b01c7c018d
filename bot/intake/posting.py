"""Intake's posts to Slack: the triage message (posted, refreshed, reposted by jobs.py)
and the DMs and ephemeral notes around it. Used by listeners.py and jobs.py."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.intake import blocks, service
from bot.intake.models import IntakeRequest
from bot.people.roles import lead_directory
from bot.services import Services
from bot.slack import blocks as kit

log = logging.getLogger(__name__)

# An answer from Slack saying no, or no answer at all (URLError and timeouts are OSErrors).
SLACK_FAILURES = (SlackApiError, OSError)


class TriagePosting:
    def __init__(self, services: Services) -> None:
        self.services = services

    def _after_submit(
        self, client: WebClient, request: IntakeRequest, *, reply: str | None, edited: bool
    ) -> None:
        if edited and request.triage_ts and request.triage_channel_id:
            self._refresh_triage(client, request)
            note = (
                f"\n*Answer:* {kit.escape_within(reply, 2500)}" if reply and reply.strip() else ""
            )
            self._safe_post(
                client,
                channel=request.triage_channel_id,
                thread_ts=request.triage_ts,
                text=f"<@{request.requester_slack_user_id}> updated the request.{note}",
            )
            self.dm(client, request.requester_slack_user_id, _thanks(request, edited=True))
            return
        posted = self.post_triage(client, request)
        if posted:
            self.dm(client, request.requester_slack_user_id, _thanks(request, edited=edited))

    def post_triage(self, client: WebClient, request: IntakeRequest) -> bool:
        channel = self.services.settings.triage_channel
        if channel is None:
            self._no_triage_channel(client, request)
            return False
        score = service.score_of(request, today=self.services.clock.now().date())
        try:
            response = client.chat_postMessage(
                channel=channel,
                text=blocks.triage_text(request),
                blocks=blocks.triage_blocks(request, score),
            )
        except SLACK_FAILURES as exc:
            log.warning("intake: triage post of %s failed: %s", request.id, _slack_error(exc))
            self.dm(
                client,
                request.requester_slack_user_id,
                f"Your training request *#{request.id}* is saved, but we could not post it to "
                "the L&amp;D triage channel just now. We will keep trying; nothing you wrote "
                "is lost.",
            )
            return False
        with self.services.session() as session:
            service.mark_posted(
                session, request_id=request.id, channel_id=channel, ts=str(response["ts"])
            )
        request.triage_channel_id, request.triage_ts = channel, str(response["ts"])
        return True

    def _no_triage_channel(self, client: WebClient, request: IntakeRequest) -> None:
        log.warning("intake: NUDGEBOT_TRIAGE_CHANNEL is not set; request %s waits", request.id)
        self.dm(
            client,
            request.requester_slack_user_id,
            f"Your training request *#{request.id}* is saved, but it could not be posted for "
            "triage: no triage channel is configured. The L&amp;D leads have been told; nothing "
            "you wrote is lost.",
        )
        for lead in sorted(lead_directory(self.services).configured_leads()):
            self.dm(
                client,
                lead,
                f"Training request *#{request.id}* from <@{request.requester_slack_user_id}> is "
                "waiting, but NUDGEBOT_TRIAGE_CHANNEL is not set, so it was not posted for triage. "
                "Set it to a channel id (and invite the bot there); waiting requests are posted "
                "then. Until then, see them with `/intake list`.",
            )

    def _refresh_triage(self, client: WebClient, request: IntakeRequest) -> None:
        if not (request.triage_channel_id and request.triage_ts):
            return
        score = service.score_of(request, today=self.services.clock.now().date())
        try:
            client.chat_update(
                channel=request.triage_channel_id,
                ts=request.triage_ts,
                text=blocks.triage_text(request),
                blocks=blocks.triage_blocks(request, score),
            )
        except SLACK_FAILURES as exc:
            log.warning("intake: triage update of %s failed: %s", request.id, _slack_error(exc))

    # Slack helpers --------------------------------------------------------------------

    def dm(
        self, client: WebClient, user: str, text: str, dm_blocks: list[dict[str, Any]] | None = None
    ) -> None:
        self._safe_post(client, channel=user, text=text, blocks=dm_blocks)

    def _safe_post(self, client: WebClient, **kwargs: Any) -> None:
        try:
            client.chat_postMessage(**{k: v for k, v in kwargs.items() if v is not None})
        except SLACK_FAILURES as exc:
            log.warning("intake: a message could not be posted: %s", _slack_error(exc))


def _thanks(request: IntakeRequest, *, edited: bool) -> str:
    if edited:
        return f"Thanks! Your answers on training request *#{request.id}* went to L&amp;D."
    return (
        f"Thanks! Your training request *#{request.id}* is in the L&amp;D triage queue. "
        "You will get a message here at each decision."
    )


def _slack_error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError) and exc.response is not None:
        return str(exc.response.get("error"))
    return type(exc).__name__
