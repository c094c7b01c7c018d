"""What goes wrong in real threads: bots, edits, deletions, people leaving, lost channels, size."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.people.models import Person, Role
from bot.premortem import blocks, modals, service
from bot.premortem.models import Phase, Risk, RiskStatus, Vote
from tests.premortem.conftest import (
    CHANNEL,
    FACILITATOR,
    Room,
    eventually,
    find_button,
    message_text,
)


def _risks(room: Room) -> list[Risk]:
    with room.bot.services.session() as session:
        return list(session.scalars(select(Risk).order_by(Risk.number)))


def _edit(room: Room, ts: str, text: str, user: str) -> None:
    event = {
        "type": "message",
        "subtype": "message_changed",
        "channel": CHANNEL,
        "hidden": True,
        "ts": f"{float(ts) + 5:.6f}",
        "message": {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts,
            "thread_ts": room.parent_ts,
            "edited": {"user": user, "ts": ts},
        },
        "previous_message": {
            "type": "message",
            "user": user,
            "text": "old",
            "ts": ts,
            "thread_ts": room.parent_ts,
        },
    }
    assert room.driver.event(event).status == 200


def _delete(room: Room, ts: str, user: str) -> None:
    event = {
        "type": "message",
        "subtype": "message_deleted",
        "channel": CHANNEL,
        "hidden": True,
        "deleted_ts": ts,
        "ts": f"{float(ts) + 9:.6f}",
        "previous_message": {
            "type": "message",
            "user": user,
            "text": "x",
            "ts": ts,
            "thread_ts": room.parent_ts,
        },
    }
    assert room.driver.event(event).status == 200


def _risk(room: Room, ts: str) -> Risk:
    with room.bot.services.session() as session:
        risk = session.scalar(select(Risk).where(Risk.message_ts == ts))
        assert risk is not None
        return risk


def test_only_peoples_replies_in_the_thread_become_risks(pm: Room) -> None:
    pm.start("Launch the mentoring scheme")
    other_bot = {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "B0OTHER",
        "channel": CHANNEL,
        "text": "Deploy finished",
        "ts": "1795719999.000100",
        "thread_ts": pm.parent_ts,
    }
    pm.driver.event(other_bot)
    app_user = {
        "type": "message",
        "user": "U0APPX",
        "bot_id": "B0APPX",
        "channel": CHANNEL,
        "text": "I am an app",
        "ts": "1795719999.000200",
        "thread_ts": pm.parent_ts,
    }
    pm.driver.event(app_user)
    # Messages outside the thread are left to other features' listeners.
    pm.driver.message_event(CHANNEL, user_id="U0ANA", text="lunch?")
    other = pm.fake.add_message(CHANNEL, user="U0ANA", text="another thread")
    pm.driver.message_event(CHANNEL, user_id="U0BEN", text="reply", thread_ts=other)
    pm.reply("U0ANA", "A real risk")  # waits until stored, so the events before it were handled
    assert [r.text for r in _risks(pm)] == ["A real risk"]


def test_edits_and_deletions_are_followed_while_collecting(pm: Room) -> None:
    pm.start("Launch the mentoring scheme")
    kept = pm.reply("U0ANA", "Mentors drop out")
    gone = pm.reply("U0BEN", "Typo risk")
    _edit(pm, kept, "Mentors drop out after the first month", "U0ANA")
    _delete(pm, gone, "U0BEN")
    eventually(lambda: _risk(pm, kept).text == "Mentors drop out after the first month")
    eventually(lambda: _risk(pm, gone).status == RiskStatus.deleted)
    with pm.bot.services.session() as session:
        assert [r.text for r in service.active_risks(session, pm.premortem().id)] == [
            "Mentors drop out after the first month"
        ]


def test_after_collection_edits_are_kept_as_collected_and_noted(pm: Room) -> None:
    pm.start("Launch the mentoring scheme")
    edited = pm.reply("U0ANA", "Mentors drop out")
    deleted = pm.reply("U0BEN", "Nobody signs up")
    pm.next_phase()
    eventually(lambda: pm.premortem().board_ts)
    _edit(pm, edited, "something else entirely", "U0ANA")
    _delete(pm, deleted, "U0BEN")
    late = pm.reply("U0CAT", "A risk raised while voting", wait=True)
    eventually(lambda: _risk(pm, edited).changed_after_collect)
    eventually(lambda: _risk(pm, deleted).changed_after_collect)
    assert _risk(pm, edited).text == "Mentors drop out"
    assert _risk(pm, deleted).status == RiskStatus.active
    assert _risk(pm, late).late
    # The late risk is kept but not put up for voting.
    board = message_text(pm.message(pm.premortem().board_ts[0]))
    assert "Mentors drop out" in board and "raised while voting" not in board
    # Finish and export: the edit is noted, the late risk is listed.
    pm.next_phase()
    eventually(lambda: pm.premortem().phase == Phase.decide)
    pm.next_phase()
    eventually(lambda: pm.premortem().summary_ts)
    with pm.bot.services.session() as session:
        text = service.export_markdown(session, premortem_id=pm.premortem().id)
    assert (
        "Mentors drop out _(edited or deleted in Slack after collection; kept as collected)_"
        in text
    )
    assert "## Raised after collection closed" in text and "A risk raised while voting" in text


def test_a_participant_takes_over_when_the_facilitator_has_left(pm: Room) -> None:
    pm.start("Launch the mentoring scheme")
    pm.reply("U0ANA", "Mentors drop out")
    # While the facilitator is around, nobody else may take over.
    pm.click("U0ANA", pm.parent_ts, blocks.TAKE_OVER)
    eventually(lambda: any("still here" in t for t in pm.ephemerals_for("U0ANA")))
    assert pm.premortem().facilitator_id == FACILITATOR
    pm.fake.update_user(FACILITATOR, deleted=True)
    # Someone who never took part still may not.
    pm.click("U0DAN", pm.parent_ts, blocks.TAKE_OVER)
    eventually(lambda: any("took part" in t for t in pm.ephemerals_for("U0DAN")))
    pm.click("U0ANA", pm.parent_ts, blocks.TAKE_OVER)
    eventually(lambda: pm.premortem().facilitator_id == "U0ANA")
    eventually(lambda: "<@U0ANA>" in message_text(pm.message(pm.parent_ts)))
    pm.next_phase("U0ANA")
    assert pm.premortem().phase == Phase.vote
    # An L&D lead may act for the facilitator too.
    with pm.bot.services.session() as session:
        session.add(Person(slack_user_id="U0DAN", name="dan", role=Role.ld_lead))
    pm.next_phase("U0DAN")
    assert pm.premortem().phase == Phase.decide


def test_a_channel_the_bot_was_removed_from_loses_nothing(pm: Room) -> None:
    pm.start("Launch the mentoring scheme")
    pm.reply("U0ANA", "Mentors drop out")
    pm.reply("U0BEN", "Nobody signs up")
    with pm.fake._lock:  # the fake has no "kick the bot" method; do what Slack would
        pm.fake._ws.channels[CHANNEL].members.remove(pm.fake.bot_user_id)
    pm.click(FACILITATOR, pm.parent_ts, blocks.NEXT_PHASE)
    eventually(lambda: pm.premortem().channel_problem == "not_in_channel")
    assert pm.premortem().phase == Phase.vote and not pm.premortem().board_ts
    dm = eventually(lambda: pm.fake.dm_messages(FACILITATOR))
    assert "/invite @Nudgebot" in dm[0]["text"] and "nothing is lost" in dm[0]["text"]
    # Still gone on the next tick: no second DM.
    pm.tick("premortem-phases")
    assert len(pm.fake.dm_messages(FACILITATOR)) == 1
    # Invited back: the next tick posts the board with both risks.
    pm.fake.add_members(CHANNEL, pm.fake.bot_user_id)
    pm.tick("premortem-phases")
    p = pm.premortem()
    assert p.channel_problem is None and len(p.board_ts) == 1
    board = message_text(pm.message(p.board_ts[0]))
    assert "Mentors drop out" in board and "Nobody signs up" in board


def test_starting_where_the_bot_cannot_join_explains_how_to_invite_it(pm: Room) -> None:
    pm.fake.add_channel(
        "G0SECRET", name="secret", members=[FACILITATOR], is_private=True, bot_member=False
    )
    pm.driver.slash_command(
        "/premortem", "Secret launch", user_id=FACILITATOR, channel_id="G0SECRET"
    )
    text = eventually(lambda: [t for t in pm.ephemerals_for(FACILITATOR) if "/invite" in t])
    assert "Nothing was started" in text[0]
    with pm.bot.services.session() as session:
        assert service.list_premortems(session) == []


def test_a_thread_with_300_risks_pages_the_board(pm: Room) -> None:
    p = pm.start("Launch everything at once")
    with pm.bot.services.session() as session:
        stored = service.get(session, p.id)
        for n in range(300):
            service.add_thread_risk(
                session,
                premortem=stored,
                user_id="U0ANA",
                text=f"Risk number {n + 1} " + "x" * 90,
                message_ts=f"1795720000.{n:06d}",
            )
    pm.next_phase()
    eventually(lambda: len(pm.premortem().board_ts) == 8)
    pages = [pm.message(ts) for ts in pm.premortem().board_ts]
    assert all(len(page["blocks"]) <= 50 for page in pages)
    shown = "\n".join(message_text(page) for page in pages)
    assert all(f"*#{n}* Risk number {n} " in shown for n in range(1, 301))
    # A vote on page 7 updates page 7 in place, and only that page.
    risk = next(r for r in _risks(pm) if r.number == 250)
    updates_before = len(pm.fake.calls_to("chat.update"))
    pm.click("U0BEN", pm.premortem().board_ts[6], blocks.VOTE, str(risk.id))
    eventually(lambda: "*1* vote(s)" in message_text(pm.message(pm.premortem().board_ts[6])))
    board = pm.premortem().board_ts
    updates = pm.fake.calls_to("chat.update")[updates_before:]
    assert [c.params["ts"] for c in updates if c.params["ts"] in board] == [board[6]]


def test_phases_move_on_by_themselves_at_their_deadline(pm: Room) -> None:
    pm.start("Launch the mentoring scheme")
    pm.reply("U0ANA", "Mentors drop out")
    clock = pm.bot.services.clock
    clock.advance(timedelta(hours=23))  # type: ignore[attr-defined]
    pm.tick("premortem-phases")
    assert pm.premortem().phase == Phase.collect
    clock.advance(timedelta(hours=1, minutes=1))  # type: ignore[attr-defined]
    pm.tick("premortem-phases")
    assert pm.premortem().phase == Phase.vote and pm.premortem().board_ts
    clock.advance(timedelta(hours=24))  # type: ignore[attr-defined]
    pm.tick("premortem-phases")
    p = pm.premortem()
    assert p.phase == Phase.decide and p.decide_ts
    # The board's buttons are gone once voting closed.
    assert "Votes are closed" in message_text(pm.message(p.board_ts[0]))


def test_merging_moves_votes_and_only_the_facilitator_may_merge(pm: Room) -> None:
    pm.start("Launch the mentoring scheme")
    pm.reply("U0ANA", "Mentors drop out")
    pm.reply("U0BEN", "Mentors quit early")
    pm.reply("U0CAT", "Nobody signs up")
    pm.next_phase()
    eventually(lambda: pm.premortem().board_ts)
    board = pm.premortem().board_ts[0]
    first, second, _ = _risks(pm)
    pm.click("U0DAN", board, blocks.VOTE, str(first.id))
    pm.click("U0DAN", board, blocks.VOTE, str(second.id))
    pm.click("U0ANA", board, blocks.VOTE, str(second.id))
    eventually(lambda: _vote_total(pm) == 3)
    pm.click("U0ANA", board, blocks.MERGE)
    eventually(lambda: any("Only the facilitator" in t for t in pm.ephemerals_for("U0ANA")))
    pm.click(FACILITATOR, board, blocks.MERGE)
    view = eventually(
        lambda: [v for v in pm.fake.views.values() if v.get("callback_id") == modals.MERGE_VIEW]
    )[-1]
    option = {"type": "static_select"}
    response = pm.driver.view_submission(
        user_id=FACILITATOR,
        view_id=view["id"],
        state_values={
            "source": {"value": {**option, "selected_option": {"value": "2"}}},
            "target": {"value": {**option, "selected_option": {"value": "1"}}},
        },
    )
    assert response.status == 200
    eventually(lambda: _risk(pm, second.message_ts or "").status == RiskStatus.merged)
    # Dan's two votes fold into one (one per risk); his spare vote goes back to him.
    with pm.bot.services.session() as session:
        votes = {(v.voter_id, v.risk_id): v.weight for v in session.scalars(select(Vote))}
    assert votes == {("U0DAN", first.id): 1, ("U0ANA", first.id): 1}
    eventually(lambda: "Mentors quit early" not in message_text(pm.message(board)))


def _vote_total(room: Room) -> int:
    with room.bot.services.session() as session:
        return sum(v.weight for v in session.scalars(select(Vote)))


def test_anonymous_risk_modal_refuses_empty_text_and_closed_collection(pm: Room) -> None:
    pm.start("Launch the mentoring scheme")
    response = pm.add_anonymous("U0BEN", "   ")
    assert response.json()["response_action"] == "errors"
    assert "risk" in response.json()["errors"]
    assert _risks(pm) == []
    view = pm.latest_view(modals.ANON_VIEW)
    pm.next_phase()
    eventually(lambda: pm.premortem().phase == Phase.vote)
    late = pm.driver.view_submission(
        user_id="U0BEN",
        view_id=view["id"],
        state_values={"risk": {"value": {"type": "plain_text_input", "value": "Too late"}}},
    )
    assert "collection has closed" in late.json()["errors"]["risk"]
    assert _risks(pm) == []


def test_a_double_click_on_the_phase_button_moves_one_phase(pm: Room) -> None:
    pm.start("Launch the mentoring scheme")
    pm.reply("U0ANA", "Mentors drop out")
    parent = pm.message(pm.parent_ts)
    for _ in range(2):
        pm.driver.block_actions(
            user_id=FACILITATOR,
            channel_id=CHANNEL,
            message=parent,
            actions=[
                {
                    "action_id": blocks.NEXT_PHASE,
                    "value": find_button(parent, blocks.NEXT_PHASE)["value"],
                }
            ],
        )
    eventually(lambda: any("already moved on" in t for t in pm.ephemerals_for(FACILITATOR)))
    eventually(lambda: pm.premortem().board_ts)
    assert pm.premortem().phase == Phase.vote
    boards = [m for m in pm.thread() if "Vote on the risks" in m.get("text", "")]
    assert len(boards) == 1
