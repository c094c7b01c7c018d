"""`nudgebot proof export`: the proof log for analysis (CSV or JSON)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any, cast

import click

from bot.audit import service as audit
from bot.errors import UserError
from bot.output import format_option, render
from bot.proof import service
from bot.runtime import Runtime, pass_runtime


def parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(0), tzinfo=UTC)
    except ValueError:
        raise UserError(f"--since: expected a date like 2026-11-01, got {value!r}") from None


@click.group("proof")
def proof() -> None:
    """The proof log: every answer to a nudge, append-only."""


# click's option decorators are untyped; this keeps the command's signature for mypy.
_format = cast(
    Callable[[Callable[..., Any]], Callable[..., Any]], format_option("csv", "json", default="csv")
)


@proof.command("export")
@_format
@click.option("--program", "program_id", help="Only this program (its id).")
@click.option("--since", help="Only answers on or after this date (UTC), like 2026-11-01.")
@pass_runtime
def export(runtime: Runtime, fmt: str, program_id: str | None, since: str | None) -> None:
    """Write proof events to stdout, oldest first. People's own words (reflections,
    reasons) are not exported here."""
    start = parse_since(since)
    services = runtime.migrated_services()
    with services.session() as session:
        rows = service.export(session, program_id=program_id, since=start)
        audit.record(
            session,
            actor=audit.cli_actor(),
            action=audit.Action.data_export,
            target="proof_events",
            details={"rows": len(rows), "format": fmt, "program": program_id or "all"},
            now=services.clock.now(),
        )
    click.echo(render(rows, fmt, columns=service.EXPORT_COLUMNS))


commands: list[click.Command] = [proof]
