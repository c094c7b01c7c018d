"""Run the real `nudgebot` command in-process, as a person would from a shell."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.settings import Settings
from tests.conftest import BOT_TOKEN, SIGNING_SECRET


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(monkeypatch: pytest.MonkeyPatch, settings: Settings, *args: str) -> CliResult:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SLACK_API_URL", settings.slack_api_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    runner = CliRunner()
    with runner.isolation() as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        return CliResult(code, out.getvalue().decode(), err.getvalue().decode())


def wait_until(check: Callable[[], bool], *, timeout: float = 10.0) -> bool:
    """Bolt runs event listeners after the ack; poll for their effect (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()
