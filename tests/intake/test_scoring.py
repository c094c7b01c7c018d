"""The impact score and the readers of numbers behind it: what a lead sees and can redo by hand."""

from __future__ import annotations

from datetime import date

import pytest

from bot.intake.form import audience_size, numbers, parse_goal, parse_horizon
from bot.intake.models import IntakeRequest, RequestStatus
from bot.intake.portfolio_blocks import heatmap, portfolio_blocks
from bot.intake.scoring import score
from bot.slack.blocks import escape_within as shown

TODAY = date(2026, 11, 26)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("€7 per call, 1,200 calls a month", [7, 1200]),
        ("$100k a year, 2.5 FTE", [100_000, 2.5]),
        ("Q3 and H1 are not numbers; 3 is", [3]),
        ("NPS 31,5 → 40", [31.5, 40]),
    ],
)
def test_numbers_are_read_as_people_write_them(text: str, expected: list[float]) -> None:
    assert numbers(text) == expected


def test_a_goal_names_its_indicator_baseline_target_and_direction() -> None:
    goal = parse_goal("Repeat calls 18% → 12% by Q3 2027")
    assert goal is not None
    assert (goal.name, goal.baseline, goal.target, goal.unit, goal.direction) == (
        "Repeat calls",
        18,
        12,
        "%",
        "down",
    )
    later = parse_goal("By 2027 raise NPS from 31 to 45")
    assert later is not None and (later.baseline, later.target, later.direction) == (31, 45, "up")
    assert parse_goal("Repeat calls are too high") is None


@pytest.mark.parametrize(
    ("text", "deadline"),
    [
        ("by end of Q3", date(2027, 9, 30)),  # Q3 of this year is over: next year's
        ("Q1 2027, 2 hours a week", date(2027, 3, 31)),
        ("within 6 weeks", date(2027, 1, 7)),
        ("before June", date(2027, 6, 30)),
        ("2027-02-15 hard stop", date(2027, 2, 15)),
        ("when budget allows", None),
    ],
)
def test_the_horizon_is_read_as_a_deadline(text: str, deadline: date | None) -> None:
    assert parse_horizon(text, TODAY) == deadline


def test_the_score_is_the_product_of_its_shown_parts() -> None:
    s = score(
        goal="Repeat calls 18% → 12%",
        cost_of_inaction="€100k a year",
        horizon="within 4 weeks",
        audience="1000 agents",
        today=TODAY,
    )
    assert (s.gap, s.cost, s.urgency, s.reach) == (0.33, 5.0, 3.0, 3.0)
    assert s.impact == round(100 * s.gap * s.cost * s.urgency / s.reach, 1) == 165.0
    assert s.explain() == "165 = 100 × gap 0.33 × cost 5 × urgency 3 ÷ reach 3"
    assert (s.impact_band, s.urgency_band) == ("high", "≤1 month")


def test_a_typo_cannot_buy_the_top_of_the_queue_and_small_audiences_do_not_divide() -> None:
    huge = score(
        goal="Errors 1 → 900",
        cost_of_inaction="5 hours",
        horizon="Q4",
        audience="the squad",
        today=TODAY,
    )
    assert huge.gap == 1.0 and huge.reach == 1.0 and audience_size("the squad") is None


def _request(i: int, goal: str) -> IntakeRequest:
    return IntakeRequest(
        id=i,
        requester_slack_user_id="U1",
        status=RequestStatus.open,
        goal=goal,
        audience="40 agents do X",
        context="calls",
        cost_of_inaction="€7",
        horizon="Q3",
    )


def test_long_text_is_cut_between_characters_never_inside_an_escape() -> None:
    text = "<&>" * 2000
    cut = shown(text, 100)
    assert len(cut) <= 100 and cut.endswith("…")
    assert cut[:-1].replace("&lt;", "").replace("&amp;", "").replace("&gt;", "") == ""


def test_the_portfolio_stays_within_50_blocks_even_with_1000_long_requests() -> None:
    rows = [
        (
            _request(i, f"Indicator {'x' * 300} {i} → {i + 5}"),
            score(
                goal=f"KPI {i} → {i + 5}",
                cost_of_inaction="€7",
                horizon="Q3",
                audience="40",
                today=TODAY,
            ),
        )
        for i in range(1000)
    ]
    blocks = portfolio_blocks(rows)
    assert len(blocks) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    assert "more with lower impact" in str(blocks[-1])
    grid = heatmap([s for _, s in rows]).splitlines()[2:-1]  # the three impact rows
    assert sum(int(cell) for line in grid for cell in line.split() if cell.isdigit()) == 1000


def test_a_scaffold_from_the_longest_answers_still_fits_the_program_format() -> None:
    from bot.content.loader import parse_program
    from bot.intake.scaffold import program_id_for, program_yaml

    long = "word " * 580  # 2,900 characters, the most the form takes
    request = IntakeRequest(
        id=3,
        requester_slack_user_id="U1",
        status=RequestStatus.approved,
        decided_by="U0LEAD",
        goal=f"Handle time {long} 300 → 240 seconds",
        audience=long,
        context=long,
        cost_of_inaction=long + " 1,000,000",
        horizon=long + " by Q2",
    )
    text = program_yaml(request, program_id=program_id_for(request), owner="U0LEAD", today=TODAY)
    text = text.replace(
        "steps: []",
        "steps:\n- id: first\n  kind: tip\n  when: {day: 0}\n  text: {en: 'Try it today.'}",
    )

    program, errors = parse_program(text, file="x.yaml", expected_id=program_id_for(request))

    assert errors == [] and program is not None
    assert program.metric.baseline == 300 and program.metric.target == 240
    assert program.metric.direction == "down"
