"""The `nudgebot` command. Errors are one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Sequence

import click
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bot import migrate
from bot.app import FEATURES
from bot.errors import NudgebotError, UserError
from bot.log import configure_logging
from bot.output import render
from bot.runtime import Runtime, pass_runtime
from bot.settings import display_value, env_names, settings_markdown


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
    migrate.downgrade(runtime.settings.database_url, revision)
    click.echo(f"database at {migrate.current_revision(runtime.services.engine) or 'base'}")


@db.command()
@pass_runtime
def current(runtime: Runtime) -> None:
    """Show the database's revision and whether migrations are pending."""
    here = migrate.current_revision(runtime.services.engine)
    head = migrate.head_revision()
    state = "up to date" if here == head else f"behind; newest is {head}"
    click.echo(f"{here or 'base'} ({state})")


@db.command()
@pass_runtime
def check(runtime: Runtime) -> None:
    """Exit non-zero when the models and the migrated database disagree."""
    services = runtime.services
    if migrate.pending(services.engine):
        raise UserError("migrations are pending; run `nudgebot db upgrade`, then check again")
    drift = migrate.model_drift(services.engine)
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
    for feature in FEATURES:
        name = f"{feature}.cli"
        if importlib.util.find_spec(name) is not None:
            for command in importlib.import_module(name).commands:
                cli.add_command(command)


_add_feature_commands()


def main(argv: Sequence[str] | None = None) -> None:
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
    except NudgebotError as exc:
        message = str(exc)
        # Several lines are several `file:line: field: …` errors, printed as they are.
        click.echo(message if "\n" in message else f"nudgebot: {message}", err=True)
        sys.exit(exc.exit_code)
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        click.echo(f"nudgebot: database error: {reason} (check DATABASE_URL)", err=True)
        sys.exit(1)
    except SQLAlchemyError as exc:
        click.echo(f"nudgebot: database error: {str(exc).splitlines()[0]}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
