"""`nudgebot people sync` and `nudgebot org import FILE.csv`."""

from __future__ import annotations

from pathlib import Path

import click

from bot.errors import UserError
from bot.people import directory, service
from bot.runtime import Runtime, check_slack, pass_runtime
from bot.slack import install


@click.group()
def people() -> None:
    """The directory of people Nudgebot may nudge."""


@people.command()
@pass_runtime
def sync(runtime: Runtime) -> None:
    """Read every Slack user (time zone, locale, deactivated, bot) into the directory."""
    services = runtime.migrated_services()
    for team, client in install.sync_targets(services):
        users = list(directory.slack_users(check_slack(client, services.settings)))
        with services.session() as session:
            result = service.apply_slack_users(session, users=users, workspace_id=team)
        where = f"{team}: " if team is not None else ""
        click.echo(
            f"{where}synced {result.seen} people ({result.created} new, "
            f"{result.deactivated} deactivated)"
        )


@click.group()
def org() -> None:
    """What Slack does not know: managers, teams, countries, start dates, roles."""


@org.command(name="import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--workspace",
    help="The Slack team id (T…) the CSV describes; required with NUDGEBOT_INSTALL_MODE=oauth.",
)
@pass_runtime
def import_(runtime: Runtime, file: Path, workspace: str | None) -> None:
    """Import an org CSV (columns: slack_user_id,email,name,manager_slack_user_id,
    team,country,timezone,start_date,role). Bad rows are reported by line and
    skipped; the good rows are kept. Exit status 1 when any row was skipped."""
    services = runtime.migrated_services()
    oauth = services.settings.install_mode == "oauth"
    if oauth and not workspace:
        raise UserError(
            "several workspaces share this database (NUDGEBOT_INSTALL_MODE=oauth): "
            "say which one the CSV describes with --workspace T…"
        )
    scope = install.workspace_scope(services.settings, workspace) if oauth else None
    with services.session() as session:
        result = service.import_org_csv(session, path=file, workspace_id=scope)
    for line in [*result.errors, *result.warnings]:
        click.echo(line, err=True)
    click.echo(
        f"imported {result.created + result.updated} rows ({result.created} new, "
        f"{result.updated} updated, {len(result.errors)} skipped)"
    )
    if result.errors:
        raise UserError(f"{len(result.errors)} row(s) of {file} skipped; fix them and import again")


commands: list[click.Command] = [people, org]
