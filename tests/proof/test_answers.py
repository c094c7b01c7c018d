"""Answers in the message, driven through the fake Slack as real block_actions and
view_submission payloads: the proof log, the updated message, the next delivery."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.delivery.models import DeliveryStatus
from tests.conftest import T0, RunningBot
from tests.proof.conftest import OWNER, World, wait_for

USER = "U0ALICE01"
OTHER = "U0BOB0001"


def click(bot: RunningBot, nudge: Any, action_id: str, user: str = USER, **extra: Any) -> Any:
    response = bot.driver.block_actions(
        user_id=user,
        actions=[{"action_id": action_id, **extra}],
        message=nudge.message(bot.fake),
        channel_id=nudge.channel,
    )
    assert response.status == 200 and response.acked_in_time
    return response


def block_ids(message: dict[str, Any]) -> list[str]:
    return [b.get("block_id", "") for b in message["blocks"]]


def answer_text(message: dict[str, Any]) -> str:
    found = [b for b in message["blocks"] if b.get("block_id") == "proof_answers"]
    return found[0]["elements"][0]["text"] if found else ""


def test_done_is_logged_shown_in_the_message_and_brings_the_step_back_later(
    bot: RunningBot, world: World
) -> None:
    nudge = world.send(USER, "ask-three", sent_at=T0 - timedelta(minutes=5))
    click(bot, nudge, "nudge_done")

    events = wait_for(lambda: world.events(nudge.delivery_id))
    assert [(e.kind, e.program_id, e.program_version, e.step_id) for e in events] == [
        ("done", "call-opener", 1, "ask-three")
    ]
    assert events[0].seconds_since_delivery == 300
    assert events[0].occurred_at == T0
    message = wait_for(lambda: answer_text(nudge.message(bot.fake)) and nudge.message(bot.fake))
    assert "Done" in answer_text(message) and "Thu 26 Nov, 10:00" in answer_text(message)
    assert "nudge_actions" not in block_ids(message)  # the buttons are gone ...
    assert "nudge_rating" in block_ids(message)  # ... the rating is still open
    # Done moves the step up a box: it comes back after the second interval (5 days).
    nxt = world.deliveries(nudge.enrollment_id, "ask-three")[1]
    assert (nxt.repetition, nxt.status, nxt.due_at) == (
        1,
        DeliveryStatus.planned,
        T0 + timedelta(days=5),
    )


def test_double_clicks_and_retries_add_nothing(bot: RunningBot, world: World) -> None:
    nudge = world.send(USER, "ask-three")
    message = nudge.message(bot.fake)
    for _ in range(3):
        bot.driver.block_actions(
            user_id=USER,
            actions=[{"action_id": "nudge_done"}],
            message=message,
            channel_id=nudge.channel,
        )
    wait_for(lambda: world.events(nudge.delivery_id))
    wait_for(lambda: len(bot.fake.calls_to("chat.update")) >= 3)
    assert [e.kind for e in world.events()] == ["done"]
    assert len(world.deliveries(nudge.enrollment_id, "ask-three")) >= 2
    assert bot.fake.response_url_posts == []  # no "already answered" for the same answer


def test_a_click_by_someone_else_changes_nothing(bot: RunningBot, world: World) -> None:
    nudge = world.send(USER, "ask-three")
    world.person(OTHER)
    before = nudge.message(bot.fake)
    click(bot, nudge, "nudge_done", user=OTHER)

    posts = wait_for(lambda: bot.fake.response_url_posts)
    assert "for someone else" in posts[0]["payload"]["text"]
    assert posts[0]["payload"].get("response_type") == "ephemeral"
    assert world.events() == []
    assert nudge.message(bot.fake)["blocks"] == before["blocks"]
    assert world.delivery(nudge.delivery_id).status == DeliveryStatus.sent
    assert len(world.deliveries(nudge.enrollment_id, "ask-three")) == 1


def test_snooze_an_hour_sends_the_same_nudge_again_inside_working_hours(
    bot: RunningBot, world: World
) -> None:
    nudge = world.send(USER, "tip")
    value = f"{nudge.delivery_id}|1h"
    click(bot, nudge, "nudge_snooze", selected_option={"value": value})

    wait_for(lambda: world.delivery(nudge.delivery_id).status == DeliveryStatus.planned)
    row = world.delivery(nudge.delivery_id)
    assert row.due_at == T0 + timedelta(hours=1)
    assert [(e.kind, e.value) for e in world.events()] == [("snooze", "1h")]
    message = wait_for(lambda: answer_text(nudge.message(bot.fake)) and nudge.message(bot.fake))
    assert "Snoozed" in answer_text(message) and "Thu 26 Nov, 11:00" in answer_text(message)
    assert "nudge_actions" not in block_ids(message)
    # The same click again (a retry) neither logs nor moves anything.
    click(bot, nudge, "nudge_snooze", selected_option={"value": value})
    wait_for(lambda: len(bot.fake.calls_to("chat.update")) >= 2)
    assert len(world.events()) == 1
    assert world.delivery(nudge.delivery_id).due_at == T0 + timedelta(hours=1)
    assert "Snoozed" in answer_text(nudge.message(bot.fake))


def test_snooze_late_in_the_day_lands_in_the_next_working_window(
    bot: RunningBot, world: World
) -> None:
    bot.services.clock.set(T0.replace(hour=17))  # type: ignore[attr-defined]
    nudge = world.send(USER, "tip")
    click(bot, nudge, "nudge_snooze", selected_option={"value": f"{nudge.delivery_id}|1h"})
    wait_for(lambda: world.delivery(nudge.delivery_id).status == DeliveryStatus.planned)
    # 18:00 is after 17:30: Friday 09:00, the start of the next window.
    assert world.delivery(nudge.delivery_id).due_at == T0.replace(hour=9) + timedelta(days=1)


def test_snooze_tomorrow_skips_the_weekend(bot: RunningBot, world: World) -> None:
    bot.services.clock.set(T0 + timedelta(days=1))  # type: ignore[attr-defined]  # Friday
    nudge = world.send(USER, "tip")
    click(bot, nudge, "nudge_snooze", selected_option={"value": f"{nudge.delivery_id}|tomorrow"})
    wait_for(lambda: world.delivery(nudge.delivery_id).status == DeliveryStatus.planned)
    assert world.delivery(nudge.delivery_id).due_at == T0 + timedelta(days=4)  # Monday 10:00


def test_rating_is_logged_and_keeps_the_other_answers_open(bot: RunningBot, world: World) -> None:
    nudge = world.send(USER, "ask-three")
    click(bot, nudge, "nudge_rate_4")
    message = wait_for(lambda: answer_text(nudge.message(bot.fake)) and nudge.message(bot.fake))
    assert [(e.kind, e.value) for e in world.events()] == [("rating", "4")]
    assert "4/5" in answer_text(message)
    assert "nudge_rating" not in block_ids(message)
    assert "nudge_actions" in block_ids(message)  # Done is still possible
    # Done after the rating is a second answer, not a conflict.
    nudge_now = nudge.message(bot.fake)
    bot.driver.block_actions(
        user_id=USER,
        actions=[{"action_id": "nudge_done"}],
        message=nudge_now,
        channel_id=nudge.channel,
    )
    wait_for(lambda: len(world.events()) == 2)
    assert [e.kind for e in world.events()] == ["rating", "done"]


def _tick(bot: RunningBot, nudge: Any, indexes: list[int]) -> None:
    message = nudge.message(bot.fake)
    selected = [{"value": f"{nudge.delivery_id}|{i}"} for i in indexes]
    bot.driver.block_actions(
        user_id=USER,
        actions=[{"action_id": "nudge_check", "type": "checkboxes", "selected_options": selected}],
        message=message,
        channel_id=nudge.channel,
    )


def test_checklist_stays_interactive_until_every_item_is_ticked(
    bot: RunningBot, world: World
) -> None:
    nudge = world.send(USER, "call-checklist")
    _tick(bot, nudge, [0])
    wait_for(lambda: len(world.events()) == 1)
    message = wait_for(
        lambda: len(bot.fake.calls_to("chat.update")) == 1 and nudge.message(bot.fake)
    )
    checklist = next(b for b in message["blocks"] if b.get("block_id") == "nudge_checklist")
    assert checklist["type"] == "actions"
    assert [o["value"] for o in checklist["elements"][0]["initial_options"]] == [
        f"{nudge.delivery_id}|0"
    ]
    _tick(bot, nudge, [0, 1, 2])
    wait_for(lambda: any(e.kind == "done" for e in world.events()))
    assert [(e.kind, e.value) for e in world.events()] == [
        ("check", "0"),
        ("check", "1"),
        ("check", "2"),
        ("done", "checklist"),
    ]
    message = wait_for(
        lambda: "All items done" in answer_text(nudge.message(bot.fake)) and nudge.message(bot.fake)
    )
    checklist = next(b for b in message["blocks"] if b.get("block_id") == "nudge_checklist")
    assert (
        checklist["type"] == "section"
        and checklist["text"]["text"].count(":ballot_box_with_check:") == 3
    )


def _checklist_of(message: dict[str, Any]) -> dict[str, Any]:
    return next(b for b in message["blocks"] if b.get("block_id") == "nudge_checklist")


def test_unticking_the_last_ticked_box_is_recorded_and_shown(bot: RunningBot, world: World) -> None:
    nudge = world.send(USER, "call-checklist")
    _tick(bot, nudge, [1])
    wait_for(lambda: len(bot.fake.calls_to("chat.update")) == 1)
    assert "initial_options" in _checklist_of(nudge.message(bot.fake))["elements"][0]
    # Slack's action for the untick carries an empty selected_options and nothing else.
    _tick(bot, nudge, [])
    wait_for(lambda: len(bot.fake.calls_to("chat.update")) == 2)
    boxes = _checklist_of(nudge.message(bot.fake))["elements"][0]
    assert "initial_options" not in boxes  # the box stays unticked in the message
    assert [(e.kind, e.value) for e in world.events()] == [("check", "1"), ("uncheck", "1")]
    # Ticked again, it counts again; the person is never told the box is taken.
    _tick(bot, nudge, [1])
    wait_for(lambda: len(bot.fake.calls_to("chat.update")) == 3)
    boxes = _checklist_of(nudge.message(bot.fake))["elements"][0]
    assert [o["value"] for o in boxes["initial_options"]] == [f"{nudge.delivery_id}|1"]
    assert [(e.kind, e.value) for e in world.events()][-1] == ("check", "1")


def test_reflection_opens_a_modal_and_keeps_the_answer(bot: RunningBot, world: World) -> None:
    nudge = world.send(USER, "shift-reflection")
    click(bot, nudge, "nudge_reflect")
    opened = wait_for(lambda: bot.fake.calls_to("views.open"))
    view_id = opened[0].response["view"]["id"]
    view = bot.fake.view(view_id)
    assert view is not None and "What did you learn" in str(view["blocks"])

    empty = bot.driver.view_submission(
        user_id=USER,
        view_id=view_id,
        state_values={"answer": {"text": {"type": "plain_text_input", "value": " "}}},
    )
    assert empty.json()["response_action"] == "errors" and "answer" in empty.json()["errors"]
    assert world.events() == []

    typed = "Customers relax when I repeat their goal back."
    done = bot.driver.view_submission(
        user_id=USER,
        view_id=view_id,
        state_values={"answer": {"text": {"type": "plain_text_input", "value": typed}}},
    )
    assert done.status == 200 and "errors" not in (done.body or "")
    events = world.events()
    assert [(e.kind, e.text) for e in events] == [("reflection", typed)]
    message = wait_for(lambda: answer_text(nudge.message(bot.fake)) and nudge.message(bot.fake))
    assert "reflection is saved" in answer_text(message)
    assert "nudge_reflection" not in block_ids(message)


def test_not_relevant_stops_the_step_asks_why_and_tells_the_owner(
    bot: RunningBot, world: World
) -> None:
    bot.fake.add_user(OWNER, name="owner")
    nudge = world.send(USER, "ask-three")
    click(bot, nudge, "nudge_not_relevant")

    opened = wait_for(lambda: bot.fake.calls_to("views.open"))
    assert [e.kind for e in world.events()] == ["not_relevant"]
    # The step never comes back for this person: later repetitions are parked.
    later = world.deliveries(nudge.enrollment_id, "ask-three")[1:]
    assert [r.status for r in later] == [DeliveryStatus.cancelled] * 3
    owner_dm = wait_for(lambda: bot.fake.dm_messages(OWNER))
    assert "ask-three" in owner_dm[0]["text"] and USER not in owner_dm[0]["text"]
    message = wait_for(lambda: answer_text(nudge.message(bot.fake)) and nudge.message(bot.fake))
    assert "Not relevant" in answer_text(message)
    assert "nudge_rating" not in block_ids(message)

    view_id = opened[0].response["view"]["id"]
    reply = bot.driver.view_submission(
        user_id=USER,
        view_id=view_id,
        state_values={
            "reason": {
                "choice": {"type": "radio_buttons", "selected_option": {"value": "already_do_it"}}
            },
            "details": {"text": {"type": "plain_text_input", "value": None}},
        },
    )
    assert reply.status == 200
    assert [(e.kind, e.value) for e in world.events()] == [
        ("not_relevant", None),
        ("reason", "already_do_it"),
    ]
    # Done on the stale message afterwards is refused and changes nothing.
    bot.driver.block_actions(
        user_id=USER,
        actions=[{"action_id": "nudge_done", "value": f"{nudge.delivery_id}|done"}],
        message=nudge.message(bot.fake),
        channel_id=nudge.channel,
    )
    posts = wait_for(lambda: bot.fake.response_url_posts)
    assert "already answered" in posts[0]["payload"]["text"]
    assert len(world.events()) == 2


def test_a_scale_reflection_is_answered_with_one_click(bot: RunningBot, world: World) -> None:
    nudge = world.send(USER, "confidence")
    click(bot, nudge, "nudge_rate_3")
    message = wait_for(lambda: answer_text(nudge.message(bot.fake)) and nudge.message(bot.fake))
    assert [(e.kind, e.value) for e in world.events()] == [("reflection", "3")]
    assert "You answered *3/5*" in answer_text(message)
    assert "nudge_rating" not in block_ids(message) and "nudge_actions" not in block_ids(message)
