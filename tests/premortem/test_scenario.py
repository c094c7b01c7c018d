"""A whole pre-mortem through the fake Slack, with the payloads Slack sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.delivery.models import Delivery, DeliveryKind, DeliveryStatus
from bot.delivery.sender import Sender
from bot.people.models import Person
from bot.premortem import blocks, modals
from bot.premortem.models import (
    FollowupKind,
    Phase,
    Prevention,
    PreventionStatus,
    Risk,
    Vote,
)
from tests.premortem.conftest import CHANNEL, FACILITATOR, Room, eventually, message_text

REPLIES = [
    ("U0ANA", "Nobody owned the content updates after launch"),
    ("U0BEN", "The Tokyo office never got a local-language version"),
    ("U0CAT", "Managers did not know the program existed"),
    ("U0DAN", "The LMS integration slipped by two months"),
    ("U0ANA", "We measured completions, not behaviour"),
    (FACILITATOR, "Budget was cut in Q2 and nobody defended it"),
]
ANONYMOUS = ["My manager would never give me time for this", "The pilot group was hand-picked"]


def _risks(room: Room) -> list[Risk]:
    with room.bot.services.session() as session:
        return list(session.scalars(select(Risk).order_by(Risk.number)))


def _vote_counts(room: Room) -> dict[int, int]:
    counts: dict[int, int] = {}
    with room.bot.services.session() as session:
        for vote in session.scalars(select(Vote)):
            number = session.get(Risk, vote.risk_id).number  # type: ignore[union-attr]
            counts[number] = counts.get(number, 0) + vote.weight
    return counts


def _clicks_handled(room: Room) -> int:
    return sum(_vote_counts(room).values()) + len(room.fake.response_url_posts)


def _board_text(room: Room) -> str:
    board = room.premortem().board_ts
    return "\n".join(message_text(room.message(ts)) for ts in board)


def _decide(room: Room, risk_id: int, *, owner: str, due: str, action: str) -> dict[str, object]:
    p = room.premortem()
    assert p.decide_ts
    views_before = len(room.fake.views)
    room.click(FACILITATOR, p.decide_ts, blocks.DECIDE, f"{p.id}:{risk_id}")
    eventually(lambda: len(room.fake.views) > views_before)
    view = room.latest_view(modals.DECIDE_VIEW)
    response = room.driver.view_submission(
        user_id=FACILITATOR,
        view_id=view["id"],
        state_values={
            "action": {"value": {"type": "plain_text_input", "value": action}},
            "owner": {"value": {"type": "users_select", "selected_user": owner}},
            "due": {"value": {"type": "datepicker", "selected_date": due}},
        },
    )
    assert response.status == 200
    return response.json() if response.body else {}


def test_a_whole_premortem_from_start_to_follow_ups(pm: Room) -> None:
    fake = pm.fake
    # Start: the bot is not in the channel yet, so it joins it by itself.
    p = pm.start("Launch the new onboarding program --template risks")
    assert fake.calls_to("conversations.join")
    parent = pm.message(pm.parent_ts)
    shown = message_text(parent)
    assert "Launch the new onboarding program" in shown
    assert f"<@{FACILITATOR}>" in shown
    assert "What precaution would have stopped it?" in shown  # the "risks" template
    assert "Imagine it is *Wed 26 May 2027*" in shown  # six months on, the default horizon
    assert "Collecting risks* until <!date^" in shown

    # Collect: six thread replies and two anonymous risks.
    for user, text in REPLIES:
        pm.reply(user, text)
    for text in ANONYMOUS:
        assert pm.add_anonymous("U0BEN", text).status == 200
    eventually(lambda: len(_risks(pm)) == 8)
    risks = _risks(pm)
    assert [r.text for r in risks[:6]] == [t for _, t in REPLIES]
    anonymous = [r for r in risks if r.anonymous]
    assert [r.text for r in anonymous] == ANONYMOUS
    assert all(r.author_id is None and r.message_ts is None for r in anonymous)
    # The thread shows the anonymous risks, posted by the bot, with no name attached.
    posted = eventually(
        lambda: (
            (found := [m for m in pm.thread() if "Anonymous risk" in m.get("text", "")])
            and len(found) == 2
            and found
        )
    )
    assert len(posted) == 2 and all(m.get("bot_id") and "U0BEN" not in m["text"] for m in posted)

    # Someone else cannot move the phase on; the facilitator can.
    pm.click("U0ANA", pm.parent_ts, blocks.NEXT_PHASE)
    eventually(lambda: any("Only the facilitator" in t for t in pm.ephemerals_for("U0ANA")))
    assert pm.premortem().phase == Phase.collect
    pm.next_phase()
    eventually(lambda: pm.premortem().board_ts)
    assert pm.premortem().phase == Phase.vote

    # Vote: four people, budget 3, one vote per risk; repeats and extra clicks do not count.
    by_number = {r.number: r.id for r in risks}
    clicks = {
        "U0ANA": [1, 1, 3, 7, 8],  # repeat on #1, fourth and fifth over budget
        "U0BEN": [7, 3, 7, 1, 2],  # repeat on #7, fifth over budget
        "U0CAT": [3, 3, 3, 1, 7, 2],  # #3 three times counts once
        "U0DAN": [3, 5, 6, 8],
    }
    board_ts = pm.premortem().board_ts[0]
    for user, numbers in clicks.items():
        for number in numbers:
            # One click at a time, as one person clicks: each leaves a vote or an explanation.
            before = _clicks_handled(pm)
            pm.click(user, board_ts, blocks.VOTE, str(by_number[number]))
            eventually(lambda before=before: _clicks_handled(pm) > before)
    expected = {1: 3, 3: 4, 7: 3, 5: 1, 6: 1}
    eventually(lambda: _vote_counts(pm) == expected)
    # The tally on the board is updated in place.
    eventually(
        lambda: "*#3* Managers did not know" in _board_text(pm) and "*4* vote(s)" in _board_text(pm)
    )
    assert any("already counted" in t for t in pm.ephemerals_for("U0ANA"))
    assert any("used all 3" in t for t in pm.ephemerals_for("U0ANA"))

    pm.next_phase()
    eventually(lambda: pm.premortem().decide_ts)
    assert pm.premortem().phase == Phase.decide
    # Votes on anonymous risks no longer say who gave them.
    with pm.bot.services.session() as session:
        anon_ids = [r.id for r in anonymous]
        assert all(
            v.voter_id is None
            for v in session.scalars(select(Vote).where(Vote.risk_id.in_(anon_ids)))
        )
    decide = message_text(pm.message(pm.premortem().decide_ts or ""))
    assert decide.index("#3") < decide.index("#1") < decide.index("#7")
    assert "#5" not in decide

    # Only the facilitator decides: anyone else gets an explanation and no form.
    views_before = len(pm.fake.views)
    pm.click("U0BEN", pm.premortem().decide_ts or "", blocks.DECIDE, f"{p.id}:{by_number[3]}")
    eventually(lambda: any("record decisions" in t for t in pm.ephemerals_for("U0BEN")))
    assert len(pm.fake.views) == views_before

    # A bad decision is refused in the modal, field by field, and nothing is stored.
    errors = _decide(pm, by_number[3], owner="U0ANA", due="2026-11-20", action=" ")
    assert errors["response_action"] == "errors"
    assert set(errors["errors"]) == {"action", "due"}  # type: ignore[arg-type]

    # Decide: the top three, owners in New York, Tokyo and London.
    _decide(pm, by_number[3], owner="U0ANA", due="2026-12-10", action="Brief every manager")
    _decide(pm, by_number[1], owner="U0BEN", due="2026-12-14", action="Name a content owner")
    _decide(pm, by_number[7], owner="U0CAT", due="2026-12-07", action="Agree time with managers")
    eventually(lambda: len(_followups(pm)) == 3)

    # Summary: posted to the channel (not the thread) and pinned.
    p = pm.premortem()
    pm.click(FACILITATOR, p.decide_ts or "", blocks.PUBLISH)
    eventually(lambda: pm.premortem().summary_ts)
    eventually(lambda: pm.message(pm.premortem().summary_ts or "").get("pinned_to") == [CHANNEL])
    summary = pm.message(pm.premortem().summary_ts or "")
    assert "thread_ts" not in summary
    text = message_text(summary)
    assert text.index("Managers did not know") < text.index("Nobody owned the content")
    for owner in ("U0ANA", "U0BEN", "U0CAT"):
        assert f"<@{owner}>" in text
    assert "Brief every manager" in text and "Thu 10 Dec 2026" in text
    assert pm.premortem().phase == Phase.done

    # Follow-ups are rows of the delivery outbox: each owner is nudged two working days
    # before the due date, at 09:00 in their own zone (added to the directory from Slack).
    nudges = {user: f.due_at for user, f in _followups(pm) if f.kind == FollowupKind.owner}
    assert nudges == {
        "U0ANA": datetime(2026, 12, 8, 14, 0, tzinfo=UTC),  # Tue 09:00 in New York
        "U0BEN": datetime(2026, 12, 10, 0, 0, tzinfo=UTC),  # Thu 09:00 in Tokyo
        "U0CAT": datetime(2026, 12, 3, 9, 0, tzinfo=UTC),  # Thu 09:00 in London
    }
    # And the facilitator is asked to re-review six weeks on, at 09:00 in Sofia.
    review = eventually(
        lambda: [(u, f) for u, f in _followups(pm) if f.kind == FollowupKind.review]
    )
    assert review[0][0] == FACILITATOR
    assert review[0][1].due_at == datetime(2027, 1, 7, 7, 0, tzinfo=UTC)

    # When London's morning comes, the real sender posts only the London owner's nudge,
    # with one-click buttons and the delivery id in the message metadata.
    clock = pm.bot.services.clock
    clock.set(datetime(2026, 12, 3, 9, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    pm.tick("delivery-send")
    dms = fake.dm_messages("U0CAT")
    assert len(dms) == 1 and "Agree time with managers" in message_text(dms[0])
    assert not fake.dm_messages("U0ANA") and not fake.dm_messages("U0BEN")
    cat = _followup(pm, "U0CAT")
    assert dms[0]["metadata"]["event_payload"]["delivery_id"] == cat.id
    assert (cat.status, cat.message_ts) == (DeliveryStatus.sent, dms[0]["ts"])
    dm_channel = fake.dm_channel_id("U0CAT")
    message = dms[0]
    button = next(
        e
        for b in message["blocks"]
        if b.get("type") == "actions"
        for e in b["elements"]
        if "done" in e["action_id"]
    )
    pm.driver.block_actions(
        user_id="U0CAT",
        channel_id=dm_channel,
        message=message,
        actions=[{"action_id": button["action_id"], "value": button["value"]}],
    )
    eventually(lambda: _prevention_status(pm, "U0CAT") == PreventionStatus.done)
    eventually(lambda: "marked *done*" in message_text(fake.dm_messages("U0CAT")[0]))

    # New York's morning: Ana is in Do Not Disturb until 10:30 her time; the nudge waits
    # for it to end, inside her working hours, and goes out then.
    ana_due = datetime(2026, 12, 8, 14, 0, tzinfo=UTC)
    dnd_end = datetime(2026, 12, 8, 15, 30, tzinfo=UTC)
    fake.set_dnd(
        "U0ANA", next_start_ts=int(ana_due.timestamp()) - 3600, next_end_ts=int(dnd_end.timestamp())
    )
    clock.set(ana_due)  # type: ignore[attr-defined]
    pm.tick("delivery-send")
    assert not fake.dm_messages("U0ANA")
    ana = _followup(pm, "U0ANA")
    assert (ana.status, ana.due_at, ana.last_error) == (
        DeliveryStatus.planned,
        dnd_end,
        "deferred: do not disturb",
    )
    clock.set(dnd_end)  # type: ignore[attr-defined]
    pm.tick("delivery-send")
    assert len(fake.dm_messages("U0ANA")) == 1
    assert "Brief every manager" in message_text(fake.dm_messages("U0ANA")[0])

    # Tokyo's morning: a sender posts Ben's nudge and dies before recording it. Once its
    # lease runs out, the next sender finds the DM by its metadata and posts nothing.
    clock.set(datetime(2026, 12, 10, 0, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    crashed = Sender(pm.bot.services, owner="elsewhere:1:crashed")
    (claimed,) = crashed.claim(10)
    crashed._process(claimed)  # posted; the outcome is never written
    assert len(fake.dm_messages("U0BEN")) == 1
    clock.advance(timedelta(seconds=pm.bot.services.settings.send_lease_seconds + 1))  # type: ignore[attr-defined]
    pm.tick("delivery-reap")
    pm.tick("delivery-send")
    ben = _followup(pm, "U0BEN")
    (ben_dm,) = fake.dm_messages("U0BEN")
    assert (ben.status, ben.message_ts) == (DeliveryStatus.sent, ben_dm["ts"])
    assert fake.calls_to("conversations.history")

    # Six weeks on, the facilitator is asked to re-review what is still open.
    clock.set(datetime(2027, 1, 7, 7, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    pm.tick("delivery-send")
    (review_message,) = fake.dm_messages(FACILITATOR)
    review_dm = message_text(review_message)
    assert "re-review" in review_dm
    assert "Brief every manager" in review_dm and "Agree time with managers" not in review_dm
    # Every follow-up went out once, each recorded against its own DM.
    assert {u: f.status for u, f in _followups(pm)} == dict.fromkeys(
        ("U0ANA", "U0BEN", "U0CAT", FACILITATOR), DeliveryStatus.sent
    )


def _followups(room: Room) -> list[tuple[str, Delivery]]:
    """(recipient's Slack id, outbox row) of every pre-mortem follow-up."""
    with room.bot.services.session() as session:
        rows = session.execute(
            select(Person.slack_user_id, Delivery)
            .join(Person, Person.id == Delivery.person_id)
            .where(Delivery.kind != DeliveryKind.step)
            .order_by(Delivery.id)
        )
        return [(user, delivery) for user, delivery in rows]


def _followup(room: Room, user: str) -> Delivery:
    return next(f for u, f in _followups(room) if u == user)


def _prevention_status(room: Room, owner: str) -> PreventionStatus:
    with room.bot.services.session() as session:
        prevention = session.scalar(select(Prevention).where(Prevention.owner_id == owner))
        assert prevention is not None
        return prevention.status
