"""Digest slice on Slack: the impact brief button, people's own privacy choices and
`/nudges digest`. The weekly digest DMs are a tick (jobs.py); the signed KPI
webhook POST /hooks/metric is hooks.py."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.digest import blocks, service
from bot.digest.chart import impact_png
from bot.digest.impact import impact_brief
from bot.errors import UserError
from bot.people.roles import lead_directory
from bot.people.service import find_person
from bot.services import Services
from bot.slack import install
from bot.slack.acks import acks_first

log = logging.getLogger(__name__)
TICK_SECONDS = 300


class DigestListeners:
    """People's privacy choices, the impact brief button, and `/nudges digest`."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def share(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        _set_choice(self.services, body, client, field="share_with_manager")

    def opt_in(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        _set_choice(self.services, body, client, field="enrollment_opt_in")

    def impact(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        user_id = body["user"]["id"]
        program_id = str((body.get("actions") or [{}])[0].get("value", ""))
        post_impact_brief(
            self.services,
            client=client,
            user_id=user_id,
            program_id=program_id,
            workspace_id=install.request_scope(self.services, body),
        )

    @acks_first  # the reply goes to response_url: Slack waits only for the ack
    def nudges_digest(self, ack: Ack, command: dict[str, Any], respond: Any) -> None:
        """`/nudges digest`: a manager's weekly team digest, now (its privacy
        threshold decides what may be shown). A verb of /nudges (bot/surface.py)."""
        ack()
        user = command["user_id"]
        scope = install.current_scope(self.services)
        with self.services.session() as session:
            reports = service.has_reports(session, manager_user_id=user, workspace_id=scope)
            found = (
                service.manager_digest_blocks(
                    session,
                    manager_user_id=user,
                    now=self.services.clock.now(),
                    settings=self.services.settings,
                )
                if reports
                else []
            )
        if not reports:  # answered after the session: no transaction waits on Slack
            respond(text=service.NO_REPORTS, response_type="ephemeral")
            return
        respond(text="Your team's behaviors this week", blocks=found, response_type="ephemeral")


# -- People's own choices -----------------------------------------------------------------------


def _set_choice(services: Services, body: dict[str, Any], client: WebClient, *, field: str) -> None:
    # The subject is always the person who clicked: nobody sets another's choice.
    user_id = body["user"]["id"]
    on = (body.get("actions") or [{}])[0].get("value") == "on"
    scope = install.request_scope(services, body)
    with services.session() as session:
        person = find_person(session, user_id, workspace_id=scope)
        if person is not None:
            service.set_privacy_choice(
                session, person_id=person.id, now=services.clock.now(), **{field: on}
            )
    if person is None:
        _tell(client, user_id, "You are not in Nudgebot's directory yet; nothing was changed.")
        return
    log.info("privacy choice %s=%s", field, on)
    _tell(client, user_id, _choice_message(field, on))


def _choice_message(field: str, on: bool) -> str:
    if field == "share_with_manager":
        return (
            "Done: your manager's digest now shows how many of your nudges you acted on "
            "(never your reflections or “not relevant” answers). Undo any time."
            if on
            else "Done: your manager sees team figures only, never yours."
        )
    return (
        "Done: you are opted in; program nudges can reach you."
        if on
        else "Done: you are opted out; you get no program nudges."
    )


def _tell(client: WebClient, user_id: str, text: str) -> None:
    try:
        channel = client.conversations_open(users=user_id)["channel"]["id"]
        client.chat_postMessage(channel=channel, text=text)
    except SlackApiError as exc:
        log.warning("could not confirm a choice: %s", exc.response.get("error"))


# -- Impact brief -------------------------------------------------------------------------------


def post_impact_brief(
    services: Services,
    *,
    client: WebClient,
    user_id: str,
    program_id: str,
    workspace_id: str | None = None,
) -> bool:
    """Post the brief and its chart to the lead's DM; anyone else is told why not."""
    # Slack is told after the session closes: no transaction waits on a Web API call.
    refusal: str | None = None
    with services.session() as session:
        if not lead_directory(services).is_ld_lead(session, user_id, workspace_id=workspace_id):
            refusal = "Impact briefs are for L&D leads (NUDGEBOT_LD_LEADS)."
        else:
            try:
                brief = impact_brief(
                    session,
                    program_id=program_id,
                    now=services.clock.now(),
                    settings=services.settings,
                    workspace_id=workspace_id,
                )
            except UserError as exc:
                refusal = f"No impact brief: {exc}"
    if refusal is not None:
        _tell(client, user_id, refusal)
        return False
    channel = client.conversations_open(users=user_id)["channel"]["id"]
    client.chat_postMessage(
        channel=channel, text=f"Impact brief: {brief.title}", blocks=blocks.impact_blocks(brief)
    )
    client.files_upload_v2(
        channel=channel,
        content=impact_png(brief),
        filename=f"impact-{brief.program_id}.png",
        title=f"{brief.title}: metric and adoption by week",
    )
    return True
