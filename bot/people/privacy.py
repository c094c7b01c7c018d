"""The one privacy rule for figures about people (docs/privacy.md, rules 1 and 2).

A figure about people (a share, a count of who acted, the reasons they gave) is
shown only when at least k distinct people stand behind it, k being
`NUDGEBOT_PRIVACY_MIN_GROUP` (`settings.privacy_min_group`). Below k the figure
is withheld, never rounded or blurred, and the reader is told why ("fewer than
k people"). "Behind it" means the people whose actions the figure counts: for a
week's share, those nudged that week; for a program's reasons, those in the
program; for an experiment arm, those in the arm. Counting deliveries or
enrollments instead of distinct people would let one busy person stand in for
five.

The rule is applied where figures are computed, not where they are rendered, so
no new screen can show what the data layer never handed out.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TypeVar

from bot.settings import Settings

T = TypeVar("T")


def min_group(settings: Settings) -> int:
    """k: the fewest distinct people a figure may stand on."""
    return settings.privacy_min_group


def may_show(people: int | Collection[object], *, k: int) -> bool:
    """True when a figure with these people behind it may be shown.

    `people` is either the distinct people themselves (any collection of ids:
    a set is counted once per person) or their count, already distinct."""
    count = people if isinstance(people, int) else len(set(people))
    return count >= k


def shown_or_withheld(value: T, people: int | Collection[object], *, k: int) -> T | None:
    """`value` when it may be shown, else None (rendered as "withheld: fewer than k")."""
    return value if may_show(people, k=k) else None


def withheld_reason(k: int) -> str:
    """What the reader is told in place of a withheld figure."""
    return f"fewer than {k} people"
