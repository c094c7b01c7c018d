"""The sandbox's seeded workspace, as the people trying it will meet it.

A real local Slack and a real database: the bot learns the seeded people through
its own sync, org import and enrollment, then the tests look at what a person
would notice (who reports to whom, the language of the nudges, who may triage,
the first nudge that arrives at once).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.clock import FixedClock
from bot.content.blocks import message_locale
from bot.content.loader import load_library
from bot.content.service import load_and_sync
from bot.delivery.arms import HOLDOUT
from bot.delivery.models import Delivery, Enrollment
from bot.people.models import Person
from bot.people.roles import lead_directory
from bot.sandbox import seed
from bot.services import Services
from bot.settings import Settings
from tests.conftest import make_settings
from tests.fakeslack import FakeSlack

STARTER_DIR = Path(__file__).resolve().parents[2] / "nudges"


@pytest.fixture
def settings(db_url: str, fake_slack: FakeSlack) -> Settings:
    return make_settings(
        database_url=db_url, slack_api_url=fake_slack.base_url, content_dir=STARTER_DIR
    )


def _seeded(services: Services, fake: FakeSlack, *, empty: bool = False) -> str:
    seed.seed_slack(fake, empty=empty)
    load_and_sync(services)  # what the sandbox's runner does before seed_bot
    return seed.seed_bot(services, empty=empty)


@pytest.fixture
def seeded(services: Services, fake_slack: FakeSlack) -> Services:
    summary = _seeded(services, fake_slack)
    assert "2 in new-hire-ramp" in summary and "6 in customer-call-opener" in summary
    return services


def _reports(services: Services, manager: str) -> list[str]:
    with services.session() as session:
        return sorted(
            session.scalars(
                select(Person.slack_user_id).where(Person.manager_slack_user_id == manager)
            )
        )


def _enrollments(services: Services) -> list[tuple[str, str, str]]:
    """(user id, program, arm) of every enrollment."""
    with services.session() as session:
        rows = session.execute(
            select(Person.slack_user_id, Enrollment.program_id, Enrollment.arm).join(
                Person, Person.id == Enrollment.person_id
            )
        )
        return [(r[0], r[1], r[2]) for r in rows]


def test_the_workspace_spans_time_zones_languages_and_channels(fake_slack: FakeSlack) -> None:
    seed.seed_slack(fake_slack)
    zones = {p.tz for p in seed.PEOPLE}
    assert len(seed.PEOPLE) >= 12 and len(zones) >= 3
    assert {p.locale for p in seed.PEOPLE} == {"en-US", "bg-BG"}
    names = {fake_slack.channel_name(c.id) for c in seed.CHANNELS}
    assert {"ld-triage", "sales", "support-escalations", "general"} <= names
    assert seed.LEAD_ID in fake_slack.channel_members(seed.TRIAGE_CHANNEL_ID)
    assert fake_slack.user_name(seed.DEFAULT_USER_ID) == "sam"
    general = fake_slack.messages(seed.GENERAL_CHANNEL_ID)
    assert any("join Support today" in m.get("text", "") for m in general)


def test_managers_have_six_and_three_reports_around_the_privacy_threshold(
    seeded: Services,
) -> None:
    k = seeded.settings.privacy_min_group
    support = _reports(seeded, seed.SUPPORT_MANAGER_ID)
    sales = _reports(seeded, seed.SALES_MANAGER_ID)
    assert len(support) == 6 and len(sales) == 3
    # The digest counts people who were nudged: Georgi's team is all nudged by the same
    # program (nobody in its holdout), so his figures show; Sarah's three never reach k.
    nudged = {u for u, _, arm in _enrollments(seeded) if arm != HOLDOUT}
    assert len(nudged & set(support)) >= k > len(sales)
    call_opener = {
        u for u, program, arm in _enrollments(seeded) if program == "customer-call-opener"
    }
    assert call_opener == set(support)


def test_bulgarian_people_read_bulgarian_and_the_others_english(seeded: Services) -> None:
    with seeded.session() as session:
        found = session.scalars(select(Person)).all()
        locales = {p.slack_user_id: p.locale for p in found}
        teams = {p.slack_user_id: p.team for p in found}
    ramp = load_library(STARTER_DIR).get(seed.AT_ONCE_PROGRAM)
    assert message_locale(ramp, locales["U0ANA"]) == "bg"
    assert message_locale(ramp, locales[seed.DEFAULT_USER_ID]) == "en"
    bulgarian = {p.id for p in seed.PEOPLE if p.locale == "bg-BG"}
    assert bulgarian and all(message_locale(ramp, locales[u]) == "bg" for u in bulgarian)
    assert teams["U0ANA"] == "Support" and teams["U0MILA"] == "Sales"


def test_the_lead_is_an_ld_lead_and_the_managers_are_not(seeded: Services) -> None:
    leads = lead_directory(seeded)
    with seeded.session() as session:
        assert leads.is_ld_lead(session, seed.LEAD_ID)
        assert not leads.is_ld_lead(session, seed.SUPPORT_MANAGER_ID)
        assert not leads.is_ld_lead(session, seed.DEFAULT_USER_ID)


@pytest.mark.parametrize("local_start", [time(9, 5), time(12, 0), time(16, 30)])
def test_new_hires_get_their_first_nudge_within_a_minute(
    services: Services, fake_slack: FakeSlack, clock: FixedClock, local_start: time
) -> None:
    # A Monday in Sofia, at any moment of the working day the sandbox may start at.
    clock.set(datetime.combine(date(2026, 12, 7), local_start, ZoneInfo("Europe/Sofia")))
    _seeded(services, fake_slack)
    now = clock.now()
    with services.session() as session:
        rows = session.execute(
            select(Person.slack_user_id, Delivery.step_id, Delivery.due_at)
            .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
            .join(Person, Person.id == Enrollment.person_id)
            .where(Enrollment.program_id == seed.AT_ONCE_PROGRAM)
        ).all()
    at_once = {
        user
        for user, step, due in rows
        if step == "welcome-first-week" and now <= due <= now + timedelta(minutes=1)
    }
    assert at_once == set(seed.NEW_HIRE_IDS)
    assert seed.DEFAULT_USER_ID in at_once


def test_an_empty_sandbox_has_only_you_and_nobody_enrolled(
    services: Services, fake_slack: FakeSlack
) -> None:
    summary = _seeded(services, fake_slack, empty=True)
    assert "no enrollments" in summary
    assert _enrollments(services) == []
    with services.session() as session:
        humans = session.scalars(select(Person.slack_user_id).where(Person.is_bot.is_(False))).all()
    assert humans == [seed.LEAD_ID]
    assert fake_slack.user_name(seed.LEAD_ID) == "you"
    assert fake_slack.channel_members(seed.TRIAGE_CHANNEL_ID)[0] == seed.LEAD_ID
