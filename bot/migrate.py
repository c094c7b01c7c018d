"""Alembic, driven from code: `nudgebot db …` and `nudgebot run` use these."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

import bot
from bot.db import normalize_url
from bot.models import Base

MIGRATIONS_DIR = Path(bot.__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's ini interpolation treats % specially; URLs may carry %-escapes.
    cfg.set_main_option("sqlalchemy.url", normalize_url(database_url).replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "-1") -> None:
    command.downgrade(alembic_config(database_url), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    return ",".join(sorted(heads)) or None


def head_revision(database_url: str) -> str | None:
    heads = ScriptDirectory.from_config(alembic_config(database_url)).get_heads()
    return ",".join(sorted(heads)) or None


def pending(engine: Engine, database_url: str) -> bool:
    return current_revision(engine) != head_revision(database_url)


def model_drift(engine: Engine) -> list[str]:
    """Differences between the models and the migrated database, one line each."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(ctx, Base.metadata)
    return [str(d) for d in diffs]
