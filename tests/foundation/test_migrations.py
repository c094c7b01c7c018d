"""Migrations: up, down, up again, and models that agree with them, on both databases."""

from __future__ import annotations

import re
import subprocess
import sys
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
        assert migrate.current_revision(engine) == migrate.head_revision()
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
    # `nudgebot run` reads the newest revision off the files without Alembic: same answer.
    assert migrate.head_revision() == script.get_current_head()
    for revision in script.walk_revisions():
        name = Path(revision.path).name
        assert re.match(r"^\d{4}_\d{2}_\d{2}_\d{4}-\w+_\w+\.py$", name), name


def _links(url: str) -> dict[str, tuple[int, ...]]:
    """Per table: its row count and how many rows have each foreign key set."""
    engine = make_engine(url)
    try:
        schema = inspect(engine)
        found: dict[str, tuple[int, ...]] = {}
        with engine.connect() as conn:
            for name in sorted(set(schema.get_table_names()) - {"alembic_version"}):
                fks = sorted(
                    {c for fk in schema.get_foreign_keys(name) for c in fk["constrained_columns"]}
                )
                counts = ["count(*)"] + [f'count("{col}")' for col in fks]
                row = conn.execute(text(f'SELECT {", ".join(counts)} FROM "{name}"')).one()
                found[name] = tuple(row)
        return found
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_filled_database_keeps_every_row_and_link_down_to_0008_and_back(
    backend: str, fresh_db_url: Callable[[str], str]
) -> None:
    """The recent migrations rebuild tables others point at (SQLite copies and drops
    them): an upgrade must not cascade-delete or unlink a single row."""
    from tests.trust.filler import Owner, fill_all

    url = fresh_db_url(backend)
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            fill_all(conn, a=Owner("UAAAA0001"), b=Owner("UBBBB0002"), c=Owner("UCCCC0003"))
            # 0008 knew one workspace; rows of others are dropped by design going down.
            for table in Base.metadata.sorted_tables:
                if "workspace_id" in table.c and not table.c.workspace_id.primary_key:
                    conn.execute(table.update().values(workspace_id=""))
    finally:
        engine.dispose()
    before = _links(url)
    assert all(counts[0] > 0 for counts in before.values())

    migrate.downgrade(url, "0008")
    # Tables added after 0008 come back empty, as they should; removed ones stay gone.
    kept = set(_links(url)) & set(before)
    migrate.upgrade(url)

    after = _links(url)
    assert {name: after[name] for name in kept} == {name: before[name] for name in kept}


_START_CHECK = """
import sys
from bot import migrate
from bot.db import make_engine
engine = make_engine(sys.argv[1])
print(migrate.upgrade_if_pending(engine, sys.argv[1]), "alembic" in sys.modules)
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_start_migrates_a_database_behind_and_leaves_alembic_out_when_up_to_date(
    backend: str, fresh_db_url: Callable[[str], str]
) -> None:
    """Every start checks for pending migrations; only a database behind pays for Alembic
    (about 10 MB a bot process would carry for the rest of its life)."""
    url = fresh_db_url(backend)

    def start() -> str:
        out = subprocess.run(
            [sys.executable, "-c", _START_CHECK, url], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()

    assert start() == "True True", "an empty database is migrated at start"
    assert _tables(url) == set(Base.metadata.tables)
    assert start() == "False False", "an up-to-date database is left alone, without Alembic"

    migrate.downgrade(url, "-1")
    assert start() == "True True", "one revision behind: migrated again"
    engine = make_engine(url)
    try:
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()
