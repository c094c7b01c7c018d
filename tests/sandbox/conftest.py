"""A sandbox per test, on a free port and a database of its own, and a client of
its page's API that waits on the sandbox's change counter, not on sleeps."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.runner import Sandbox

# Monday 7 December 2026, 09:05 in Sofia: working time for the seeded new hires.
MONDAY_MORNING = datetime(2026, 12, 7, 7, 5, tzinfo=UTC)
# Long enough for a busy 2-core machine; a pass takes a fraction of it.
PATIENCE = 60.0

State = dict[str, Any]


class PageClient:
    """What the page's script does, over HTTP."""

    def __init__(self, box: Sandbox) -> None:
        self.box = box
        self.base = box.url.rstrip("/")

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.base + path, timeout=PATIENCE) as response:
            return json.load(response)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            self.base + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=PATIENCE) as response:
            return json.load(response)

    def status_of(
        self,
        path: str,
        body: bytes | None = None,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> int:
        request = urllib.request.Request(
            self.base + path, data=body, headers={"Content-Type": content_type, **(headers or {})}
        )
        try:
            with urllib.request.urlopen(request, timeout=PATIENCE) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    def state(self, user: str, conversation: str = "", since: int | None = None) -> State:
        query = f"user={user}&conversation={conversation}"
        if since is not None:
            query += f"&since={since}"
        return dict(self.get(f"/sandbox/api/state?{query}"))

    def wait_for(
        self, user: str, conversation: str, shows: Callable[[State], bool], what: str
    ) -> State:
        """Long-poll the person's screen until ``shows(state)``; fail naming ``what``."""
        deadline = time.monotonic() + PATIENCE
        state = self.state(user, conversation)
        while not shows(state):
            if time.monotonic() > deadline:
                raise AssertionError(f"never saw {what}; last state: {json.dumps(state)[:2000]}")
            state = self.state(user, conversation, since=state["version"])
        return state


def texts(state: State) -> list[str]:
    """The words of each message in the open conversation (HTML tags removed)."""
    conversation = state.get("conversation") or {"messages": []}
    return [plain(m["html"]) for m in conversation["messages"]]


def plain(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#x27;", "'").strip()


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    box = Sandbox(database_path=tmp_path / "sandbox.db", port=0, start_at=MONDAY_MORNING)
    box.start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def page(sandbox: Sandbox) -> PageClient:
    return PageClient(sandbox)
