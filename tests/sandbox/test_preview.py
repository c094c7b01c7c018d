"""The author preview: what a program's author sees for each step, locale and arm.

No database and no Slack: the preview reads the program files, as
`nudgebot content preview` and `content validate` do.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.content.loader import load_library
from bot.sandbox.preview import preview_catalog, preview_step
from bot.settings import Settings
from tests.conftest import make_settings

STARTER_DIR = Path(__file__).resolve().parents[2] / "nudges"


@pytest.fixture
def starter() -> Settings:
    return make_settings(content_dir=STARTER_DIR)


@pytest.fixture
def library_copy(tmp_path: Path) -> Path:
    target = tmp_path / "nudges"
    shutil.copytree(STARTER_DIR, target)
    return target


def test_the_catalog_lists_every_starter_program_with_no_problems(starter: Settings) -> None:
    catalog = preview_catalog(starter)
    assert catalog["problems"] == []
    ids = [p["id"] for p in catalog["programs"]]
    assert ids == sorted(load_library(STARTER_DIR).programs) and "new-hire-ramp" in ids
    ramp = next(p for p in catalog["programs"] if p["id"] == "new-hire-ramp")
    assert ramp["title"] == "New-hire ramp: your first 30 days"
    assert ramp["locales"] == ["en", "bg"] and ramp["arms"] == []
    assert ramp["steps"][0] == {
        "key": "welcome-first-week",
        "label": "1. welcome-first-week (checklist, day 0)",
    }


def test_every_starter_step_previews_in_every_locale_and_arm(starter: Settings) -> None:
    catalog = preview_catalog(starter)
    shown = 0
    for program in catalog["programs"]:
        for step in program["steps"]:
            for locale in program["locales"]:
                for arm in program["arms"] or [None]:
                    got = preview_step(
                        starter, program=program["id"], step=step["key"], locale=locale, arm=arm
                    )
                    assert got["problems"] == [] and got["error"] is None
                    assert got["locale"] == locale
                    assert got["text"] and got["blocks"]
                    assert 'class="bk-block bk-section"' in got["html"]
                    shown += 1
    assert shown > 150


def test_bulgarian_shows_bulgarian_text_and_buttons(starter: Settings) -> None:
    got = preview_step(
        starter, program="new-hire-ramp", step="welcome-first-week", locale="bg-BG", arm=None
    )
    assert "Добре дошли в екипа" in got["html"]
    assert "Готово" in got["html"]  # the Done button, in the reader's language
    assert 'data-type="checkboxes"' in got["html"]
    # A language the program does not ship falls back to English, as for a person.
    german = preview_step(
        starter, program="new-hire-ramp", step="welcome-first-week", locale="de-DE", arm=None
    )
    assert german["locale"] == "en" and "Welcome to the team" in german["html"]


def test_experiment_arms_show_their_own_wording(starter: Settings) -> None:
    catalog = preview_catalog(starter)
    growth = next(p for p in catalog["programs"] if p["id"] == "growth-mindset-habits")
    assert growth["arms"] == ["main", "one-line"]
    main = preview_step(
        starter, program="growth-mindset-habits", step="ask-for-feedback", locale="en", arm="main"
    )
    variant = preview_step(
        starter,
        program="growth-mindset-habits",
        step="ask-for-feedback",
        locale="en",
        arm="one-line",
    )
    assert main["arm"] == "main" and variant["arm"] == "one-line"
    assert main["text"] != variant["text"] and main["html"] != variant["html"]
    assert (
        variant["text"]
        in load_library(STARTER_DIR)
        .get("growth-mindset-habits")
        .step("ask-for-feedback")
        .text_for("one-line")
        .values()
    )


def test_an_edited_file_shows_on_the_next_call(library_copy: Path) -> None:
    settings = make_settings(content_dir=library_copy)
    before = preview_step(
        settings, program="new-hire-ramp", step="welcome-first-week", locale="en", arm=None
    )
    assert "Welcome to the team!" in before["html"]
    path = library_copy / "new-hire-ramp.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "*Welcome to the team!*", "*Welcome aboard & settle in!*"
        ),
        encoding="utf-8",
    )
    after = preview_step(
        settings, program="new-hire-ramp", step="welcome-first-week", locale="en", arm=None
    )
    assert "Welcome aboard" in after["html"] and "Welcome to the team!" not in after["html"]
    assert "aboard &amp; settle" in after["html"]  # the author's text, escaped as HTML


def test_a_broken_file_shows_what_validate_reports(library_copy: Path) -> None:
    path = library_copy / "new-hire-ramp.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("kind: checklist", "kind: checklst", 1),
        encoding="utf-8",
    )
    settings = make_settings(content_dir=library_copy)
    validate = load_library(library_copy).error_lines()
    assert validate and all(str(path) in line for line in validate)
    catalog = preview_catalog(settings)
    assert catalog["problems"] == validate
    assert "new-hire-ramp" not in [p["id"] for p in catalog["programs"]]
    assert any(":steps[0].kind" in line or "kind" in line for line in validate)
    broken = preview_step(
        settings, program="new-hire-ramp", step="welcome-first-week", locale="en", arm=None
    )
    assert broken["html"] == "" and broken["error"]
    assert broken["problems"][1:] == validate
    # The other programs still preview, with the broken file's lines beside them.
    other = preview_step(
        settings, program="customer-call-opener", step="three-questions", locale="en", arm=None
    )
    assert other["html"] and other["problems"] == validate


def test_an_unknown_step_or_arm_is_said_not_raised(starter: Settings) -> None:
    step = preview_step(starter, program="new-hire-ramp", step="nope", locale="en", arm=None)
    assert "has no step 'nope'" in step["error"]
    arm = preview_step(
        starter, program="new-hire-ramp", step="welcome-first-week", locale="en", arm="b"
    )
    assert "has no variant 'b'" in arm["error"]
