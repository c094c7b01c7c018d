"""The local Slack's client side: what a person's Slack shows after an app answers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.localslack import LocalSlack

USER = "U0ANA"


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    with LocalSlack() as local:
        local.add_user(USER, name="ana")
        local.add_channel("C0TEAM", name="team", members=[USER])
        yield local


def _open(slack: LocalSlack, title: str) -> str:
    client = WebClient(base_url=slack.base_url, token=slack.bot_token)
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Save"},
        "blocks": [
            {
                "type": "input",
                "block_id": "goal",
                "label": {"type": "plain_text", "text": "Goal"},
                "element": {"type": "plain_text_input", "action_id": "v"},
            }
        ],
    }
    opened = client.views_open(trigger_id=slack.issue_trigger_id(USER), view=view)
    return str(opened["view"]["id"])


def _title(view: dict[str, Any] | None) -> str | None:
    return None if view is None else str(view["title"]["text"])


def _answer(action: str, title: str = "") -> str:
    body: dict[str, Any] = {"response_action": action}
    if title:
        body["view"] = {"type": "modal", "title": {"type": "plain_text", "text": title}}
    return json.dumps(body)


def test_errors_keep_the_modal_and_name_the_field(slack: LocalSlack) -> None:
    view_id = _open(slack, "Request")
    errors = slack.answer_submission(
        view_id, json.dumps({"response_action": "errors", "errors": {"goal": "Name one KPI"}})
    )
    assert errors == {"goal": "Name one KPI"}
    assert _title(slack.open_modal(USER)) == "Request"


def test_an_empty_answer_closes_the_modal(slack: LocalSlack) -> None:
    view_id = _open(slack, "Request")
    assert slack.answer_submission(view_id, "") == {}
    assert slack.open_modal(USER) is None


def test_update_push_cancel_and_clear(slack: LocalSlack) -> None:
    view_id = _open(slack, "Request")
    slack.answer_submission(view_id, _answer("update", "Updated"))
    assert _title(slack.open_modal(USER)) == "Updated"
    slack.answer_submission(view_id, _answer("push", "Second"))
    pushed = slack.open_modal(USER)
    assert _title(pushed) == "Second" and pushed is not None
    slack.close_modal(pushed["id"])  # Cancel goes one view back
    assert _title(slack.open_modal(USER)) == "Updated"
    slack.answer_submission(view_id, _answer("push", "Third"))
    slack.answer_submission(view_id, _answer("clear"))
    assert slack.open_modal(USER) is None


def test_a_new_modal_puts_the_old_one_away_for_good(slack: LocalSlack) -> None:
    _open(slack, "First")
    second = _open(slack, "Second")
    assert _title(slack.open_modal(USER)) == "Second"
    slack.answer_submission(second, "")
    assert slack.open_modal(USER) is None


def test_a_command_answer_is_ephemeral_unless_in_channel(slack: LocalSlack) -> None:
    slack.show_command_answer("C0TEAM", USER, "")
    slack.show_command_answer("C0TEAM", USER, "plain text answer")
    slack.show_command_answer("C0TEAM", USER, json.dumps({"text": "only you"}))
    slack.show_command_answer(
        "C0TEAM", USER, json.dumps({"response_type": "in_channel", "text": "everyone"})
    )
    assert [e["text"] for e in slack.ephemerals_for(USER, "C0TEAM")] == [
        "plain text answer",
        "only you",
    ]
    assert [m["text"] for m in slack.messages("C0TEAM")] == ["everyone"]


def test_a_post_wakes_whoever_waits_for_a_change(slack: LocalSlack) -> None:
    since = slack.version
    client = WebClient(base_url=slack.base_url, token=slack.bot_token)
    woke: list[int] = []
    waiter = threading.Thread(target=lambda: woke.append(slack.wait_for_change(since, 30)))
    waiter.start()
    client.chat_postMessage(channel="C0TEAM", text="hello")
    waiter.join(30)
    assert woke and woke[0] > since
    before = slack.version
    client.users_list()  # a read changes nobody's screen
    assert slack.version == before
