"""`nudgebot premortem list|export`: the records, for people and scripts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

import click

from bot.output import format_option, render
from bot.premortem import service
from bot.runtime import Runtime, pass_runtime

# bot.output.format_option is untyped; the cast keeps `mypy --strict` able to see through it.
_format_option = cast(
    Callable[[Callable[..., None]], Callable[..., None]], format_option("table", "json", "csv")
)
COLUMNS = (
    "id",
    "initiative",
    "channel",
    "facilitator",
    "phase",
    "risks",
    "preventions",
    "started",
    "finished",
)


@click.group()
def premortem() -> None:
    """Pre-mortems run with /premortem in Slack."""


@premortem.command("list")
@click.option("--channel", help="Only this channel id (C…).")
@_format_option
@pass_runtime
def list_command(runtime: Runtime, channel: str | None, fmt: str) -> None:
    """Every pre-mortem, newest first, with its phase, risks and preventions."""
    services = runtime.migrated_services()
    with services.session() as session:
        rows = service.list_premortems(session, channel_id=channel)
    click.echo(render(rows, fmt, columns=COLUMNS))


@premortem.command("export")
@click.argument("premortem_id", type=int)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
@pass_runtime
def export_command(runtime: Runtime, premortem_id: int, output: Path | None) -> None:
    """A finished pre-mortem as Markdown: ranked risks, preventions, owners, dates."""
    services = runtime.migrated_services()
    with services.session() as session:
        text = service.export_markdown(session, premortem_id=premortem_id)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")


commands: list[click.Command] = [premortem]
