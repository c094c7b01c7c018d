"""`nudgebot run` as a person starts it: a real process, real HTTP, the fake Slack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.fakeslack import FakeSlack, SlackDriver

REPO = Path(__file__).resolve().parents[2]


def _env(fake: FakeSlack, db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "NUDGEBOT_"))}
    env.pop("DATABASE_URL", None)
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake.base_url,
        DATABASE_URL=db_url,
        NUDGEBOT_LOG_FORMAT="json",
    )
    env.update(extra)
    return env


class BotProcess:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.url = self._wait_until_serving()

    def _wait_until_serving(self) -> str:
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.lines.append(line)
            entry = json.loads(line)
            if entry["message"].startswith("serving on "):
                return str(entry["message"].split()[2])
        raise AssertionError("bot did not start:\n" + "".join(self.lines))

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=15)
        assert self.proc.stderr is not None
        self.lines.extend(self.proc.stderr.readlines())
        return code


@pytest.fixture
def running(fake_slack: FakeSlack, db_url: str) -> Iterator[BotProcess]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--host", "127.0.0.1", "--port", "0"],
        cwd=REPO,
        env=_env(fake_slack, db_url),
        stderr=subprocess.PIPE,
        text=True,
    )
    bot = BotProcess(proc)
    yield bot
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_run_migrates_serves_slack_over_http_and_stops_on_sigterm(
    running: BotProcess, fake_slack: FakeSlack
) -> None:
    with urllib.request.urlopen(running.url.replace("0.0.0.0", "127.0.0.1") + "/healthz") as r:
        assert json.loads(r.read()) == {"status": "ok", "database": "ok"}

    driver = SlackDriver(
        app_url=f"{running.url}/slack/events", signing_secret=SIGNING_SECRET, fake=fake_slack
    )
    assert driver.url_verification("challenge-accepted").body.count("challenge-accepted") == 1
    assert driver.raw(b'{"type":"event_callback"}', secret="wrong").status == 401
    assert fake_slack.calls_to("auth.test"), "the token is checked at start-up"

    started = time.monotonic()
    assert running.stop() == 0
    assert time.monotonic() - started < 10
    log = "".join(running.lines)
    assert BOT_TOKEN not in log and SIGNING_SECRET not in log
    entries = [json.loads(line) for line in running.lines if line.strip()]
    assert all(entry["level"] for entry in entries)
    # A clean start and stop gives an operator nothing to worry about.
    assert [e["message"] for e in entries if e["level"] in ("warning", "error")] == []


def _run_once(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--port", "0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_run_without_a_bot_token_says_so_in_one_line(tmp_path: Path) -> None:
    with FakeSlack() as fake:
        env = _env(fake, f"sqlite:///{tmp_path}/x.db")
    del env["SLACK_BOT_TOKEN"]
    result = _run_once(env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "nudgebot: SLACK_BOT_TOKEN is not set; create the Slack app from config/manifest.yml "
        "(README: Create the Slack app), or try Nudgebot without Slack: `nudgebot sandbox`"
    ]


def test_run_with_a_malformed_token_says_which_one(tmp_path: Path) -> None:
    with FakeSlack() as fake:
        env = _env(fake, f"sqlite:///{tmp_path}/x.db", SLACK_APP_TOKEN="xoxb-wrong-kind")
    result = _run_once(env)
    assert result.returncode == 2
    assert "invalid setting SLACK_APP_TOKEN: an app-level token starts with xapp-" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_with_a_token_slack_refuses_exits_2(tmp_path: Path) -> None:
    with FakeSlack() as fake:
        env = _env(fake, f"sqlite:///{tmp_path}/x.db", SLACK_BOT_TOKEN="xoxb-revoked")
        result = _run_once(env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "nudgebot: SLACK_BOT_TOKEN was refused by Slack (invalid_auth); create the Slack app "
        "from config/manifest.yml (README: Create the Slack app)"
    ]


def test_run_refuses_an_invalid_library_with_the_validator_lines(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    library = tmp_path / "nudges"
    library.mkdir()
    (library / "broken.yaml").write_text("id: broken\ntitle: [unclosed\n")
    env = _env(fake_slack, f"sqlite:///{tmp_path}/x.db", NUDGEBOT_CONTENT_DIR=str(library))
    result = _run_once(env)
    assert result.returncode == 2
    lines = [
        line.removeprefix("nudgebot: ")
        for line in result.stderr.splitlines()
        if not line.startswith("{")
    ]
    assert lines and all(line.startswith(f"{library}/broken.yaml:") for line in lines), lines
