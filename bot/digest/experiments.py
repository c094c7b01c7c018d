"""Experiments: an honest comparison of behavior rates between arms.

Arms are assigned at enrollment by the delivery core (bot.delivery.arms): "" (the
program's main wording), each variant id of the program, and "holdout".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Re-exported: the digest names arms as the delivery core assigns them.
from bot.delivery.arms import HOLDOUT as HOLDOUT
from bot.delivery.arms import MAIN as MAIN

Z95 = 1.959963984540054
# Below this many nudges in an arm, a rate says more about luck than about wording.
MIN_PER_ARM = 30


def arm_label(arm: str) -> str:
    return "main wording" if arm == MAIN else arm


@dataclass(frozen=True)
class Rate:
    """`acted` of `total` nudges were acted on, with a 95% Wilson interval."""

    arm: str
    acted: int
    total: int

    @property
    def share(self) -> float | None:
        return self.acted / self.total if self.total else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.acted, self.total)


def wilson(successes: int, total: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval: sound at small counts and near 0% or 100%, unlike p ± z·se."""
    if total <= 0:
        return None
    p = successes / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def difference_interval(a: Rate, b: Rate) -> tuple[float, float] | None:
    """95% interval of share(b) − share(a) by Newcombe's hybrid score method (from Wilson)."""
    ia, ib = a.interval, b.interval
    if ia is None or ib is None or a.share is None or b.share is None:
        return None
    diff = b.share - a.share
    lower = diff - math.sqrt((b.share - ib[0]) ** 2 + (ia[1] - a.share) ** 2)
    upper = diff + math.sqrt((ib[1] - b.share) ** 2 + (a.share - ia[0]) ** 2)
    return lower, upper


@dataclass(frozen=True)
class Comparison:
    baseline: Rate
    other: Rate
    diff: float | None
    interval: tuple[float, float] | None
    meaningful: bool
    statement: str


def compare(baseline: Rate, other: Rate) -> Comparison:
    """Compare an arm against the baseline arm, in words a leader can repeat safely."""
    name = arm_label(other.arm)
    base = arm_label(baseline.arm)
    interval = difference_interval(baseline, other)
    if interval is None or min(baseline.total, other.total) < MIN_PER_ARM:
        statement = (
            f"Not yet meaningful: {name} vs {base} needs at least {MIN_PER_ARM} nudges in each "
            f"arm (now {other.total} and {baseline.total})."
        )
        return Comparison(baseline, other, None, interval, False, statement)
    assert other.share is not None and baseline.share is not None
    diff = other.share - baseline.share
    lo, hi = interval
    span = f"{diff * 100:+.1f} points (95% CI {lo * 100:+.1f} to {hi * 100:+.1f})"
    if lo <= 0 <= hi:
        statement = (
            f"Not yet meaningful: {name} vs {base} is {span}; the interval includes no "
            "difference, so keep both running."
        )
        return Comparison(baseline, other, diff, interval, False, statement)
    better = "more" if diff > 0 else "less"
    statement = f"{name} is acted on {better} often than {base}: {span}."
    return Comparison(baseline, other, diff, interval, True, statement)
