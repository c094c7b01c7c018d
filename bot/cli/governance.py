"""`nudgebot export-user`, `nudgebot forget`, `nudgebot retention`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bot.audit.service import cli_actor
from bot.errors import UserError
from bot.governance import service
from bot.governance.jobs import run_retention
from bot.runtime import Runtime, pass_runtime

_workspace = click.option(
    "--workspace",
    help="Slack team id, when the person is in several installed workspaces.",
)


@click.command("export-user")
@click.argument("user")
@_workspace
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False, writable=True),
    help="Write the JSON here (default: standard output).",
)
@pass_runtime
def export_user(runtime: Runtime, user: str, workspace: str | None, output: Path | None) -> None:
    """Write everything held about USER (Slack user id or email) as JSON."""
    services = runtime.migrated_services()
    with services.session() as session:
        subject = service.find_subject(session, user=user, workspace_id=workspace)
        data = service.export(session, subject=subject, actor=cli_actor(), now=services.clock.now())
    if not any(data["tables"].values()):
        # Said after the session, so the request itself stays in the audit log.
        raise UserError(f"nothing is held about {user}; no export written (is the id right?)")
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    if output is None:
        sys.stdout.write(text + "\n")
        return
    output.write_text(text + "\n", encoding="utf-8")
    rows = sum(len(r) for r in data["tables"].values())
    click.echo(f"wrote {rows} row(s) from {len(data['tables'])} table(s) to {output}", err=True)


@click.command("forget")
@click.argument("user")
@_workspace
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_runtime
def forget(runtime: Runtime, user: str, workspace: str | None, yes: bool) -> None:
    """Erase USER's personal data everywhere, keeping only anonymous counts."""
    services = runtime.migrated_services()
    if not yes:
        click.confirm(f"Erase every record of {user}? This cannot be undone", abort=True, err=True)
    with services.session() as session:
        subject = service.find_subject(session, user=user, workspace_id=workspace)
        touched = service.forget(
            session, subject=subject, actor=cli_actor(), now=services.clock.now()
        )
    total = sum(touched.values())
    if not total:
        raise UserError(
            f"nothing is held about {user}; nothing erased (is the id right? "
            "the request is in the audit log)"
        )
    detail = ", ".join(f"{table} {count}" for table, count in sorted(touched.items()))
    click.echo(
        f"forgot {user}: {total} row(s) erased or unlinked" + (f" ({detail})" if detail else "")
    )


@click.command("retention")
@pass_runtime
def retention(runtime: Runtime) -> None:
    """Purge proof events and reflections older than NUDGEBOT_RETENTION_DAYS now
    (`nudgebot run` does it every hour)."""
    services = runtime.migrated_services()
    purged = run_retention(services)
    if not purged:
        click.echo(f"nothing older than {services.settings.retention_days} days")
        return
    for table, count in sorted(purged.items()):
        click.echo(f"{table}: {count} row(s) purged")


commands: list[click.Command] = [export_user, forget, retention]
