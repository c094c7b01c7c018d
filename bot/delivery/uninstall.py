"""What an uninstall stops: every nudge still waiting for the workspace, recorded in
the audit trail. The Slack kit forgets the tokens (bot.slack.install.forget_workspace);
the surface wires `app_uninstalled` and `tokens_revoked` to the listeners in
bot.delivery.listeners, which call these."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.oauth.installation_store import InstallationStore
from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.audit import service as audit
from bot.delivery.models import Delivery, DeliveryStatus
from bot.people.models import Person
from bot.services import Services
from bot.settings import Settings
from bot.slack import install

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UninstallResult:
    team_id: str
    installation_removed: bool
    cancelled_deliveries: int


def cancel_workspace_deliveries(
    session: Session, *, settings: Settings, team_id: str, now: datetime
) -> int:
    """Cancel every nudge not yet sent to people of the workspace."""
    people = Person.__table__.c
    query = (
        update(Delivery)
        .where(Delivery.status.in_([DeliveryStatus.planned, DeliveryStatus.sending]))
        .values(
            status=DeliveryStatus.cancelled,
            last_error="app uninstalled",
            lease_until=None,
            lease_owner=None,
            updated_at=now,
        )
    )
    if settings.install_mode == "oauth":
        # Many workspaces share the database: only this one's people.
        ids = (
            Person.__table__.select()
            .with_only_columns(people.id)
            .where(people.workspace_id == team_id)
        )
        query = query.where(Delivery.person_id.in_(ids))
    return session.execute(query).rowcount or 0  # type: ignore[attr-defined]


def handle_uninstall(
    services: Services,
    *,
    team_id: str,
    enterprise_id: str | None = None,
    store: InstallationStore | None = None,
    reason: str = "app_uninstalled",
) -> UninstallResult:
    """Forget the workspace's tokens and stop everything queued for it (idempotent)."""
    removed = install.forget_workspace(
        services, team_id=team_id, enterprise_id=enterprise_id, store=store
    )
    now = services.clock.now()
    with services.session() as session:
        cancelled = cancel_workspace_deliveries(
            session, settings=services.settings, team_id=team_id, now=now
        )
        audit.record(
            session,
            actor=audit.SYSTEM,
            action=audit.Action.install_remove,
            target=f"workspace:{team_id}",
            details={"reason": reason, "cancelled_deliveries": cancelled},
            now=now,
            workspace_id=team_id,
        )
    log.info("workspace %s uninstalled: %d nudges cancelled", team_id, cancelled)
    return UninstallResult(team_id, removed, cancelled)


def handle_tokens_revoked(
    services: Services,
    *,
    team_id: str,
    event: dict[str, Any],
    enterprise_id: str | None = None,
    store: InstallationStore | None = None,
) -> UninstallResult | None:
    """A revoked bot token is an uninstall; revoked user tokens only drop those users'
    installations (Nudgebot asks for no user scopes, so there are normally none)."""
    tokens = event.get("tokens") or {}
    if tokens.get("bot"):
        return handle_uninstall(
            services,
            team_id=team_id,
            enterprise_id=enterprise_id,
            store=store,
            reason="tokens_revoked",
        )
    install.forget_users(
        store,
        team_id=team_id,
        user_ids=[str(u) for u in tokens.get("oauth") or []],
        enterprise_id=enterprise_id,
    )
    return None
