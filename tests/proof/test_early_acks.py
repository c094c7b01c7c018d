"""Acks first: a click is answered before its listener runs, and the work after it
(the listener's body, the in-process sender's posts) waits while the process is
still answering Slack, so a busy bot never makes Slack wait for an ack."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.delivery import sender as sender_module
from bot.delivery.models import Delivery, DeliveryStatus
from bot.delivery.sender import Sender
from bot.services import Services
from bot.slack import acks
from bot.slack.acks import ANSWERING
from tests.conftest import RunningBot
from tests.fakeslack import FakeSlack
from tests.proof.conftest import World, wait_for

USER = "U0ALICE01"
# Long enough that only the end of the answer in flight can release the work.
HELD = 30.0


@pytest.fixture
def at_the_gate(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], threading.Event]:
    """`at_the_gate(thread_name)`: an event set once that thread waits at ANSWERING for
    the answers in flight to be out. While one is in flight the wait cannot end
    before HELD seconds, so anything behind the gate has provably not run yet:
    no sleep and no guess at how long "not yet" takes on this machine."""
    waiting: dict[str, threading.Event] = {}
    original = ANSWERING.quiet

    def quiet(timeout: float) -> bool:
        event = waiting.get(threading.current_thread().name)
        if event is not None:
            event.set()
        return original(timeout)

    monkeypatch.setattr(ANSWERING, "quiet", quiet)
    return lambda name: waiting.setdefault(name, threading.Event())


def test_a_click_is_acked_at_once_and_its_work_waits_for_answers_in_flight(
    bot: RunningBot,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    at_the_gate: Callable[[str], threading.Event],
) -> None:
    monkeypatch.setattr(acks, "LISTENER_YIELD_SECONDS", HELD)
    nudge = world.send(USER, "ask-three")
    with ANSWERING:  # another person's click, still being answered
        held = at_the_gate("after-acks")
        response = bot.driver.block_actions(
            user_id=USER,
            actions=[{"action_id": "nudge_done"}],
            message=nudge.message(bot.fake),
            channel_id=nudge.channel,
        )
        assert response.status == 200 and response.acked_in_time
        assert held.wait(10), "the listener never reached the gate"
        assert world.events(nudge.delivery_id) == []  # the Done waits its turn ...
        assert bot.fake.calls_to("chat.update") == []
    # ... and is logged and shown once the answers in flight are out.
    assert [e.kind for e in wait_for(lambda: world.events(nudge.delivery_id))] == ["done"]
    wait_for(lambda: bot.fake.calls_to("chat.update"))


def test_the_sender_posts_once_the_answers_in_flight_are_out(
    services: Services,
    world: World,
    fake_slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
    at_the_gate: Callable[[str], threading.Event],
) -> None:
    monkeypatch.setattr(sender_module, "YIELD_TO_ACKS", HELD)
    enrollment = world.enrollment(USER)
    with services.session() as session:
        person_id = world.person(USER)
        session.add(
            Delivery(
                enrollment_id=enrollment,
                person_id=person_id,
                step_id="tip",
                due_at=services.clock.now(),
            )
        )
    sender = Sender(services)
    with ANSWERING:
        held = at_the_gate("sender-under-test")
        sending = threading.Thread(
            target=sender.send_due, kwargs={"max_seconds": 60}, name="sender-under-test"
        )
        sending.start()
        assert held.wait(10), "the sender never reached the gate"
        assert fake_slack.dm_messages(USER) == []  # held while Slack waits for an answer
    sending.join(timeout=30)
    assert not sending.is_alive()
    assert len(fake_slack.dm_messages(USER)) == 1
    with services.session() as session:
        assert [d.status for d in session.query(Delivery)] == [DeliveryStatus.sent]


CHANNEL = "C0PLANNING"


def _nudges_replied(bot: RunningBot, url: str | None) -> bool:
    return any(post["url"] == url for post in bot.fake.response_url_posts)


def _form_opened(bot: RunningBot, trigger: str | None) -> bool:
    return any(
        c.ok and c.params.get("trigger_id") == trigger for c in bot.fake.calls_to("views.open")
    )


def _board_posted(bot: RunningBot, _: str | None) -> bool:
    return any("new onboarding" in json.dumps(m) for m in bot.fake.messages(CHANNEL))


COMMANDS = {
    # command, its text, what the person sees once the work after the ack is done
    "nudges status": ("/nudges", "status", _nudges_replied, "response_url"),
    "intake form": ("/intake", "", _form_opened, "trigger_id"),
    "premortem start": ("/premortem", "Launch the new onboarding", _board_posted, "trigger_id"),
}


@pytest.mark.parametrize("case", list(COMMANDS))
def test_a_slash_command_is_acked_at_once_and_its_work_waits_for_answers_in_flight(
    bot: RunningBot,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    at_the_gate: Callable[[str], threading.Event],
    case: str,
) -> None:
    command, text, done, handle = COMMANDS[case]
    monkeypatch.setattr(acks, "LISTENER_YIELD_SECONDS", HELD)
    world.person(USER)
    world.enrollment(USER)
    bot.fake.add_channel(CHANNEL, name="planning", members=[USER])
    with ANSWERING:  # another person's request, still being answered
        held = at_the_gate("after-acks")
        response = bot.driver.slash_command(command, text, user_id=USER, channel_id=CHANNEL)
        # Answered at once, with nothing in it: the reply, the form or the board follow.
        assert response.status == 200 and response.acked_in_time
        assert response.body == ""
        assert held.wait(10), "the listener never reached the gate"
        assert not done(bot, getattr(response, handle))  # the work waits its turn ...
    # ... and the person gets what they asked for once the answers in flight are out.
    wait_for(lambda: done(bot, getattr(response, handle)))


def test_work_after_acks_starts_a_few_at_a_time_and_none_is_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(acks, "LISTENER_SLOTS", 1)
    monkeypatch.setattr(acks, "HOLD_AT_MOST_SECONDS", HELD)
    waiting = threading.Event()

    class Slots(acks._Slots):
        def take(self, deadline: float) -> None:
            if self._running >= acks.LISTENER_SLOTS:
                waiting.set()  # the next piece waits for a slot
            super().take(deadline)

    monkeypatch.setattr(acks, "_SLOTS", Slots())
    gate = threading.Event()
    with ThreadPoolExecutor(4) as pool:
        after = acks._AfterAcks(pool)
        first = after.submit(gate.wait, 30)
        second = after.submit(lambda: "second")
        assert waiting.wait(10), "the second piece never waited for a slot"
        assert not second.done()  # the one slot is taken by work still running ...
        gate.set()
        # ... and the next piece starts once it is free.
        assert first.result(timeout=10) is True
        assert second.result(timeout=10) == "second"


def test_a_form_opens_while_other_peoples_work_waits_on_a_slow_slack(
    bot: RunningBot, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One slot, taken by a Done whose message update Slack answers slowly: the
    # /intake that follows still opens its form inside the trigger_id's 3 s.
    monkeypatch.setattr(acks, "LISTENER_SLOTS", 1)
    monkeypatch.setattr(acks, "HOLD_AT_MOST_SECONDS", 0.3)
    nudge = world.send(USER, "ask-three")
    bot.fake.inject("chat.update", "slow", seconds=4.0)
    clicked = bot.driver.block_actions(
        user_id=USER,
        actions=[{"action_id": "nudge_done"}],
        message=nudge.message(bot.fake),
        channel_id=nudge.channel,
    )
    assert clicked.acked_in_time
    wait_for(lambda: bot.fake.calls_to("chat.update"))  # the slow answer is on its way
    response = bot.driver.slash_command("/intake", "", user_id="U0BOB0001")
    assert response.acked_in_time
    wait_for(lambda: _form_opened(bot, response.trigger_id), timeout=2.5)
