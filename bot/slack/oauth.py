"""Bolt's OAuth flow (NUDGEBOT_INSTALL_MODE=oauth): /slack/install and
/slack/oauth_redirect, with slack_sdk's SQLAlchemy installation and state stores
on our database (their tables: bot.slack.install), scopes from
config/manifest.yml, and every install recorded in the audit trail."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from slack_bolt import BoltResponse
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import Engine

from bot.audit import service as audit
from bot.errors import ConfigError
from bot.settings import Settings
from bot.slack import bolt
from bot.slack.install import STATES_TABLE_NAME, installation_store_for
from bot.slack.tokens import credentials, rotator

if TYPE_CHECKING:
    from bot.services import Services

MANIFEST = Path(__file__).resolve().parents[2] / "config" / "manifest.yml"
STATE_EXPIRATION_SECONDS = 600


def bot_scopes(settings: Settings, manifest: Path = MANIFEST) -> list[str]:
    """SLACK_SCOPES, or the bot scopes of config/manifest.yml (one source of truth)."""
    if settings.slack_scopes:
        return list(settings.slack_scopes)
    try:
        data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        where = getattr(exc, "problem_mark", None)
        line = f":{where.line + 1}" if where is not None else ""
        raise ConfigError(
            f"SLACK_SCOPES is not set and {manifest}{line} cannot be read: "
            f"{getattr(exc, 'problem', None) or exc}"
        ) from None
    try:
        scopes = data["oauth_config"]["scopes"]["bot"]
    except (KeyError, TypeError):
        raise ConfigError(
            f"SLACK_SCOPES is not set and {manifest} has no oauth_config.scopes.bot list"
        ) from None
    return [str(s) for s in scopes]


def state_store_for(engine: Engine) -> Any:
    from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

    return SQLAlchemyOAuthStateStore(
        expiration_seconds=STATE_EXPIRATION_SECONDS,
        engine=engine,
        table_name=STATES_TABLE_NAME,
        logger=logging.getLogger("slack_sdk.oauth"),
    )


def oauth_settings_for(
    settings: Settings,
    engine: Engine,
    *,
    on_installed: Callable[[Installation], None] | None = None,
) -> OAuthSettings:
    """Bolt's OAuth flow: /slack/install and /slack/oauth_redirect, stores in our DB.
    Expiring tokens are refreshed when less than two hours remain. `on_installed`
    runs after an installation was saved, before Bolt's own success page."""
    client_id, client_secret = credentials(settings)
    oauth = OAuthSettings(
        callback_options=_callbacks(on_installed) if on_installed else None,
        client_id=client_id,
        client_secret=client_secret,
        scopes=bot_scopes(settings),
        installation_store=installation_store_for(settings, engine),
        installation_store_bot_only=True,
        state_store=state_store_for(engine),
        state_expiration_seconds=STATE_EXPIRATION_SECONDS,
        token_rotation_expiration_minutes=120,
        logger=logging.getLogger("slack_bolt.oauth"),
    )
    # Bolt's own rotator would call slack.com: refresh through SLACK_API_URL instead.
    bolt.set_token_rotator(oauth, rotator(settings))
    return oauth


def _callbacks(on_installed: Callable[[Installation], None]) -> CallbackOptions:
    def success(args: SuccessArgs) -> BoltResponse:
        on_installed(args.installation)
        return args.default.success(args)

    def failure(args: FailureArgs) -> BoltResponse:
        return args.default.failure(args)

    return CallbackOptions(success=success, failure=failure)


def record_install(services: Services, installation: Installation) -> None:
    """Audit a new or renewed installation (who installed it, where)."""
    team_id = installation.team_id or installation.enterprise_id or ""
    with services.session() as session:
        audit.record(
            session,
            actor=installation.user_id or audit.SYSTEM,
            action=audit.Action.install_add,
            target=f"workspace:{team_id}",
            details={
                "enterprise": installation.enterprise_id,
                "scopes": len(installation.bot_scopes or []),
            },
            now=services.clock.now(),
            workspace_id=team_id,
        )


def app_kwargs(settings: Settings, services: Services) -> dict[str, Any]:
    """What `build_app` passes to App for the configured install mode."""
    if settings.install_mode == "oauth":
        oauth = oauth_settings_for(
            settings, services.engine, on_installed=lambda i: record_install(services, i)
        )
        # No token: Bolt sets each request's own. The client gives the OAuth flow
        # (oauth.v2.access) and every request's client SLACK_API_URL.
        client = WebClient(base_url=settings.slack_api_url, timeout=settings.slack_timeout_seconds)
        return {"oauth_settings": oauth, "client": client}
    return {"client": services.client}
