# ruff: noqa: E501  (work in progress, see the report: not collected until it is finished)
"""NOT COLLECTED (work in progress, see the closing note of issue 9): rename to
test_fuzz.py once the SQLite hang is found.

Hostile input on every HTTP endpoint: a few thousand malformed, oversized, wrongly
encoded, unsigned and replayed requests from a seeded generator (stdlib random).

What a person would notice if this failed: a 5xx (an alert, a retry storm from
Slack), data that changed because of garbage, or the bot not answering real
requests while it is being hammered.
"""

from __future__ import annotations

import http.client
import json
import random
import string
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import func, select

from bot.delivery import triggers
from bot.digest.service import metric_signature
from bot.models import Base
from bot.people.models import Person
from bot.settings import Settings
from tests.conftest import SIGNING_SECRET, RunningBot, make_settings
from tests.fakeslack import FakeSlack
from tests.fakeslack.driver import slack_signature
from tests.proof.conftest import World

SEED = 20261126
REQUESTS = 3000
VALID_EVERY = 25  # a valid request after every this many hostile ones
HOOK_SECRET = "trigger-secret-0123456789"
METRIC_SECRET = "metric-secret-0123456789"
EMP = "U0EMP0001"
# Event dedupe keeps the ids of the signed events it has seen: bookkeeping, not data.
NOT_DATA = {"slack_events_seen", "alembic_version"}

ACTION_IDS = (
    "nudge_done", "nudge_not_relevant", "nudge_snooze", "nudge_check", "nudge_rate_3",
    "nudge_reflect", "nudge_link", "nudges_resume", "nudges_pause", "nudges_preferences",
    "nudges_programs_page_next", "nudges_enroll", "intake_claim", "intake_approve",
    "intake_decline", "intake_needs_info", "intake_answer", "premortem_add_anonymous",
    "premortem_next_phase", "premortem_take_over", "premortem_vote", "premortem_take_back",
    "premortem_merge", "premortem_decide", "premortem_prevention_status_done",
    "digest_share_with_manager", "digest_enrollment_opt_in", "digest_impact_brief",
    "no_such_action",
)  # fmt: skip
CALLBACKS = (
    "proof_reflection", "proof_not_relevant", "proof_preferences", "proof_enroll", "intake_form",
    "intake_note", "premortem_anonymous_risk", "premortem_decision", "premortem_merge_risks",
    "no_such_view",
)  # fmt: skip
EVENT_TYPES = (
    "message", "app_home_opened", "member_joined_channel", "reaction_added", "user_change",
    "team_join", "app_uninstalled", "tokens_revoked", "app_mention", "no_such_event",
)  # fmt: skip
COMMANDS = ("/nudges", "/intake", "/premortem", "/no-such-command")
PATHS = (
    "/slack/events", "/hooks/trigger", "/hooks/metric", "/healthz", "/metrics",
    "/hooks/", "/hooks/nope", "/slack/install", "/slack/oauth_redirect", "/", "/admin",
    "/slack/events/../../etc/passwd", "/%00", "/slack/events?x=1", "/" + "a" * 3000,
)  # fmt: skip
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")


@pytest.fixture
def settings(db_url: str, fake_slack: FakeSlack) -> Settings:
    return make_settings(
        database_url=db_url,
        slack_api_url=fake_slack.base_url,
        ld_leads=["U0LEAD001"],
        hook_secrets={"crm": HOOK_SECRET},
        metric_hook_secrets={"bi": METRIC_SECRET},
    )


# -- transport ---------------------------------------------------------------------------------


@dataclass
class Sent:
    kind: str
    method: str
    path: str
    status: int


class Client:
    """One keep-alive connection to the bot, reopened when the bot closes it."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.conn: http.client.HTTPConnection | None = None

    def send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> int:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                response.read()
                # A fresh connection per request: one request's leftovers never
                # reach the next (keep-alive is not what is under test).
                self.close()
                return response.status
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# -- Slack-shaped bodies -------------------------------------------------------------------------


def signed_headers(body: bytes, content_type: str, *, stamp: int | None = None,
                   secret: str = SIGNING_SECRET) -> dict[str, str]:  # fmt: skip
    ts = int(time.time()) if stamp is None else stamp
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": slack_signature(secret, body, ts),
    }


class Garbage:
    """Seeded hostile values: wrong types, huge strings, control characters, odd Unicode."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def text(self, limit: int = 40) -> str:
        alphabet = string.printable + "éü€😀\u202e\u0000\ufeff<>&\"'`$"
        return "".join(self.rng.choice(alphabet) for _ in range(self.rng.randint(0, limit)))

    def header(self, limit: int) -> str:
        """Junk a client can still put in a header (printable Latin-1, no line breaks)."""
        alphabet = string.ascii_letters + string.digits + string.punctuation + " éü"
        return "".join(self.rng.choice(alphabet) for _ in range(self.rng.randint(0, limit)))

    def value(self) -> Any:
        pick = self.rng.randrange(12)
        return [
            None, True, -1, 2**70, 3.5e308, "", self.text(), "x" * self.rng.randint(3000, 20000),
            [], {}, [self.text(), 1], {"id": [1]},
        ][pick]

    def user_id(self) -> Any:
        # Never a person in the world: garbage must not be able to act as them.
        return self.rng.choice(["U0FUZZ" + self.text(4).upper(), None, 7, {"id": "U0X"}, ""])

    def mutate(self, data: Any, depth: int = 0) -> Any:
        """Break the structure: drop keys, swap types, nest absurdly."""
        if isinstance(data, dict):
            out = {}
            for key, value in data.items():
                roll = self.rng.random()
                if roll < 0.15:
                    continue
                out[key] = self.value() if roll < 0.35 else self.mutate(value, depth + 1)
            if self.rng.random() < 0.1:
                out[self.text(8)] = self.value()
            return out
        if isinstance(data, list):
            return [self.mutate(v, depth + 1) for v in data] if self.rng.random() < 0.7 else self.value()
        return self.value() if self.rng.random() < 0.4 else data


class Hostile:
    """Each method returns (kind, method, path, body, headers)."""

    def __init__(self, rng: random.Random, nowhere: str) -> None:
        self.rng = rng
        self.g = Garbage(rng)
        self.nowhere = nowhere  # a response_url that answers 404 at once

    def any(self) -> tuple[str, str, str, bytes, dict[str, str]]:
        makers: list[Callable[[], tuple[str, str, str, bytes, dict[str, str]]]] = [
            self.unsigned, self.bad_signature, self.stale, self.signed_interaction,
            self.signed_interaction, self.signed_event, self.signed_event, self.signed_command,
            self.signed_undecodable, self.hook, self.hook, self.wrong_route, self.wrong_route,
        ]  # fmt: skip
        return self.rng.choice(makers)()

    def interaction(self) -> dict[str, Any]:
        kind = self.rng.choice(
            ["block_actions", "view_submission", "view_closed", "shortcut", "message_action",
             "block_suggestion", "interactive_message", self.g.text(6)]
        )  # fmt: skip
        payload: dict[str, Any] = {
            "type": kind,
            "team": {"id": "T0FAKE", "domain": "x"},
            "user": {"id": self.g.user_id(), "team_id": "T0FAKE"},
            "api_app_id": "A0FAKE",
            "trigger_id": self.g.text(10),
            "response_url": self.nowhere,
            "actions": [
                {"action_id": self.rng.choice(ACTION_IDS), "value": self.g.text(12),
                 "block_id": "b", "type": "button",
                 "selected_option": {"value": self.g.text(8)}}
            ],
            "container": {"type": "message", "channel_id": "C0X", "message_ts": "1.2"},
            "channel": {"id": "C0X"},
            "view": {
                "id": "V0X", "callback_id": self.rng.choice(CALLBACKS),
                "private_metadata": self.rng.choice(
                    ["", "{", "[]", "1", json.dumps({"delivery_id": "x"}), "1:2:3", self.g.text()]
                ),
                "state": {"values": {"answer": {"text": {"value": ""}}}},
            },
        }  # fmt: skip
        return self.g.mutate(payload)  # type: ignore[no-any-return]

    def event(self) -> dict[str, Any]:
        inner: Any = {
            "type": self.rng.choice(EVENT_TYPES),
            "user": self.g.user_id(),
            "channel": self.rng.choice(["C0X", "D0X", None, 5]),
            "text": self.g.text(),
            "ts": self.rng.choice(["1.1", "x", None]),
            "thread_ts": self.rng.choice(["1.0", None, []]),
            "tab": self.rng.choice(["home", "messages", None]),
            "item": self.rng.choice([{"channel": "C0X", "ts": "1.1"}, None, "x"]),
        }
        if inner["type"] in ("user_change", "team_join"):
            # A whole user object would be a real profile: only broken ones here.
            inner["user"] = self.rng.choice([None, 5, "U0FUZZ", [], {"id": None}, {"id": 5}])
        envelope: dict[str, Any] = {
            "type": self.rng.choice(["event_callback", "event_callback", "url_verification",
                                     "app_rate_limited", self.g.text(5)]),
            "team_id": "T0FAKE",
            "api_app_id": "A0FAKE",
            "event_id": self.rng.choice(["Ev" + self.g.text(8), None, 5, ["Ev1"], {"a": 1}]),
            "event_time": self.rng.choice([0, -1, "now", None]),
            "event": self.g.mutate(inner) if self.rng.random() < 0.7 else self.g.value(),
            "authorizations": self.g.value(),
        }  # fmt: skip
        if envelope["type"] == "url_verification":
            envelope["challenge"] = self.g.value()
        return envelope

    def unsigned(self) -> tuple[str, str, str, bytes, dict[str, str]]:
        body = urlencode({"payload": json.dumps(self.interaction())}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if self.rng.random() < 0.5:
            headers["X-Slack-Request-Timestamp"] = self.rng.choice(["", "abc", "-1", "9" * 40])
        return "unsigned", "POST", "/slack/events", body, headers

    def bad_signature(self) -> tuple[str, str, str, bytes, dict[str, str]]:
        body = json.dumps(self.event()).encode()
        headers = signed_headers(body, "application/json", secret="not-the-secret")
        if self.rng.random() < 0.3:
            headers["X-Slack-Signature"] = self.rng.choice(
                ["", "v0=", "v1=abc", "v0=" + "0" * 64, "v0=" + "é" * 10, self.g.header(80)]
            )
        return "bad signature", "POST", "/slack/events", body, headers

    def stale(self) -> tuple[str, str, str, bytes, dict[str, str]]:
        """A valid, signed request replayed with its old timestamp (or from the future)."""
        body = json.dumps({"type": "url_verification", "challenge": "old"}).encode()
        skew = self.rng.choice([-1, 1]) * self.rng.randint(301, 10**6)
        return "stale", "POST", "/slack/events", body, signed_headers(
            body, "application/json", stamp=int(time.time()) + skew
        )

    def signed_interaction(self) -> tuple[str, str, str, bytes, dict[str, str]]:
        payload = self.interaction()
        roll = self.rng.random()
        if roll < 0.7:
            body = urlencode({"payload": json.dumps(payload)}).encode()
        elif roll < 0.8:
            body = urlencode({"payload": json.dumps(payload)[: self.rng.randint(0, 200)]}).encode()
        elif roll < 0.9:
            body = ("payload=" + self.g.text(200)).encode()
        else:
            body = urlencode({"payload": json.dumps(self.g.value())}).encode()
        content = self.rng.choice(["application/x-www-form-urlencoded"] * 4 + ["text/plain", ""])
        return "signed interaction", "POST", "/slack/events", body, signed_headers(body, content)

    def signed_event(self) -> tuple[str, str, str, bytes, dict[str, str]]:
        event = self.event()
        body = json.dumps(event).encode()
        if self.rng.random() < 0.15:
            body = body[: self.rng.randint(0, len(body))]
        headers = signed_headers(body, self.rng.choice(["application/json"] * 4 + ["text/json"]))
        if self.rng.random() < 0.2:
            headers["X-Slack-Retry-Num"] = self.rng.choice(["1", "x", "-5", "99999999999999"])
        return "signed event", "POST", "/slack/events", body, headers

    def signed_command(self) -> tuple[str, str, str, bytes, dict[str, str]]:
        fields = {
            "command": self.rng.choice(COMMANDS),
            "text": self.g.text(300),
            "user_id": self.g.user_id(),
            "channel_id": "C0X",
            "team_id": "T0FAKE",
            "trigger_id": self.g.text(10),
            "response_url": self.nowhere,
        }
        # Without its channel or its user, no command can act (with both, a real
        # /premortem from anyone would rightly start one).
        del fields[self.rng.choice(["channel_id", "user_id"])]
        if self.rng.random() < 0.3:
            fields = self.g.mutate(fields)
        body = urlencode({k: str(v) for k, v in fields.items()}).encode()
        return "signed command", "POST", "/slack/events", body, signed_headers(
            body, "application/x-www-form-urlencoded"
        )

    def signed_undecodable(self) -> tuple[str, str, str, bytes, dict[str, str]]:
        body = bytes(self.rng.randrange(256) for _ in range(self.rng.randint(1, 300)))
        body = self.rng.choice([body, b"\xff\xfe" + body, "payload=é".encode("latin-1"),
                                "{\"a\": \"\udcff\"}".encode("utf-8", "surrogatepass")])
        content = self.rng.choice(["application/json", "application/x-www-form-urlencoded"])
        # Signed over the raw bytes as Slack would (hmac on bytes): signature checks pass.
        ts = int(time.time())
        headers = {"Content-Type": content, "X-Slack-Request-Timestamp": str(ts),
                   "X-Slack-Signature": slack_signature(SIGNING_SECRET, body, ts)}  # fmt: skip
        return "undecodable", "POST", "/slack/events", body, headers

    def hook(self) -> tuple[str, str, str, bytes, dict[str, str]]:
        name = self.rng.choice(["trigger", "metric"])
        data: Any = (
            # "user": "" is left to test_a_trigger_without_a_user_is_a_400 (a known bug).
            {"trigger": self.g.value(), "user": self.g.user_id() or None,
             "program": self.g.value()}
            if name == "trigger"
            else {"program": self.rng.choice(["no-such-program", self.g.value()]),
                  "value": self.g.value(), "date": self.g.value(), "team": self.g.value()}
        )  # fmt: skip
        body = json.dumps(data).encode() if self.rng.random() < 0.8 else self.g.text(100).encode()
        stamp = str(int(time.time()) + self.rng.choice([0, 0, 0, -400, 10**6]))
        secret, source = (HOOK_SECRET, "crm") if name == "trigger" else (METRIC_SECRET, "bi")
        roll = self.rng.random()
        headers = {"Content-Type": "application/json", "X-Nudgebot-Timestamp": stamp,
                   "X-Nudgebot-Source": source if roll < 0.8 else self.g.header(5)}  # fmt: skip
        sign = triggers.signature if name == "trigger" else metric_signature
        if roll < 0.5:
            headers["X-Nudgebot-Signature"] = sign(secret, stamp, body)  # signed, bad payload
        elif roll < 0.7:
            headers["X-Nudgebot-Signature"] = sign("wrong", stamp, body)
        elif roll < 0.8:
            headers["X-Nudgebot-Signature"] = self.g.header(70)
        return f"hook {name}", "POST", f"/hooks/{name}", body, headers

    def wrong_route(self) -> tuple[str, str, str, bytes, dict[str, str]]:
        path = self.rng.choice(PATHS)
        method = self.rng.choice(METHODS)
        body = self.g.text(200).encode() if method not in ("GET", "HEAD") else b""
        headers = {"Content-Type": self.rng.choice(["application/json", "text/plain", ""])}
        return "route", method, path, body, headers


def oversized() -> Iterator[tuple[str, str, str, bytes, dict[str, str]]]:
    """A handful of bodies over 1 MiB (each costs real bytes on the wire)."""
    big = b"payload=" + b"A" * (1024 * 1024 + 10)
    for path in ("/slack/events", "/hooks/trigger", "/hooks/metric", "/healthz", "/nope"):
        yield "oversized", "POST", path, big, signed_headers(big, "application/x-www-form-urlencoded")


# -- valid requests, interleaved --------------------------------------------------------------------


def check_valid(client: Client, n: int) -> None:
    assert client.send("GET", "/healthz", b"", {}) == 200
    body = json.dumps({"type": "url_verification", "challenge": f"c{n}"}).encode()
    headers = signed_headers(body, "application/json")
    conn = http.client.HTTPConnection(client.host, client.port, timeout=10)
    started = time.monotonic()
    conn.request("POST", "/slack/events", body=body, headers=headers)
    response = conn.getresponse()
    answer = response.read().decode()
    conn.close()
    assert response.status == 200 and f"c{n}" in answer
    assert time.monotonic() - started < 3, "Slack would have given up on this ack"


# -- the data ---------------------------------------------------------------------------------------


def snapshot(bot: RunningBot) -> dict[str, list[tuple[str, ...]]]:
    rows: dict[str, list[tuple[str, ...]]] = {}
    with bot.services.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name not in NOT_DATA:
                found = conn.execute(select(table).order_by(*table.primary_key.columns))
                rows[table.name] = [tuple(str(v) for v in row) for row in found]
    return rows


def settled(bot: RunningBot) -> dict[str, list[tuple[str, ...]]]:
    last = snapshot(bot)
    for _ in range(100):
        time.sleep(0.1)
        now = snapshot(bot)
        if now == last:
            return now
        last = now
    raise AssertionError("the bot kept changing the database")


def build_world(bot: RunningBot) -> None:
    """Someone with a nudge, so garbage has something it could damage."""
    world = World(bot.services, bot.fake)
    world.program()
    world.send(EMP, "ask-three")
    world.send(EMP, "shift-reflection")


# -- the tests --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_thousands_of_hostile_requests_no_5xx_no_change_and_valid_ones_still_answered(
    bot: RunningBot,
) -> None:
    build_world(bot)
    before = settled(bot)
    rng = random.Random(SEED)
    hostile = Hostile(rng, bot.fake.base_url.rstrip("/") + "/response/none")
    client = Client(bot.url)
    sent: list[Sent] = []
    requests = [hostile.any() for _ in range(REQUESTS)]
    requests[100:100] = list(oversized())
    for n, (kind, method, path, body, headers) in enumerate(requests):
        status = client.send(method, path, body, headers)
        sent.append(Sent(kind, method, path, status))
        if n % VALID_EVERY == 0:
            check_valid(client, n)
    client.close()

    errors = [s for s in sent if s.status >= 500]
    assert errors == [], errors[:10]
    statuses = {s.kind: set() for s in sent}  # type: dict[str, set[int]]
    for s in sent:
        statuses[s.kind].add(s.status)
    assert statuses["unsigned"] == {401}
    assert statuses["bad signature"] == {401}
    assert statuses["stale"] == {401}, "a replay beyond 5 minutes must be refused"
    assert statuses["oversized"] == {413}
    assert len(sent) >= REQUESTS
    after = settled(bot)
    changed = [name for name in before if before[name] != after[name]]
    assert changed == [], "garbage changed the data"
    assert bot.fake.handler_errors == []


def test_a_redelivered_event_is_processed_once(bot: RunningBot) -> None:
    # team_join of a new colleague adds them to the directory: visible, countable.
    bot.fake.add_user("U0NEWBIE1", name="newbie")
    event = {"type": "team_join", "user": {"id": "U0NEWBIE1", "name": "newbie", "tz": "UTC",
             "profile": {"real_name": "New Bie", "email": "newbie@example.com"}}}  # fmt: skip
    first = bot.driver.event(event, event_id="Ev0REPLAY01")
    assert first.status == 200

    def people() -> int:
        with bot.services.session() as session:
            return int(session.scalar(select(func.count(Person.id))) or 0)

    deadline = time.monotonic() + 5
    while people() == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert people() == 1
    before = settled(bot)
    # Slack redelivers with the same event id (and a retry header) when it thinks we missed it;
    # the profile changed meanwhile, so processing it again would show.
    event["user"]["profile"]["real_name"] = "Changed By Replay"  # type: ignore[index]
    for retry in (1, 2, 3):
        again = bot.driver.event(event, event_id="Ev0REPLAY01", retry_num=retry)
        assert again.status == 200
    assert settled(bot) == before


def test_a_valid_request_replayed_after_five_minutes_is_refused(bot: RunningBot) -> None:
    body = urlencode(
        {"command": "/nudges", "text": "help", "user_id": EMP, "channel_id": "C0X",
         "team_id": "T0", "trigger_id": "1.2.3", "response_url": bot.fake.base_url + "r"}
    ).encode()  # fmt: skip
    fresh = bot.driver.raw(body)
    assert fresh.status == 200
    old = int(time.time()) - 301
    replayed = bot.driver.raw(body, timestamp=old)
    assert replayed.status == 401
    assert "stale" in replayed.body or "signature" in replayed.body
