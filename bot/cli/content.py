"""`nudgebot content …`: validate, list, preview, describe and sync program files.

All but `sync` read files only: no Slack token and no database needed.
"""

from __future__ import annotations

import json
import textwrap
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bot.content.blocks import message_locale, step_message
from bot.content.loader import Library, load_library
from bot.content.schema import Program, Step
from bot.content.service import sync_library
from bot.errors import UserError
from bot.output import format_option, render
from bot.runtime import Runtime, pass_runtime

F = TypeVar("F", bound=Callable[..., Any])

BUILDER_URL = "https://app.slack.com/block-kit-builder/#"
FIVE_PS = ("problem", "behavior", "place", "prompt", "proof")


def program_schema() -> dict[str, Any]:
    """The JSON Schema of a program file (docs/program.schema.json is this, committed)."""
    return Program.model_json_schema(mode="validation")


def schema_text() -> str:
    return json.dumps(program_schema(), indent=2, ensure_ascii=False) + "\n"


def builder_link(message: dict[str, Any]) -> str:
    """A Block Kit Builder address that opens this message for a look."""
    payload = json.dumps({"blocks": message["blocks"]}, separators=(",", ":"), ensure_ascii=False)
    return BUILDER_URL + urllib.parse.quote(payload, safe="")


def _directory(runtime: Runtime, directory: Path | None) -> Path:
    return directory if directory is not None else runtime.settings.content_dir


def _library(runtime: Runtime, directory: Path | None) -> Library:
    library = load_library(_directory(runtime, directory))
    if library.errors:
        click.echo(
            f"warning: {len(library.errors)} error(s) in the library; "
            "run `nudgebot content validate` (programs with errors are left out)",
            err=True,
        )
    return library


def _format(*choices: str, default: str) -> Callable[[F], F]:
    decorator: Callable[[F], F] = format_option(*choices, default=default)
    return decorator


_dir_option = click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder of program files (default NUDGEBOT_CONTENT_DIR).",
)


@click.group()
def content() -> None:
    """The nudge library: program files in nudges/ (see docs/authoring.md)."""


@content.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@pass_runtime
@click.pass_context
def validate(ctx: click.Context, runtime: Runtime, directory: Path | None) -> int:
    """Check every program file in DIRECTORY (default NUDGEBOT_CONTENT_DIR).

    Prints one line per problem, `file:line: field: what is wrong and how to fix
    it`, and exits 1 when there is any.
    """
    library = load_library(_directory(runtime, directory))
    for line in library.error_lines():
        click.echo(line)
    count = len(library.programs)
    if library.errors:
        click.echo(f"{len(library.errors)} error(s); {count} program(s) valid")
        ctx.exit(1)
    steps = sum(len(p.program.steps) for p in library.programs.values())
    click.echo(f"{count} program(s), {steps} step(s): all valid")
    return 0


@content.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@pass_runtime
@click.pass_context
def sync(ctx: click.Context, runtime: Runtime, directory: Path | None) -> int:
    """Validate the library and store it in the database (what `nudgebot run` does at start).

    A program whose content changed gets a new version; people already enrolled
    keep theirs (docs/authoring.md, "Version"). Nothing is stored when any file
    has an error.
    """
    library = load_library(_directory(runtime, directory))
    if library.errors:
        for line in library.error_lines():
            click.echo(line)
        click.echo(f"{len(library.errors)} error(s); nothing stored")
        ctx.exit(1)
    services = runtime.migrated_services()
    with services.session() as session:
        report = sync_library(session, library=library, now=services.clock.now())
    for program_id, number in report.new_versions:
        click.echo(f"{program_id}: new version {number}")
    for program_id, number in report.reverted:
        click.echo(f"{program_id}: back to version {number}")
    click.echo(f"synced {len(library.programs)} program(s): {report.summary()}")
    return 0


@content.command(name="list")
@_format("table", "json", "csv", default="table")
@click.option("--locale", default="en", show_default=True, help="Language of the texts.")
@_dir_option
@pass_runtime
def list_programs(runtime: Runtime, fmt: str, locale: str, directory: Path | None) -> None:
    """The programs: id, title, the Five Ps, the metric, step count and locales."""
    library = _library(runtime, directory)
    rows = [_row(p.program, locale) for _, p in sorted(library.programs.items())]
    if fmt == "table":
        click.echo("\n\n".join(_card(row) for row in rows) if rows else "(no programs)")
    else:
        click.echo(render(rows, fmt))


def _row(program: Program, locale: str) -> dict[str, Any]:
    lang = message_locale(program, locale)
    m = program.metric
    row: dict[str, Any] = {"id": program.id, "title": program.text("title", lang)}
    row.update({p: program.text(p, lang) for p in FIVE_PS})
    arrow = "↑" if m.direction == "up" else "↓"
    row["metric"] = f"{m.name}: {m.baseline:g} → {m.target:g} {m.unit} ({arrow}) by {m.by}"
    row["steps"] = len(program.steps)
    row["locales"] = ",".join(program.locales)
    return row


def _card(row: dict[str, Any]) -> str:
    lines = [f"{row['id']}  {row['title']}  ({row['steps']} steps; {row['locales']})"]
    for name in (*FIVE_PS, "metric"):
        short = textwrap.shorten(str(row[name]), width=86, placeholder=" …")
        lines.append(f"  {name.capitalize():<9} {short}")
    return "\n".join(lines)


@content.command()
@click.argument("program_id", metavar="PROGRAM")
@click.option("--step", "step_ref", help="Step number (1, 2, …) or id; default every step.")
@click.option("--locale", default="en", show_default=True, help="Person's locale, e.g. bg-BG.")
@click.option("--arm", default="", help="Experiment arm (a variant id) to preview.")
@_format("text", "json", default="text")
@_dir_option
@pass_runtime
def preview(
    runtime: Runtime,
    program_id: str,
    step_ref: str | None,
    locale: str,
    arm: str,
    fmt: str,
    directory: Path | None,
) -> None:
    """Show the exact Slack message a person would receive, with a Block Kit Builder link."""
    library = _library(runtime, directory)
    if program_id not in library.programs:
        known = ", ".join(sorted(library.programs)) or "none"
        raise UserError(f"no valid program {program_id!r} (programs: {known})")
    program = library.get(program_id)
    steps = [_find_step(program, step_ref)] if step_ref else list(program.steps)
    if arm and arm not in program.variant_ids:
        variants = ", ".join(program.variant_ids) or "none"
        raise UserError(f"{program_id} has no variant {arm!r} (variants: {variants})")
    items: list[dict[str, Any]] = []
    for step in steps:
        message = step_message(program, step.id, locale=locale, delivery_id=None, arm=arm)
        items.append(
            {
                "program": program.id,
                "step": step.id,
                "locale": message_locale(program, locale),
                "arm": arm,
                "message": message,
                "block_kit_builder": builder_link(message),
            }
        )
    if fmt == "json":
        click.echo(json.dumps(items, indent=2, ensure_ascii=False))
        return
    for number, (step, item) in enumerate(zip(steps, items, strict=True)):
        if number:
            click.echo("")
        click.echo(_describe_step(program, step))
        click.echo(render_text(item["message"]))
        click.echo(f"Block Kit Builder: {item['block_kit_builder']}")


def _find_step(program: Program, ref: str) -> Step:
    if ref.isdigit():
        index = int(ref)
        if not 1 <= index <= len(program.steps):
            raise UserError(f"{program.id} has steps 1 to {len(program.steps)}; got --step {ref}")
        return program.steps[index - 1]
    try:
        return program.step(ref)
    except KeyError:
        ids = ", ".join(s.id for s in program.steps)
        raise UserError(f"{program.id} has no step {ref!r} (steps: {ids})") from None


def _describe_step(program: Program, step: Step) -> str:
    number = program.steps.index(step) + 1
    when = step.when
    timing = (
        f"day {when.day}" + (f" at {when.time}" if when.time else "")
        if when.day is not None
        else f"on trigger {when.trigger}" + (f" after {when.delay}" if when.delay else "")
    )
    return f"── {program.id} · step {number}: {step.id} ({step.kind}, {timing}) ──"


def render_text(message: dict[str, Any]) -> str:
    """A terminal sketch of a Block Kit message: texts, checkboxes and [buttons]."""
    lines: list[str] = []
    for block in message["blocks"]:
        kind = block["type"]
        if kind == "section":
            lines.append(block["text"]["text"])
        elif kind == "context":
            lines.append("  " + " ".join(e.get("text", "") for e in block["elements"]))
        elif kind == "actions":
            lines += _sketch_elements(block["elements"])
    return "\n".join(lines)


def _sketch_elements(elements: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    controls: list[str] = []
    for element in elements:
        if element["type"] == "checkboxes":
            lines += [f"  ☐ {o['text']['text']}" for o in element["options"]]
        elif element["type"] == "button":
            link = f" → {element['url']}" if "url" in element else ""
            controls.append(f"[{element['text']['text']}{link}]")
        elif element["type"] == "static_select":
            choices = " / ".join(o["text"]["text"] for o in element["options"])
            controls.append(f"[{element['placeholder']['text']} ▾ {choices}]")
    if controls:
        lines.append("  " + " ".join(controls))
    return lines


@content.command()
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to this file instead of printing (e.g. docs/program.schema.json).",
)
def schema(output: Path | None) -> None:
    """Print the JSON Schema of a program file, for completion and checks in an editor."""
    if output is None:
        click.echo(schema_text(), nl=False)
        return
    output.write_text(schema_text(), encoding="utf-8")
    click.echo(f"wrote {output}")


commands: list[click.Command] = [content]
