"""Migrations: up, down, up again, and models that agree with them, on both databases."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, text

from bot import migrate
from bot.cli import cli
from bot.db import make_engine
from bot.models import Base

BACKENDS = ["sqlite", "postgresql"]


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_downgrade_upgrade_leaves_models_and_database_in_step(
    backend: str, fresh_db_url: Callable[[str], str]
) -> None:
    url = fresh_db_url(backend)
    migrate.upgrade(url)
    assert _tables(url) == set(Base.metadata.tables)

    migrate.downgrade(url, "base")
    assert _tables(url) == set()

    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        assert migrate.current_revision(engine) == migrate.head_revision(url)
        assert migrate.model_drift(engine) == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_db_commands_report_state_and_drift(
    backend: str, fresh_db_url: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = fresh_db_url(backend)
    monkeypatch.setenv("DATABASE_URL", url)
    runner = CliRunner()

    behind = runner.invoke(cli, ["db", "current"])
    assert behind.exit_code == 0 and "base (behind" in behind.output

    pending = runner.invoke(cli, ["db", "check"])
    assert pending.exit_code == 1
    assert "migrations are pending" in str(pending.exception)

    up = runner.invoke(cli, ["db", "upgrade"])
    assert up.exit_code == 0, up.output
    assert runner.invoke(cli, ["db", "current"]).output.strip().endswith("(up to date)")
    clean = runner.invoke(cli, ["db", "check"])
    assert clean.exit_code == 0 and "models and migrations agree" in clean.output

    # A table no model knows about is drift: check must fail and say what differs.
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE stray_table (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    drift = runner.invoke(cli, ["db", "check"])
    assert drift.exit_code == 1
    assert "stray_table" in str(drift.exception)

    down = runner.invoke(cli, ["db", "downgrade", "base"])
    assert down.exit_code == 0 and "database at base" in down.output


def test_migrations_form_one_line_with_dated_file_names() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, "two migrations branch from one parent: chain them"
    for revision in script.walk_revisions():
        name = Path(revision.path).name
        assert re.match(r"^\d{4}_\d{2}_\d{2}_\d{4}-\w+_\w+\.py$", name), name
