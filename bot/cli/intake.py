"""`nudgebot intake list|scaffold`: the request portfolio, and approved requests → programs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import click

from bot.errors import UserError
from bot.intake import scaffold, service
from bot.output import format_option, render
from bot.runtime import Runtime, pass_runtime

COLUMNS = (
    "id",
    "status",
    "impact",
    "gap",
    "cost",
    "urgency",
    "reach",
    "urgency_band",
    "impact_band",
    "requester",
    "goal",
    "audience",
    "context",
    "cost_of_inaction",
    "horizon",
    "team",
    "sponsor",
    "diagnostic",
    "claimed_by",
    "decided_by",
    "decided_at",
    "created_at",
)
# bot.output.format_option is untyped; this keeps `mypy --strict` able to see through it.
_format_option = cast(Callable[[Callable[..., None]], Callable[..., None]], format_option())
TABLE_COLUMNS = ("id", "status", "impact", "gap", "cost", "urgency", "reach", "requester", "goal")


@click.group()
def intake() -> None:
    """Training requests sent with /intake."""


@intake.command("list")
@click.option("--all", "include_closed", is_flag=True, help="Include approved and declined.")
@_format_option
@pass_runtime
def list_requests(runtime: Runtime, include_closed: bool, fmt: str) -> None:
    """The open portfolio, highest impact first (impact = 100 × gap × cost × urgency ÷ reach)."""
    services = runtime.migrated_services()
    with services.session() as session:
        rows = [
            _row(r)
            for r in service.ranked(
                session, now=services.clock.now(), include_closed=include_closed
            )
        ]
    if fmt == "table":
        # One line per request on a terminal; json and csv carry the text exactly as typed.
        for row in rows:
            goal = str(row["goal"]).replace("\n", " ")
            row["goal"] = goal if len(goal) <= 60 else goal[:59] + "…"
        click.echo(render(rows, fmt, columns=TABLE_COLUMNS))
        return
    click.echo(render(rows, fmt, columns=COLUMNS))


def _row(ranked: service.Ranked) -> dict[str, Any]:
    r, s = ranked.request, ranked.score
    return {
        "id": r.id,
        "status": r.status.value,
        "impact": s.impact,
        "gap": s.gap,
        "cost": s.cost,
        "urgency": s.urgency,
        "reach": s.reach,
        "urgency_band": s.urgency_band,
        "impact_band": s.impact_band,
        "requester": r.requester_slack_user_id,
        "goal": r.goal,
        "audience": r.audience,
        "context": r.context,
        "cost_of_inaction": r.cost_of_inaction,
        "horizon": r.horizon,
        "team": r.team,
        "sponsor": r.sponsor,
        "diagnostic": r.diagnostic,
        "claimed_by": r.claimed_by,
        "decided_by": r.decided_by,
        "decided_at": r.decided_at,
        "created_at": r.created_at,
    }


@intake.command("scaffold")
@click.argument("request_id", type=int)
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    help="A folder, or a file NAME.yaml (NAME becomes the program id). Default: the content dir.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@pass_runtime
def scaffold_program(runtime: Runtime, request_id: int, output: Path | None, force: bool) -> None:
    """Write a program draft (YAML) from approved request REQUEST_ID."""
    services = runtime.migrated_services()
    with services.session() as session:
        request = service.get_request(session, request_id)
        target, program_id = _target(output or runtime.settings.content_dir, request)
        text = scaffold.program_yaml(
            request,
            program_id=program_id,
            owner=request.decided_by or request.requester_slack_user_id,
            today=services.clock.now().date(),
        )
    if target.exists() and not force:
        raise UserError(f"{target} already exists; pass --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    click.echo(f"wrote {target}: write the prompt and steps, then run `nudgebot content validate`")


def _target(output: Path, request: Any) -> tuple[Path, str]:
    if output.suffix in (".yaml", ".yml"):
        return output, scaffold.check_program_id(output.stem)
    program_id = scaffold.program_id_for(request)
    return output / f"{program_id}.yaml", program_id


commands: list[click.Command] = [intake]
