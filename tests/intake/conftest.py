"""/intake fixtures: a workspace with a requester, an L&D lead, a bystander and a
triage channel, and helpers that drive the real form through the fake Slack."""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from typing import Any

import pytest

from bot.settings import Settings
from tests.conftest import RunningBot, make_settings
from tests.fakeslack import DriverResponse, FakeSlack

TRIAGE = "C0TRIAGE"
LEAD = "U0LEAD"
REQUESTER = "U0ASKER"
BYSTANDER = "U0OTHER"

GOOD = {
    "goal": "Repeat calls 18% → 12% by Q3",
    "audience": "40 support agents: ask three clarifying questions before offering a fix",
    "context": "At the start of every inbound call, before the ticket is escalated",
    "cost_of_inaction": "Each repeat call costs €7; about 1,200 a month",
    "horizon": "By end of Q3 2027; agents can spare 10 minutes a week",
}


@pytest.fixture
def settings(db_url: str, fake_slack: FakeSlack) -> Settings:
    fake_slack.add_user(LEAD, name="lead")
    fake_slack.add_user(REQUESTER, name="asker")
    fake_slack.add_user(BYSTANDER, name="other")
    fake_slack.add_channel(TRIAGE, name="ld-triage", members=[LEAD, BYSTANDER])
    fake_slack.add_channel("C0GENERAL", name="general", members=[LEAD, REQUESTER, BYSTANDER])
    return make_settings(
        database_url=db_url,
        slack_api_url=fake_slack.base_url,
        triage_channel=TRIAGE,
        ld_leads=[LEAD],
    )


def eventually(check: Callable[[], Any], *, timeout: float = 5.0) -> Any:
    """Listeners work after the ack, on another thread: wait until `check` is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)


def state(answers: dict[str, str]) -> dict[str, Any]:
    """view.state.values as Slack sends them for the /intake form."""
    values: dict[str, Any] = {}
    for block_id, value in answers.items():
        if block_id == "diagnostic":
            option = {"value": value} if value else None
            values[block_id] = {"value": {"type": "static_select", "selected_option": option}}
        else:
            values[block_id] = {"value": {"type": "plain_text_input", "value": value}}
    return values


def unescape(text: str) -> str:
    return html.unescape(text)


def newest_view(fake: FakeSlack, user_count_before: int) -> dict[str, Any]:
    views = eventually(lambda: len(fake.views) > user_count_before and fake.views)
    return list(views.values())[-1]


def open_form(bot: RunningBot, user: str, text: str = "") -> dict[str, Any]:
    """Run `/intake [text]` and return the form as the fake holds it."""
    before = len(bot.fake.calls_to("views.open"))
    response = bot.driver.slash_command("/intake", text, user_id=user)
    assert response.acked_in_time
    call = eventually(lambda: len(bot.fake.calls_to("views.open")) > before)
    assert call
    opened = bot.fake.calls_to("views.open")[-1]
    assert opened.ok, opened.response
    view_id = opened.response["view"]["id"]  # type: ignore[index]
    return bot.fake.view(view_id) or {}


def submit(
    bot: RunningBot, user: str, view: dict[str, Any], answers: dict[str, str]
) -> dict[str, Any] | None:
    """Submit the form; the ack's JSON body (field errors) or None when it closed."""
    response = bot.driver.view_submission(
        user_id=user, view_id=view["id"], state_values=state(answers)
    )
    assert response.status == 200
    return response.json() if response.body.strip() else None


def triage_messages(fake: FakeSlack) -> list[dict[str, Any]]:
    return [m for m in fake.messages(TRIAGE) if not m.get("thread_ts") or m["thread_ts"] == m["ts"]]


def click(
    bot: RunningBot, user: str, action_id: str, message: dict[str, Any], channel: str = TRIAGE
) -> DriverResponse:
    response = bot.driver.block_actions(
        user_id=user, actions=[{"action_id": action_id}], message=message, channel_id=channel
    )
    assert response.acked_in_time
    return response


def replies(bot: RunningBot, click_response: DriverResponse) -> list[str]:
    """Texts the app sent back through a click's response_url (only the clicker sees them)."""
    return [
        str(post["payload"].get("text"))
        for post in bot.fake.response_url_posts
        if post["url"] == click_response.response_url
        and post["payload"].get("response_type") == "ephemeral"
    ]
