"""Bolt handlers of the Workflow Builder steps (listed in bot/surface.py).

Bolt acks a `function_executed` event at once; each handler reads what it needs
from Slack, does its work in one transaction, and only then ends the step with
`complete(outputs=...)`, so a workflow's next step never sees an id that is not
committed. A refusal (`StepRefused`) is raised and bot/slack/router.py ends the
step with `fail(error=...)` in its words; so does any unexpected error.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.errors import Refusal
from bot.people.roles import lead_directory
from bot.services import Services
from bot.slack import install
from bot.slack.acks import acks_first
from bot.workflows import service

log = logging.getLogger(__name__)
NOT_A_LEAD = "Only L&D leads get a workflow key, so there is none for you."


class WorkflowListeners:
    def __init__(self, services: Services) -> None:
        self.services = services

    def send_nudge(self, inputs: dict[str, Any], complete: Any) -> None:
        request = service.send_request(inputs)
        with self.services.session() as session:
            outputs = service.send(
                session,
                settings=self.services.settings,
                now=self.services.clock.now(),
                request=request,
                workspace_id=install.current_scope(self.services),
            )
        log.info("workflow step sent a nudge: %s", outputs["status"])
        complete(outputs=outputs)

    def enroll(
        self,
        inputs: dict[str, Any],
        complete: Any,
        client: WebClient,
        context: BoltContext,
        body: dict[str, Any],
    ) -> None:
        request = service.enroll_request(inputs)
        channel = service.needs_members(self.services.settings, request)
        members = _members(client, channel) if channel else None
        team_id, _ = install.event_workspace(context, body)
        scope = install.current_scope(self.services)
        with self.services.session() as session:
            enrolled_by = service.enroller(
                session,
                settings=self.services.settings,
                leads=lead_directory(self.services),
                request=request,
                team_id=team_id,
                workspace_id=scope,
                channel_members=members,
            )
            outputs = service.enroll(
                session,
                settings=self.services.settings,
                now=self.services.clock.now(),
                request=request,
                enrolled_by=enrolled_by,
                workspace_id=scope,
            )
        log.info("workflow step enrolled: %s", outputs["summary"])
        complete(outputs=outputs)

    @acks_first  # like every /nudges verb: the answer goes to response_url
    def key_command(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        """`/nudges workflow-key`: an L&D lead's key for the enroll step."""
        ack()
        user = str(command["user_id"])
        team_id = str(command.get("team_id") or "")
        with self.services.session() as session:
            is_lead = lead_directory(self.services).is_ld_lead(
                session, user, workspace_id=install.current_scope(self.services)
            )
        if not is_lead:
            raise Refusal(NOT_A_LEAD)
        secret = self.services.settings.slack_signing_secret
        assert secret is not None  # build_app refuses to start without it
        key = service.workflow_key(secret.get_secret_value(), team_id=team_id, lead=user)
        respond(
            text=(
                f"Your Nudgebot workflow key: `{key}`\n"
                'Paste it into the *Nudgebot key* of an "Enroll in a Nudgebot program" '
                "step: that workflow may then enroll people, recorded as enrolled by you. "
                "It works while you are an L&D lead; treat it like a password."
            ),
            response_type="ephemeral",
        )


def _members(client: WebClient, channel: str) -> list[str]:
    """Everyone in `channel` now (conversations.members, every page)."""
    members: list[str] = []
    cursor = ""
    try:
        while True:
            page = client.conversations_members(channel=channel, cursor=cursor, limit=1000)
            members.extend(page.get("members") or [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                return members
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else "unknown"
        raise service.StepRefused(
            f"Nudgebot cannot read the members of <#{channel}> ({error}); invite it to the "
            "channel and run the workflow again."
        ) from None
