"""Every `nudgebot` command under every fault that applies to it: one line on
stderr naming what to fix, the exit code of the README's table, no traceback,
and nothing changed (no database file made, no migration applied, no row written).

Exit codes: 1 the command could not do it (bad input, unknown revision, no
database yet), 2 configuration (a setting, a token Slack refuses, a port or
host that cannot be used), 4 the database or Slack cannot be reached.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from sqlalchemy import create_engine, func, select

from bot import migrate
from bot.cli import cli, main
from bot.delivery.models import Enrollment
from bot.settings import env_names
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.fakeslack import FakeSlack

REPO = Path(__file__).resolve().parents[2]
PROGRAM = "customer-call-opener"
# Nothing listens on the discard port: connections are refused at once.
UNREACHABLE_DB = "postgresql://nudgebot@127.0.0.1:9/nudgebot"
UNREACHABLE_SLACK = "http://127.0.0.1:9/api/"

# Each command as a person would type it (files it reads are made by `workdir`).
COMMANDS: dict[str, list[str]] = {
    "audit": ["audit"],
    "content list": ["content", "list"],
    "content preview": ["content", "preview", PROGRAM],
    "content schema": ["content", "schema"],
    "content sync": ["content", "sync"],
    "content validate": ["content", "validate"],
    "db check": ["db", "check"],
    "db current": ["db", "current"],
    "db downgrade": ["db", "downgrade"],
    "db upgrade": ["db", "upgrade"],
    "digest send": ["digest", "send", "--dry-run"],
    "digest show": ["digest", "show", "U0MANAGER"],
    "enroll": ["enroll", PROGRAM, "--user", "U0ANA"],
    "export-user": ["export-user", "U0ANA"],
    "forget": ["forget", "U0ANA", "--yes"],
    "impact": ["impact", PROGRAM],
    "intake list": ["intake", "list"],
    "intake scaffold": ["intake", "scaffold", "1"],
    "metric import": ["metric", "import", "metric.csv"],
    "metric list": ["metric", "list", PROGRAM],
    "metric record": ["metric", "record", PROGRAM, "3"],
    "org import": ["org", "import", "org.csv"],
    "people sync": ["people", "sync"],
    "plan": ["plan"],
    "premortem export": ["premortem", "export", "1"],
    "premortem list": ["premortem", "list"],
    "proof export": ["proof", "export"],
    "retention": ["retention"],
    "run": ["run", "--host", "127.0.0.1", "--port", "0"],
    "sandbox": ["sandbox", "--port", "0"],
    "send": ["send", "--once"],
    "settings": ["settings"],
}
# Commands that read no setting, database or Slack: no fault of theirs applies here.
OFFLINE = {"content schema", "content validate"}
# Reading the program library needs settings (NUDGEBOT_CONTENT_DIR), not the database.
NO_DATABASE = OFFLINE | {"content list", "content preview", "settings"}
# `run` is walked in a process of its own: it takes signals and serves. So is
# `sandbox`, whose faults (a taken port, a bad setting, a file that is not its
# own) are walked in tests/sandbox/test_sandbox.py: it reads no configured
# database or Slack, so those faults cannot reach it.
IN_PROCESS = sorted(set(COMMANDS) - {"run", "sandbox"})
USES_SLACK = {
    "people sync": ["people", "sync"],
    "enroll --user": ["enroll", PROGRAM, "--user", "U0ANA"],
    "enroll --channel": ["enroll", PROGRAM, "--channel", "C0TEAM"],
    "enroll --usergroup": ["enroll", PROGRAM, "--usergroup", "S0TEAM"],
}


def test_the_walk_covers_every_command() -> None:
    def names(group: click.Group, prefix: str = "") -> Iterator[str]:
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                yield from names(command, f"{prefix}{name} ")
            else:
                yield f"{prefix}{name}"

    assert set(names(cli)) == set(COMMANDS)


@dataclass
class Outcome:
    code: int
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stderr.strip().splitlines()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with no .env, no TOML and no setting in the environment."""
    monkeypatch.chdir(tmp_path)
    for name in env_names().values():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NUDGEBOT_CONTENT_DIR", str(REPO / "nudges"))
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("NUDGEBOT_LOG_FORMAT", "text")
    (tmp_path / "metric.csv").write_text("program,date,value\n")
    (tmp_path / "org.csv").write_text("slack_user_id,email,name\n")
    return tmp_path


@pytest.fixture
def migrated(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{workdir / 'nudgebot.db'}"
    migrate.upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def invoke(argv: list[str], capsys: pytest.CaptureFixture[str]) -> Outcome:
    """`nudgebot ARGV` in this process, as its console script runs it."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    capsys.readouterr()
    try:
        with pytest.raises(SystemExit) as exited:
            main(argv)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        root.handlers[:], root.level = saved
    code = exited.value.code
    return Outcome(code if isinstance(code, int) else 1, capsys.readouterr().err)


def assert_one_line(outcome: Outcome, code: int, *words: str) -> str:
    assert "Traceback" not in outcome.stderr, outcome.stderr
    assert len(outcome.lines) == 1, outcome.stderr
    line = outcome.lines[0]
    assert outcome.code == code, line
    assert "unexpected error" not in line, line
    for word in words:
        assert word in line, line
    return line


@pytest.mark.parametrize("command", sorted(set(IN_PROCESS) - OFFLINE))
def test_a_bad_setting(
    command: str, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NUDGEBOT_WEEKLY_CAP", "many")
    outcome = invoke(COMMANDS[command], capsys)
    assert_one_line(outcome, 2, "invalid setting NUDGEBOT_WEEKLY_CAP", "(set in the environment)")
    assert list(workdir.glob("*.db")) == []


@pytest.mark.parametrize("command", sorted(set(IN_PROCESS) - NO_DATABASE))
def test_the_database_unreachable(
    command: str, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE_DB)
    outcome = invoke(COMMANDS[command], capsys)
    assert_one_line(outcome, 4, "cannot reach the database", "DATABASE_URL")


# `db upgrade` makes the database; `db current` and `db check` answer "at base".
MAKES_OR_READS_BASE = {"db upgrade", "db current", "db check"}


@pytest.mark.parametrize("command", sorted(set(IN_PROCESS) - NO_DATABASE - MAKES_OR_READS_BASE))
def test_no_database_yet_is_said_and_not_created(
    command: str,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{workdir / 'absent.db'}")
    outcome = invoke(COMMANDS[command], capsys)
    assert_one_line(outcome, 1, "no database at", "nudgebot db upgrade")
    assert not (workdir / "absent.db").exists()


def test_db_current_and_check_of_no_database_say_base_and_make_none(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{workdir / 'absent.db'}")
    assert invoke(["db", "current"], capsys).code == 0
    assert_one_line(invoke(["db", "check"], capsys), 1, "migrations are pending")
    assert not (workdir / "absent.db").exists()


@pytest.mark.parametrize(
    ("argv", "revision"),
    [(["db", "upgrade", "nope"], "nope"), (["db", "downgrade", "9999"], "9999")],
)
def test_an_unknown_revision_touches_nothing(
    argv: list[str],
    revision: str,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{workdir / 'absent.db'}")
    outcome = invoke(argv, capsys)
    assert_one_line(outcome, 1, f"unknown revision {revision!r}", "head")
    assert not (workdir / "absent.db").exists()


def test_a_downgrade_to_an_unknown_revision_keeps_the_schema(
    migrated: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = migrate.current_revision(create_engine(migrated))
    assert_one_line(invoke(["db", "downgrade", "9999"], capsys), 1, "unknown revision")
    assert migrate.current_revision(create_engine(migrated)) == before


def _enrollments(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(Enrollment)) or 0)


@pytest.mark.parametrize("command", sorted(USES_SLACK))
def test_slack_unreachable(
    command: str, migrated: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLACK_API_URL", UNREACHABLE_SLACK)
    _content_synced(capsys)
    outcome = invoke(USES_SLACK[command], capsys)
    assert_one_line(outcome, 4, "cannot reach Slack", "SLACK_API_URL")
    assert _enrollments(migrated) == 0


@pytest.mark.parametrize("command", sorted(USES_SLACK))
def test_a_token_slack_refuses(
    command: str, migrated: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeSlack() as fake:
        fake.add_user("U0ANA", name="ana")
        monkeypatch.setenv("SLACK_API_URL", fake.base_url)
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-revoked")
        _content_synced(capsys)
        outcome = invoke(USES_SLACK[command], capsys)
    assert_one_line(outcome, 2, "Slack refused SLACK_BOT_TOKEN (invalid_auth)")
    assert _enrollments(migrated) == 0


def _content_synced(capsys: pytest.CaptureFixture[str]) -> None:
    assert invoke(["content", "sync"], capsys).code == 0


# -- `nudgebot run`, in a process of its own ----------------------------------------


def _run(workdir: Path, *args: str, **env: str) -> Outcome:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "NUDGEBOT_"))}
    base.pop("DATABASE_URL", None)
    base.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        DATABASE_URL=f"sqlite:///{workdir / 'run.db'}",
        NUDGEBOT_LOG_FORMAT="json",
        NUDGEBOT_CONTENT_DIR=str(REPO / "nudges"),
        PYTHONPATH=str(REPO),
    )
    base.update(env)
    base = {k: v for k, v in base.items() if v}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", *args],
        cwd=workdir,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return Outcome(result.returncode, result.stderr)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def test_run_on_a_port_taken_says_so_before_migrating(workdir: Path, fake: FakeSlack) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        outcome = _run(
            workdir, "--host", "127.0.0.1", "--port", str(port), SLACK_API_URL=fake.base_url
        )
    assert_one_line(outcome, 2, f"cannot listen on 127.0.0.1:{port}", "--port")
    assert not (workdir / "run.db").exists(), "migrated before finding the port taken"
    assert not fake.calls_to("auth.test")


def test_run_on_a_host_that_is_not_an_address(workdir: Path, fake: FakeSlack) -> None:
    outcome = _run(workdir, "--host", "256.1.1.1", "--port", "0", SLACK_API_URL=fake.base_url)
    assert_one_line(outcome, 2, "cannot listen on 256.1.1.1:0", "NUDGEBOT_HOST")
    assert not (workdir / "run.db").exists()


def test_run_without_a_signing_secret_says_so_before_migrating(
    workdir: Path, fake: FakeSlack
) -> None:
    outcome = _run(workdir, "--port", "0", SLACK_API_URL=fake.base_url, SLACK_SIGNING_SECRET="")
    assert_one_line(outcome, 2, "SLACK_SIGNING_SECRET is not set")
    assert not (workdir / "run.db").exists()
    assert not fake.calls_to("auth.test")


def test_run_with_an_app_token_slack_refuses(workdir: Path, fake: FakeSlack) -> None:
    outcome = _run(
        workdir,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        SLACK_API_URL=fake.base_url,
        SLACK_APP_TOKEN="xapp-1-revoked",
    )
    assert_one_line(outcome, 2, "SLACK_APP_TOKEN was refused by Slack")
    assert not (workdir / "run.db").exists()


def test_run_with_a_bot_token_slack_refuses(workdir: Path, fake: FakeSlack) -> None:
    outcome = _run(
        workdir,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        SLACK_API_URL=fake.base_url,
        SLACK_BOT_TOKEN="xoxb-revoked",
    )
    assert_one_line(outcome, 2, "SLACK_BOT_TOKEN was refused by Slack (invalid_auth)")
    assert not (workdir / "run.db").exists()


def test_run_with_slack_unreachable(workdir: Path) -> None:
    outcome = _run(workdir, "--host", "127.0.0.1", "--port", "0", SLACK_API_URL=UNREACHABLE_SLACK)
    assert_one_line(outcome, 4, "cannot reach Slack", "SLACK_API_URL")
    assert not (workdir / "run.db").exists()


def test_run_with_the_database_unreachable(workdir: Path, fake: FakeSlack) -> None:
    outcome = _run(
        workdir,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        SLACK_API_URL=fake.base_url,
        DATABASE_URL=UNREACHABLE_DB,
    )
    assert_one_line(outcome, 4, "cannot reach the database", "DATABASE_URL")


def test_run_with_a_bad_setting(workdir: Path, fake: FakeSlack) -> None:
    outcome = _run(workdir, "--port", "0", SLACK_API_URL=fake.base_url, NUDGEBOT_WEEKLY_CAP="many")
    assert_one_line(outcome, 2, "invalid setting NUDGEBOT_WEEKLY_CAP")
    assert not (workdir / "run.db").exists()


def test_the_readme_documents_the_exit_codes_the_errors_carry() -> None:
    from bot.errors import ConfigError, PermissionDenied, ServiceUnavailable, UserError

    readme = (REPO / "README.md").read_text()
    table = readme.split("| exit code | meaning |", 1)[1].split("\n\n", 1)[0]
    documented = {int(row.split("|")[1]) for row in table.splitlines()[2:]}
    assert documented == {0, 1, 2, 3, 4}
    assert "| 2 | configuration" in table and "| 4 | the database or Slack" in table
    assert (UserError.exit_code, ConfigError.exit_code) == (1, 2)
    assert (PermissionDenied.exit_code, ServiceUnavailable.exit_code) == (3, 4)
