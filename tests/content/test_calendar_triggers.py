"""Calendar triggers in program files: what they match and when they fire, with every
mistake reported on its own file:line like the rest of the format."""

from __future__ import annotations

import pytest

from bot.content.loader import parse_program
from bot.content.schema import calendar_offset
from tests.content.conftest import DEMO, edit

# DEMO with a calendar trigger (line 26) and the checklist timed by it (line 40).
CALENDAR = edit(
    edit(
        DEMO,
        '    pattern: "(?i)^esc"\n',
        '    pattern: "(?i)^esc"\n'
        "  - id: customer-call\n"
        "    source: calendar\n"
        "    pattern: '(?i)call'\n"
        "    external: true\n"
        "    min_attendees: 2\n",
    ),
    'when: {trigger: escalated, delay: "10m"}',
    'when: {trigger: customer-call, at: "start-10m"}',
)


def test_a_calendar_trigger_with_an_offset_is_valid() -> None:
    program, errors = parse_program(CALENDAR, file="demo.yaml", expected_id="demo")
    assert errors == []
    assert program is not None
    trigger = program.triggers[1]
    assert (trigger.source, trigger.external, trigger.min_attendees) == ("calendar", True, 2)
    assert program.step("check").when.at == "start-10m"


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("start-10m", ("start", -10)),
        ("end+5m", ("end", 5)),
        ("start", ("start", 0)),
        ("start - 1h", ("start", -60)),
    ],
)
def test_offsets_read_as_anchor_and_minutes(at: str, expected: tuple[str, int]) -> None:
    assert calendar_offset(at) == expected


CASES = [
    (
        "bad offset",
        'at: "start-10m"',
        'at: "10m before"',
        [
            "demo.yaml:40: steps[1].when.at: expected the start or end of the event, optionally "
            'moved, like "start-10m", "end+5m" or "start", got \'10m before\''
        ],
    ),
    (
        "offset too far from the event",
        'at: "start-10m"',
        'at: "start-13h"',
        [
            "demo.yaml:40: steps[1].when.at: 'start-13h' is more than 12h from the event; "
            "a calendar nudge belongs near its event"
        ],
    ),
    (
        "no offset",
        'when: {trigger: customer-call, at: "start-10m"}',
        "when: {trigger: customer-call}",
        [
            'demo.yaml:40: steps[1].when: a calendar trigger needs `at`, e.g. "start-10m" '
            'or "end+5m"; add it'
        ],
    ),
    (
        "delay instead of an offset",
        'when: {trigger: customer-call, at: "start-10m"}',
        'when: {trigger: customer-call, at: "start", delay: "5m"}',
        [
            "demo.yaml:40: steps[1].when.delay: a calendar trigger is timed with `at` "
            '("start-10m"), not delay'
        ],
    ),
    (
        "bad title pattern",
        "pattern: '(?i)call'",
        "pattern: '(?i)call['",
        [
            "demo.yaml:26: triggers[1].pattern: is not a valid regular expression (unterminated "
            "character set at position 8); check the brackets, and write a literal ( ) [ ] . ? + "
            "* with a backslash before it"
        ],
    ),
    (
        "attendee bounds that exclude everything",
        "    min_attendees: 2\n",
        "    min_attendees: 5\n    max_attendees: 2\n",
        [
            "demo.yaml:29: triggers[1].max_attendees: 2 is below min_attendees 5; "
            "no event could match"
        ],
    ),
    (
        "a calendar key on a message trigger",
        '    pattern: "(?i)^esc"\n',
        '    pattern: "(?i)^esc"\n    recurring: true\n',
        ["demo.yaml:24: triggers[0].recurring: does not apply to source message; remove it"],
    ),
    (
        "an offset on a message trigger",
        'when: {trigger: customer-call, at: "start-10m"}',
        'when: {trigger: escalated, at: "start-10m"}',
        ["demo.yaml:40: steps[1].when.at: `at` goes with a calendar trigger; use `delay`"],
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_calendar_mistake_is_one_precise_line(old: str, new: str, expected: list[str]) -> None:
    program, errors = parse_program(edit(CALENDAR, old, new), file="demo.yaml", expected_id="demo")
    assert [str(e) for e in errors] == expected
    assert program is None
