"""Workflow Builder steps, end to end: the local Slack sends `function_executed` as
Slack does (signed, Events API envelope, a workflow token), the bot ends each step
with functions.completeSuccess / completeError, and the local Slack checks the
outputs against the function's definition in config/manifest.yml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bot.delivery.models import Delivery, DeliveryStatus, Enrollment
from bot.delivery.planner import enroll_and_plan
from bot.delivery.sender import Sender
from bot.localslack.records import FunctionExecution
from bot.people.models import Person
from bot.services import Services
from bot.settings import Settings
from bot.slack import router
from bot.workflows import service
from tests.conftest import SIGNING_SECRET, T0, RunningBot, make_settings
from tests.delivery.clihelp import wait_until
from tests.delivery.conftest import step, store_person, store_program
from tests.fakeslack import FakeSlack

REPO = Path(__file__).resolve().parents[2]
MANIFEST = yaml.safe_load((REPO / "config/manifest.yml").read_text())
NEW_HIRES = "C0NEWHIRES"
LEAD = "U0LEAD"
# "opener" is sent when something happens (here: a workflow asks); "tip" on day 3.
STEPS = [step("welcome", day=0), step("tip", day=3), step("opener", trigger="asked")]
TRIGGERS = [{"id": "asked", "source": "webhook"}]


@pytest.fixture
def settings(db_url: str, fake_slack: FakeSlack) -> Settings:
    return make_settings(
        database_url=db_url,
        slack_api_url=fake_slack.base_url,
        workflow_channels=[NEW_HIRES],
        ld_leads=[LEAD],
    )


@pytest.fixture
def ready(services: Services, bot: RunningBot) -> RunningBot:
    """A program, three people in the directory (one enrolled), a new-hires channel."""
    with services.session() as session:
        store_program(session, "onboarding", STEPS, triggers=TRIGGERS)
        for user in ("U0ANA", "U0NEW", LEAD):
            store_person(session, user)
        enroll_and_plan(
            session,
            settings=services.settings,
            now=T0,
            program_id="onboarding",
            user_ids=["U0ANA"],
            starts_at=T0,
            enrolled_by="t",
            source="t",
        )
    for user in ("U0ANA", "U0NEW", LEAD):
        bot.fake.add_user(user, name=user.lower())
    bot.fake.add_channel(NEW_HIRES, name="new-hires", members=["U0ANA"])
    return bot


def run_step(bot: RunningBot, callback_id: str, inputs: dict[str, Any]) -> FunctionExecution:
    """Slack runs the step; returns the execution once the bot has ended it."""
    sent = bot.driver.function_executed(
        callback_id, inputs, function=MANIFEST["functions"][callback_id]
    )
    assert sent.status == 200 and sent.acked_in_time
    return ended(bot, sent.function_execution_id)


def ended(bot: RunningBot, execution_id: str | None) -> FunctionExecution:
    assert execution_id is not None

    def done() -> bool:
        found = bot.fake.function_execution(execution_id)
        return found is not None and found.state != "running"

    assert wait_until(done), "the step was left running"
    execution = bot.fake.function_execution(execution_id)
    assert execution is not None
    return execution


def enrollment_of(services: Services, user: str) -> Enrollment | None:
    with services.session() as session:
        return session.scalar(
            select(Enrollment)
            .join(Person, Person.id == Enrollment.person_id)
            .where(Person.slack_user_id == user)
        )


# -- Send a Nudgebot nudge ---------------------------------------------------------------------


def test_send_step_queues_the_nudge_in_the_outbox_and_completes_with_its_delivery_id(
    ready: RunningBot, services: Services
) -> None:
    execution = run_step(
        ready, service.SEND_STEP, {"person": "U0ANA", "program": "onboarding", "step": "opener"}
    )
    assert execution.state == "completed", execution.error
    assert execution.outputs is not None and execution.outputs["status"] == "queued"
    with services.session() as session:
        row = session.get(Delivery, execution.outputs["delivery_id"])
        assert row is not None and row.step_id == "opener" and row.due_at == T0
    Sender(services).send_due()
    assert any("Do opener now." in str(m) for m in ready.fake.dm_messages("U0ANA"))

    again = run_step(
        ready, service.SEND_STEP, {"person": "U0ANA", "program": "onboarding", "step": "opener"}
    )
    assert again.state == "completed"
    assert again.outputs == {"status": "not sent: this step went out less than 1 hour ago"}


def test_send_step_with_a_delay_waits_and_a_second_run_names_the_same_delivery(
    ready: RunningBot, services: Services
) -> None:
    inputs = {"person": "U0ANA", "program": "onboarding", "step": "opener", "delay": "2h"}
    first = run_step(ready, service.SEND_STEP, inputs)
    second = run_step(ready, service.SEND_STEP, inputs)
    assert first.outputs is not None and second.outputs is not None
    assert second.outputs == {
        "status": "already queued",
        **{"delivery_id": first.outputs["delivery_id"]},
    }
    with services.session() as session:
        row = session.get(Delivery, first.outputs["delivery_id"])
        assert row is not None and row.status == DeliveryStatus.planned
        assert row.due_at.replace(tzinfo=T0.tzinfo) == T0.replace(hour=12)


@pytest.mark.parametrize(
    ("inputs", "says"),
    [
        ({"person": "U0ANA", "program": "no-such", "step": "opener"}, "Unknown program 'no-such'"),
        ({"person": "U0GHOST", "program": "onboarding", "step": "opener"}, "Person not found"),
        ({"person": "U0NEW", "program": "onboarding", "step": "opener"}, "Not enrolled"),
        ({"person": "U0ANA", "program": "onboarding", "step": "nope"}, "Unknown step 'nope'"),
        ({"person": "U0ANA", "program": "onboarding", "step": "opener", "delay": "soon"}, "30m"),
    ],
)
def test_send_step_fails_with_a_message_the_workflow_author_understands(
    ready: RunningBot, inputs: dict[str, Any], says: str
) -> None:
    execution = run_step(ready, service.SEND_STEP, inputs)
    assert execution.state == "failed"
    assert execution.error is not None and says in execution.error


# -- Enroll in a Nudgebot program --------------------------------------------------------------


def test_a_new_channel_member_is_enrolled_by_the_workflow_step_with_the_enrollment_id(
    ready: RunningBot, services: Services
) -> None:
    # The workflow: "When someone joins #new-hires" -> "Enroll in a Nudgebot program"
    # with People = the person who joined, Channel = the channel.
    ready.fake.add_members(NEW_HIRES, "U0NEW")
    assert ready.driver.member_joined_channel(NEW_HIRES, user_id="U0NEW").status == 200
    inputs = {"people": ["U0NEW"], "program": "onboarding", "channel": NEW_HIRES}
    execution = run_step(ready, service.ENROLL_STEP, inputs)

    assert execution.state == "completed", execution.error
    enrollment = enrollment_of(services, "U0NEW")
    assert enrollment is not None
    assert execution.outputs is not None
    assert execution.outputs["enrollment_id"] == enrollment.id
    assert execution.outputs["enrollment_ids"] == [enrollment.id]
    assert enrollment.source == "workflow" and enrollment.enrolled_by == f"workflow:{NEW_HIRES}"
    # Planned at once: the first step goes out today, through the outbox.
    Sender(services).send_due()
    assert any("Do welcome now." in str(m) for m in ready.fake.dm_messages("U0NEW"))


def test_a_redelivered_event_completes_the_step_once(ready: RunningBot, services: Services) -> None:
    ready.fake.add_members(NEW_HIRES, "U0NEW")
    inputs = {"people": ["U0NEW"], "program": "onboarding", "channel": NEW_HIRES}
    sent = ready.driver.function_executed(
        service.ENROLL_STEP, inputs, function=MANIFEST["functions"][service.ENROLL_STEP]
    )
    ended(ready, sent.function_execution_id)
    retry = ready.driver.redeliver(sent, retry_num=1)
    assert retry.status == 200
    assert ready.app.listener_runner.listener_executor.wait_idle(5)
    completions = [c for c in ready.fake.calls if c.method.startswith("functions.complete")]
    assert [c.method for c in completions] == ["functions.completeSuccess"]
    with services.session() as session:
        assert len(list(session.scalars(select(Enrollment)))) == 2  # U0ANA and U0NEW


@pytest.mark.parametrize(
    ("inputs", "says"),
    [
        # No key, no channel: nothing says this workflow may enroll.
        ({"people": ["U0NEW"], "program": "onboarding"}, "Not allowed"),
        # A channel the settings do not allow.
        ({"people": ["U0NEW"], "program": "onboarding", "channel": "C0RANDOM"}, "Not allowed"),
        # An allowed channel, but the person is not in it.
        (
            {"people": ["U0NEW"], "program": "onboarding", "channel": NEW_HIRES},
            "not in <#C0NEWHIRES>",
        ),
        # A made-up key.
        (
            {"people": ["U0NEW"], "program": "onboarding", "nudgebot_key": f"nbk1-{LEAD}-00"},
            "Nudgebot key is not valid",
        ),
        ({"people": ["U0ANA"], "program": "no-such", "channel": NEW_HIRES}, "Unknown program"),
        ({"people": [], "program": "onboarding", "channel": NEW_HIRES}, "people"),
    ],
)
def test_enroll_step_refuses_with_a_message_the_workflow_author_understands(
    ready: RunningBot, services: Services, inputs: dict[str, Any], says: str
) -> None:
    execution = run_step(ready, service.ENROLL_STEP, inputs)
    assert execution.state == "failed"
    assert execution.error is not None and says in execution.error
    assert enrollment_of(services, "U0NEW") is None


def test_enroll_step_names_a_person_who_is_not_in_the_directory(ready: RunningBot) -> None:
    ready.fake.add_members(NEW_HIRES, "U0GHOST")
    inputs = {"people": ["U0GHOST"], "program": "onboarding", "channel": NEW_HIRES}
    execution = run_step(ready, service.ENROLL_STEP, inputs)
    assert execution.state == "failed"
    assert execution.error is not None and execution.error.startswith(
        "Person not found: <@U0GHOST>"
    )


def test_an_ld_leads_key_lets_a_workflow_enroll_and_stops_when_they_are_no_lead(
    ready: RunningBot, services: Services
) -> None:
    asked = ready.driver.slash_command("/nudges", "workflow-key", user_id=LEAD)
    assert asked.status == 200
    assert wait_until(lambda: bool(ready.fake.response_url_posts))
    text = ready.fake.response_url_posts[-1]["payload"]["text"]
    key = text.split("`")[1]
    assert key == service.workflow_key(SIGNING_SECRET, team_id=ready.fake.team_id, lead=LEAD)

    inputs = {"people": ["U0NEW", "U0GHOST"], "program": "onboarding", "nudgebot_key": key}
    execution = run_step(ready, service.ENROLL_STEP, inputs)
    assert execution.state == "completed", execution.error
    enrollment = enrollment_of(services, "U0NEW")
    assert enrollment is not None and enrollment.enrolled_by == LEAD
    assert execution.outputs is not None and execution.outputs["enrollment_ids"] == [enrollment.id]
    assert "<@U0GHOST>: not in the directory" in execution.outputs["summary"]

    # Someone who is not an L&D lead gets no key.
    ready.driver.slash_command("/nudges", "workflow-key", user_id="U0ANA")
    assert wait_until(lambda: len(ready.fake.response_url_posts) == 2)
    assert "Only L&D leads" in ready.fake.response_url_posts[-1]["payload"]["text"]
    # A key of a lead for another workspace does not work here.
    other = service.workflow_key(SIGNING_SECRET, team_id="T0OTHER", lead=LEAD)
    refused = run_step(
        ready,
        service.ENROLL_STEP,
        {"people": ["U0ANA"], "program": "onboarding", "nudgebot_key": other},
    )
    assert refused.state == "failed" and "not valid" in (refused.error or "")


def test_a_step_is_never_left_running_even_when_slack_refuses_the_completion(
    ready: RunningBot,
) -> None:
    ready.fake.inject("functions.completeSuccess", "ok_false", error="parameter_validation_failed")
    execution = run_step(
        ready, service.SEND_STEP, {"person": "U0ANA", "program": "onboarding", "step": "opener"}
    )
    assert execution.state == "failed"
    assert execution.error == router.UNEXPECTED_STEP_ERROR
