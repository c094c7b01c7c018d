"""Workspace installs: one workspace with a bot token, or many through OAuth.

OAuth mode (NUDGEBOT_INSTALL_MODE=oauth) uses Bolt's OAuth flow (bot.slack.oauth) with
slack_sdk's SQLAlchemy installation and state stores. Their tables are created by our own
Alembic migration (0008), so they are declared here on `Base.metadata` exactly
as the stores define them (tests/trust/test_install.py holds the two equal);
the stores are never asked to create tables themselves.

Token rotation: bot.slack.tokens (`workspace_tokens` here holds one
WorkspaceTokens per process).

Data is kept per workspace: `workspace_scope` is the Slack team id in OAuth mode
(rows store it, reads filter by it) and None in single mode (rows store "", reads
are not filtered: the database holds one workspace).

Uninstall (`app_uninstalled`, or `tokens_revoked` naming the bot): the kit
forgets the workspace's tokens and installation (`forget_workspace`);
bot.delivery.uninstall cancels every nudge still waiting for it, so nothing
more is sent there.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store import InstallationStore
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    String,
    Table,
    func,
    select,
)

from bot.db import Base
from bot.errors import ConfigError
from bot.settings import Settings
from bot.slack import bolt
from bot.slack.tokens import WorkspaceTokens, credentials
from bot.webclient import make_web_client

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

BOTS_TABLE_NAME = "slack_bots"
INSTALLATIONS_TABLE_NAME = "slack_installations"
STATES_TABLE_NAME = "slack_oauth_states"
_TOKENS_ATTR = "_nudgebot_workspace_tokens"
_TOKENS_LOCK = threading.Lock()


# --- the stores' tables, as slack_sdk 3.48 defines them ----------------------
# slack_sdk builds them in a MetaData of its own; ours must hold the same so that
# Alembic creates them and `nudgebot db check` compares them. Importing slack_sdk's
# SQLAlchemy module needs greenlet (it imports sqlalchemy.ext.asyncio), which only
# OAuth mode should require, hence the declaration here rather than a call.

INSTALLATIONS_TABLE = Table(
    INSTALLATIONS_TABLE_NAME,
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("enterprise_url", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(200)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(200)),
    Column("bot_token_expires_at", DateTime),
    Column("user_id", String(32), nullable=False),
    Column("user_token", String(200)),
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", String(200)),
    Column("user_token_expires_at", DateTime),
    Column("incoming_webhook_url", String(200)),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("token_type", String(32)),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index(
        f"{INSTALLATIONS_TABLE_NAME}_idx",
        "client_id",
        "enterprise_id",
        "team_id",
        "user_id",
        "installed_at",
    ),
)

BOTS_TABLE = Table(
    BOTS_TABLE_NAME,
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(200)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(200)),
    Column("bot_token_expires_at", DateTime),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("installed_at", DateTime, nullable=False, default=func.now()),
    Index(f"{BOTS_TABLE_NAME}_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

STATES_TABLE = Table(
    STATES_TABLE_NAME,
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)

STORE_TABLES = (INSTALLATIONS_TABLE, BOTS_TABLE, STATES_TABLE)

# --- the stores ---------------------------------------------------------------


def installation_store_for(settings: Settings, engine: Engine) -> InstallationStore:
    """slack_sdk's SQLAlchemy installation store on our database and tables."""
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore

    client_id, _ = credentials(settings)
    return SQLAlchemyInstallationStore(
        client_id=client_id,
        engine=engine,
        bots_table_name=BOTS_TABLE_NAME,
        installations_table_name=INSTALLATIONS_TABLE_NAME,
        logger=logging.getLogger("slack_sdk.oauth"),
    )


# --- which workspace ----------------------------------------------------------


def workspace_scope(settings: Settings, team_id: str | None) -> str | None:
    """Which workspace a request or a row belongs to.

    OAuth mode: the Slack team id (every read filters by it, every new row stores it).
    Single mode: None, meaning "no filter": the database holds one workspace, and rows
    are stored with workspace_id "" (the org import does not know a team id)."""
    if settings.install_mode != "oauth":
        return None
    return team_id or ""


def team_of(body: Mapping[str, Any]) -> str | None:
    """The Slack team id of a request body: events and slash commands carry `team_id`,
    interactivity payloads `team.id` (and `user.team_id`)."""
    team = body.get("team")
    user = body.get("user")
    for value in (
        body.get("team_id"),
        team.get("id") if isinstance(team, Mapping) else None,
        user.get("team_id") if isinstance(user, Mapping) else None,
    ):
        if isinstance(value, str) and value:
            return value
    return None


# The Slack team of the request (or background job) being handled. Set by a global
# middleware as Bolt dispatches a request, and again in the listener's thread as it
# starts (register). Poster-style code that holds no Bolt `client` reads it (current_client).
_WORKSPACE: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "nudgebot_workspace", default=None
)


def current_workspace() -> str | None:
    return _WORKSPACE.get()


def current_scope(services: Services) -> str | None:
    """workspace_scope of the request being handled (None in single mode)."""
    return workspace_scope(services.settings, _WORKSPACE.get())


@contextmanager
def in_workspace(team_id: str | None) -> Iterator[None]:
    """Background work for one workspace (a tick): current_client posts there."""
    token = _WORKSPACE.set(team_id)
    try:
        yield
    finally:
        _WORKSPACE.reset(token)


def current_client(services: Services) -> WebClient:
    """The bot client for the current workspace: the one bot client in single mode;
    in OAuth mode that workspace's (ConfigError outside a request or in_workspace,
    or once the app was uninstalled there)."""
    if services.settings.install_mode != "oauth":
        return services.client
    team = _WORKSPACE.get()
    client = client_for(services, team) if team else None
    if client is None:
        raise ConfigError(
            f"no Slack token for workspace {team or '(none)'}: not installed there (any more)"
        )
    return client


def request_scope(services: Services, body: Mapping[str, Any]) -> str | None:
    """workspace_scope of the request being handled."""
    return workspace_scope(services.settings, team_of(body))


def stored(scope: str | None) -> str:
    """The workspace_id a new row gets."""
    return scope or ""


def workspace_tokens(services: Services) -> WorkspaceTokens:
    """The process's WorkspaceTokens (one per Services, made on first use)."""
    with _TOKENS_LOCK:
        tokens = services.__dict__.get(_TOKENS_ATTR)
        if tokens is None:
            store = (
                installation_store_for(services.settings, services.engine)
                if services.settings.install_mode == "oauth"
                else None
            )
            tokens = WorkspaceTokens(services.settings, store)
            services.__dict__[_TOKENS_ATTR] = tokens
        return cast(WorkspaceTokens, tokens)


def client_for(services: Services, workspace_id: str) -> WebClient | None:
    """A (retrying) bot client for background work in one workspace; the one bot
    client in single mode; None when the app is no longer installed there."""
    if services.settings.install_mode != "oauth":
        return services.client
    token = workspace_tokens(services).token(workspace_id)
    if token is None:
        return None
    return make_web_client(services.settings, token=token, metrics=services.metrics)


def installed_teams(services: Services) -> list[str]:
    """Team ids of every workspace the app is installed in (OAuth mode)."""
    teams = BOTS_TABLE.c.team_id
    with services.engine.connect() as conn:
        rows = conn.execute(
            select(teams).where(teams.is_not(None)).distinct().order_by(teams)
        ).scalars()
        return [str(t) for t in rows]


def sync_targets(services: Services) -> list[tuple[str | None, WebClient]]:
    """(workspace scope, bot client) of each workspace to read people from:
    the one bot client in single mode, every installed workspace in OAuth mode."""
    if services.settings.install_mode != "oauth":
        return [(None, services.client)]
    targets: list[tuple[str | None, WebClient]] = []
    for team in installed_teams(services):
        client = client_for(services, team)
        if client is not None:
            targets.append((team, client))
    return targets


# --- uninstall: the kit's part (tokens and installations) -------------------------------------
# What else an uninstall stops (queued nudges, the audit trail) is bot.delivery.uninstall's.


def forget_workspace(
    services: Services,
    *,
    team_id: str,
    enterprise_id: str | None = None,
    store: InstallationStore | None = None,
) -> bool:
    """Drop the workspace's cached token and its installation (idempotent); True when
    the store still held its bot."""
    removed = False
    workspace_tokens(services).forget(team_id)
    if store is not None:
        removed = store.find_bot(enterprise_id=enterprise_id, team_id=team_id) is not None
        store.delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        store.delete_installation(enterprise_id=enterprise_id, team_id=team_id)
    return removed


def forget_users(
    store: InstallationStore | None,
    *,
    team_id: str,
    user_ids: list[str],
    enterprise_id: str | None = None,
) -> None:
    """Revoked user tokens drop only those users' installations."""
    if store is None:
        return
    for user_id in user_ids:
        store.delete_installation(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id)


def installation_store(app: App, services: Services) -> InstallationStore | None:
    """The app's installation store in OAuth mode; None with a single workspace."""
    if services.settings.install_mode != "oauth":
        return None
    store: InstallationStore | None = app.installation_store
    return store


def event_workspace(context: BoltContext, body: Mapping[str, Any]) -> tuple[str, str | None]:
    """(team id, enterprise id) of an event."""
    team = context.team_id or body.get("team_id") or ""
    return str(team), context.enterprise_id


def track_workspace(app: App) -> None:
    """Make the request's workspace known to code that holds no Bolt `client`
    (current_client): set in the dispatching thread (matchers run there) and again
    in the listener thread when the listener starts, whichever executor runs it."""
    app.use(_remember_workspace)
    bolt.on_listener_start(app, _workspace_at_start)


def _remember_workspace(req: BoltRequest, next: Callable[[], BoltResponse]) -> BoltResponse | None:
    # Every request sets it, so nothing leaks from one request to the next.
    _WORKSPACE.set(_request_team(req))
    return next()


def _workspace_at_start(request: BoltRequest) -> None:
    _WORKSPACE.set(_request_team(request))


def _request_team(req: BoltRequest) -> str | None:
    return req.context.team_id or team_of(req.body or {})
