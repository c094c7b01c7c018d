"""The impact score of a training request: a formula anyone can redo by hand.

    impact = 100 × gap × cost × urgency ÷ reach

- gap: how far the indicator must move, relative to its baseline (|target − baseline| ÷
  |baseline|), capped at 1 so a typo cannot buy the top of the queue;
- cost: the order of magnitude of the largest number in "cost of inaction"
  (log10, at least 1): €7 → 1, €1,200 → 3.1, €100k → 5;
- urgency: 3 within a month, 2 within a quarter, 1.5 within half a year, else 1
  (also when no deadline could be read);
- reach: log10 of the audience size when the audience names one (at least 1): the
  same KPI move bought by training fewer people is worth more per person.

Each part is shown next to the score, so a lead can argue with a part, not a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from bot.intake.form import audience_size, numbers, parse_goal, parse_horizon

URGENCY_BANDS = (("≤1 month", 31, 3.0), ("≤3 months", 92, 2.0), ("≤6 months", 183, 1.5))
LATER = "later / unknown"
IMPACT_BANDS = (("high", 100.0), ("medium", 30.0), ("low", 0.0))


@dataclass(frozen=True)
class Score:
    gap: float
    cost: float
    urgency: float
    reach: float
    impact: float
    horizon_days: int | None
    audience: int | None

    @property
    def urgency_band(self) -> str:
        return urgency_band(self.horizon_days)

    @property
    def impact_band(self) -> str:
        return next(name for name, floor in IMPACT_BANDS if self.impact >= floor)

    def explain(self) -> str:
        """`64 = 100 × gap 0.33 × cost 3.1 × urgency 1 ÷ reach 1.6`"""
        return (
            f"{self.impact:g} = 100 × gap {self.gap:g} × cost {self.cost:g} × "
            f"urgency {self.urgency:g} ÷ reach {self.reach:g}"
        )


def urgency_band(horizon_days: int | None) -> str:
    if horizon_days is not None:
        for name, limit, _ in URGENCY_BANDS:
            if horizon_days <= limit:
                return name
    return LATER


def gap_part(goal_text: str) -> float:
    goal = parse_goal(goal_text)
    if goal is None:
        return 0.0
    base = abs(goal.baseline) or abs(goal.target) or 1.0
    return round(min(abs(goal.target - goal.baseline) / base, 1.0), 2)


def cost_part(cost_text: str) -> float:
    values = [v for v in numbers(cost_text) if v > 0]
    return round(max(1.0, math.log10(max(values))) if values else 1.0, 1)


def urgency_part(horizon_days: int | None) -> float:
    if horizon_days is not None:
        for _, limit, weight in URGENCY_BANDS:
            if horizon_days <= limit:
                return weight
    return 1.0


def reach_part(size: int | None) -> float:
    return round(max(1.0, math.log10(size)), 1) if size else 1.0


def score(*, goal: str, cost_of_inaction: str, horizon: str, audience: str, today: date) -> Score:
    deadline = parse_horizon(horizon, today)
    days = max((deadline - today).days, 0) if deadline else None
    size = audience_size(audience)
    gap, cost = gap_part(goal), cost_part(cost_of_inaction)
    urgency, reach = urgency_part(days), reach_part(size)
    impact = round(100 * gap * cost * urgency / reach, 1)
    return Score(gap, cost, urgency, reach, impact, days, size)
