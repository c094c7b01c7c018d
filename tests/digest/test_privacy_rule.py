"""The one privacy rule (bot/people/privacy.py): a figure about people is shown only when
at least k distinct people stand behind it; otherwise it is withheld and the reader is told
why. These tests sit on the boundary a reader would notice: k-1 people withheld, k shown."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.digest.blocks import ld_digest_blocks
from bot.digest.programs import ld_digest
from bot.digest.weeks import weeks_before
from bot.people.privacy import may_show, shown_or_withheld, withheld_reason
from bot.services import Services
from tests.digest.conftest import World
from tests.digest.test_manager_digest import build_team, digest_text

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LAST_WEEK = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)
PREV_WEEK = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


def test_people_are_counted_once_however_many_figures_they_stand_behind() -> None:
    assert may_show({1, 2, 3, 4, 5}, k=5)
    assert not may_show([1, 1, 2, 3, 4, 4], k=5)  # six nudges, four people
    assert may_show(5, k=5) and not may_show(4, k=5)
    assert shown_or_withheld(0.5, [1, 2], k=2) == 0.5
    assert shown_or_withheld(0.5, [1, 1], k=2) is None
    assert withheld_reason(5) == "fewer than 5 people"


@pytest.mark.parametrize(("team", "shown"), [(4, False), (5, True)])
def test_a_manager_sees_team_figures_from_k_people_not_from_k_minus_one(
    world: World, services: Services, team: int, shown: bool
) -> None:
    build_team(world, team)  # k is 5 (the default)
    text = digest_text(services)
    if shown:
        assert "Too few people for team figures" not in text
        assert "%* acted on" in text and "Step ask" in text
    else:
        assert "Too few people for team figures" in text and f"(now {team})" in text
        assert "%" not in text and "Step ask" not in text


@pytest.mark.parametrize(("nudged", "shown"), [(4, False), (5, True)])
def test_ld_adoption_last_week_needs_k_people_nudged_not_only_k_enrolled(
    world: World, services: Services, nudged: int, shown: bool
) -> None:
    """Six people are enrolled (enough for the program's figures), but last week's share
    stands only on the people nudged last week: 4 of them would point at who acted."""
    world.program("solo", ["ask"])
    for i in range(6):
        enrollment = world.enroll(world.person(f"USOLO{i:04d}"), "solo")
        world.nudge(enrollment, "ask", PREV_WEEK, answer="done")
        if i < nudged:
            world.nudge(enrollment, "ask", LAST_WEEK, answer="done" if i else None)
    world.commit()
    with services.session() as session:
        week = weeks_before(date(2026, 11, 23), 1, zone=ZoneInfo("UTC"))[0]
        text = json.dumps(
            ld_digest_blocks(ld_digest(session, week=week, now=MONDAY, settings=services.settings)),
            ensure_ascii=False,
        )
    if shown:
        assert "6 enrolled · adoption last week *80%* (4 of 5 people nudged acted)" in text
    else:
        assert (
            "6 enrolled · adoption last week withheld (4 people nudged, fewer than 5 people)"
            in text
        )
        assert "%" not in text.split("solo")[1].split("Step ask")[0]
