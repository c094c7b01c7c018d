"""`nudgebot enroll`, `nudgebot plan` (a dry run) and `nudgebot send` (a sender process)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path

import click
from slack_sdk import WebClient

from bot.delivery import planner, preview, service
from bot.errors import UserError
from bot.log import configure_logging
from bot.output import format_option, render
from bot.people import directory
from bot.people.service import apply_slack_user, find_person
from bot.runtime import Runtime, check_slack, pass_runtime
from bot.services import Services
from bot.slack import install


def parse_start(value: str, now: datetime) -> datetime | date:
    """`now`, or a date. A date starts at the beginning of that day in each
    person's own time zone (see `service.enroll`): day 0 is the date people read,
    from UTC-12 to UTC+14."""
    if value == "now":
        return now
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"--start: expected now or a date like 2026-12-01, got {value!r}") from None


def _targets(
    services: Services,
    client: WebClient,
    *,
    workspace_id: str | None,
    users: tuple[str, ...],
    usergroups: tuple[str, ...],
    channels: tuple[str, ...],
    csv_file: Path | None,
    team: str | None,
) -> list[str]:
    ids = list(users)
    for group in usergroups:
        ids += directory.usergroup_members(client, group)
    for channel in channels:
        ids += directory.channel_members(client, channel)
    with services.session() as session:
        if csv_file is not None:
            ids += service.user_ids_from_csv(session, path=csv_file, workspace_id=workspace_id)
        if team:
            ids += service.team_user_ids(session, team=team, workspace_id=workspace_id)
    return list(dict.fromkeys(ids))


def _learn_unknown(
    services: Services, client: WebClient, user_ids: list[str], workspace_id: str | None
) -> None:
    """Someone not synced yet is read from Slack, so enrolling never needs a full sync."""
    with services.session() as session:
        unknown = [
            u for u in user_ids if find_person(session, u, workspace_id=workspace_id) is None
        ]
    for user_id in unknown:
        user = directory.slack_user(client, user_id)
        if user is not None:
            with services.session() as session:
                apply_slack_user(session, user=user, workspace_id=workspace_id)


def _workspace(services: Services, workspace: str | None) -> tuple[str | None, WebClient]:
    """(scope, bot client) of the workspace to enroll in: the one bot in single mode;
    the named, installed workspace in OAuth mode."""
    if services.settings.install_mode != "oauth":
        return None, services.client
    if not workspace:
        raise UserError(
            "several workspaces share this database (NUDGEBOT_INSTALL_MODE=oauth): "
            "say which one to enroll in with --workspace T…"
        )
    client = install.client_for(services, workspace)
    if client is None:
        raise UserError(f"--workspace: the app is not installed in {workspace}")
    return workspace, client


@click.command()
@click.argument("program")
@click.option("--user", "users", multiple=True, help="Slack user id (U…); repeatable.")
@click.option("--usergroup", "usergroups", multiple=True, help="User group id (S…); its members.")
@click.option("--channel", "channels", multiple=True, help="Channel id (C…); its members.")
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="CSV with a slack_user_id or email column.",
)
@click.option("--team", help="Everyone of this team (from the org CSV).")
@click.option("--start", default="now", show_default=True, help="now, or a date (YYYY-MM-DD).")
@click.option(
    "--workspace",
    help="The Slack team id (T…) to enroll in; required with NUDGEBOT_INSTALL_MODE=oauth.",
)
@pass_runtime
def enroll(
    runtime: Runtime,
    program: str,
    users: tuple[str, ...],
    usergroups: tuple[str, ...],
    channels: tuple[str, ...],
    csv_file: Path | None,
    team: str | None,
    start: str,
    workspace: str | None,
) -> None:
    """Enroll people in PROGRAM and plan their nudges. Enrolling twice is harmless."""
    services = runtime.migrated_services()
    now = services.clock.now()
    start_at = parse_start(start, now)
    if not (users or usergroups or channels or csv_file or team):
        raise UserError("name who to enroll: --user, --usergroup, --channel, --csv or --team")
    scope, client = _workspace(services, workspace)
    if users or usergroups or channels:  # Slack is asked about these: is it there at all?
        check_slack(client, services.settings)
    ids = _targets(
        services,
        client,
        workspace_id=scope,
        users=users,
        usergroups=usergroups,
        channels=channels,
        csv_file=csv_file,
        team=team,
    )
    _learn_unknown(services, client, ids, scope)
    with services.session() as session:
        result = planner.enroll_and_plan(
            session,
            settings=services.settings,
            now=services.clock.now(),
            program_id=program,
            user_ids=ids,
            enrolled_by="cli",
            source="cli",
            workspace_id=scope,
            starts_at=start_at if isinstance(start_at, datetime) else now,
            start_date=None if isinstance(start_at, datetime) else start_at,
        )
    for user_id, why in result.skipped:
        click.echo(f"skipped {user_id}: {why}", err=True)
    click.echo(
        f"enrolled {len(result.enrolled)} in {program} ({len(result.already)} already enrolled, "
        f"{len(result.skipped)} skipped)"
    )


@click.command(name="plan")
@click.option("--days", type=click.IntRange(1, 120), default=7, show_default=True)
@format_option()
@pass_runtime
def plan_command(runtime: Runtime, days: int, fmt: str) -> None:
    """Show the coming schedule (person, program, step, local and UTC time) without sending."""
    services = runtime.migrated_services()
    with services.session() as session:
        rows = preview.schedule(
            session, settings=services.settings, now=services.clock.now(), days=days
        )
        session.rollback()  # a dry run: nothing it computed is kept
    click.echo(render([asdict(r) for r in rows], fmt))


@click.command()
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@pass_runtime
def send(runtime: Runtime, once: bool) -> None:
    """Run a sender: post due nudges until stopped (SIGTERM). `nudgebot run` sends too;
    use this for a dedicated sending process. On SQLite only one sender may run."""
    from bot.delivery.worker import run_sender, stop_on_signals

    settings = runtime.settings
    configure_logging(settings.log_level, settings.log_format)
    services = runtime.migrated_services()
    services.metrics.watch_slack()
    # A signal also tells the sender mid-batch to stop claiming and hand its claims back.
    stats = run_sender(services, once=once, stop=stop_on_signals(services.stopping))
    click.echo(
        f"sent {stats.sent} ({stats.reconciled} found already posted), {stats.failed} failed, "
        f"{stats.deferred} deferred, {stats.retried} to retry, {stats.skipped} skipped"
    )


commands: list[click.Command] = [enroll, plan_command, send]
