"""KPI observations: by the CLI, by CSV import, and by the signed webhook POST /hooks/metric."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import main
from bot.digest.models import MetricObservation
from bot.services import Services
from tests.conftest import RunningBot
from tests.digest.conftest import World, signed_headers

PROGRAM = "call-opener"


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, db_url: str) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", db_url)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(args)
    out = capsys.readouterr()
    return int(exited.value.code or 0), out.out, out.err


def observations(services: Services) -> list[tuple[str, date, str, float, str]]:
    with services.session() as session:
        return [
            (o.program_id, o.observed_on, o.team, o.value, o.source)
            for o in session.scalars(
                select(MetricObservation).order_by(
                    MetricObservation.observed_on, MetricObservation.team
                )
            )
        ]


def test_record_from_the_cli_stores_value_source_and_time(
    world: World, services: Services, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    world.program(PROGRAM, ["ask"])
    world.commit()
    code, out, _ = run(["metric", "record", PROGRAM, "16.5", "--date", "2026-11-20"], capsys)
    assert code == 0 and out == f"recorded 16.5 for {PROGRAM} on 2026-11-20\n"
    code, out, _ = run(
        ["metric", "record", PROGRAM, "15", "--date", "2026-11-20", "--team", "support"], capsys
    )
    assert code == 0 and "for team support" in out
    # The same day, team and source again replaces the value instead of adding a row.
    run(["metric", "record", PROGRAM, "16", "--date", "2026-11-20"], capsys)
    assert observations(services) == [
        (PROGRAM, date(2026, 11, 20), "", 16.0, "cli"),
        (PROGRAM, date(2026, 11, 20), "support", 15.0, "cli"),
    ]
    with services.session() as session:
        recorded = session.scalars(select(MetricObservation.recorded_at)).all()
    assert all(r.tzinfo is not None for r in recorded)
    code, out, _ = run(["metric", "list", PROGRAM, "--format", "csv"], capsys)
    assert out.splitlines()[0] == "date,team,value,source,recorded_at"
    assert out.splitlines()[1].startswith("2026-11-20,,16.0,cli,")


def test_cli_refuses_bad_input_with_one_line(
    world: World, services: Services, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    world.program(PROGRAM, ["ask"])
    world.commit()
    assert run(["metric", "record", "nope", "3"], capsys)[2] == (
        "nudgebot: no program 'nope'; see `nudgebot content list`\n"
    )
    code, _, err = run(["metric", "record", PROGRAM, "12,5"], capsys)
    assert code == 1 and err.startswith("nudgebot: '12,5' is not a number")
    code, _, err = run(["metric", "record", PROGRAM, "12", "--date", "20/11/2026"], capsys)
    assert code == 1 and "is not a date; use YYYY-MM-DD" in err
    assert observations(services) == []


def test_csv_import_all_rows_or_none(
    world: World,
    services: Services,
    cli_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world.program(PROGRAM, ["ask"])
    world.commit()
    good = tmp_path / "kpi.csv"
    good.write_text(
        "program,value,date,team\n"
        f"{PROGRAM},17.5,2026-11-02,\n"
        f"{PROGRAM},16.25,2026-11-09,\n"
        f"{PROGRAM},14,2026-11-09,support\n",
        encoding="utf-8",
    )
    code, out, _ = run(["metric", "import", str(good)], capsys)
    assert code == 0 and out == f"imported 3 observation(s) from {good}\n"
    assert observations(services) == [
        (PROGRAM, date(2026, 11, 2), "", 17.5, "csv:kpi.csv"),
        (PROGRAM, date(2026, 11, 9), "", 16.25, "csv:kpi.csv"),
        (PROGRAM, date(2026, 11, 9), "support", 14.0, "csv:kpi.csv"),
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text(
        f"program,value,date\n{PROGRAM},13,2026-11-16\n{PROGRAM},high,2026-11-23\n",
        encoding="utf-8",
    )
    code, _, err = run(["metric", "import", str(bad)], capsys)
    assert code == 1
    assert (
        err
        == f"nudgebot: {bad}:3: value: 'high' is not a number (use a dot for decimals, e.g. 12.5)\n"
    )
    assert len(observations(services)) == 3  # the good row 2 of bad.csv was not stored either
    code, _, err = run(["metric", "import", str(tmp_path / "missing.csv")], capsys)
    assert code == 1 and err.endswith("missing.csv: no such file\n")


def _post(bot: RunningBot, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        f"{bot.url}/hooks/metric", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_signed_webhook_stores_and_a_bad_signature_is_refused_and_stored_nowhere(
    world: World, bot: RunningBot
) -> None:
    world.program(PROGRAM, ["ask"])
    world.commit()
    services = bot.services
    now = int(services.clock.now().timestamp())
    body = json.dumps({"program": PROGRAM, "value": 15.2, "date": "2026-11-25"}).encode()
    status, answer = _post(bot, body, signed_headers(body, timestamp=now))
    assert (status, answer["ok"]) == (200, True)
    assert observations(services) == [(PROGRAM, date(2026, 11, 25), "", 15.2, "webhook:crm")]

    other = json.dumps({"program": PROGRAM, "value": 1, "date": "2026-11-26"}).encode()
    forged = signed_headers(other, timestamp=now, secret="not-the-secret-0123456789")
    stale = signed_headers(other, timestamp=now - 301)
    tampered = signed_headers(body, timestamp=now)  # signature of another body
    unknown = {**signed_headers(other, timestamp=now), "X-Nudgebot-Source": "erp"}
    for headers in (forged, stale, tampered, unknown):
        status, answer = _post(bot, other, headers)
        assert status == 401 and answer["ok"] is False
    assert observations(services) == [(PROGRAM, date(2026, 11, 25), "", 15.2, "webhook:crm")]

    wrong = json.dumps({"program": "nope", "value": 3}).encode()
    status, answer = _post(bot, wrong, signed_headers(wrong, timestamp=now))
    assert status == 400 and "no program 'nope'" in str(answer["error"])
    with services.session() as session:
        assert session.scalar(select(func.count()).select_from(MetricObservation)) == 1
