"""Shared fixtures: a real database (SQLite and PostgreSQL), a clock, the fake Slack.

PostgreSQL: set NUDGEBOT_TEST_POSTGRES_URL (for example
postgresql://postgres@127.0.0.1:5432/postgres). Each test run creates a database
of its own there and drops it at the end. Without the variable the PostgreSQL
half is skipped, and the skip says why; with NUDGEBOT_TEST_REQUIRE_POSTGRES=1
(CI sets it) an unreachable server fails the run instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from waitress.server import create_server

from bot import migrate
from bot.app import NudgebotApp, build_app
from bot.clock import FixedClock
from bot.db import make_engine, normalize_url
from bot.plugins import plug_features
from bot.services import Services
from bot.settings import Settings
from bot.web import make_wsgi_app
from tests.fakeslack import FakeSlack, SlackDriver

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-test-token"
PG_ENV = "NUDGEBOT_TEST_POSTGRES_URL"
# Thursday 26 November 2026, 10:00 UTC: a working day in Sofia, New York and Tokyo alike.
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def _pg_admin_url() -> str | None:
    return os.environ.get(PG_ENV) or None


class PostgresServer:
    """Creates databases of this run's own on the configured server, drops them at the end."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = normalize_url(admin_url)
        self.engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def create(self) -> str:
        name = f"nudgebot_test_{uuid.uuid4().hex[:12]}"
        with self.engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.engine.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def _features_plugged_into_delivery() -> None:
    """What `build_app` and every command do at start: the features answer the
    delivery core's questions (bot.plugins), also for tests that use delivery alone."""
    plug_features()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | None]:
    url = _pg_admin_url()
    if url is None:
        yield None
        return
    server = PostgresServer(url)
    try:
        with server.engine.connect():
            pass
    except Exception as exc:
        pytest.exit(f"{PG_ENV} is set but PostgreSQL does not answer: {exc}", returncode=3)
    yield server
    server.drop_all()


def _require_backend(backend: str, server: PostgresServer | None) -> None:
    if backend == "postgresql" and server is None:
        if os.environ.get("NUDGEBOT_TEST_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required here but {PG_ENV} is not set")
        pytest.skip(f"PostgreSQL half skipped: set {PG_ENV} to run it")


@pytest.fixture(scope="session")
def migrated_templates(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer | None
) -> dict[str, str]:
    """One migrated database per backend for the whole run; tests get copies or a wipe."""
    templates: dict[str, str] = {}
    sqlite_file = tmp_path_factory.mktemp("db") / "template.db"
    templates["sqlite"] = f"sqlite:///{sqlite_file}"
    migrate.upgrade(templates["sqlite"])
    if postgres_server is not None:
        templates["postgresql"] = postgres_server.create()
        migrate.upgrade(templates["postgresql"])
    return templates


def _wipe(url: str) -> None:
    engine = make_engine(url)
    present = set(inspect(engine).get_table_names()) - {"alembic_version"}
    tables = ", ".join(f'"{name}"' for name in sorted(present))
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(
    request: pytest.FixtureRequest,
    migrated_templates: dict[str, str],
    postgres_server: PostgresServer | None,
    tmp_path: Path,
) -> str:
    """A migrated, empty database of the test's own, on each backend."""
    backend = request.param
    _require_backend(backend, postgres_server)
    if backend == "sqlite":
        source = Path(make_url(migrated_templates["sqlite"]).database or "")
        target = tmp_path / "nudgebot.db"
        shutil.copyfile(source, target)
        return f"sqlite:///{target}"
    _wipe(migrated_templates["postgresql"])
    return migrated_templates["postgresql"]


@pytest.fixture
def fresh_db_url(
    request: pytest.FixtureRequest, postgres_server: PostgresServer | None, tmp_path: Path
) -> Callable[[str], str]:
    """An empty, unmigrated database on the named backend (for migration tests)."""

    def make(backend: str) -> str:
        _require_backend(backend, postgres_server)
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / f'fresh-{uuid.uuid4().hex[:6]}.db'}"
        assert postgres_server is not None
        return postgres_server.create()

    return make


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def make_settings(**overrides: Any) -> Settings:
    """Settings for tests: never read the developer's .env."""
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "database_url": "sqlite:///:memory:",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(db_url: str, fake_slack: FakeSlack) -> Settings:
    return make_settings(database_url=db_url, slack_api_url=fake_slack.base_url)


@pytest.fixture
def services(settings: Settings, clock: FixedClock) -> Iterator[Services]:
    services = Services.create(settings, clock=clock)
    yield services
    services.close()


@pytest.fixture
def session(services: Services) -> Iterator[Session]:
    with services.session() as session:
        yield session


def _serve_until_closed(server: Any) -> None:
    # close() from the test thread ends select() with EBADF: that is the way out.
    with contextlib.suppress(OSError):
        server.run()


@dataclass
class RunningBot:
    """The bot's HTTP surface served in this process on a free port."""

    url: str
    app: NudgebotApp
    services: Services
    driver: SlackDriver
    fake: FakeSlack


@pytest.fixture
def bot(services: Services, fake_slack: FakeSlack) -> Iterator[RunningBot]:
    app = build_app(services.settings, services=services)
    server = create_server(
        make_wsgi_app(app, services),
        host="127.0.0.1",
        port=0,
        threads=8,
        asyncore_loop_timeout=0.05,  # so closing at teardown takes 50 ms, not a second
    )
    port = getattr(server, "effective_port", 0)
    thread = threading.Thread(target=_serve_until_closed, args=(server,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    driver = SlackDriver(
        app_url=f"{url}/slack/events", signing_secret=SIGNING_SECRET, fake=fake_slack
    )
    try:
        yield RunningBot(url=url, app=app, services=services, driver=driver, fake=fake_slack)
    finally:
        server.close()
        thread.join(timeout=5)
