"""App Home through the fake Slack: an employee's week, streaks and preferences;
an L&D lead's programs, adoption, paging and enrollment. Every view must pass
slack_sdk's validation and stay within Slack's 100-block limit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from slack_sdk.models.views import View
from sqlalchemy import select

from bot.content.models import Program as ProgramRow
from bot.delivery.models import Enrollment
from bot.people.models import Person
from bot.proof.models import NudgePreference
from bot.settings import Settings
from tests.conftest import T0, RunningBot, make_settings
from tests.fakeslack import FakeSlack
from tests.proof.conftest import LEAD, World, wait_for

USER = "U0ALICE01"


@pytest.fixture
def settings(db_url: str, fake_slack: FakeSlack) -> Settings:
    # The lead's adoption figures here stand on two people: k=2 lets a step two people
    # got show its answers (with k=5 they would be withheld, as below k-1 people are).
    return make_settings(
        database_url=db_url,
        slack_api_url=fake_slack.base_url,
        ld_leads=[LEAD],
        privacy_min_group=2,
    )


def home(bot: RunningBot, user: str, after: int = 0) -> dict[str, Any]:
    response = bot.driver.app_home_opened(user)
    assert response.status == 200
    wait_for(lambda: len(bot.fake.calls_to("views.publish")) > after)
    view = bot.fake.home_view(user)
    assert view is not None
    return view


def valid(view: dict[str, Any]) -> str:
    """The view's text, after slack_sdk validated it as Slack would."""
    fields = {k: view[k] for k in ("type", "blocks", "callback_id") if k in view}
    View(**fields).validate_json()
    assert len(view["blocks"]) <= 100
    return str(view["blocks"])


def test_employee_home_shows_the_week_streaks_next_and_preferences(
    bot: RunningBot, world: World
) -> None:
    first = world.send(USER, "ask-three", sent_at=T0 - timedelta(hours=2))
    world.send(USER, "tip", sent_at=T0 - timedelta(hours=1))
    bot.driver.block_actions(
        user_id=USER,
        actions=[{"action_id": "nudge_done"}],
        message=first.message(bot.fake),
        channel_id=first.channel,
    )
    wait_for(lambda: world.events())

    text = valid(home(bot, USER))
    assert "This week" in text and "Today, open each call" in text and "✅ done" in text
    assert "*1* in a row" in text  # the fresh unanswered tip does not break the streak
    assert "What comes next" in text and "Mon 30 Nov" not in text
    assert "Working hours: 09:00-17:30" in text and "UTC (from Slack)" in text
    assert "Programs (L&D)" not in text  # not a lead


def test_lead_home_pages_through_hundreds_of_programs(bot: RunningBot, world: World) -> None:
    world.person(LEAD)
    with world.services.session() as session:
        for n in range(250):
            session.add(ProgramRow(id=f"program-{n:03d}", title=f"Program {n:03d}", owner=LEAD))
    nudge = world.send(USER, "ask-three")
    world.send("U0CAROL01", "ask-three")
    bot.driver.block_actions(
        user_id=USER,
        actions=[{"action_id": "nudge_done"}],
        message=nudge.message(bot.fake),
        channel_id=nudge.channel,
    )
    wait_for(lambda: world.events())

    view = home(bot, LEAD)
    text = valid(view)
    assert "Programs (L&amp;D)" in text or "Programs (L&D)" in text
    assert "251 program(s) · page 1 of 26" in text
    assert "ask-three 1/2 (50%)" in text and "2 enrolled" in text  # adoption of call-opener
    paging = next(b for b in view["blocks"] if b.get("block_id") == "programs_paging")
    assert [e["text"]["text"] for e in paging["elements"]] == ["Next"]

    calls = len(bot.fake.calls_to("views.publish"))
    bot.driver.block_actions(
        user_id=LEAD, actions=[{"action_id": "nudges_programs_page_next"}], view=view
    )
    wait_for(lambda: len(bot.fake.calls_to("views.publish")) > calls)
    page_two = bot.fake.home_view(LEAD)
    assert page_two is not None
    text = valid(page_two)
    assert "page 2 of 26" in text and "Program 009" in text and "Program 000" not in text


def test_lead_enrolls_a_channel_from_home(bot: RunningBot, world: World) -> None:
    world.person(LEAD)
    for user in ("U0DAN0001", "U0ERIN001"):
        world.person(user)
    bot.fake.add_channel("C0SUPPORT", name="support", members=["U0DAN0001", "U0ERIN001"])
    view = home(bot, LEAD)
    bot.driver.block_actions(
        user_id=LEAD,
        actions=[{"action_id": "nudges_enroll", "value": "call-opener"}],
        view=view,
    )
    opened = wait_for(lambda: bot.fake.calls_to("views.open"))
    modal_id = opened[0].response["view"]["id"]
    reply = bot.driver.view_submission(
        user_id=LEAD,
        view_id=modal_id,
        state_values={
            "channel": {
                "value": {"type": "conversations_select", "selected_conversation": "C0SUPPORT"}
            },
            "usergroup": {"value": {"type": "plain_text_input", "value": None}},
        },
    )
    assert reply.status == 200 and "errors" not in reply.body

    def enrolled() -> list[str]:
        with world.services.session() as session:
            return sorted(
                session.scalars(
                    select(Person.slack_user_id).join(Enrollment, Enrollment.person_id == Person.id)
                )
            )

    assert wait_for(lambda: enrolled() == ["U0DAN0001", "U0ERIN001"])
    note = wait_for(lambda: [m for m in bot.fake.dm_messages(LEAD) if "Enrolled 2" in m["text"]])
    assert note


def test_only_leads_may_enroll(bot: RunningBot, world: World) -> None:
    world.person(USER)
    reply = bot.driver.view_submission(
        user_id=USER,
        view_callback_id="proof_enroll",
        private_metadata='{"program_id": "call-opener"}',
        state_values={
            "channel": {"value": {"type": "conversations_select", "selected_conversation": "C0X"}},
        },
    )
    assert reply.json()["response_action"] == "errors"
    assert "Only L&D leads" in reply.json()["errors"]["channel"]
    with world.services.session() as session:
        assert session.scalar(select(Enrollment.id)) is None


def test_preferences_are_checked_and_saved_from_home(bot: RunningBot, world: World) -> None:
    world.person(USER)
    view = home(bot, USER)
    bot.driver.block_actions(user_id=USER, actions=[{"action_id": "nudges_preferences"}], view=view)
    opened = wait_for(lambda: bot.fake.calls_to("views.open"))
    modal_id = opened[0].response["view"]["id"]

    def submit(hours: str, tz: str, language: str) -> Any:
        return bot.driver.view_submission(
            user_id=USER,
            view_id=modal_id,
            state_values={
                "hours": {"value": {"type": "plain_text_input", "value": hours}},
                "tz": {"value": {"type": "plain_text_input", "value": tz}},
                "language": {
                    "value": {"type": "static_select", "selected_option": {"value": language}}
                },
            },
        )

    bad = submit("17:00-09:00", "Mars/Olympus", "en")
    assert set(bad.json()["errors"]) == {"hours", "tz"}
    calls = len(bot.fake.calls_to("views.publish"))
    good = submit("08:00-16:00", "Europe/Sofia", "bg")
    assert good.status == 200 and "errors" not in good.body
    wait_for(lambda: len(bot.fake.calls_to("views.publish")) > calls)
    with world.services.session() as session:
        person = session.scalar(select(Person).where(Person.slack_user_id == USER))
        assert person is not None
        assert (person.working_hours, person.tz_override) == ("08:00-16:00", "Europe/Sofia")
        pref = session.get(NudgePreference, person.id)
        assert pref is not None and pref.language == "bg"
    text = valid(bot.fake.home_view(USER) or {})
    assert "Europe/Sofia (your choice)" in text and "Български" in text


def test_pause_button_in_home_pauses_for_a_week(bot: RunningBot, world: World) -> None:
    world.person(USER)
    view = home(bot, USER)
    calls = len(bot.fake.calls_to("views.publish"))
    bot.driver.block_actions(user_id=USER, actions=[{"action_id": "nudges_pause"}], view=view)
    wait_for(lambda: len(bot.fake.calls_to("views.publish")) > calls)
    text = valid(bot.fake.home_view(USER) or {})
    assert "paused until Thu 03 Dec, 10:00" in text and "Resume" in text


def test_lead_enrolls_a_user_group_and_a_bad_id_is_refused_in_the_form(
    bot: RunningBot, world: World
) -> None:
    world.person(LEAD)
    world.person("U0FRANK01")
    bot.fake.add_usergroup("S0SALES01", handle="sales", users=["U0FRANK01", "U0NOTSYNC"])

    def submit(group: str) -> Any:
        return bot.driver.view_submission(
            user_id=LEAD,
            view_callback_id="proof_enroll",
            private_metadata='{"program_id": "call-opener"}',
            state_values={"usergroup": {"value": {"type": "plain_text_input", "value": group}}},
        )

    assert "S0123ABCD" in submit("sales team").json()["errors"]["usergroup"]
    assert submit("S0SALES01").status == 200
    note = wait_for(lambda: [m for m in bot.fake.dm_messages(LEAD) if "Enrolled" in m["text"]])
    assert "Enrolled 1" in note[0]["text"] and "1 skipped" in note[0]["text"]


def test_opening_home_reads_a_vacation_status_set_while_events_were_missed(
    bot: RunningBot, world: World
) -> None:
    world.person(USER)
    bot.fake.update_user(USER, status_emoji=":airplane:", status_text="")
    text = valid(home(bot, USER))
    assert "your Slack status says you are away" in text and "Resume" in text


def test_lead_home_withholds_who_answered_a_step_fewer_than_k_people_got(
    bot: RunningBot, world: World
) -> None:
    world.person(LEAD)
    nudge = world.send(USER, "ask-three")
    world.send("U0CAROL01", "ask-three")
    tip = world.send(USER, "tip")  # one person: answering it would point at them
    for sent in (nudge, tip):
        bot.driver.block_actions(
            user_id=USER,
            actions=[{"action_id": "nudge_done"}],
            message=sent.message(bot.fake),
            channel_id=sent.channel,
        )
    wait_for(lambda: len(world.events()) >= 2)

    text = valid(home(bot, LEAD))
    assert "ask-three 1/2 (50%)" in text  # two people (k=2): shown
    assert "tip ·/1 (fewer than 2 people)" in text  # one person: withheld, and why
    assert "tip 1/1" not in text and "(100%)" not in text
