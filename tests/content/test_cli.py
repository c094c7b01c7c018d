"""`nudgebot content …` as a person runs it: exit codes and what is printed."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from slack_sdk.models.blocks import Block
from sqlalchemy import text

from bot.cli import cli, main
from bot.cli.content import schema_text
from bot.content.loader import load_library
from bot.db import make_engine
from bot.errors import UserError
from tests.content.conftest import DEMO, STARTER_DIR, edit

Writer = Callable[..., Path]
SCHEMA_FILE = STARTER_DIR.parent / "docs" / "program.schema.json"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    # No Slack token, no database: the content commands read files only.
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'never-created.db'}")
    monkeypatch.setenv("NUDGEBOT_CONTENT_DIR", str(STARTER_DIR))
    return CliRunner()


def test_validate_passes_on_the_starter_library(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["content", "validate"])
    assert result.exit_code == 0, result.output
    library = load_library(STARTER_DIR)
    steps = sum(len(p.program.steps) for p in library.programs.values())
    assert result.output == f"{len(library.programs)} program(s), {steps} step(s): all valid\n"
    assert not (tmp_path / "never-created.db").exists()


def test_validate_prints_each_error_and_exits_1(runner: CliRunner, write_program: Writer) -> None:
    broken = edit(DEMO, "  target: 12", "  target: 20")
    folder = write_program(
        edit(broken, '"https://intranet.example.com/', '"http://intranet.example.com/')
    )
    result = runner.invoke(cli, ["content", "validate", str(folder)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{folder}/demo.yaml:18: metric.target: 20 is not below the baseline 18 although "
        "direction is down; fix the target or the direction",
        f"{folder}/demo.yaml:45: steps[2].link.url: 'http://intranet.example.com/questions' "
        "is not https; use an https:// address",
        "2 error(s); 0 program(s) valid",
    ]


def test_validate_on_a_missing_folder_says_so(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["content", "validate", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        f"{tmp_path / 'nope'}:0: -: is not a folder; point NUDGEBOT_CONTENT_DIR at nudges/"
    )


def test_list_as_json_names_the_five_ps_and_the_metric(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["content", "list", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {row["id"]: row for row in json.loads(result.output)}
    assert sorted(rows) == sorted(load_library(STARTER_DIR).programs)
    row = rows["customer-call-opener"]
    assert row["title"] == "Open customer calls with clarifying questions"
    assert all(row[p] for p in ("problem", "behavior", "place", "prompt", "proof"))
    assert row["metric"] == (
        "Repeat contacts within 7 days (same customer, same issue): 18 → 12 % (↓) by 2027-06-30"
    )
    steps = len(load_library(STARTER_DIR).get("customer-call-opener").steps)
    assert (row["steps"], row["locales"]) == (steps, "en,bg")


def test_list_as_a_table_in_bulgarian(runner: CliRunner, write_program: Writer) -> None:
    folder = write_program()
    result = runner.invoke(cli, ["content", "list", "--locale", "bg", "--dir", str(folder)])
    assert result.exit_code == 0
    assert result.output.splitlines()[:2] == [
        "demo  Демо програма  (4 steps; en,bg)",
        "  Problem   Клиентите звънят отново.",
    ]
    assert "  Metric    Repeat contacts within 7 days: 18 → 12 % (↓) by 2027-06-30" in (
        result.output
    )


def test_preview_prints_the_exact_message_and_a_builder_link(
    runner: CliRunner, write_program: Writer
) -> None:
    folder = write_program()
    args = ["--step", "2", "--locale", "bg-BG", "--format", "json", "--dir", str(folder)]
    result = runner.invoke(cli, ["content", "preview", "demo", *args])
    assert result.exit_code == 0, result.output
    (item,) = json.loads(result.output)
    assert (item["step"], item["locale"]) == ("check", "bg")
    assert item["message"]["text"] == "Преди да ескалирате:"
    for block in item["message"]["blocks"]:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()
    link = item["block_kit_builder"]
    assert link.startswith("https://app.slack.com/block-kit-builder/#")
    assert json.loads(urllib.parse.unquote(link.split("#", 1)[1])) == {
        "blocks": item["message"]["blocks"]
    }


def test_preview_as_text_sketches_every_step(runner: CliRunner, write_program: Writer) -> None:
    folder = write_program()
    result = runner.invoke(cli, ["content", "preview", "demo", "--dir", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.output.count("Block Kit Builder: https://app.slack.com/") == 4
    lines = result.output.splitlines()
    assert lines[:4] == [
        "── demo · step 1: ask (prompt, day 0 at 09:30) ──",
        "Ask two clarifying questions before any fix.",
        "  [Done] [Remind me later ▾ In an hour / Tomorrow] [Not relevant]",
        "  From the program _Demo program_",
    ]
    assert "── demo · step 2: check (checklist, on trigger escalated after 10m) ──" in lines
    assert "  ☐ Wrote the need in one sentence" in lines
    assert (
        "  [Open the bank → https://intranet.example.com/questions] [Done] "
        "[Remind me later ▾ In an hour / Tomorrow] [Not relevant]" in lines
    )


def test_preview_by_step_id_and_arm(runner: CliRunner, write_program: Writer) -> None:
    folder = write_program()
    result = runner.invoke(
        cli,
        ["content", "preview", "demo", "--step", "reflect", "--arm", "short", "--dir", str(folder)],
    )
    assert result.exit_code == 0, result.output
    assert "One change?" in result.output and "What changed" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "no valid program 'nope' (programs: demo)"),
        (["demo", "--step", "9"], "demo has steps 1 to 4; got --step 9"),
        (["demo", "--step", "x"], "demo has no step 'x' (steps: ask, check, guide, reflect)"),
        (["demo", "--arm", "long"], "demo has no variant 'long' (variants: short)"),
    ],
)
def test_preview_of_something_unknown_is_a_clear_error(
    runner: CliRunner, write_program: Writer, args: list[str], message: str
) -> None:
    folder = write_program()
    result = runner.invoke(cli, ["content", "preview", *args, "--dir", str(folder)])
    assert result.exit_code == 1
    assert isinstance(result.exception, UserError)  # bot.cli.main prints it as one line
    assert str(result.exception) == message


def test_the_committed_schema_is_the_generated_one(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["content", "schema"])
    assert result.exit_code == 0
    assert result.output == schema_text()
    assert SCHEMA_FILE.read_text("utf-8") == schema_text(), (
        "docs/program.schema.json is stale; run "
        "`nudgebot content schema --output docs/program.schema.json`"
    )
    schema = json.loads(result.output)
    assert schema["additionalProperties"] is False
    assert {"id", "problem", "behavior", "place", "prompt", "proof", "metric", "steps"} <= set(
        schema["required"]
    )


def test_starter_files_point_editors_at_the_schema() -> None:
    for path in sorted(STARTER_DIR.glob("*.yaml")):
        first = path.read_text("utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../docs/program.schema.json", path.name


def test_the_nudgebot_command_exits_1_and_prints_the_lines(
    runner: CliRunner, write_program: Writer, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_program(edit(DEMO, "  target: 12", "  target: 20"))
    with pytest.raises(SystemExit) as exited:
        main(["content", "validate", str(folder)])
    assert exited.value.code == 1
    assert capsys.readouterr().out.splitlines()[-1] == "1 error(s); 0 program(s) valid"
    with pytest.raises(SystemExit) as exited:
        main(["content", "validate", str(write_program(DEMO))])
    assert exited.value.code == 0
    with pytest.raises(SystemExit) as exited:
        main(["content", "preview", "nope", "--dir", str(folder)])
    assert exited.value.code == 1
    assert capsys.readouterr().err == "nudgebot: no valid program 'nope' (programs: demo)\n"


def test_sync_stores_the_library_and_reports_new_versions(
    runner: CliRunner, write_program: Writer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    folder = write_program()
    first = runner.invoke(cli, ["content", "sync", str(folder)])
    assert first.exit_code == 0, first.output
    assert first.output == (
        "synced 1 program(s): 1 new, 0 new version(s), 0 reverted, 0 unchanged, 0 deactivated\n"
    )
    write_program(edit(DEMO, "One change?", "Just one change?"))
    second = runner.invoke(cli, ["content", "sync", str(folder)])
    assert second.output.splitlines()[0] == "demo: new version 2"
    write_program(edit(DEMO, "  target: 12", "  target: 20"))
    broken = runner.invoke(cli, ["content", "sync", str(folder)])
    assert broken.exit_code == 1
    assert broken.output.splitlines()[-1] == "1 error(s); nothing stored"
    engine = make_engine(db_url)
    with engine.connect() as conn:
        numbers = conn.execute(text("SELECT number FROM program_versions ORDER BY number"))
        assert [n for (n,) in numbers] == [1, 2]
    engine.dispose()
