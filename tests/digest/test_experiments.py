"""Arm assignment by a stable hash, and the statistics behind the impact brief."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.content.schema import Program
from bot.delivery.arms import HOLDOUT, assign_arm
from bot.digest.experiments import Rate, compare, wilson
from tests.digest.conftest import program_data

STEPS = [
    {
        "id": "ask",
        "kind": "prompt",
        "text": "Ask first.",
        "when": {"day": 0},
        "variants": [{"id": "short", "text": "Ask."}, {"id": "story", "text": "A story."}],
    }
]


def program(holdout: float, program_id: str = "call-opener") -> Program:
    return Program.model_validate(program_data(program_id, [], steps=STEPS, holdout=holdout))


def test_the_same_person_always_gets_the_same_arm() -> None:
    p = program(0.2)
    first = [assign_arm(p, f"U{i:06d}") for i in range(500)]
    again = [assign_arm(program(0.2), f"U{i:06d}") for i in range(500)]
    assert first == again


def test_arms_follow_the_holdout_share_and_split_the_rest_evenly() -> None:
    counts = Counter(assign_arm(program(0.2), f"U{i:06d}") for i in range(6000))
    assert set(counts) == {HOLDOUT, "", "short", "story"}
    assert counts[HOLDOUT] / 6000 == pytest.approx(0.2, abs=0.02)
    for arm in ("", "short", "story"):
        assert counts[arm] / 6000 == pytest.approx(0.8 / 3, abs=0.025)
    assert HOLDOUT not in {assign_arm(program(0.0), f"U{i:06d}") for i in range(500)}


def test_holdout_differs_between_programs() -> None:
    a = {
        u
        for u in (f"U{i:06d}" for i in range(2000))
        if assign_arm(program(0.2, "aaa"), u) == HOLDOUT
    }
    b = {
        u
        for u in (f"U{i:06d}" for i in range(2000))
        if assign_arm(program(0.2, "bbb"), u) == HOLDOUT
    }
    assert 0 < len(a & b) < len(a) / 2  # roughly 20% overlap, not the same people every time


def test_wilson_interval_known_values() -> None:
    # Published values: 0 of 10 → [0, 0.2775]; 5 of 10 → [0.2366, 0.7634].
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson(0, 0) is None


def test_comparison_says_plainly_when_it_is_not_yet_meaningful() -> None:
    close = compare(Rate("", 50, 100), Rate("short", 55, 100))
    assert not close.meaningful and close.statement.startswith("Not yet meaningful")
    assert "the interval includes no difference" in close.statement
    clear = compare(Rate("", 50, 200), Rate("short", 150, 200))
    assert clear.meaningful and clear.statement.startswith("short is acted on more often")
    assert clear.interval is not None and clear.interval[0] > 0
    small = compare(Rate("", 1, 10), Rate("short", 9, 10))
    assert not small.meaningful and "needs at least 30 nudges" in small.statement
