"""Several slices may listen to one event type: each gets it, matchers respected."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import RunningBot


def _wait_for(condition: Any, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_every_listener_of_an_event_runs_and_a_failing_one_does_not_stop_the_rest(
    bot: RunningBot,
) -> None:
    seen: list[str] = []

    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("this slice has a bug")

    bot.app.event("reaction_added")(lambda event: seen.append("first:" + event["reaction"]))
    bot.app.event("reaction_added")(broken)
    bot.app.event("reaction_added", matchers=[lambda event: event["reaction"] == "eyes"])(
        lambda event: seen.append("eyes-only")
    )
    bot.app.event("reaction_added")(lambda body, event: seen.append("last:" + body["team_id"]))

    event = {
        "type": "reaction_added",
        "user": "U0A",
        "reaction": "tada",
        "item": {"type": "message", "channel": "C0G", "ts": "1.1"},
        "event_ts": "1.2",
    }
    assert bot.driver.event(event).status == 200
    assert bot.driver.event({**event, "reaction": "eyes"}).status == 200
    _wait_for(lambda: len(seen) >= 5)
    assert sorted(seen) == sorted(
        ["first:tada", "last:T0TEST", "first:eyes", "eyes-only", "last:T0TEST"]
    )
    assert "reaction_added" in bot.app.registered_events
