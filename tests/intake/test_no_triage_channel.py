"""Without NUDGEBOT_TRIAGE_CHANNEL a request is still kept, and both sides are told."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.intake.models import IntakeRequest
from bot.settings import Settings
from tests.conftest import RunningBot, make_settings
from tests.fakeslack import FakeSlack
from tests.intake.conftest import GOOD, LEAD, REQUESTER, eventually, open_form, submit


@pytest.fixture
def settings(db_url: str, fake_slack: FakeSlack) -> Settings:
    fake_slack.add_user(LEAD, name="lead")
    fake_slack.add_user(REQUESTER, name="asker")
    return make_settings(database_url=db_url, slack_api_url=fake_slack.base_url, ld_leads=[LEAD])


def test_without_a_triage_channel_the_request_is_kept_and_requester_and_lead_are_told(
    bot: RunningBot,
) -> None:
    view = open_form(bot, REQUESTER)

    assert submit(bot, REQUESTER, view, GOOD) is None

    to_requester = eventually(lambda: bot.fake.dm_messages(REQUESTER))
    to_lead = eventually(lambda: bot.fake.dm_messages(LEAD))
    assert "is saved" in to_requester[0]["text"] and "no triage channel" in to_requester[0]["text"]
    assert "NUDGEBOT_TRIAGE_CHANNEL is not set" in to_lead[0]["text"]
    assert "/intake list" in to_lead[0]["text"]
    with bot.services.session() as session:
        assert session.scalars(select(IntakeRequest.goal)).one() == GOOD["goal"]
