"""Nothing typed is lost: a database or Slack failure after submit keeps the text and says so."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.db import make_engine, make_session_factory
from bot.intake.models import IntakeDraft, IntakeRequest
from tests.conftest import RunningBot
from tests.intake.conftest import (
    GOOD,
    REQUESTER,
    TRIAGE,
    eventually,
    open_form,
    submit,
    triage_messages,
)


def test_a_database_failure_on_submit_keeps_the_form_open_with_everything_typed(
    bot: RunningBot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Slack's libraries stay at INFO in production (their DEBUG lines carry whole payloads).
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="bot")
    view = open_form(bot, REQUESTER)
    working = bot.services.sessions
    # A real engine on a database that cannot be opened: every query fails.
    bot.services.sessions = make_session_factory(
        make_engine(f"sqlite:///{tmp_path / 'missing' / 'gone.db'}")
    )
    try:
        ack = submit(bot, REQUESTER, view, GOOD)
    finally:
        bot.services.sessions = working

    # response_action=errors keeps the modal and every answer in it; the person is told why.
    assert ack is not None and ack["response_action"] == "errors"
    assert "could not save" in ack["errors"]["goal"]
    assert "still here" in ack["errors"]["goal"]
    assert triage_messages(bot.fake) == []
    assert "saving a request failed" in caplog.text
    assert all(typed not in caplog.text for typed in GOOD.values())  # ids, never people's text

    assert submit(bot, REQUESTER, view, GOOD) is None  # the database is back: Send again works
    assert eventually(lambda: triage_messages(bot.fake))


def test_a_closed_form_is_kept_as_a_draft_and_restored_by_the_next_intake(
    bot: RunningBot,
) -> None:
    view = open_form(bot, REQUESTER)
    typed = {"goal": "First-call resolution 61% → 75%", "context": "On <every> call & chat 🙂"}
    view_state = {k: {"value": {"type": "plain_text_input", "value": v}} for k, v in typed.items()}
    bot.driver.view_closed(user_id=REQUESTER, view={**view, "state": {"values": view_state}})

    def kept() -> dict[str, str] | None:
        with bot.services.session() as session:
            draft = session.scalars(select(IntakeDraft)).first()
            return draft.answers if draft else None

    assert eventually(kept) == typed

    updates_before = len(bot.fake.calls_to("views.update"))
    reopened_id = open_form(bot, REQUESTER)["id"]
    eventually(lambda: len(bot.fake.calls_to("views.update")) > updates_before)
    reopened = bot.fake.view(reopened_id) or {}
    inputs = {b["block_id"]: b for b in reopened["blocks"] if b["type"] == "input"}
    assert inputs["goal"]["element"]["initial_value"] == typed["goal"]
    assert inputs["context"]["element"]["initial_value"] == typed["context"]
    assert "kept what you typed" in str(reopened["blocks"][0])

    # Sent at last: the draft is gone, so the next /intake starts fresh.
    assert submit(bot, REQUESTER, reopened, GOOD) is None
    assert eventually(lambda: kept() is None)


def test_a_slack_failure_on_the_triage_post_is_told_and_retried_by_the_tick(
    bot: RunningBot,
) -> None:
    view = open_form(bot, REQUESTER)
    bot.fake.inject("chat.postMessage", "ok_false", error="channel_not_found")

    assert submit(bot, REQUESTER, view, GOOD) is None

    told = eventually(lambda: bot.fake.dm_messages(REQUESTER))
    assert "is saved" in told[0]["text"] and "keep trying" in told[0]["text"]
    assert triage_messages(bot.fake) == []
    with bot.services.session() as session:
        assert session.scalars(select(IntakeRequest.triage_ts)).one() is None

    tick = next(t for t in bot.services.ticks if t.name == "intake-repost-triage")
    tick.func()

    [message] = triage_messages(bot.fake)
    assert "Training request #1" in str(message["blocks"])
    assert "now in the L&amp;D triage queue" in bot.fake.dm_messages(REQUESTER)[-1]["text"]
    tick.func()  # posted once, never twice
    assert len(triage_messages(bot.fake)) == 1
    with bot.services.session() as session:
        assert session.scalars(select(IntakeRequest.triage_channel_id)).one() == TRIAGE
