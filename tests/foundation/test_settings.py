"""Settings: sources in order, one clear line for a wrong value, secrets kept secret."""

from __future__ import annotations

import subprocess
import sys
from datetime import time
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.settings import (
    Settings,
    TimeWindow,
    TomlSource,
    env_names,
    load_settings,
    settings_markdown,
)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder with no settings in the environment."""
    monkeypatch.chdir(tmp_path)
    for name in env_names().values():
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "config").mkdir()
    return tmp_path


def test_defaults_match_the_design(workdir: Path) -> None:
    s = load_settings()
    assert s.database_url == "sqlite:///nudgebot.db"
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.working_hours == TimeWindow(time(9, 0), time(17, 30))
    assert s.working_days == (0, 1, 2, 3, 4)
    assert s.privacy_min_group == 5
    assert s.content_dir == Path("nudges")
    assert not s.socket_mode


def test_environment_beats_dotenv_beats_toml(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "config/nudgebot.toml").write_text(
        'NUDGEBOT_WEEKLY_CAP = 3\nNUDGEBOT_WORKING_HOURS = "08:00-16:00"\n'
        "NUDGEBOT_PRIVACY_MIN_GROUP = 7\n"
    )
    (workdir / ".env").write_text("NUDGEBOT_WEEKLY_CAP=4\nNUDGEBOT_WORKING_HOURS=10:00-18:00\n")
    monkeypatch.setenv("NUDGEBOT_WEEKLY_CAP", "9")
    s = load_settings()
    assert s.weekly_cap == 9  # environment
    assert s.working_hours == TimeWindow(time(10, 0), time(18, 0))  # .env
    assert s.privacy_min_group == 7  # toml


def test_lists_accept_commas(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUDGEBOT_WORKING_DAYS", "sun, mon,tue,wed,thu")
    monkeypatch.setenv("NUDGEBOT_LD_LEADS", "U0LEAD1, S0GROUP")
    s = load_settings()
    assert s.working_days == (0, 1, 2, 3, 6)
    assert s.ld_leads == ["U0LEAD1", "S0GROUP"]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("NUDGEBOT_WORKING_HOURS", "9-5", "NUDGEBOT_WORKING_HOURS: expected HH:MM-HH:MM"),
        ("NUDGEBOT_WORKING_HOURS", "18:00-09:00", "must end after it starts"),
        ("NUDGEBOT_WORKING_DAYS", "mon,funday", "unknown day 'funday'"),
        ("NUDGEBOT_DEFAULT_TIMEZONE", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("NUDGEBOT_WEEKLY_CAP", "zero", "NUDGEBOT_WEEKLY_CAP"),
        ("NUDGEBOT_LD_LEADS", "alice", "'alice' is not a Slack user id"),
        ("SLACK_BOT_TOKEN", "xoxp-user-token", "a bot token starts with xoxb-"),
        ("SLACK_APP_TOKEN", "xoxb-not-an-app-token", "starts with xapp-"),
        ("DATABASE_URL", "mysql://x", "use sqlite:///path.db or postgresql://"),
    ],
)
def test_a_wrong_value_names_the_setting(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert f"invalid setting {name}" in message
    assert expected in message
    assert "\n" not in message


def test_toml_errors_name_file_and_line(workdir: Path) -> None:
    (workdir / "config/nudgebot.toml").write_text(
        '# comment\nNUDGEBOT_WEEKLY_CAP = 3\nNUDGEBOT_WORKNG_HOURS = "09:00-17:00"\n'
    )
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value) == (
        "config/nudgebot.toml:3: NUDGEBOT_WORKNG_HOURS: unknown setting; "
        "did you mean NUDGEBOT_WORKING_HOURS?"
    )


def test_toml_syntax_error_names_the_line(workdir: Path) -> None:
    (workdir / "config/nudgebot.toml").write_text("NUDGEBOT_WEEKLY_CAP = 3\nNUDGEBOT_PORT = = 1\n")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value).startswith("config/nudgebot.toml:2:")


def test_bad_toml_value_points_at_its_line(workdir: Path) -> None:
    (workdir / "config/nudgebot.toml").write_text('\n\nNUDGEBOT_WORKING_HOURS = "late"\n')
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value).endswith("(set in config/nudgebot.toml:3)")


def test_a_bad_value_in_dotenv_is_blamed_on_its_line_not_on_the_toml(workdir: Path) -> None:
    (workdir / "config/nudgebot.toml").write_text('\nNUDGEBOT_WORKING_HOURS = "09:00-17:00"\n')
    (workdir / ".env").write_text("# local\nSLACK_BOT_TOKEN=xoxb-1\nNUDGEBOT_WORKING_HOURS=late\n")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value) == (
        "invalid setting NUDGEBOT_WORKING_HOURS: expected HH:MM-HH:MM, for example "
        "09:00-17:30, got 'late' (set in .env:3)"
    )


def test_a_bad_value_in_the_environment_is_blamed_on_the_environment(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "config/nudgebot.toml").write_text("NUDGEBOT_WEEKLY_CAP = 3\n")
    (workdir / ".env").write_text("NUDGEBOT_WEEKLY_CAP=4\n")
    monkeypatch.setenv("NUDGEBOT_WEEKLY_CAP", "0")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value) == (
        "invalid setting NUDGEBOT_WEEKLY_CAP: expected a number from 1 to 100, got '0' "
        "(set in the environment)"
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("NUDGEBOT_PORT", "99999", "expected a number from 1 to 65535, got '99999'"),
        ("NUDGEBOT_WEEKLY_CAP", "five", "expected a whole number from 1 to 100, got 'five'"),
        ("NUDGEBOT_PREMORTEM_VOTE_HOURS", "0", "expected a number above 0 and at most 720"),
        ("NUDGEBOT_RESPECT_DND", "maybe", "expected true or false, got 'maybe'"),
        ("NUDGEBOT_PREMORTEM_TEMPLATE", "why-not", "expected one of why, risks or stakeholders"),
        ("NUDGEBOT_DIGEST_TIME", "25:00", "expected a time of day as HH:MM, for example 09:00"),
        ("NUDGEBOT_LOG_FORMAT", "xml", "expected one of auto, json or text, got 'xml'"),
    ],
)
def test_wrong_values_are_described_in_plain_words(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value).startswith(f"invalid setting {name}: {expected}")
    assert str(err.value).endswith("(set in the environment)")
    for pydantic_words in ("Input should", "input is", "valid integer", "[type="):
        assert pydantic_words not in str(err.value)


def test_a_misspelt_variable_in_the_environment_is_an_error_naming_the_right_one(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NUDGEBOT_WEEKLY_CAPP", "3")
    monkeypatch.setenv("NUDGEBOT_TEST_SOMETHING", "the test suite's own: not a setting")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value) == (
        "environment variable NUDGEBOT_WEEKLY_CAPP: unknown setting; "
        "did you mean NUDGEBOT_WEEKLY_CAP?"
    )


def test_a_misspelt_variable_in_dotenv_names_its_line_and_the_right_one(workdir: Path) -> None:
    (workdir / ".env").write_text("SLACK_BOT_TOKEN=xoxb-1\n\nexport NUDGEBOT_WORKNG_DAYS=mon\n")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value) == (
        ".env:3: NUDGEBOT_WORKNG_DAYS: unknown setting; did you mean NUDGEBOT_WORKING_DAYS?"
    )


def test_secrets_never_show_in_repr(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "shh-signing")
    s = load_settings()
    assert "very-secret" not in repr(s) and "shh-signing" not in repr(s)
    assert s.slack_bot_token is not None
    assert s.slack_bot_token.get_secret_value() == "xoxb-very-secret"


def test_api_url_gets_its_trailing_slash(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_API_URL", "https://slack-gov.com/api")
    assert load_settings().slack_api_url == "https://slack-gov.com/api/"


def test_log_level_is_read_in_any_case(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUDGEBOT_LOG_LEVEL", "warning")
    assert load_settings().log_level == "WARNING"
    monkeypatch.setenv("NUDGEBOT_LOG_LEVEL", "loud")
    with pytest.raises(ConfigError, match="NUDGEBOT_LOG_LEVEL"):
        load_settings()


def test_cli_reports_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "NUDGEBOT_WORKING_HOURS": "whenever", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "db", "current"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "nudgebot: invalid setting NUDGEBOT_WORKING_HOURS: expected HH:MM-HH:MM, "
        "for example 09:00-17:30, got 'whenever' (set in the environment)"
    ]
    assert "Traceback" not in result.stderr


def test_the_readme_table_lists_every_setting_as_the_code_defines_it() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    table = readme.split("<!-- settings:start -->\n", 1)[1].split("\n<!-- settings:end -->", 1)[0]
    # Regenerate with: nudgebot settings --markdown
    assert table == settings_markdown()
    assert all(f"`{name}`" in table for name in env_names().values())


def test_toml_source_path_is_the_documented_one() -> None:
    assert TomlSource.path == Path("config/nudgebot.toml")
    assert Settings.model_config.get("env_file") == ".env"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("NUDGEBOT_LD_LEADS = 5", "NUDGEBOT_LD_LEADS: expected comma-separated text, got 5"),
        ("SLACK_SCOPES = 1", "SLACK_SCOPES: expected comma-separated text, got 1"),
        ("NUDGEBOT_WORKING_HOURS = 9", "NUDGEBOT_WORKING_HOURS: expected HH:MM-HH:MM"),
        ("SLACK_API_URL = 3", "SLACK_API_URL: expected text (in quotes in a TOML file), got 3"),
    ],
)
def test_a_toml_value_of_the_wrong_type_is_one_plain_line(
    workdir: Path, line: str, expected: str
) -> None:
    (workdir / "config/nudgebot.toml").write_text(f"# settings\n{line}\n")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value).startswith(f"invalid setting {expected}")
    assert str(err.value).endswith("(set in config/nudgebot.toml:2)")
