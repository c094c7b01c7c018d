"""Files people deploy with: the environment names they use must be real settings."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from bot.settings import env_names

REPO = Path(__file__).resolve().parents[2]
SETTINGS = set(env_names().values())


def _dockerfile_env_names() -> set[str]:
    text = (REPO / "Dockerfile").read_text()
    names = set(re.findall(r"\b((?:SLACK|NUDGEBOT|DATABASE)_[A-Z_]+)=", text))
    names |= set(re.findall(r"environ\.get\('([A-Z_]+)'", text))
    return names


def test_dockerfile_sets_only_real_settings() -> None:
    names = _dockerfile_env_names()
    assert {"DATABASE_URL", "NUDGEBOT_PORT"} <= names
    assert names - SETTINGS == set()


def test_dockerfile_runs_as_non_root_with_healthcheck_and_entrypoint() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.1\d-slim", text, re.M)
    assert re.search(r"^USER nudgebot$", text, re.M)
    assert "/healthz" in text.split("HEALTHCHECK", 1)[1]
    assert 'ENTRYPOINT ["nudgebot", "run"]' in text


def test_compose_uses_only_real_settings_and_postgres() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    bot_env = set(compose["services"]["bot"]["environment"])
    assert bot_env - SETTINGS == set()
    assert compose["services"]["bot"]["environment"]["DATABASE_URL"].startswith("postgresql://")
    assert compose["services"]["db"]["image"].startswith("postgres")


def test_env_example_and_default_toml_use_real_settings() -> None:
    example = (REPO / ".env.example").read_text()
    names = set(re.findall(r"^#?\s*([A-Z][A-Z_]+)=", example, re.M))
    assert names and names - SETTINGS == set()
    toml = tomllib.loads((REPO / "config/nudgebot.toml").read_text())
    assert set(toml) - SETTINGS == set()


def test_the_package_declares_the_fixed_stack() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = " ".join(project["dependencies"]).lower()
    for name in (
        "slack-bolt",
        "slack-sdk",
        "apscheduler>=3.11,<3.12",
        "sqlalchemy",
        "alembic",
        "pydantic-settings",
        "psycopg",
    ):
        assert name in deps
    assert project["scripts"]["nudgebot"] == "bot.cli:main"


def _readme_commands() -> list[str]:
    quickstart = (REPO / "README.md").read_text().split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", quickstart)


def test_readme_quickstart_is_two_commands_and_ci_runs_the_test_one() -> None:
    commands = _readme_commands()
    assert len(commands) == 2
    install_and_run, run_tests = commands
    # The first runs the whole bot with no tokens (the sandbox: SQLite and a local Slack).
    assert install_and_run.endswith("nudgebot sandbox")
    assert "pip install -e ." in install_and_run
    assert run_tests.endswith("pytest")
    ci = (REPO / ".ci/run").read_text()
    assert run_tests in ci.splitlines()
