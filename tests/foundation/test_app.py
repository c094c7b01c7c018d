"""Several slices may listen to one event type: each gets it, matchers respected."""

from __future__ import annotations

import time
from typing import Any

from bot.slack import router
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

    # An event type the surface does not use (Bolt runs only the first listener that matches).
    router.mount(
        bot.app,
        [
            router.event(
                "pin_added",
                lambda event: seen.append("first:" + event["reaction"]),
                broken,
                router.when(
                    lambda event: event["reaction"] == "eyes",
                    lambda event: seen.append("eyes-only"),
                ),
            ),
            # A second route of the same type joins the same fan-out.
            router.event("pin_added", lambda body, event: seen.append("last:" + body["team_id"])),
        ],
    )

    event = {
        "type": "pin_added",
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
    # Events the surface fans out are the ones the App says it listens to.
    assert {"message", "app_home_opened", "reaction_added"} <= bot.app.registered_events
