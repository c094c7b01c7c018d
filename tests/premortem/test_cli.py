"""`nudgebot premortem list|export` and `/premortem list|help`, as people use them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.settings import Settings
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.premortem.conftest import Room, eventually, message_text


@dataclass
class Result:
    code: int
    out: str
    err: str


def nudgebot(monkeypatch: pytest.MonkeyPatch, settings: Settings, *args: str) -> Result:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SLACK_API_URL", settings.slack_api_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    with CliRunner().isolation() as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        return Result(code, out.getvalue().decode(), err.getvalue().decode())


def _run_to_the_end(pm: Room) -> int:
    p = pm.start("Launch the mentoring scheme")
    pm.reply("U0ANA", "Mentors drop out")
    for _ in range(3):
        phase = pm.premortem().phase
        pm.next_phase()
        eventually(lambda phase=phase: pm.premortem().phase != phase)
    eventually(lambda: pm.premortem().summary_ts)
    return p.id


def test_list_and_export(pm: Room, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    premortem_id = _run_to_the_end(pm)
    settings = pm.bot.services.settings
    result = nudgebot(monkeypatch, settings, "premortem", "list", "--format", "json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert rows[0]["id"] == premortem_id
    assert rows[0]["phase"] == "done" and rows[0]["risks"] == 1
    table = nudgebot(monkeypatch, settings, "premortem", "list")
    assert "Launch the mentoring scheme" in table.out and "done" in table.out

    target = tmp_path / "pm.md"
    result = nudgebot(
        monkeypatch, settings, "premortem", "export", str(premortem_id), "-o", str(target)
    )
    assert result.code == 0, result.err
    text = target.read_text()
    assert text.startswith("# Pre-mortem: Launch the mentoring scheme")
    assert "Mentors drop out" in text

    missing = nudgebot(monkeypatch, settings, "premortem", "export", "42")
    assert missing.code == 1
    assert (
        missing.err.strip() == "nudgebot: no pre-mortem with id 42; see `nudgebot premortem list`"
    )


def test_slash_list_help_and_direct_messages(pm: Room) -> None:
    pm.start("Launch the mentoring scheme --horizon 3m")
    assert pm.premortem().horizon == date(2027, 2, 26)
    assert "Imagine it is *Fri 26 Feb 2027*" in message_text(pm.message(pm.parent_ts))
    pm.driver.slash_command("/premortem", "list", user_id="U0ANA", channel_id="C0LAUNCH")
    listed = eventually(lambda: [t for t in pm.ephemerals_for("U0ANA") if "Pre-mortems in" in t])
    assert "Launch the mentoring scheme" in listed[0] and "collect" in listed[0]
    pm.driver.slash_command("/premortem", "help", user_id="U0BEN", channel_id="C0LAUNCH")
    eventually(
        lambda: any("--template why|risks|stakeholders" in t for t in pm.ephemerals_for("U0BEN"))
    )
    pm.driver.slash_command("/premortem", "Secret plan", user_id="U0BEN", channel_id="D0BEN")
    eventually(lambda: any("not in a direct message" in t for t in pm.ephemerals_for("U0BEN")))
    pm.driver.slash_command(
        "/premortem", "X --template blame", user_id="U0BEN", channel_id="C0LAUNCH"
    )
    eventually(lambda: any("unknown template 'blame'" in t for t in pm.ephemerals_for("U0BEN")))
    assert len(pm.fake.messages("C0LAUNCH")) == 1  # only the first parent message
