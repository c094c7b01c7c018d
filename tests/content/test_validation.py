"""Validation that helps: each mistake in a program file gets its own exact line."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.content.blocks import step_message
from bot.content.loader import load_library, parse_program
from bot.content.schema import Program
from bot.slack.blocks import block_kit_problems
from tests.content.conftest import DEMO, STARTER_DIR, edit

# (what is wrong, text replaced, replacement, the exact error lines of demo.yaml)
CORPUS = [
    (
        "YAML syntax",
        "    kind: prompt\n",
        "    kind: prompt: now\n",
        [
            "demo.yaml:26: yaml: mapping values are not allowed here; "
            "check indentation, colons and quotes"
        ],
    ),
    (
        "unknown key (a typo)",
        "  direction: down",
        "  direcion: down",
        [
            "demo.yaml:13: metric.direction: is required; add it (see docs/program-format.md)",
            "demo.yaml:16: metric.direcion: unknown key; did you mean `direction`? "
            "known keys here: name, unit, direction, baseline, target, by",
        ],
    ),
    (
        "one of the Five Ps missing",
        'proof: {en: "Done clicks and the repeat rate.", bg: "Кликове и повторните обаждания."}\n',
        "",
        ["demo.yaml:1: proof: is required; add it (see docs/program-format.md)"],
    ),
    (
        "a Five P left blank",
        '{en: "Ask two questions first.",',
        '{en: "  ",',
        ["demo.yaml:9: behavior.en: is empty; write the text a person should read"],
    ),
    (
        "id differs from the file name",
        "id: demo\n",
        "id: demo-two\n",
        ["demo.yaml:1: id: is 'demo-two' but the file is demo.yaml; make them equal"],
    ),
    (
        "duplicate step id",
        "  - id: check",
        "  - id: ask",
        ["demo.yaml:33: steps[1].id: ask is used twice; step ids are unique"],
    ),
    (
        "step refers to an unknown trigger",
        "{trigger: escalated, delay",
        "{trigger: escalation, delay",
        [
            "demo.yaml:35: steps[1].when.trigger: escalation is not a trigger of this program "
            "(known: escalated); define it under `triggers`"
        ],
    ),
    (
        "checklist items on a tip",
        "    kind: checklist",
        "    kind: tip",
        ["demo.yaml:37: steps[1].items: only a checklist step has `items`; remove it"],
    ),
    (
        "checklist with one item",
        '      - {en: "Got a yes from the customer", bg: "Получих „да“ от клиента"}\n',
        "",
        ["demo.yaml:37: steps[1].items: has 1 item(s); a checklist has 2 to 10"],
    ),
    (
        "target on the wrong side of the baseline",
        "  target: 12",
        "  target: 20",
        [
            "demo.yaml:18: metric.target: 20 is not below the baseline 18 although direction "
            "is down; fix the target or the direction"
        ],
    ),
    (
        "direction not up or down",
        "direction: down",
        "direction: lower",
        ["demo.yaml:16: metric.direction: 'lower' is not allowed; use one of 'up' or 'down'"],
    ),
    (
        "deadline neither a date nor a duration",
        "by: 2027-06-30",
        "by: next summer",
        [
            "demo.yaml:19: metric.by: use an ISO date like 2027-06-30 or a duration like "
            "90d, 12w or 6m"
        ],
    ),
    (
        "en missing from locales",
        "locales: [en, bg]",
        "locales: [bg]",
        [
            "demo.yaml:7: locales: must contain en (the fallback for everyone else); "
            "add en to the list"
        ],
    ),
    (
        "missing translation",
        '      bg: "Задайте два уточняващи въпроса преди решение."\n',
        "",
        ["demo.yaml:28: steps[0].text: missing the bg translation; add `bg: ...`"],
    ),
    (
        "translation in a locale the program does not list",
        'text: {en: "What changed this week?",',
        'text: {de: "Was hat sich geändert?", en: "What changed this week?",',
        ["demo.yaml:50: steps[3].text.de: de is not in locales; add it to `locales` or remove it"],
    ),
    (
        "locale key that is not a language code",
        '  bg: "Демо програма"',
        '  BG: "Демо програма"',
        ["demo.yaml:4: title.BG: 'BG' is not a language code; use a lower-case code like en or bg"],
    ),
    (
        "repeat intervals not expanding",
        "[2, 5, 12]",
        "[2, 5, 5]",
        [
            "demo.yaml:32: steps[0].repeat.intervals_days[2]: 5 is not longer than the gap before "
            "it (5); spaced repetition needs expanding intervals, e.g. [2, 5, 12, 30]"
        ],
    ),
    (
        "holdout above one half",
        "locales: [en, bg]\n",
        "locales: [en, bg]\nholdout: 0.7\n",
        ["demo.yaml:8: holdout: 0.7 is out of range (≤ 0.5); use a value inside it"],
    ),
    (
        "job aid link not https",
        '"https://intranet.example.com/questions"',
        '"http://intranet.example.com/questions"',
        [
            "demo.yaml:45: steps[2].link.url: 'http://intranet.example.com/questions' is not "
            "https; use an https:// address"
        ],
    ),
    (
        "malformed job aid link",
        '"https://intranet.example.com/questions"',
        '"https://intranet example.com/questions"',
        [
            "demo.yaml:45: steps[2].link.url: 'https://intranet example.com/questions' is a "
            "malformed address; check it for spaces and typos"
        ],
    ),
    (
        "relative link inside a text",
        '{en: "The question bank has openers.",',
        '{en: "The <./bank|question bank> has openers.",',
        [
            "demo.yaml:43: steps[2].text.en: link './bank' is a relative or incomplete link; "
            "write the full https:// address"
        ],
    ),
    (
        "job aid without its link",
        "    kind: job_aid",
        "    kind: prompt",
        ["demo.yaml:44: steps[2].link: only a job_aid step has `link`; remove it"],
    ),
    (
        "a key given twice",
        "    kind: job_aid\n",
        "    kind: job_aid\n    kind: tip\n",
        [
            "demo.yaml:42: steps[2].kind: appears twice (first on line 41); YAML keeps only the "
            "last one, so delete or merge one of them",
            "demo.yaml:45: steps[2].link: only a job_aid step has `link`; remove it",
        ],
    ),
    (
        "unquoted time read as a number",
        'time: "09:30"',
        "time: 10:30",
        [
            'demo.yaml:27: steps[0].when.time: write times in quotes, like "09:30": unquoted, '
            "YAML reads a number"
        ],
    ),
    (
        "both a day and a trigger",
        "when: {day: 2}",
        "when: {day: 2, trigger: escalated}",
        [
            "demo.yaml:42: steps[2].when: give exactly one of `day` (days after the start) "
            "or `trigger`"
        ],
    ),
    (
        "delay without a trigger",
        'when: {day: 0, time: "09:30"}',
        'when: {day: 0, delay: "5m"}',
        ["demo.yaml:27: steps[0].when.delay: `delay` goes with `trigger`; use `time` with `day`"],
    ),
    (
        "rating on a reflection",
        "    reflection: {answer: text}\n",
        '    reflection: {answer: text}\n    rating: {label: {en: "Useful?", bg: "Полезно?"}}\n',
        [
            "demo.yaml:52: steps[3].rating: a reflection offers its own answer; "
            "use `reflection: {answer: scale}` instead"
        ],
    ),
    (
        "button label longer than Slack allows",
        'label: {en: "Open the bank",',
        'label: {en: "Open the question bank with all the openers for every situation we '
        'know of today",',
        ["demo.yaml:46: steps[2].link.label.en: is 80 characters long; shorten it to at most 75"],
    ),
    (
        "broken regular expression",
        '"(?i)^esc"',
        '"(?i)^esc("',
        [
            "demo.yaml:23: triggers[0].pattern: is not a valid regular expression (missing ), "
            "unterminated subpattern at position 8); check the brackets, and write a literal "
            "( ) [ ] . ? + * with a backslash before it"
        ],
    ),
    (
        "variant named like a reserved arm",
        "      - id: short",
        "      - id: holdout",
        ["demo.yaml:53: steps[3].variants[0].id: holdout is reserved; choose another name"],
    ),
]


def test_the_demo_program_is_valid() -> None:
    program, errors = parse_program(DEMO, file="demo.yaml", expected_id="demo")
    assert errors == []
    assert program is not None and [s.id for s in program.steps] == [
        "ask",
        "check",
        "guide",
        "reflect",
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS]
)
def test_each_mistake_is_one_precise_line(old: str, new: str, expected: list[str]) -> None:
    program, errors = parse_program(edit(DEMO, old, new), file="demo.yaml", expected_id="demo")
    assert [str(e) for e in errors] == expected
    assert program is None  # a broken file never reaches the database


def test_the_corpus_covers_at_least_fifteen_distinct_mistakes() -> None:
    messages = {line.split(": ", 2)[2] for *_, lines in CORPUS for line in lines}
    assert len(CORPUS) >= 15 and len(messages) >= 15


def test_duplicate_program_ids_across_files(write_program: Callable[..., Path]) -> None:
    write_program(DEMO, "demo.yaml")
    folder = write_program(DEMO, "demo.yml")
    library = load_library(folder)
    assert library.error_lines() == [
        f"{folder / 'demo.yml'}:1: id: demo is already defined in {folder / 'demo.yaml'}; "
        "program ids are unique, rename or delete one file"
    ]
    assert list(library.programs) == ["demo"]


def test_errors_of_several_files_are_all_reported(write_program: Callable[..., Path]) -> None:
    write_program(edit(DEMO, "  target: 12", "  target: 20"), "demo.yaml")
    folder = write_program(
        edit(DEMO, "id: demo\n", "id: other\n").replace("[2, 5, 12]", "[3, 1]"), "other.yaml"
    )
    lines = load_library(folder).error_lines()
    assert [line.split(": ", 1)[0] for line in lines] == [
        f"{folder / 'demo.yaml'}:18",
        f"{folder / 'other.yaml'}:32",
    ]


def test_an_empty_folder_is_an_error(tmp_path: Path) -> None:
    assert load_library(tmp_path).error_lines() == [
        f"{tmp_path}:0: -: holds no *.yaml program files; add one"
    ]


def test_the_starter_library_is_valid() -> None:
    library = load_library(STARTER_DIR)
    assert library.error_lines() == []
    assert len(library.programs) >= 10
    for loaded in library.programs.values():
        assert {"en", "bg"} <= set(loaded.program.locales), loaded.program.id


# Block Kit limits: the schema's own limits keep texts well inside Slack's, so the
# renderer's safety net is checked on messages built to break each limit.


def _demo() -> Program:
    program, _ = parse_program(DEMO, file="demo.yaml", expected_id="demo")
    assert program is not None
    return program


def test_block_kit_limits_are_enforced_on_rendered_messages() -> None:
    message = step_message(_demo(), "guide", locale="en", delivery_id=1)
    assert block_kit_problems(message) == []
    blocks = message["blocks"]
    blocks[0]["text"]["text"] = "x" * 3001
    blocks[-2]["elements"][0]["text"]["text"] = "y" * 76
    blocks[-2]["elements"][1]["value"] = "1|" + "z" * 2000
    blocks[-2]["elements"][1]["action_id"] = "a" * 256
    blocks += [{"type": "divider"}] * 50
    problems = block_kit_problems(message)
    assert "has 53 blocks; Slack allows 50" in problems
    assert "has 3001 characters of section text; Slack allows 3000" in problems
    assert "has a 76-character button label 'yyyyyyyyyyyyyyyyyyyy'…; Slack allows 75" in problems
    assert "has a button value longer than 2000 characters" in problems
    assert "has an action_id longer than 255 characters" in problems


def test_repeated_action_ids_in_one_block_are_refused() -> None:
    message = step_message(_demo(), "ask", locale="en", delivery_id=1)
    actions = next(b for b in message["blocks"] if b["type"] == "actions")
    actions["elements"][1]["action_id"] = actions["elements"][0]["action_id"]
    assert block_kit_problems(message) == ["repeats action_id 'nudge_done' in one block"]


def _authoring_example() -> str:
    doc = (STARTER_DIR.parent / "docs" / "authoring.md").read_text("utf-8")
    match = re.search(r"```yaml\n(# yaml-language-server.*?)```", doc, re.S)
    assert match, "docs/authoring.md lost its full example"
    return match.group(1)


def test_the_authoring_guide_example_is_valid_and_its_error_lines_are_real() -> None:
    example = _authoring_example()
    file = "nudges/handover-notes.yaml"
    program, errors = parse_program(example, file=file, expected_id="handover-notes")
    assert errors == [] and program is not None
    broken = edit(example, "  target: 6", "  target: 14")
    broken = edit(broken, ', bg: "Телефон на човека за връзка"', "")
    _, errors = parse_program(broken, file=file, expected_id="handover-notes")
    doc = (STARTER_DIR.parent / "docs" / "authoring.md").read_text("utf-8")
    for error in errors:
        assert str(error) in doc.splitlines()
    assert len(errors) == 2
