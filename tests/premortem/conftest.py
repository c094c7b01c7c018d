"""Helpers to drive a pre-mortem through the fake Slack as its participants would."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from bot.premortem import blocks, modals
from bot.premortem.models import Premortem, Risk
from tests.conftest import RunningBot

T = TypeVar("T")
CHANNEL = "C0LAUNCH"
FACILITATOR = "U0FACIL"
# Participants in different time zones: the follow-ups must land in each one's morning.
PEOPLE = {
    FACILITATOR: "Europe/Sofia",
    "U0ANA": "America/New_York",
    "U0BEN": "Asia/Tokyo",
    "U0CAT": "Europe/London",
    "U0DAN": "UTC",
}


def eventually(check: Callable[[], T | None], *, timeout: float = 10.0) -> T:
    """Listeners work after the ack, on their own thread: wait for what they leave behind."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {check}")
        time.sleep(0.02)


def find_button(
    message: dict[str, Any], action_id: str, value: str | None = None
) -> dict[str, Any]:
    for block in message.get("blocks") or []:
        for element in [*(block.get("elements") or []), block.get("accessory")]:
            if (
                isinstance(element, dict)
                and element.get("action_id") == action_id
                and (value is None or element.get("value") == value)
            ):
                return element
    raise AssertionError(f"no button {action_id} {value or ''} in message {message.get('ts')}")


def message_text(message: dict[str, Any]) -> str:
    parts = [message.get("text", "")]
    for block in message.get("blocks") or []:
        parts.append((block.get("text") or {}).get("text", ""))
        for element in block.get("elements") or []:
            parts.append(element.get("text", "") if isinstance(element.get("text"), str) else "")
    return "\n".join(parts)


@dataclass
class Room:
    """One pre-mortem as the people in the channel see and drive it."""

    bot: RunningBot
    channel: str = CHANNEL

    @property
    def fake(self) -> Any:
        return self.bot.fake

    @property
    def driver(self) -> Any:
        return self.bot.driver

    def premortem(self) -> Premortem:
        with self.bot.services.session() as session:
            found = session.scalars(select(Premortem).order_by(Premortem.id.desc())).first()
            assert found is not None
            return found

    def start(self, text: str, *, user: str = FACILITATOR) -> Premortem:
        response = self.driver.slash_command(
            "/premortem", text, user_id=user, channel_id=self.channel
        )
        assert response.status == 200
        eventually(lambda: self._parent())
        return self.premortem()

    def _parent(self) -> Premortem | None:
        with self.bot.services.session() as session:
            return session.scalar(select(Premortem).where(Premortem.parent_ts.is_not(None)))

    @property
    def parent_ts(self) -> str:
        ts = self.premortem().parent_ts
        assert ts
        return ts

    def thread(self) -> list[dict[str, Any]]:
        parent = self.parent_ts
        return [
            m
            for m in self.fake.messages(self.channel)
            if m.get("thread_ts") == parent and m["ts"] != parent
        ]

    def message(self, ts: str) -> dict[str, Any]:
        found = self.fake.message(self.channel, ts)
        assert found is not None
        return found

    def reply(self, user: str, text: str, *, wait: bool = True) -> str:
        response = self.driver.message_event(
            self.channel, user_id=user, text=text, thread_ts=self.parent_ts
        )
        assert response.status == 200
        ts = str(self.fake.messages(self.channel)[-1]["ts"])
        if wait:
            eventually(lambda: self._risk_stored(ts))
        return ts

    def _risk_stored(self, ts: str) -> bool:
        with self.bot.services.session() as session:
            return session.scalar(select(Risk.id).where(Risk.message_ts == ts)) is not None

    def click(self, user: str, message_ts: str, action_id: str, value: str | None = None) -> Any:
        message = self.message(message_ts)
        button = find_button(message, action_id, value)
        return self.driver.block_actions(
            user_id=user,
            channel_id=self.channel,
            message=message,
            actions=[{"action_id": action_id, "value": button["value"]}],
        )

    def next_phase(self, user: str = FACILITATOR) -> None:
        """Click the phase button and wait until the parent message shows the new phase."""
        before = self.premortem().phase
        value = find_button(self.message(self.parent_ts), blocks.NEXT_PHASE)["value"]
        self.click(user, self.parent_ts, blocks.NEXT_PHASE)

        def moved() -> bool:
            parent = self.message(self.parent_ts)
            try:
                shown = find_button(parent, blocks.NEXT_PHASE)["value"]
            except AssertionError:
                shown = None
            return self.premortem().phase != before and shown != value

        eventually(moved)

    def ephemerals_for(self, user: str) -> list[str]:
        """Ephemeral answers only `user` saw (response_url or chat.postEphemeral)."""
        return [e.get("text", "") for e in self.fake.ephemerals if e.get("user") == user]

    def latest_view(self, callback_id: str) -> dict[str, Any]:
        views = [v for v in self.fake.views.values() if v.get("callback_id") == callback_id]
        assert views, f"no {callback_id} modal was opened"
        return views[-1]

    def tick(self, name: str) -> None:
        for tick in self.bot.services.ticks:
            if tick.name == name:
                tick.func()
                return
        raise AssertionError(f"no tick {name}")

    def add_anonymous(self, user: str, text: str) -> Any:
        before = len(
            [v for v in self.fake.views.values() if v.get("callback_id") == modals.ANON_VIEW]
        )
        self.click(user, self.parent_ts, blocks.ADD_ANON)
        eventually(
            lambda: (
                len(
                    [
                        v
                        for v in self.fake.views.values()
                        if v.get("callback_id") == modals.ANON_VIEW
                    ]
                )
                > before
            )
        )
        view = self.latest_view(modals.ANON_VIEW)
        return self.driver.view_submission(
            user_id=user,
            view_id=view["id"],
            state_values={"risk": {"value": {"type": "plain_text_input", "value": text}}},
        )


@pytest.fixture
def pm(bot: RunningBot) -> Room:
    for user_id, tz in PEOPLE.items():
        bot.fake.add_user(user_id, name=user_id[2:].lower(), tz=tz)
    bot.fake.add_channel(CHANNEL, name="launch", members=list(PEOPLE), bot_member=False)
    return Room(bot)
