"""Alembic, driven from code: `nudgebot db …` and `nudgebot run` use these.

Alembic (with Mako and Pygments behind it) costs a process about 10 MB that it
never gives back, and a bot that is already at the newest migration, which is
every start but the first after an upgrade, has no use for it. So whether a
migration is pending is answered without it: the database's revision is one
row of `alembic_version`, and the newest revision is read off the migration
files' `revision` / `down_revision` lines. Alembic is imported only to migrate,
to compare models with the database, and by the `db` commands.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

import bot
from bot.db import normalize_url
from bot.errors import UserError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(bot.__file__).resolve().parent.parent / "migrations"
VERSIONS_DIR = MIGRATIONS_DIR / "versions"
VERSION_TABLE = "alembic_version"
_REVISION_LINE = re.compile(r"^(revision|down_revision)\b[^=\n]*=(.+)$", re.MULTILINE)


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's ini interpolation treats % specially; URLs may carry %-escapes.
    cfg.set_main_option("sqlalchemy.url", normalize_url(database_url).replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "heads") -> None:
    from alembic import command

    check_revision(revision)
    command.upgrade(alembic_config(database_url), revision)


def upgrade_if_pending(engine: Engine, database_url: str) -> bool:
    """Migrate to the newest revision when the database is behind; True if it was."""
    if not pending(engine):
        return False
    upgrade(database_url)
    return True


def downgrade(database_url: str, revision: str = "-1") -> None:
    from alembic import command

    check_revision(revision)
    command.downgrade(alembic_config(database_url), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision(s) the database is at, read from Alembic's own version table."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()  # noqa: S608
        return ",".join(sorted(rows)) or None


def head_revision() -> str | None:
    """The newest revision(s): those no migration file names as its down_revision."""
    revisions, parents = _graph()
    return ",".join(sorted(revisions - parents)) or None


def _graph() -> tuple[set[str], set[str]]:
    """(every revision, every revision some migration builds on), from the files."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in VERSIONS_DIR.glob("*.py"):
        fields = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        if "revision" not in fields:
            continue
        revisions.add(ast.literal_eval(fields["revision"].strip()))
        down = ast.literal_eval(fields.get("down_revision", "None").strip())
        parents.update([down] if isinstance(down, str) else (down or ()))
    return revisions, parents


_RELATIVE = re.compile(r"^(heads?|base)?[+-]\d+$")


def check_revision(revision: str) -> None:
    """Refuse a revision no migration has, before Alembic touches (or creates) the
    database: `head`/`heads`, `base`, steps like `-1` or `+2`, or a revision id
    (or the start of one), as Alembic reads them."""
    if revision in ("head", "heads", "base") or _RELATIVE.match(revision):
        return
    revisions, _ = _graph()
    if not any(r.startswith(revision) for r in revisions) or not revision:
        known = ", ".join(sorted(revisions))
        raise UserError(
            f"unknown revision {revision!r}; use one of {known}, head, base, or a step like -1"
        )


def pending(engine: Engine) -> bool:
    return current_revision(engine) != head_revision()


def model_drift(engine: Engine) -> list[str]:
    """Differences between the models and the migrated database, one line each."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bot.models import Base

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(ctx, Base.metadata)
    return [str(d) for d in diffs]
