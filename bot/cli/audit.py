"""`nudgebot audit`: read the audit log."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import click

from bot.audit import service
from bot.errors import UserError
from bot.output import format_option, render
from bot.runtime import Runtime, pass_runtime

COLUMNS = ("at", "workspace", "actor", "action", "target", "details")


def parse_when(value: str, *, option: str) -> datetime:
    """YYYY-MM-DD (midnight UTC) or an ISO date-time (UTC unless it names an offset)."""
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"{option} {value!r}: expected a date like 2026-11-01 or 2026-11-01T09:00"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@click.command("audit")
@click.option("--since", help="Only events at or after this date (YYYY-MM-DD, UTC).")
@click.option("--until", help="Only events before this date (YYYY-MM-DD, UTC).")
@click.option("--action", "actions", multiple=True, help="Only this action (repeatable).")
@format_option("table", "json", "csv")
@pass_runtime
def audit(
    runtime: Runtime, since: str | None, until: str | None, actions: tuple[str, ...], fmt: str
) -> None:
    """Who enrolled, launched, decided, changed roles, exported or deleted what, and when."""
    start = parse_when(since, option="--since") if since else None
    end = parse_when(until, option="--until") if until else None
    services = runtime.migrated_services()
    with services.session() as session:
        unknown = [a for a in actions if a not in service.known_actions(session)]
        if unknown:
            raise UserError(
                f"--action {unknown[0]!r}: no such action; known: "
                + ", ".join(sorted(service.known_actions(session)))
            )
        rows = [
            service.as_row(e)
            for e in service.events(session, since=start, until=end, actions=actions)
        ]
    if fmt != "json":
        for row in rows:
            row["details"] = json.dumps(row["details"], sort_keys=True) if row["details"] else ""
    click.echo(render(rows, fmt, columns=COLUMNS))


commands: list[click.Command] = [audit]
