"""Digest slice on Slack: weekly digest DMs (a tick), the impact brief button, people's
own privacy choices, and the signed KPI webhook POST /hooks/metric."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.digest import blocks, service
from bot.digest.chart import impact_png
from bot.digest.impact import impact_brief
from bot.digest.models import DigestKind
from bot.digest.programs import ld_digest
from bot.digest.team import manager_digest, reader_zone
from bot.digest.weeks import (
    anchor_day,
    digest_moment,
    digest_weekday,
    week_label,
    weeks_before,
)
from bot.errors import UserError
from bot.log import log_context
from bot.people.models import Person, Role
from bot.people.service import find_person
from bot.services import HookResponse, Services
from bot.slack import install

log = logging.getLogger(__name__)
TICK_SECONDS = 300


def register(app: App, services: Services) -> None:
    services.add_hook("metric", lambda body, headers: metric_hook(services, body, headers))
    services.add_tick("digests", lambda: send_due_digests(services), TICK_SECONDS)

    @app.action(blocks.SHARE_ACTION)
    def share(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        _set_choice(services, body, client, field="share_with_manager")

    @app.action(blocks.OPT_IN_ACTION)
    def opt_in(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        _set_choice(services, body, client, field="enrollment_opt_in")

    @app.action(blocks.IMPACT_ACTION)
    def impact(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        user_id = body["user"]["id"]
        program_id = str((body.get("actions") or [{}])[0].get("value", ""))
        post_impact_brief(
            services, client=client, user_id=user_id, program_id=program_id,
            workspace_id=install.request_scope(services, body),
        )  # fmt: skip


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
    with services.session() as session:
        if not services.leads.is_ld_lead(session, user_id, workspace_id=workspace_id):
            _tell(client, user_id, "Impact briefs are for L&D leads (NUDGEBOT_LD_LEADS).")
            return False
        try:
            brief = impact_brief(
                session, program_id=program_id, now=services.clock.now(),
                settings=services.settings, workspace_id=workspace_id,
            )  # fmt: skip
        except UserError as exc:
            _tell(client, user_id, f"No impact brief: {exc}")
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


# -- The signed KPI webhook ---------------------------------------------------------------------


def metric_hook(services: Services, body: bytes, headers: dict[str, str]) -> HookResponse:
    """POST /hooks/metric: a bad signature is refused before anything is read or stored."""
    now = services.clock.now()
    try:
        source = service.verify_metric_request(
            body=body, headers=headers, settings=services.settings, now=now
        )
    except service.BadSignature as exc:
        log.warning("metric hook refused: %s", exc)
        return HookResponse(401, {"ok": False, "error": str(exc)})
    try:
        program, value, day, team = service.parse_metric_payload(body, today=now.date())
        workspace = service.parse_metric_workspace(body)
        if services.settings.install_mode == "oauth" and workspace is None:
            raise UserError(
                "workspace: required when several workspaces are installed "
                '(the Slack team id the value is about, e.g. "workspace": "T0123ABCD")'
            )
        with services.session() as session:
            row = service.record_metric(
                session, program_id=program, value=value, observed_on=day, team=team,
                source=f"webhook:{source}", now=now,
                workspace_id=install.stored(install.workspace_scope(services.settings, workspace)),
            )  # fmt: skip
            row_id = row.id
    except UserError as exc:
        return HookResponse(400, {"ok": False, "error": str(exc)})
    log.info("metric observation %s stored from %s", row_id, source)
    return HookResponse(200, {"ok": True, "id": row_id})


# -- Weekly digests -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DueDigest:
    kind: DigestKind
    recipient: str
    week: str  # the week the digest covers, worded as in the DM ("week of 23 Nov 2026")
    workspace_id: str = ""


def send_due_digests(services: Services, *, dry_run: bool = False) -> list[DueDigest]:
    """Send every digest whose reader's local digest time has come, once per week.
    OAuth mode: workspace by workspace, each reader seeing their own workspace only."""
    done: list[DueDigest] = []
    for scope in _scopes(services):
        for manager in _manager_ids(services, scope):
            sent = _send_one(services, DigestKind.manager, manager, scope, dry_run=dry_run)
            if sent:
                done.append(sent)
        for lead in _lead_ids(services, scope):
            sent = _send_one(services, DigestKind.ld, lead, scope, dry_run=dry_run)
            if sent:
                done.append(sent)
    return done


def _scopes(services: Services) -> list[str | None]:
    if services.settings.install_mode != "oauth":
        return [None]
    return list(install.installed_teams(services))


def _manager_ids(services: Services, scope: str | None) -> list[str]:
    with services.session() as session:
        return service.managers(session, workspace_id=scope)


def _lead_ids(services: Services, scope: str | None) -> list[str]:
    query = select(Person.slack_user_id).where(
        Person.role == Role.ld_lead, Person.is_deleted.is_(False)
    )
    if scope is not None:
        query = query.where(Person.workspace_id == scope)
    with services.session() as session:
        in_db = set(session.scalars(query))
    if scope is not None:
        return sorted(in_db)  # configured ids are checked against each workspace's directory
    return sorted(in_db | set(services.leads.configured_leads()))


def _send_one(
    services: Services, kind: DigestKind, recipient: str, scope: str | None, *, dry_run: bool
) -> DueDigest | None:
    now = services.clock.now()
    settings = services.settings
    workspace = install.stored(scope)
    with services.session() as session:
        zone = reader_zone(session, recipient, settings, workspace_id=scope)
        anchor = anchor_day(now, zone=zone, weekday=digest_weekday(settings))
        if now < digest_moment(anchor, zone=zone, settings=settings):
            return None  # this week's digest time has not come yet for this reader
        if service.digest_settled(
            session, kind=kind, recipient=recipient, week_start=anchor, now=now,
            workspace_id=workspace,
        ):  # fmt: skip
            return None  # checked before the figures are computed: most ticks stop here
        content = _digest_content(session, services, kind, recipient, anchor, zone, scope)
        if content is None:
            return None
        covered = week_label(weeks_before(anchor, 1, zone=zone)[0].first_day)
        if dry_run:
            return DueDigest(kind, recipient, covered, workspace)
        claim = service.claim_digest(
            session, kind=kind, recipient=recipient, week_start=anchor, now=now,
            workspace_id=workspace,
        )  # fmt: skip
        if claim is None:
            return None
        claim_id = claim.id
    return _deliver(services, claim_id, kind, recipient, covered, content, workspace)


def _digest_content(
    session: Session,
    services: Services,
    kind: DigestKind,
    recipient: str,
    anchor: date,
    zone: ZoneInfo,
    scope: str | None = None,
) -> tuple[str, list[dict[str, Any]]] | None:
    settings = services.settings
    now = digest_moment(anchor, zone=zone, settings=settings)
    if kind == DigestKind.manager:
        digest = manager_digest(
            session, manager_user_id=recipient, now=now, settings=settings, workspace_id=scope
        )
        if digest.team_size == 0:
            return None  # nobody on this team is in a program: no weekly noise
        return blocks.manager_digest_text(digest), blocks.manager_digest_blocks(digest)
    week = weeks_before(anchor, 1, zone=zone)[0]
    ld = ld_digest(session, week=week, now=now, settings=settings, workspace_id=scope)
    return f"L&D digest, {week_label(week.first_day)}", blocks.ld_digest_blocks(ld)


def _deliver(
    services: Services,
    claim_id: int,
    kind: DigestKind,
    recipient: str,
    week: str,
    content: tuple[str, list[dict[str, Any]]],
    workspace: str = "",
) -> DueDigest | None:
    text, message = content
    with log_context(digest=kind.value, recipient=recipient):
        client = install.client_for(services, workspace)
        if client is None:  # uninstalled meanwhile: nothing goes to that workspace
            with services.session() as session:
                service.mark_digest(
                    session, send_id=claim_id, now=services.clock.now(), error="app uninstalled"
                )
            return None
        try:
            channel = client.conversations_open(users=recipient)["channel"]["id"]
            reply = client.chat_postMessage(channel=channel, text=text, blocks=message)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "slack error"))
            log.warning("digest not sent: %s", error)
            with services.session() as session:
                service.mark_digest(
                    session, send_id=claim_id, now=services.clock.now(), error=error
                )
            return None
        with services.session() as session:
            service.mark_digest(
                session, send_id=claim_id, now=services.clock.now(), channel_id=channel,
                ts=str(reply.get("ts")),
            )  # fmt: skip
    return DueDigest(kind, recipient, week, workspace)
