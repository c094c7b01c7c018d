"""The author preview: any program, step, locale and experiment arm as the exact message.

For people who write program files. Every call reads the files in
`settings.content_dir` again, so an edit in nudges/ shows on the next reload
(parsing and checking is redone only when the bytes of some file changed);
the message comes from `bot.content.blocks.step_message`, the builder the sender
posts with, and becomes HTML through the sandbox's renderer, as on the page.
`problems` are the lines `nudgebot content validate` prints (file:line: field:
message): a broken file is reported, never a crash.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

from bot.content.blocks import message_locale, step_message
from bot.content.loader import SUFFIXES, Library, load_library
from bot.content.schema import Program, Step
from bot.sandbox.render import Directory, render_blocks
from bot.settings import Settings

MAIN = "main"  # the program's own wording; reserved, so no variant has this id

# The last library read, under a digest of every file's name and bytes: a page that
# previews step after step parses the folder once, and any edit is a new digest.
_last: tuple[str, Library] | None = None
_lock = threading.Lock()


def read_library(directory: Path) -> Library:
    """The library in `directory` as `content validate` sees it now."""
    global _last
    digest = _digest(directory)
    with _lock:
        if _last is not None and _last[0] == digest:
            return _last[1]
    library = load_library(directory)
    with _lock:
        _last = (digest, library)
    return library


def _digest(directory: Path) -> str:
    h = hashlib.sha256(str(directory.resolve()).encode())
    try:
        files = sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES and p.is_file())
        for path in files:
            h.update(b"\0" + path.name.encode() + b"\0" + path.read_bytes())
    except OSError as exc:
        h.update(f"unreadable: {exc}".encode())  # load_library reports it
    return h.hexdigest()


def preview_catalog(settings: Settings) -> dict[str, Any]:
    """Every valid program with its locales, arms and steps, and what validate reports.

    A file with errors is left out of `programs` (as `content validate` leaves it out
    of the library) and its lines are in `problems`."""
    library = read_library(settings.content_dir)
    programs = [_entry(library.get(pid)) for pid in sorted(library.programs)]
    return {"programs": programs, "problems": library.error_lines()}


def preview_step(
    settings: Settings, *, program: str, step: str, locale: str, arm: str | None
) -> dict[str, Any]:
    """The step as a person with `locale` in `arm` would receive it.

    `arm` None, "" or "main" is the main wording. A locale the program does not
    ship falls back to English, as for a person; `locale` in the answer says which
    one was used."""
    library = read_library(settings.content_dir)
    problems = library.error_lines()
    found, why = _find(library, program, step, arm)
    if found is None:
        return {"html": "", "text": "", "blocks": [], "problems": [why, *problems], "error": why}
    chosen = "" if arm in (None, "", MAIN) else str(arm)
    message = step_message(found, step, locale=locale, delivery_id=None, arm=chosen)
    blocks: list[dict[str, Any]] = message["blocks"]
    return {
        "html": render_blocks(blocks, Directory.EMPTY),
        "text": str(message["text"]),
        "blocks": blocks,
        "problems": problems,
        "locale": message_locale(found, locale),
        "arm": chosen or MAIN,
        "error": None,
    }


def _find(
    library: Library, program_id: str, step_id: str, arm: str | None
) -> tuple[Program | None, str]:
    if program_id not in library.programs:
        known = ", ".join(sorted(library.programs)) or "none"
        return None, (
            f"no valid program {program_id!r} (programs: {known}); "
            "a file with errors is listed below"
        )
    program = library.get(program_id)
    if step_id not in {s.id for s in program.steps}:
        ids = ", ".join(s.id for s in program.steps)
        return None, f"{program_id} has no step {step_id!r} (steps: {ids})"
    if arm not in (None, "", MAIN) and arm not in program.variant_ids:
        variants = ", ".join(program.variant_ids) or "none"
        return None, f"{program_id} has no variant {arm!r} (variants: {variants})"
    return program, ""


def _entry(program: Program) -> dict[str, Any]:
    return {
        "id": program.id,
        "title": program.text("title", "en"),
        "locales": list(program.locales),
        # Only a program with an experiment has arms to choose between.
        "arms": [MAIN, *program.variant_ids] if program.variant_ids else [],
        "steps": [
            {"key": s.id, "label": _label(n, s)} for n, s in enumerate(program.steps, start=1)
        ],
    }


def _label(number: int, step: Step) -> str:
    """ "2. first-deliverable (prompt, day 2 at 09:30)": what the author wrote, briefly."""
    when = step.when
    if when.day is not None:
        timing = f"day {when.day}" + (f" at {when.time}" if when.time else "")
    else:
        timing = f"on {when.trigger}" + (f" +{when.delay}" if when.delay else "")
    return f"{number}. {step.id} ({step.kind}, {timing})"
