"""`nudgebot metric …`, `nudgebot impact PROGRAM`, `nudgebot digest send|show`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import click

from bot.digest import blocks, service
from bot.digest.chart import impact_png
from bot.digest.impact import impact_brief
from bot.digest.jobs import send_due_digests
from bot.digest.team import manager_digest
from bot.errors import UserError
from bot.output import format_option, render
from bot.runtime import Runtime, pass_runtime

_format_option = cast(Callable[[Callable[..., None]], Callable[..., None]], format_option())


@click.group()
def metric() -> None:
    """Observations of each program's KPI (the one metric that matters)."""


@metric.command("record")
@click.argument("program")
@click.argument("value")
@click.option("--date", "day", help="Day of the observation, YYYY-MM-DD (default: today, UTC).")
@click.option("--team", default="", help="The team it was measured on (default: company-wide).")
@pass_runtime
def record(runtime: Runtime, program: str, value: str, day: str | None, team: str) -> None:
    """Record VALUE of PROGRAM's metric (again on the same day and team: replaces it)."""
    services = runtime.migrated_services()
    now = services.clock.now()
    with services.session() as session:
        row = service.record_metric(
            session,
            program_id=program,
            value=service.parse_value(value),
            observed_on=service.parse_day(day, today=now.date()),
            team=team.strip(),
            source="cli",
            now=now,
        )
        where = f" for team {row.team}" if row.team else ""
        click.echo(f"recorded {row.value:g} for {program} on {row.observed_on.isoformat()}{where}")


@metric.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@pass_runtime
def import_csv(runtime: Runtime, file: Path) -> None:
    """Import FILE.csv with columns program,value[,date][,team]; all rows or none."""
    services = runtime.migrated_services()
    with services.session() as session:
        count = service.import_metric_csv(session, path=file, now=services.clock.now())
    click.echo(f"imported {count} observation(s) from {file}")


@metric.command("list")
@click.argument("program")
@_format_option
@pass_runtime
def list_observations(runtime: Runtime, program: str, fmt: str) -> None:
    """PROGRAM's KPI observations, oldest first, with their source."""
    services = runtime.migrated_services()
    with services.session() as session:
        rows: list[dict[str, Any]] = [
            {
                "date": o.observed_on,
                "team": o.team,
                "value": o.value,
                "source": o.source,
                "recorded_at": o.recorded_at,
            }
            for o in service.list_metric(session, program_id=program)
        ]
    click.echo(render(rows, fmt, columns=("date", "team", "value", "source", "recorded_at")))


@click.command()
@click.argument("program")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "json"]),
    default="md",
    show_default=True,
    help="Markdown for people, JSON for tools.",
)
@click.option(
    "--png", type=click.Path(path_type=Path, dir_okay=False), help="Also write the chart."
)
@pass_runtime
def impact(runtime: Runtime, program: str, fmt: str, png: Path | None) -> None:
    """The one-page impact brief of PROGRAM: goal, metric, adoption, experiment, next steps."""
    services = runtime.migrated_services()
    with services.session() as session:
        brief = impact_brief(
            session, program_id=program, now=services.clock.now(), settings=services.settings
        )
    if png is not None:
        try:
            png.write_bytes(impact_png(brief))
        except OSError as exc:
            raise UserError(f"{png}: cannot write the chart ({exc.strerror})") from None
    if fmt == "json":
        click.echo(json.dumps(brief.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(blocks.impact_markdown(brief), nl=False)


@click.group()
def digest() -> None:
    """Weekly manager and L&D digests."""


@digest.command("send")
@click.option("--dry-run", is_flag=True, help="List who is due; send nothing.")
@pass_runtime
def send(runtime: Runtime, dry_run: bool) -> None:
    """Send the digests that are due now (each reader once a week; safe to repeat)."""
    services = runtime.migrated_services()
    sent = send_due_digests(services, dry_run=dry_run)
    verb = "due" if dry_run else "sent"
    for item in sent:
        click.echo(f"{verb}: {item.kind.value} digest to {item.recipient} ({item.week})")
    click.echo(f"{len(sent)} digest(s) {verb}")


@digest.command("show")
@click.argument("manager")
@pass_runtime
def show(runtime: Runtime, manager: str) -> None:
    """Print MANAGER's digest (a Slack user id) as its Block Kit JSON, without sending it."""
    services = runtime.migrated_services()
    with services.session() as session:
        problem = service.not_a_manager(session, manager_user_id=manager)
        if problem:
            raise UserError(problem)
        result = manager_digest(
            session, manager_user_id=manager, now=services.clock.now(), settings=services.settings
        )
    click.echo(json.dumps(blocks.manager_digest_blocks(result), ensure_ascii=False, indent=2))


commands: list[click.Command] = [metric, impact, digest]
