"""The library in the database: programs, their versions, and who follows which version.

Versioning rule (docs/authoring.md, "Versions"): every distinct content of a file
is a ProgramVersion (numbered 1, 2, …, identified by its content hash). New
enrollments get the current version: the one loaded most recently. A person
already enrolled keeps the version they started, unless the steps they have not
reached yet line up in the current version; see `steps_line_up`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.audit import service as audit
from bot.content import models
from bot.content.loader import Library, LoadedProgram, canonical_json, load_library
from bot.content.schema import Program
from bot.errors import ConfigError, UserError

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)  # programs seen for the first time
    new_versions: list[tuple[str, int]] = field(default_factory=list)  # (program, number)
    reverted: list[tuple[str, int]] = field(default_factory=list)  # back to an older version
    unchanged: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)  # file removed from the library

    def summary(self) -> str:
        return (
            f"{len(self.created)} new, {len(self.new_versions)} new version(s), "
            f"{len(self.reverted)} reverted, {len(self.unchanged)} unchanged, "
            f"{len(self.deactivated)} deactivated"
        )


def sync_library(session: Session, *, library: Library, now: datetime) -> SyncReport:
    """Store each program, and a new version when its content changed; enrollments stay."""
    report = SyncReport()
    for program_id in sorted(library.programs):
        _sync_program(session, library.programs[program_id], now=now, report=report)
    stale = session.scalars(
        select(models.Program).where(
            models.Program.active.is_(True), models.Program.id.not_in(list(library.programs))
        )
    )
    for row in stale:
        # A deleted file stops new enrollments; people enrolled keep their stored version.
        row.active = False
        row.updated_at = now
        report.deactivated.append(row.id)
    session.flush()
    return report


def _sync_program(
    session: Session, loaded: LoadedProgram, *, now: datetime, report: SyncReport
) -> None:
    program = loaded.program
    row = session.get(models.Program, program.id)
    if row is None:
        row = models.Program(id=program.id, created_at=now, title="", owner="")
        session.add(row)
        report.created.append(program.id)
    row.title = program.text("title", "en")[:255]
    row.owner = program.owner
    row.active = True
    row.updated_at = now
    current = current_version(session, program.id)
    if current is not None and current.content_hash == loaded.content_hash:
        report.unchanged.append(program.id)
        return
    known = session.scalar(
        select(models.ProgramVersion).where(
            models.ProgramVersion.program_id == program.id,
            models.ProgramVersion.content_hash == loaded.content_hash,
        )
    )
    if known is not None:
        # The file went back to an earlier content: that version becomes current again.
        known.loaded_at = now
        report.reverted.append((program.id, known.number))
        return
    highest = session.scalar(
        select(func.max(models.ProgramVersion.number)).where(
            models.ProgramVersion.program_id == program.id
        )
    )
    number = (highest or 0) + 1
    audit.record(
        session,
        actor=audit.SYSTEM,
        action=audit.Action.program_launch,
        target=f"program:{program.id}",
        details={"version": number},
        now=now,
    )
    session.add(
        models.ProgramVersion(
            program_id=program.id,
            number=number,
            content_hash=loaded.content_hash,
            content=json.loads(canonical_json(program)),
            loaded_at=now,
        )
    )
    session.flush()
    if program.id not in report.created:
        report.new_versions.append((program.id, number))


def current_version(session: Session, program_id: str) -> models.ProgramVersion | None:
    """The version new enrollments get: the one loaded most recently."""
    return session.scalars(
        select(models.ProgramVersion)
        .where(models.ProgramVersion.program_id == program_id)
        .order_by(models.ProgramVersion.loaded_at.desc(), models.ProgramVersion.number.desc())
        .limit(1)
    ).first()


def load_program_version(session: Session, version_id: int) -> Program:
    """The program exactly as it was in that version (it renders after the file changed)."""
    row = session.get(models.ProgramVersion, version_id)
    if row is None:
        raise UserError(f"no program version {version_id}")
    return _parse_stored(row.content_hash, json.dumps(row.content, sort_keys=True))


@lru_cache(maxsize=256)
def _parse_stored(content_hash: str, content: str) -> Program:
    # Keyed by hash and text: a version never changes, so parsing once per process is enough.
    return Program.model_validate(json.loads(content))


def steps_line_up(
    started: Program, current: Program, *, reached_step_ids: Collection[str], arm: str = ""
) -> bool:
    """True when a person may move from `started` to `current` without noticing a jump.

    The steps they have not reached yet must be the same ids, in the same order,
    of the same kinds, with the same experiment variant for their arm. Wording,
    timing and answers of those steps may change; reached steps may change or go.
    """

    def rest(program: Program) -> list[tuple[str, str, bool]]:
        return [
            (s.id, s.kind, s.variant(arm) is not None)
            for s in program.steps
            if s.id not in reached_step_ids
        ]

    return rest(started) == rest(current)


def load_and_sync(services: Services) -> Library:
    """Validate the library in NUDGEBOT_CONTENT_DIR and store it; `nudgebot run` calls this.

    Raises ConfigError with one `file:line: field: message` line per error, so the
    bot refuses to start on a library Slack (or a person) would trip over."""
    library = load_library(services.settings.content_dir)
    if not library.ok:
        raise ConfigError("\n".join(library.error_lines()))
    with services.session() as session:
        report = sync_library(session, library=library, now=services.clock.now())
    log.info("content library synced: %s", report.summary())
    return library
