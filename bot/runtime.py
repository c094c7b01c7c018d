"""What a CLI command needs, built lazily: settings first, the database only if used."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import click
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import make_url

from bot import migrate
from bot.db import normalize_url
from bot.errors import ConfigError, ServiceUnavailable, UserError
from bot.plugins import plug_features
from bot.services import Services
from bot.settings import Settings, load_settings
from bot.webclient import MANIFEST_HINT


class Runtime:
    @cached_property
    def settings(self) -> Settings:
        return load_settings()

    @cached_property
    def services(self) -> Services:
        plug_features()
        return Services.create(self.settings)

    def existing_services(self) -> Services:
        """Services on a database that exists: reading an SQLite file that is not
        there would create it, empty, which is a change no read should make."""
        missing = missing_sqlite_file(self.settings.database_url)
        if missing is not None:
            raise UserError(
                f"no database at {missing} yet; `nudgebot db upgrade` creates it "
                "(or set DATABASE_URL)"
            )
        return self.services

    def migrated_services(self) -> Services:
        """Services on a database at the newest migration, or a clear hint to get there."""
        services = self.existing_services()
        if migrate.pending(services.engine):
            raise UserError("the database is not up to date; run `nudgebot db upgrade` first")
        return services

    def close(self) -> None:
        if "services" in self.__dict__:
            self.services.close()


pass_runtime = click.make_pass_decorator(Runtime, ensure=True)

# Slack's answers that mean the token, not the request, is wrong.
TOKEN_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
)


def check_slack(client: WebClient, settings: Settings) -> WebClient:
    """auth.test once before a command's Slack work, so a refused token or a Slack
    out of reach is one line before anything was read or written."""
    try:
        client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown_error"))
        if error in TOKEN_ERRORS:
            raise ConfigError(f"Slack refused SLACK_BOT_TOKEN ({error}); {MANIFEST_HINT}") from None
        raise UserError(f"Slack refused auth.test: {error}") from None
    except OSError as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ServiceUnavailable(
            f"cannot reach Slack at {settings.slack_api_url} ({reason}); "
            "check SLACK_API_URL and the network"
        ) from None
    return client


def missing_sqlite_file(database_url: str) -> Path | None:
    """The file of an SQLite URL when it does not exist yet (None otherwise)."""
    url = make_url(normalize_url(database_url))
    name = url.database or ""
    if url.get_backend_name() != "sqlite" or name in ("", ":memory:") or name.startswith("file:"):
        return None
    path = Path(name)
    return None if path.exists() else path
