"""Periodic work of digests: the weekly manager and L&D digest DMs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.digest import blocks, service
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
from bot.log import log_context
from bot.people.models import Person, Role
from bot.people.roles import lead_directory
from bot.services import Services
from bot.slack import install

log = logging.getLogger(__name__)
TICK_SECONDS = 300


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
    return sorted(in_db | set(lead_directory(services).configured_leads()))


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
            session,
            kind=kind,
            recipient=recipient,
            week_start=anchor,
            now=now,
            workspace_id=workspace,
        ):
            return None  # checked before the figures are computed: most ticks stop here
        content = _digest_content(session, services, kind, recipient, anchor, zone, scope)
        if content is None:
            return None
        covered = week_label(weeks_before(anchor, 1, zone=zone)[0].first_day)
        if dry_run:
            return DueDigest(kind, recipient, covered, workspace)
        claim = service.claim_digest(
            session,
            kind=kind,
            recipient=recipient,
            week_start=anchor,
            now=now,
            workspace_id=workspace,
        )
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
                session,
                send_id=claim_id,
                now=services.clock.now(),
                channel_id=channel,
                ts=str(reply.get("ts")),
            )
    return DueDigest(kind, recipient, week, workspace)
