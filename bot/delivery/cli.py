"""`nudgebot enroll`, `nudgebot plan` (a dry run) and `nudgebot send` (a sender process)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, time
from pathlib import Path

import click

from bot.delivery import planner, service
from bot.errors import UserError
from bot.log import configure_logging
from bot.output import format_option, render
from bot.people import directory
from bot.people.service import apply_slack_user, find_person
from bot.runtime import Runtime, pass_runtime
from bot.services import Services


def parse_start(value: str, now: datetime) -> datetime:
    """`now`, or a date. A date is stored at 12:00 UTC, which is that same
    calendar date in every time zone from UTC-12 to UTC+11: day 0 is the date
    people read, wherever they are."""
    if value == "now":
        return now
    try:
        return datetime.combine(date.fromisoformat(value), time(12), tzinfo=UTC)
    except ValueError:
        raise UserError(f"--start: expected now or a date like 2026-12-01, got {value!r}") from None


def _targets(
    services: Services,
    *,
    users: tuple[str, ...],
    usergroups: tuple[str, ...],
    channels: tuple[str, ...],
    csv_file: Path | None,
    team: str | None,
) -> list[str]:
    ids = list(users)
    for group in usergroups:
        ids += directory.usergroup_members(services.client, group)
    for channel in channels:
        ids += directory.channel_members(services.client, channel)
    with services.session() as session:
        if csv_file is not None:
            ids += service.user_ids_from_csv(session, path=csv_file)
        if team:
            ids += service.team_user_ids(session, team=team)
    return list(dict.fromkeys(ids))


def _learn_unknown(services: Services, user_ids: list[str]) -> None:
    """Someone not synced yet is read from Slack, so enrolling never needs a full sync."""
    with services.session() as session:
        unknown = [u for u in user_ids if find_person(session, u) is None]
    for user_id in unknown:
        user = directory.slack_user(services.client, user_id)
        if user is not None:
            with services.session() as session:
                apply_slack_user(session, user=user)


@click.command()
@click.argument("program")
@click.option("--user", "users", multiple=True, help="Slack user id (U…); repeatable.")
@click.option("--usergroup", "usergroups", multiple=True, help="User group id (S…); its members.")
@click.option("--channel", "channels", multiple=True, help="Channel id (C…); its members.")
@click.option("--csv", "csv_file", type=click.Path(path_type=Path, dir_okay=False),
              help="CSV with a slack_user_id or email column.")  # fmt: skip
@click.option("--team", help="Everyone of this team (from the org CSV).")
@click.option("--start", default="now", show_default=True, help="now, or a date (YYYY-MM-DD).")
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
) -> None:
    """Enroll people in PROGRAM and plan their nudges. Enrolling twice is harmless."""
    services = runtime.migrated_services()
    starts_at = parse_start(start, services.clock.now())
    if not (users or usergroups or channels or csv_file or team):
        raise UserError("name who to enroll: --user, --usergroup, --channel, --csv or --team")
    ids = _targets(services, users=users, usergroups=usergroups, channels=channels,
                   csv_file=csv_file, team=team)  # fmt: skip
    _learn_unknown(services, ids)
    with services.session() as session:
        result = planner.enroll_and_plan(
            session, settings=services.settings, now=services.clock.now(), program_id=program,
            user_ids=ids, starts_at=starts_at, enrolled_by="cli", source="cli",
        )  # fmt: skip
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
        rows = planner.schedule(
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
    stats = run_sender(services, once=once, stop=stop_on_signals())
    click.echo(
        f"sent {stats.sent} ({stats.reconciled} found already posted), {stats.failed} failed, "
        f"{stats.deferred} deferred, {stats.retried} to retry, {stats.skipped} skipped"
    )


commands: list[click.Command] = [enroll, plan_command, send]
