"""The README and docs/ name commands, subcommands and settings that exist.

Cheap checks of the docs against the code: every `nudgebot …` command path and
option they show is one the CLI has, every `/nudges …` subcommand is one the bot
answers, and every setting name is one the settings read. A renamed command or
setting fails here instead of in a reader's terminal."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import yaml
from sqlalchemy.orm import Session

from bot.cli import cli
from bot.errors import UserError
from bot.people.models import Person
from bot.proof import controls
from bot.services import Services
from bot.settings import env_names

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Environment names that steer the tests and benchmarks, not the bot.
NOT_SETTINGS = {
    "NUDGEBOT_TEST_POSTGRES_URL",
    "NUDGEBOT_TEST_REQUIRE_POSTGRES",
    "NUDGEBOT_TEST_REQUIRE_BROWSER",
    "NUDGEBOT_BENCH_POSTGRES_URL",
}


def _mentions(pattern: str) -> Iterator[tuple[str, str]]:
    """(file:line, the text from the match to the end of its code span or line)."""
    for path in DOCS:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in re.finditer(pattern, line):
                rest = line[match.start() :]
                end = rest.find("`", 1) if line[: match.start()].count("`") % 2 else -1
                where = f"{path.relative_to(ROOT)}:{number}"
                yield where, (rest[:end] if end > 0 else rest).replace("\\|", "|")


def _words(token: str) -> list[str]:
    """The command words in a token such as `upgrade|downgrade` or `[send]`."""
    return [w for w in token.strip("[]()`,.;:").split("|") if re.fullmatch(r"[a-z][a-z-]*", w)]


def _walk(text: str) -> tuple[list[str], list[str]]:
    """Problems with one `nudgebot …` mention, and the command path it names."""
    tokens = text.split()[1:]
    command: click.Command = cli
    path = ["nudgebot"]
    problems: list[str] = []
    while isinstance(command, click.Group) and tokens:
        words = _words(tokens[0])
        if not words:
            break
        tokens.pop(0)
        for word in words[1:]:
            if command.get_command(click.Context(command), word) is None:
                problems.append(f"`{' '.join(path)} {word}` does not exist")
        found = command.get_command(click.Context(command), words[0])
        if found is None:
            problems.append(f"`{' '.join(path)} {words[0]}` does not exist")
            return problems, path
        command, path = found, [*path, words[0]]
    options = {o for p in command.params for o in getattr(p, "opts", [])}
    for token in tokens:
        for option in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", token):
            if option not in options | {"--help"}:
                problems.append(f"`{' '.join(path)}` has no option {option}")
    return problems, path


def test_every_nudgebot_command_in_the_docs_exists() -> None:
    problems, seen = [], 0
    for where, text in _mentions(r"(?<![\w/.-])nudgebot (?=[a-z\[])"):
        found, _ = _walk(text)
        problems += [f"{where}: {p}" for p in found]
        seen += 1
    assert seen > 40  # the check reads the docs, not nothing
    assert problems == []


def test_every_setting_named_in_the_docs_is_read_by_the_settings() -> None:
    known = set(env_names().values())
    named = {
        (where, name)
        for path in DOCS
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for name in re.findall(r"\bNUDGEBOT_[A-Z0-9_]*[A-Z0-9]\b", line)
        for where in [f"{path.relative_to(ROOT)}:{number}"]
    }
    assert len(named) > 30
    unknown = sorted(f"{w}: {n}" for w, n in named if n not in known | NOT_SETTINGS)
    assert unknown == []


@pytest.fixture
def person(session: Session) -> Person:
    found = Person(slack_user_id="U0DOCS001", workspace_id="T0TEST", name="Docs", tz="UTC")
    session.add(found)
    session.flush()
    return found


def test_every_nudges_subcommand_in_the_docs_is_one_the_bot_answers(
    session: Session, services: Services, person: Person
) -> None:
    verbs: dict[str, str] = {}
    for where, text in _mentions(r"/nudges(?= [a-z])"):
        for word in _words(text.split()[1]):
            verbs.setdefault(word, where)
    for where, text in _mentions(r"`/nudges` \("):
        for word in re.findall(r"`([a-z]+)", text):
            verbs.setdefault(word, where)
    manifest = yaml.safe_load((ROOT / "config" / "manifest.yml").read_text(encoding="utf-8"))
    (nudges,) = [c for c in manifest["features"]["slash_commands"] if c["command"] == "/nudges"]
    for hint in nudges["usage_hint"].split("|"):
        for word in _words(hint.split()[0]):
            verbs.setdefault(word, "config/manifest.yml: /nudges usage_hint")
    assert {"status", "pause", "resume", "vacation", "digest", "help"} <= set(verbs)
    unknown = []
    for verb, where in sorted(verbs.items()):
        if verb in ("digest", "calendar"):  # answered before the person's own controls
            continue
        try:
            controls.run(
                session,
                person=person,
                command=controls.Command(verb, ()),
                now=services.clock.now(),
                settings=services.settings,
            )
        except UserError as exc:
            if str(exc).startswith("I don't know"):
                unknown.append(f"{where}: /nudges {verb}")
    session.rollback()
    assert unknown == []


def test_the_messages_tab_is_read_only_as_the_docs_say() -> None:
    manifest = yaml.safe_load((ROOT / "config" / "manifest.yml").read_text(encoding="utf-8"))
    app_home = manifest["features"]["app_home"]
    assert app_home["messages_tab_read_only_enabled"] is True
    # Nothing typed to the bot could reach it anyway: it does not ask for DM events.
    assert "message.im" not in manifest["settings"]["event_subscriptions"]["bot_events"]
    assert "read-only" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_source_file_the_docs_name_exists() -> None:
    """docs/architecture.md is a map: a file it names that was moved or renamed
    sends the next person to the wrong place, so it fails here instead."""
    missing = [f"{where}: {path}" for where, path in _paths_named() if not (ROOT / path).exists()]
    assert not missing, "\n".join(missing)
    assert len({path for _, path in _paths_named()}) >= 20


def _paths_named() -> Iterator[tuple[str, str]]:
    for path in DOCS:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in re.finditer(
                r"`((?:bot|tests|bench|nudges|config)/[\w./-]+?)(?::\w+)?`", line
            ):
                yield f"{path.relative_to(ROOT)}:{number}", match.group(1).rstrip("/")
