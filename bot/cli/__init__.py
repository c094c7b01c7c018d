"""The `nudgebot` command. Errors are one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import socket
import sys
import traceback
from collections.abc import Sequence
from urllib.error import URLError

import click
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bot import migrate
from bot.errors import ConfigError, NudgebotError, ServiceUnavailable, UserError
from bot.log import configure_logging
from bot.metrics import database_unreachable
from bot.output import render
from bot.runtime import TOKEN_ERRORS, Runtime, missing_sqlite_file, pass_runtime
from bot.settings import display_value, env_names, settings_markdown
from bot.webclient import MANIFEST_HINT


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="nudgebot")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Nudgebot: behavior change at work, in Slack.

    Settings come from the environment, .env and config/nudgebot.toml
    (see the settings table in README.md).
    """
    runtime = ctx.ensure_object(Runtime)
    ctx.call_on_close(runtime.close)


@cli.command()
@click.option("--port", type=click.IntRange(0, 65535), help="HTTP port (default NUDGEBOT_PORT).")
@click.option("--host", help="Bind address (default NUDGEBOT_HOST).")
@pass_runtime
def run(runtime: Runtime, port: int | None, host: str | None) -> None:
    """Apply pending migrations, then serve Slack (Socket Mode or HTTP)."""
    from bot.server import run as serve

    settings = runtime.settings
    configure_logging(settings.log_level, settings.log_format)
    serve(
        runtime.services, host=host or settings.host, port=settings.port if port is None else port
    )


@cli.group()
def db() -> None:
    """Database migrations (Alembic)."""


@db.command()
@click.argument("revision", default="heads")
@pass_runtime
def upgrade(runtime: Runtime, revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    migrate.upgrade(runtime.settings.database_url, revision)
    click.echo(f"database at {migrate.current_revision(runtime.services.engine) or 'base'}")


@db.command()
@click.argument("revision", default="-1")
@pass_runtime
def downgrade(runtime: Runtime, revision: str) -> None:
    """Revert migrations down to REVISION (default: one step; `base` for all)."""
    migrate.check_revision(revision)
    runtime.existing_services()
    migrate.downgrade(runtime.settings.database_url, revision)
    click.echo(f"database at {migrate.current_revision(runtime.services.engine) or 'base'}")


@db.command()
@pass_runtime
def current(runtime: Runtime) -> None:
    """Show the database's revision and whether migrations are pending."""
    # An SQLite file not made yet is at base; reading it would create it.
    absent = missing_sqlite_file(runtime.settings.database_url) is not None
    here = None if absent else migrate.current_revision(runtime.services.engine)
    head = migrate.head_revision()
    state = "up to date" if here == head else f"behind; newest is {head}"
    click.echo(f"{here or 'base'} ({state})")


@db.command()
@pass_runtime
def check(runtime: Runtime) -> None:
    """Exit non-zero when the models and the migrated database disagree."""
    absent = missing_sqlite_file(runtime.settings.database_url) is not None
    if absent or migrate.pending(runtime.services.engine):
        raise UserError("migrations are pending; run `nudgebot db upgrade`, then check again")
    drift = migrate.model_drift(runtime.services.engine)
    if drift:
        raise UserError(
            f"models and migrations disagree ({len(drift)} difference(s)): "
            + "; ".join(drift)
            + " — add a migration: alembic revision --autogenerate -m 'what changed'"
        )
    click.echo("models and migrations agree")


@cli.command("settings")
@click.option("--markdown", is_flag=True, help="Print the README's table of every setting.")
@pass_runtime
def show_settings(runtime: Runtime, markdown: bool) -> None:
    """Show every setting with its effective value (secrets masked)."""
    if markdown:
        click.echo(settings_markdown())
        return
    current = runtime.settings
    rows = [
        {"setting": public, "value": display_value(getattr(current, field))}
        for field, public in env_names().items()
    ]
    click.echo(render(rows, "table"))


def _add_feature_commands() -> None:
    # Each slice's commands live beside this file (bot/cli/<slice>.py), at the
    # top layer, so a command may use any slice without pointing an import upward.
    from bot.cli import (
        audit,
        content,
        delivery,
        digest,
        governance,
        intake,
        people,
        premortem,
        proof,
        sandbox,
    )

    for module in (
        people,
        content,
        delivery,
        proof,
        intake,
        premortem,
        digest,
        audit,
        governance,
        sandbox,
    ):
        for command in module.commands:
            cli.add_command(command)


_add_feature_commands()


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command; any failure is one line on stderr and the exit code of the
    README's table: 1 the command could not do it, 2 configuration, 3 not allowed,
    4 the database or Slack cannot be reached (nothing changed; try again)."""
    try:
        result = cli.main(args=argv, prog_name="nudgebot", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("nudgebot: aborted", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # each kind becomes one line; see `explain`
        message, code = explain(exc)
        # Several lines are several `file:line: field: …` errors, printed as they are.
        click.echo(message if "\n" in message else f"nudgebot: {message}", err=True)
        if (
            message.startswith(UNEXPECTED)
            and os.environ.get("NUDGEBOT_LOG_LEVEL", "").upper() == "DEBUG"
        ):
            traceback.print_exception(exc)
        sys.exit(code)
    sys.exit(result if isinstance(result, int) else 0)


EXIT_FAILED, EXIT_BUG = 1, 1
UNEXPECTED = "unexpected error: "
EXIT_CONFIG, EXIT_UNREACHABLE = ConfigError.exit_code, ServiceUnavailable.exit_code


def explain(exc: Exception) -> tuple[str, int]:
    """(the one line to print, the exit code) for a failure of a command."""
    if isinstance(exc, NudgebotError):
        return str(exc), exc.exit_code
    if isinstance(exc, DBAPIError) and database_unreachable(exc):
        return (
            f"cannot reach the database: {_first_line(exc.orig or exc)} (check DATABASE_URL); "
            "nothing was changed",
            EXIT_UNREACHABLE,
        )
    if isinstance(exc, SQLAlchemyError):
        return f"database error: {_first_line(getattr(exc, 'orig', None) or exc)}", EXIT_FAILED
    if isinstance(exc, SlackApiError):
        error = str(exc.response.get("error", "unknown_error"))
        if error in TOKEN_ERRORS:
            return f"Slack refused SLACK_BOT_TOKEN ({error}); {MANIFEST_HINT}", EXIT_CONFIG
        method = str(getattr(exc.response, "api_url", "")).rstrip("/").rsplit("/", 1)[-1]
        return f"Slack refused {method or 'a request'}: {error}", EXIT_FAILED
    if isinstance(exc, URLError | ConnectionError | TimeoutError | socket.gaierror):
        reason = exc.reason if isinstance(exc, URLError) else exc
        return (
            f"cannot reach Slack ({_first_line(reason)}); check SLACK_API_URL and the network",
            EXIT_UNREACHABLE,
        )
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or _first_line(exc)}", EXIT_FAILED
    return (
        f"{UNEXPECTED}{type(exc).__name__}: {_first_line(exc)} "
        "(NUDGEBOT_LOG_LEVEL=DEBUG shows where; please report it)",
        EXIT_BUG,
    )


def _first_line(value: object) -> str:
    lines = str(value).strip().splitlines()
    return lines[0] if lines else type(value).__name__
