"""The fake Slack's own tests: it must behave as Slack does, or the suite lies.

Every fixture is local to this file. Time-dependent behaviour (trigger expiry,
rate-limit buckets, message ts) is driven by a hand-moved clock, never by sleeping;
the only real waits are slack_sdk's own retry sleeps and one client timeout.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import parse_qsl
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import Ack, App, Respond
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    FixedValueRetryIntervalCalculator,
    RateLimitErrorRetryHandler,
    builtin_handlers,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from slack_sdk.signature import SignatureVerifier

from bot.localslack import webapi as fake_webapi
from tests.fakeslack import FakeSlack, SlackDriver, slack_signature

SECRET = "fakeslack-test-signing-secret"
QUICK = FixedValueRetryIntervalCalculator(fixed_internal=0.01)

# Slack's published example ("Verifying requests from Slack").
DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOC_TIMESTAMP = 1531420618
DOC_BODY = (
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    "&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    "&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    "%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


# -- fixtures -----------------------------------------------------------------


@dataclass
class ManualClock:
    """A clock the test moves by hand; passed to FakeSlack(clock=...)."""

    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        _populate(server)
        yield server
    assert server.handler_errors == []


@pytest.fixture
def timed_fake(manual_clock: ManualClock) -> Iterator[FakeSlack]:
    with FakeSlack(clock=manual_clock) as server:
        _populate(server)
        yield server
    assert server.handler_errors == []


def _populate(server: FakeSlack) -> None:
    server.add_user(
        "U0ALICE", name="alice", tz="Europe/Sofia", locale="bg-BG", email="alice@example.com"
    )
    server.add_user("U0BOB", name="bob", tz="America/New_York")
    server.add_channel("C0GENERAL", name="general", members=["U0ALICE", "U0BOB"])


def client_for(server: FakeSlack, **kwargs: Any) -> WebClient:
    """A client with no retries unless the test asks for some (WebClient's
    default would quietly retry connection errors once)."""
    kwargs.setdefault("retry_handlers", [])
    return WebClient(base_url=server.base_url, token=server.bot_token, **kwargs)


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return client_for(fake)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    """A stand-in app that records what the driver sends and answers 200."""

    url: str
    requests: list[Received] = field(default_factory=list)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    received: list[Received] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(Received(dict(self.headers.items()), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Recorder(f"http://127.0.0.1:{server.server_address[1]}/slack/events", received)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class _QuietWSGIHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def bolt_app(fake: FakeSlack) -> Iterator[tuple[App, str]]:
    """A real Bolt app over HTTP, its Web API client pointed at the fake."""
    app = App(client=client_for(fake), signing_secret=SECRET, process_before_response=True)
    server: WSGIServer = make_server(
        "127.0.0.1", 0, SlackRequestHandler(app), handler_class=_QuietWSGIHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}/slack/events"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def raw_post(
    url: str, data: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """POST with urllib and return (status, headers, body) even for 4xx/5xx."""
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers.items()), response.read()
    except HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


def bearer(server: FakeSlack) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {server.bot_token}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


# -- signing and request encoding ---------------------------------------------


class _FixedVerifierClock:
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def test_signature_matches_slacks_published_example() -> None:
    driver = SlackDriver(app_url="http://127.0.0.1:9/unused", signing_secret=DOC_SECRET)
    assert driver.sign(DOC_BODY.encode(), DOC_TIMESTAMP) == DOC_SIGNATURE
    assert slack_signature(DOC_SECRET, DOC_BODY.encode(), DOC_TIMESTAMP) == DOC_SIGNATURE
    verifier = SignatureVerifier(DOC_SECRET, clock=_FixedVerifierClock(DOC_TIMESTAMP))  # type: ignore[arg-type]
    assert verifier.is_valid(DOC_BODY, str(DOC_TIMESTAMP), DOC_SIGNATURE)
    # One changed byte of the body must change the signature.
    assert (
        driver.sign(DOC_BODY.replace("foobar", "foobaz").encode(), DOC_TIMESTAMP) != DOC_SIGNATURE
    )


def test_slash_command_is_encoded_and_signed_as_slack_does(
    fake: FakeSlack, recorder: Recorder
) -> None:
    driver = SlackDriver(app_url=recorder.url, signing_secret=SECRET, fake=fake)
    sent = driver.slash_command("/nudge", "enroll me please", user_id="U0ALICE")
    assert sent.status == 200
    (request,) = recorder.requests
    assert SignatureVerifier(SECRET).is_valid_request(request.body, request.headers)
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["X-Slack-Signature"] == driver.sign(
        request.body, int(request.headers["X-Slack-Request-Timestamp"])
    )
    fields = parse_qsl(request.body.decode(), keep_blank_values=True)
    assert [name for name, _ in fields] == [
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
    ]
    values = dict(fields)
    assert values["command"] == "/nudge"
    assert values["text"] == "enroll me please"
    assert values["user_name"] == "alice"
    assert values["channel_name"] == "general"
    assert b"command=%2Fnudge" in request.body  # "/" percent-encoded, as in Slack's example
    assert values["response_url"].startswith(f"{fake.url}/response/")
    assert values["trigger_id"] == sent.trigger_id


def test_interactivity_and_events_are_encoded_as_slack_does(
    fake: FakeSlack, recorder: Recorder
) -> None:
    driver = SlackDriver(app_url=recorder.url, signing_secret=SECRET, fake=fake)
    posted = client_for(fake).chat_postMessage(
        channel="U0ALICE",
        text="Did you do it?",
        blocks=[
            {
                "type": "actions",
                "block_id": "b1",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "done",
                        "value": "n-42",
                        "text": {"type": "plain_text", "text": "Done"},
                    },
                ],
            }
        ],
    )
    driver.block_actions(
        user_id="U0ALICE",
        actions=[{"action_id": "done"}],
        channel_id=posted["channel"],
        message_ts=posted["ts"],
    )
    driver.event(
        {
            "type": "app_mention",
            "user": "U0BOB",
            "text": "hi",
            "ts": "1.000001",
            "channel": "C0GENERAL",
        },
        event_id="Ev0001",
        retry_num=1,
        retry_reason="http_timeout",
    )
    actions_request, event_request = recorder.requests
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid_request(actions_request.body, actions_request.headers)
    assert verifier.is_valid_request(event_request.body, event_request.headers)

    ((name, encoded),) = parse_qsl(actions_request.body.decode())
    payload = json.loads(encoded)
    assert name == "payload"
    assert payload["type"] == "block_actions"
    assert payload["user"]["id"] == "U0ALICE"
    # The driver fills the action in from the message's own button.
    action = payload["actions"][0]
    assert (action["block_id"], action["value"], action["type"]) == ("b1", "n-42", "button")
    assert payload["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": posted["channel"],
        "is_ephemeral": False,
    }
    assert payload["message"]["ts"] == posted["ts"]

    assert event_request.headers["Content-Type"] == "application/json"
    assert event_request.headers["X-Slack-Retry-Num"] == "1"
    assert event_request.headers["X-Slack-Retry-Reason"] == "http_timeout"
    envelope = json.loads(event_request.body)
    assert envelope["type"] == "event_callback"
    assert envelope["event_id"] == "Ev0001"
    assert envelope["authorizations"][0]["user_id"] == fake.bot_user_id


def test_a_checkbox_action_carries_only_what_is_ticked_now(
    fake: FakeSlack, recorder: Recorder
) -> None:
    """Slack's checkbox action: `selected_options` (full option objects, empty once the
    last box is unticked) and no `initial_options`, whatever the message showed."""
    driver = SlackDriver(app_url=recorder.url, signing_secret=SECRET, fake=fake)
    options = [
        {"text": {"type": "plain_text", "text": f"Step {n}"}, "value": f"7|{n}"} for n in (0, 1)
    ]
    boxes = {"type": "checkboxes", "action_id": "tick", "options": options}
    posted = client_for(fake).chat_postMessage(
        channel="U0ALICE",
        text="Before the call",
        blocks=[
            {
                "type": "actions",
                "block_id": "list",
                "elements": [{**boxes, "initial_options": options[:1]}],
            }
        ],
    )
    where = {"channel_id": posted["channel"], "message_ts": posted["ts"]}
    for ticked in ([{"value": "7|0"}, {"value": "7|1"}], []):
        driver.block_actions(
            user_id="U0ALICE",
            actions=[{"action_id": "tick", "type": "checkboxes", "selected_options": ticked}],
            **where,
        )
    sent = [json.loads(dict(parse_qsl(r.body.decode()))["payload"]) for r in recorder.requests]
    both, none = (payload["actions"][0] for payload in sent)
    assert set(both) == {"type", "block_id", "action_id", "selected_options", "action_ts"}
    assert both["selected_options"] == options and both["block_id"] == "list"
    assert none["selected_options"] == [] and "initial_options" not in none
    with pytest.raises(ValueError, match="no initial_options"):
        driver.block_actions(
            user_id="U0ALICE",
            actions=[{"action_id": "tick", "type": "checkboxes", "initial_options": options}],
            **where,
        )


def test_hostile_requests_fail_verification(recorder: Recorder) -> None:
    driver = SlackDriver(app_url=recorder.url, signing_secret=SECRET)
    verifier = SignatureVerifier(SECRET)
    driver.raw(b"token=x&text=unsigned", sign=False)
    driver.raw(b"token=x&text=wrong-secret", secret="not-the-secret")
    driver.raw(b"token=x&text=stale", timestamp=int(time.time()) - 600)
    driver.raw(b"{not json", content_type="application/json")
    unsigned, wrong_secret, stale, malformed = recorder.requests
    assert "X-Slack-Signature" not in unsigned.headers
    assert not verifier.is_valid_request(unsigned.body, unsigned.headers)
    assert not verifier.is_valid_request(wrong_secret.body, wrong_secret.headers)
    assert not verifier.is_valid_request(stale.body, stale.headers)
    # A malformed body is still signed correctly: the app must cope with it.
    assert verifier.is_valid_request(malformed.body, malformed.headers)


def test_a_bolt_app_accepts_what_the_driver_sends(
    fake: FakeSlack, bolt_app: tuple[App, str]
) -> None:
    app, url = bolt_app
    seen: dict[str, Any] = {}

    @app.command("/nudge")
    def on_command(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        seen["text"] = body["text"]
        client.views_open(
            trigger_id=body["trigger_id"],
            view={
                "type": "modal",
                "callback_id": "goal",
                "title": {"type": "plain_text", "text": "Your goal"},
                "submit": {"type": "plain_text", "text": "Save"},
                "private_metadata": "p-1",
                "blocks": [
                    {
                        "type": "input",
                        "block_id": "g",
                        "label": {"type": "plain_text", "text": "Goal"},
                        "element": {"type": "plain_text_input", "action_id": "goal_text"},
                    }
                ],
            },
        )

    @app.view("goal")
    def on_submit(ack: Ack, view: dict[str, Any]) -> None:
        seen["goal"] = view["state"]["values"]["g"]["goal_text"]["value"]
        seen["metadata"] = view["private_metadata"]
        ack()

    @app.action("done")
    def on_done(ack: Ack, respond: Respond) -> None:
        ack()
        respond(replace_original=True, text="Marked as done")

    driver = SlackDriver(app_url=url, signing_secret=SECRET, fake=fake)
    assert driver.url_verification("chal-123").json() == {"challenge": "chal-123"}

    command = driver.slash_command("/nudge", "goal", user_id="U0ALICE")
    assert command.acked_in_time
    assert seen["text"] == "goal"
    (opened,) = fake.calls_to("views.open")
    assert opened.ok
    view_id = opened.response["view"]["id"] if opened.response else ""

    values = {"g": {"goal_text": {"type": "plain_text_input", "value": "Ask one question"}}}
    assert (
        driver.view_submission(user_id="U0ALICE", view_id=view_id, state_values=values).status
        == 200
    )
    assert seen == {"text": "goal", "goal": "Ask one question", "metadata": "p-1"}

    posted = client_for(fake).chat_postMessage(
        channel="U0ALICE",
        text="Did it?",
        blocks=[
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "done",
                        "text": {"type": "plain_text", "text": "Done"},
                    }
                ],
            },
        ],
    )
    assert (
        driver.block_actions(
            user_id="U0ALICE",
            actions=[{"action_id": "done"}],
            channel_id=posted["channel"],
            message_ts=posted["ts"],
        ).status
        == 200
    )
    assert fake.response_url_posts[-1]["payload"]["text"] == "Marked as done"
    assert (
        fake.dm_messages("U0ALICE")[-1]["text"] == "Marked as done"
    )  # replace_original took effect

    assert driver.raw(b"command=%2Fnudge", secret="wrong").status == 401


# -- faults and retries -------------------------------------------------------


def test_429_is_retried_by_rate_limit_handler(
    fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.inject("chat.postMessage", "rate_limited", retry_after=7, times=1)
    # What slack_sdk waits is read from its own sleep, not from the wall clock.
    waited: list[float] = []
    monkeypatch.setattr(builtin_handlers, "time", SimpleNamespace(sleep=waited.append))
    client = client_for(fake, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    response = client.chat_postMessage(channel="C0GENERAL", text="after a 429")
    assert response["ok"]
    assert len(waited) == 1 and waited[0] >= 7  # slack_sdk honoured the Retry-After
    first, second = fake.calls_to("chat.postMessage")
    assert (first.status, first.fault, second.status, second.fault) == (
        429,
        "rate_limited",
        200,
        None,
    )
    assert fake.faults_served == 1
    assert [m["text"] for m in fake.messages("C0GENERAL")] == ["after a 429"]


def test_429_wire_format(fake: FakeSlack) -> None:
    fake.inject(None, "rate_limited", retry_after=7)
    status, headers, body = raw_post(fake.base_url + "auth.test", b"", bearer(fake))
    assert status == 429
    assert headers["Retry-After"] == "7"
    assert json.loads(body) == {"ok": False, "error": "ratelimited"}


def test_503_html_page_is_retried_by_server_error_handler(fake: FakeSlack) -> None:
    fake.inject("chat.postMessage", "server_error", status=503, times=1)
    status, headers, body = raw_post(
        fake.base_url + "chat.postMessage", b"channel=C0GENERAL&text=x", bearer(fake)
    )
    assert status == 503
    assert headers["Content-Type"].startswith("text/html")
    assert body.startswith(b"<!DOCTYPE html>")

    fake.inject("chat.postMessage", "server_error", status=503, times=1)
    client = client_for(
        fake, retry_handlers=[ServerErrorRetryHandler(max_retry_count=1, interval_calculator=QUICK)]
    )
    assert client.chat_postMessage(channel="C0GENERAL", text="after a 503")["ok"]
    assert [c.status for c in fake.calls_to("chat.postMessage")] == [503, 503, 200]

    fake.inject("chat.postMessage", "server_error", status=500, times=1)
    with pytest.raises(SlackApiError) as failure:  # without a retry handler the HTML is an error
        client_for(fake).chat_postMessage(channel="C0GENERAL", text="no retry")
    assert failure.value.response.status_code == 500


def test_dropped_connection_is_retried_by_connection_error_handler(fake: FakeSlack) -> None:
    fake.inject("chat.postMessage", "drop", times=1)
    client = client_for(
        fake,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1, interval_calculator=QUICK)],
    )
    assert client.chat_postMessage(channel="C0GENERAL", text="after a drop")["ok"]
    assert [c.status for c in fake.calls_to("chat.postMessage")] == [0, 200]
    assert len(fake.messages("C0GENERAL")) == 1  # the dropped call did not take effect


def test_drop_after_commit_delivers_but_loses_the_answer(fake: FakeSlack) -> None:
    fake.inject("chat.postMessage", "drop", commit=True)
    with pytest.raises((ConnectionError, URLError)):
        client_for(fake).chat_postMessage(channel="U0ALICE", text="maybe delivered")
    assert [m["text"] for m in fake.dm_messages("U0ALICE")] == ["maybe delivered"]


def test_slow_answer_times_out_then_retry_succeeds(fake: FakeSlack) -> None:
    # An answer a minute late against a one-second timeout: no machine is that slow.
    fake.inject("chat.postMessage", "slow", seconds=60)
    with pytest.raises((TimeoutError, URLError)):
        client_for(fake, timeout=1).chat_postMessage(channel="C0GENERAL", text="slow")
    assert client_for(fake).chat_postMessage(channel="C0GENERAL", text="again")["ok"]
    # Slack carried the slow call out: a client that retries after a timeout
    # has posted twice. That is exactly what an idempotent bot must handle.
    assert [m["text"] for m in fake.messages("C0GENERAL")] == ["slow", "again"]
    assert fake.faults_log == [("chat.postMessage", "slow")]


def test_ok_false_injection_and_random_faults_are_counted(fake: FakeSlack) -> None:
    fake.inject("users.info", "ok_false", error="user_not_found", times=2)
    client = client_for(fake)
    for _ in range(2):
        with pytest.raises(SlackApiError) as failure:
            client.users_info(user="U0ALICE")
        assert failure.value.response["error"] == "user_not_found"
    assert client.users_info(user="U0ALICE")["ok"]

    def outcomes(seed: int) -> list[str]:
        with FakeSlack() as other:
            other.inject_random(
                "auth.test",
                share=0.5,
                kinds=["ok_false", "server_error"],
                seed=seed,
                error="fatal_error",
            )
            results = []
            for _ in range(12):
                status, _, body = raw_post(other.base_url + "auth.test", b"", bearer(other))
                results.append(f"{status}:{body[:20].decode()}")
            assert (
                other.faults_served
                == len(other.faults_log)
                == sum(1 for c in other.calls if c.fault)
            )
            return results

    assert outcomes(seed=7) == outcomes(seed=7)  # seeded: reproducible
    assert outcomes(seed=7) != outcomes(seed=8)
    fake.clear_faults()


# -- views and triggers -------------------------------------------------------

MODAL = {"type": "modal", "title": {"type": "plain_text", "text": "Hi"}, "blocks": []}


def test_trigger_id_works_once_and_expires_after_3_seconds(
    timed_fake: FakeSlack, manual_clock: ManualClock
) -> None:
    client = client_for(timed_fake)
    trigger = timed_fake.issue_trigger_id("U0ALICE")
    view = client.views_open(trigger_id=trigger, view=MODAL)["view"]
    assert view["id"].startswith("V") and view["hash"]
    with pytest.raises(SlackApiError, match="exchanged_trigger_id"):
        client.views_open(trigger_id=trigger, view=MODAL)

    fresh = timed_fake.issue_trigger_id("U0ALICE")
    manual_clock.advance(2.9)
    assert client.views_open(trigger_id=fresh, view=MODAL)["ok"]
    late = timed_fake.issue_trigger_id("U0ALICE")
    manual_clock.advance(3.1)
    with pytest.raises(SlackApiError, match="expired_trigger_id"):
        client.views_open(trigger_id=late, view=MODAL)
    with pytest.raises(SlackApiError, match="invalid_trigger_id"):
        client.views_open(trigger_id="123.456.abc", view=MODAL)


def test_views_update_push_publish(fake: FakeSlack, client: WebClient) -> None:
    opened = client.views_open(
        trigger_id=fake.issue_trigger_id("U0ALICE"), view={**MODAL, "external_id": "ext-1"}
    )["view"]
    with pytest.raises(SlackApiError, match="hash_conflict"):
        client.views_update(view_id=opened["id"], hash="1.stale", view=MODAL)
    updated = client.views_update(
        view_id=opened["id"], hash=opened["hash"], view={**MODAL, "private_metadata": "v2"}
    )
    assert updated["view"]["id"] == opened["id"] and updated["view"]["hash"] != opened["hash"]
    by_external = client.views_update(
        external_id="ext-1", view={**MODAL, "external_id": "ext-1", "callback_id": "c"}
    )
    assert fake.view(opened["id"]) == by_external["view"]

    for _ in range(2):
        client.views_push(
            trigger_id=fake.issue_trigger_id("U0ALICE", view_id=opened["id"]), view=MODAL
        )
    with pytest.raises(SlackApiError, match="push_limit_reached"):
        client.views_push(
            trigger_id=fake.issue_trigger_id("U0ALICE", view_id=opened["id"]), view=MODAL
        )

    with pytest.raises(SlackApiError, match="invalid_arguments"):
        client.views_open(
            trigger_id=fake.issue_trigger_id("U0ALICE"),
            view={**MODAL, "title": {"type": "plain_text", "text": "x" * 25}},
        )

    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Your nudges"}}],
    }
    first = client.views_publish(user_id="U0ALICE", view=home)["view"]
    second = client.views_publish(user_id="U0ALICE", view=home, hash=first["hash"])["view"]
    assert first["id"] == second["id"]
    stored = fake.home_view("U0ALICE")
    assert stored is not None and stored["blocks"][0]["text"]["text"] == "Your nudges"
    assert fake.home_view("U0BOB") is None


def _form(**element: Any) -> dict[str, Any]:
    text_input = {"type": "plain_text_input", "action_id": "value", **element}
    block = {
        "type": "input",
        "block_id": "goal",
        "label": {"type": "plain_text", "text": "Goal"},
        "element": text_input,
    }
    return {**MODAL, "submit": {"type": "plain_text", "text": "Send"}, "blocks": [block]}


@pytest.mark.parametrize(
    ("element", "problem"),
    [
        ({"max_length": 10, "initial_value": "x" * 11}, "initial_value: must be less than 11"),
        ({"initial_value": "x" * 3001}, "initial_value: must be less than 3001"),
        ({"max_length": 3001}, "max_length: must be between 1 and 3000"),
        ({"min_length": 20, "max_length": 10}, "min_length: must be less than or equal"),
        (
            {"placeholder": {"type": "plain_text", "text": "p" * 151}},
            "placeholder/text: must be less than 151",
        ),
    ],
)
def test_views_over_an_input_limit_are_refused_like_slack(
    fake: FakeSlack, client: WebClient, element: dict[str, Any], problem: str
) -> None:
    opened = client.views_open(
        trigger_id=fake.issue_trigger_id("U0ALICE"), view=_form(max_length=10)
    )["view"]
    attempts = {
        "views.open": lambda v: client.views_open(
            trigger_id=fake.issue_trigger_id("U0ALICE"), view=v
        ),
        "views.update": lambda v: client.views_update(view_id=opened["id"], view=v),
        "views.push": lambda v: client.views_push(
            trigger_id=fake.issue_trigger_id("U0ALICE", view_id=opened["id"]), view=v
        ),
    }
    for method, attempt in attempts.items():
        with pytest.raises(SlackApiError) as refused:
            attempt(_form(**element))
        answer = refused.value.response.data
        assert answer["ok"] is False and answer["error"] == "invalid_arguments", method
        messages = " ".join(answer["response_metadata"]["messages"])
        where = messages.split("[json-pointer:")[1]
        assert "/view/blocks/0/element/" in where, messages
        assert problem.split(":")[0] in where and problem.split(": ")[1] in messages, messages
    home = {"type": "home", "blocks": _form(**element)["blocks"]}
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        client.views_publish(user_id="U0ALICE", view=home)
    # The same input within its limits is accepted.
    assert client.views_open(
        trigger_id=fake.issue_trigger_id("U0ALICE"),
        view=_form(max_length=10, initial_value="x" * 10),
    )["ok"]


def test_checkbox_options_are_held_to_slacks_limits(fake: FakeSlack, client: WebClient) -> None:
    def checkboxes(count: int, text: str = "Item") -> dict[str, Any]:
        options = [
            {"text": {"type": "plain_text", "text": text}, "value": str(n)} for n in range(count)
        ]
        element = {"type": "checkboxes", "action_id": "c", "options": options}
        return {"type": "actions", "elements": [element]}

    assert client.chat_postMessage(channel="U0ALICE", text="t", blocks=[checkboxes(10)])["ok"]
    with pytest.raises(SlackApiError, match="invalid_blocks") as refused:
        client.chat_postMessage(channel="U0ALICE", text="t", blocks=[checkboxes(11)])
    assert "no more than 10" in str(refused.value.response.data["response_metadata"])
    with pytest.raises(SlackApiError, match="invalid_blocks"):
        client.chat_postMessage(channel="U0ALICE", text="t", blocks=[checkboxes(2, "x" * 76)])


# -- reads: history, pagination -----------------------------------------------


def test_history_returns_metadata_newest_first_and_paginates(timed_fake: FakeSlack) -> None:
    client = client_for(timed_fake)
    posted = [
        client.chat_postMessage(
            channel="U0ALICE",
            text=f"nudge {i}",
            metadata={"event_type": "nudge_delivered", "event_payload": {"delivery": i}},
        )["ts"]
        for i in range(5)
    ]
    # The clock stood still, yet every ts is unique and increasing.
    assert posted == sorted(posted, key=float) and len(set(posted)) == 5
    channel = timed_fake.dm_channel_id("U0ALICE")

    seen: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        page = client.conversations_history(
            channel=channel, limit=2, cursor=cursor, include_all_metadata=True
        )
        pages += 1
        seen.extend(page["messages"])
        cursor = page["response_metadata"]["next_cursor"]
        assert page["has_more"] == bool(cursor)
        if not cursor:
            break
    assert pages == 3
    assert [m["ts"] for m in seen] == list(reversed(posted))
    assert [m["metadata"]["event_payload"]["delivery"] for m in seen] == [4, 3, 2, 1, 0]

    plain = client.conversations_history(channel=channel)["messages"]
    assert all("metadata" not in m for m in plain)
    window = client.conversations_history(channel=channel, oldest=posted[1], latest=posted[3])[
        "messages"
    ]
    assert [m["ts"] for m in window] == [posted[2]]  # both ends exclusive by default
    inclusive = client.conversations_history(
        channel=channel, oldest=posted[1], latest=posted[3], inclusive=True
    )
    assert len(inclusive["messages"]) == 3
    with pytest.raises(SlackApiError, match="invalid_cursor"):
        client.conversations_history(channel=channel, cursor="bm9wZQ==")


def test_users_list_and_members_paginate(fake: FakeSlack, client: WebClient) -> None:
    for n in range(5):
        fake.add_user(f"U0P{n}", name=f"person{n}")
    ids: list[str] = []
    pages = 0
    for page in client.users_list(limit=2):  # slack_sdk follows next_cursor itself
        pages += 1
        assert len(page["members"]) <= 2
        ids.extend(m["id"] for m in page["members"])
    expected = ["USLACKBOT", fake.bot_user_id, "U0ALICE", "U0BOB", *(f"U0P{n}" for n in range(5))]
    assert ids == expected and pages == 5
    bot = client.users_info(user=fake.bot_user_id)["user"]
    assert bot["is_bot"] is True

    fake.add_members("C0GENERAL", *(f"U0P{n}" for n in range(5)))
    members = [
        m
        for page in client.conversations_members(channel="C0GENERAL", limit=3)
        for m in page["members"]
    ]
    assert members == fake.channel_members("C0GENERAL") and len(members) == 8


def test_users_info_shape(fake: FakeSlack, client: WebClient) -> None:
    user = client.users_info(user="U0ALICE", include_locale=True)["user"]
    assert (user["tz"], user["locale"], user["profile"]["email"]) == (
        "Europe/Sofia",
        "bg-BG",
        "alice@example.com",
    )
    assert user["tz_offset"] in (7200, 10800)  # EET or EEST, depending on the date
    assert "locale" not in client.users_info(user="U0ALICE")["user"]
    with pytest.raises(SlackApiError, match="user_not_found"):
        client.users_info(user="U0NOBODY")


# -- rate limiting ------------------------------------------------------------


def test_rate_limiter_answers_429_with_retry_after_on_a_burst(
    timed_fake: FakeSlack, manual_clock: ManualClock
) -> None:
    timed_fake.set_rate_limit(per_channel_per_second=1.0, channel_burst=2)
    client = client_for(timed_fake)
    outcomes: list[str] = []
    for i in range(5):
        try:
            client.chat_postMessage(channel="C0GENERAL", text=f"burst {i}")
            outcomes.append("ok")
        except SlackApiError as exc:
            assert exc.response.status_code == 429
            assert exc.response.headers["Retry-After"] == "1"
            assert exc.response["error"] == "ratelimited"
            outcomes.append("429")
    assert outcomes == ["ok", "ok", "429", "429", "429"]
    assert timed_fake.rate_limited_count == 3
    assert len(timed_fake.messages("C0GENERAL")) == 2

    assert client.chat_postMessage(channel="U0BOB", text="another channel has its own bucket")["ok"]
    manual_clock.advance(1.0)
    assert client.chat_postMessage(channel="C0GENERAL", text="one second later")["ok"]

    timed_fake.set_rate_limit(per_channel_per_second=0.25, channel_burst=1)
    client.chat_postMessage(channel="C0GENERAL", text="first")
    with pytest.raises(SlackApiError) as failure:
        client.chat_postMessage(channel="C0GENERAL", text="too soon")
    assert failure.value.response.headers["Retry-After"] == "4"  # 1 token / 0.25 per second

    timed_fake.set_rate_limit(None)
    for i in range(5):
        assert client.chat_postMessage(channel="C0GENERAL", text=f"unlimited {i}")["ok"]


def test_workspace_rate_limit_spans_channels(timed_fake: FakeSlack) -> None:
    timed_fake.set_rate_limit(
        per_channel_per_second=None, workspace_per_minute=60, workspace_burst=2
    )
    client = client_for(timed_fake)
    client.chat_postMessage(channel="C0GENERAL", text="a")
    client.chat_postMessage(channel="U0ALICE", text="b")
    with pytest.raises(SlackApiError, match="ratelimited"):
        client.chat_postMessage(channel="U0BOB", text="c")


# -- the rest of the Web API surface ------------------------------------------


def test_auth_and_unknown_method(fake: FakeSlack) -> None:
    assert json.loads(raw_post(fake.base_url + "auth.test")[2]) == {
        "ok": False,
        "error": "not_authed",
    }
    bad = {"Authorization": "Bearer xoxb-wrong"}
    assert json.loads(raw_post(fake.base_url + "auth.test", b"", bad)[2])["error"] == "invalid_auth"
    form_token = raw_post(
        fake.base_url + "auth.test",
        f"token={fake.bot_token}".encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert json.loads(form_token[2])["user_id"] == fake.bot_user_id
    status, _, body = raw_post(fake.base_url + "no.such.method", b"", bearer(fake))
    assert (status, json.loads(body)) == (200, {"ok": False, "error": "unknown_method"})
    fake.revoke_token(fake.bot_token)
    assert (
        json.loads(raw_post(fake.base_url + "auth.test", b"", bearer(fake))[2])["error"]
        == "token_revoked"
    )


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_chat_methods(fake: FakeSlack, client: WebClient) -> None:
    sent = client.chat_postMessage(
        channel="C0GENERAL", text="hello", metadata={"event_type": "x", "event_payload": {}}
    )
    assert sent["message"]["metadata"]["event_type"] == "x"
    reply = client.chat_postMessage(channel="C0GENERAL", text="in thread", thread_ts=sent["ts"])
    thread = client.conversations_replies(channel="C0GENERAL", ts=sent["ts"])["messages"]
    assert [m["ts"] for m in thread] == [sent["ts"], reply["ts"]] and thread[0]["reply_count"] == 1
    assert [m["ts"] for m in client.conversations_history(channel="C0GENERAL")["messages"]] == [
        sent["ts"]
    ]

    updated = client.chat_update(channel="C0GENERAL", ts=sent["ts"], text="hello again")
    assert (
        updated["text"] == "hello again"
        and fake.messages("C0GENERAL")[0]["edited"]["user"] == fake.bot_user_id
    )
    with pytest.raises(SlackApiError, match="message_not_found"):
        client.chat_update(channel="C0GENERAL", ts="1.000000", text="x")
    human = fake.add_message("C0GENERAL", user="U0BOB", text="mine")
    with pytest.raises(SlackApiError, match="cant_update_message"):
        client.chat_update(channel="C0GENERAL", ts=human, text="x")

    ephemeral = client.chat_postEphemeral(channel="C0GENERAL", user="U0BOB", text="just you")
    assert (
        fake.ephemerals[0]["message_ts"] == ephemeral["message_ts"]
        and fake.ephemerals[0]["user"] == "U0BOB"
    )
    assert all(m["text"] != "just you" for m in fake.messages("C0GENERAL"))

    link = client.chat_getPermalink(channel="C0GENERAL", message_ts=sent["ts"])["permalink"]
    assert link.endswith("/archives/C0GENERAL/p" + sent["ts"].replace(".", ""))
    client.pins_add(channel="C0GENERAL", timestamp=sent["ts"])
    with pytest.raises(SlackApiError, match="already_pinned"):
        client.pins_add(channel="C0GENERAL", timestamp=sent["ts"])
    client.reactions_add(channel="C0GENERAL", timestamp=sent["ts"], name="white_check_mark")
    assert fake.message("C0GENERAL", sent["ts"])["reactions"][0]["count"] == 1  # type: ignore[index]

    client.chat_delete(channel="C0GENERAL", ts=sent["ts"])
    assert fake.message("C0GENERAL", sent["ts"]) is None
    with pytest.raises(SlackApiError, match="thread_not_found"):  # the parent is gone
        client.chat_postMessage(channel="C0GENERAL", text="late reply", thread_ts=sent["ts"])

    refused: list[tuple[dict[str, Any], str]] = [
        ({"channel": "C0NOPE", "text": "x"}, "channel_not_found"),
        ({"channel": "C0GENERAL"}, "no_text"),
        (
            {
                "channel": "C0GENERAL",
                "text": "fallback",
                "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}],
            },
            "invalid_blocks",
        ),
        (
            {"channel": "C0GENERAL", "text": "x", "metadata": {"event_payload": {}}},
            "invalid_metadata_format",
        ),
        ({"channel": fake.bot_user_id, "text": "x"}, "cannot_dm_bot"),
    ]
    for bad, error in refused:
        with pytest.raises(SlackApiError, match=error):
            client.chat_postMessage(**bad)


def test_conversations_users_dnd_usergroups(fake: FakeSlack, client: WebClient) -> None:
    opened = client.conversations_open(users="U0BOB")
    assert opened["channel"]["id"] == fake.dm_channel_id("U0BOB") and "already_open" not in opened
    assert client.conversations_open(users="U0BOB")["already_open"] is True
    client.chat_postMessage(channel="U0BOB", text="via user id")
    assert fake.dm_messages("U0BOB")[0]["text"] == "via user id"

    fake.add_channel("C0QUIET", name="quiet", bot_member=False)
    with pytest.raises(SlackApiError, match="not_in_channel"):
        client.chat_postMessage(channel="C0QUIET", text="x")
    assert client.conversations_join(channel="C0QUIET")["channel"]["is_member"] is True
    info = client.conversations_info(channel="C0GENERAL", include_num_members=True)["channel"]
    assert (info["name"], info["num_members"], info["is_member"]) == ("general", 3, True)

    fake.update_user("U0BOB", deleted=True)
    assert client.users_info(user="U0BOB")["user"]["deleted"] is True
    # Slack still accepts a post to a deactivated person's DM: the bot must check.
    assert client.chat_postMessage(channel="U0BOB", text="into the void")["ok"]

    fake.add_usergroup("S0LEADS", handle="leads", users=["U0ALICE"])
    assert client.usergroups_users_list(usergroup="S0LEADS")["users"] == ["U0ALICE"]
    with pytest.raises(SlackApiError, match="no_such_subteam"):
        client.usergroups_users_list(usergroup="S0NONE")

    fake.set_dnd(
        "U0ALICE",
        enabled=True,
        next_start_ts=100,
        next_end_ts=200,
        snooze_endtime=int(time.time()) + 600,
    )
    dnd = client.dnd_info(user="U0ALICE")
    assert (dnd["dnd_enabled"], dnd["next_dnd_start_ts"], dnd["next_dnd_end_ts"]) == (
        True,
        100,
        200,
    )
    assert "snooze_enabled" not in dnd  # snooze_* only for the caller's own status
    assert client.dnd_info()["snooze_enabled"] is False


def test_file_upload_v2_with_a_png(fake: FakeSlack, client: WebClient) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
    result = client.files_upload_v2(
        channel="C0GENERAL",
        content=png,
        filename="progress.png",
        title="Progress",
        initial_comment="Your week",
    )
    file = result["file"]
    assert (file["mimetype"], file["size"], file["title"]) == ("image/png", len(png), "Progress")
    assert fake.uploaded_files[file["id"]] == png
    (shared,) = fake.messages("C0GENERAL")
    assert shared["text"] == "Your week" and shared["files"][0]["id"] == file["id"]
    assert [c.method for c in fake.calls] == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]


def test_response_url_posts_are_recorded_and_limited(fake: FakeSlack, client: WebClient) -> None:
    sent = client.chat_postMessage(channel="C0GENERAL", text="original")
    url = fake.new_response_url(channel_id="C0GENERAL", message_ts=sent["ts"], user_id="U0BOB")
    headers = {"Content-Type": "application/json"}
    status, _, body = raw_post(
        url, json.dumps({"replace_original": True, "text": "replaced"}).encode(), headers
    )
    assert (status, body) == (200, b"ok")
    assert fake.message("C0GENERAL", sent["ts"])["text"] == "replaced"  # type: ignore[index]
    for n in range(4):
        raw_post(url, json.dumps({"text": f"ephemeral {n}"}).encode(), headers)
    assert [e["text"] for e in fake.ephemerals] == [f"ephemeral {n}" for n in range(4)]
    assert raw_post(url, json.dumps({"text": "sixth"}).encode(), headers)[:3:2] == (
        404,
        b"used_url",
    )
    assert len(fake.response_url_posts) == 5
    assert fake.response_url_posts[0]["payload"] == {"replace_original": True, "text": "replaced"}


# -- robustness ---------------------------------------------------------------


def test_handler_exception_answers_500_json(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(api: Any, call: Any) -> dict[str, Any]:
        raise RuntimeError("bug in the fake")

    monkeypatch.setitem(fake_webapi._HANDLERS, "auth.test", boom)
    with FakeSlack() as server:
        status, _, body = raw_post(server.base_url + "auth.test", b"", bearer(server))
        assert status == 500 and json.loads(body)["error"] == "fake_internal_error"
        assert "bug in the fake" in server.handler_errors[0]
        monkeypatch.undo()
        assert raw_post(server.base_url + "auth.test", b"", bearer(server))[0] == 200


def test_stop_is_prompt_and_leaves_no_threads() -> None:
    server = FakeSlack().start()
    server.inject("auth.test", "slow", seconds=3600)  # waited out, the test could not end
    caller = threading.Thread(
        target=lambda: raw_post(server.base_url + "auth.test", b"", bearer(server)), daemon=True
    )
    caller.start()
    deadline = time.monotonic() + 5
    while not server.calls and time.monotonic() < deadline:
        time.sleep(0.01)
    server.stop()
    server.stop()  # idempotent
    caller.join(timeout=120)  # a bound for a hung test only: an hour's wait is what it catches
    assert not caller.is_alive()  # the slow handler was woken, not waited out
    assert not [t for t in threading.enumerate() if t.name == "fakeslack"]
    with pytest.raises(RuntimeError):
        _ = server.base_url


# -- several teams, oauth.v2.access and token rotation ------------------------------


def test_teams_keep_their_own_users_channels_and_dms(fake: FakeSlack) -> None:
    other = fake.add_team("T0OTHER", team_name="Other Co")
    other.add_user("U0ALICE", name="alice-at-other", tz="Asia/Tokyo")
    other.add_token("xoxb-other", user_id=other.bot_user_id, bot_id=other.bot_id)

    mine = client_for(fake)
    theirs = WebClient(base_url=fake.base_url, token="xoxb-other", retry_handlers=[])
    assert theirs.auth_test()["team_id"] == "T0OTHER"
    assert mine.users_info(user="U0ALICE")["user"]["tz"] == "Europe/Sofia"
    assert theirs.users_info(user="U0ALICE")["user"]["tz"] == "Asia/Tokyo"
    with pytest.raises(SlackApiError, match="user_not_found"):
        theirs.users_info(user="U0BOB")  # Bob is in the first team only
    with pytest.raises(SlackApiError, match="channel_not_found"):
        theirs.chat_postMessage(channel="C0GENERAL", text="not here")

    theirs.chat_postMessage(channel="U0ALICE", text="hello from Other Co")
    assert [m["text"] for m in other.dm_messages("U0ALICE")] == ["hello from Other Co"]
    assert fake.dm_messages("U0ALICE") == []  # same user id, other workspace: nothing
    assert fake.token_team("xoxb-other") == "T0OTHER"
    assert sorted(fake.team_ids) == ["T0OTHER", "T0TEST"]


def test_oauth_code_exchange_and_refresh_rotate_the_bot_token(
    timed_fake: FakeSlack, manual_clock: ManualClock
) -> None:
    timed_fake.set_oauth_app("111.222", "s3cret", expires_in=3600, scopes="chat:write")
    team = timed_fake.add_team("T0NEW")
    code = team.authorize("T0NEW", user_id="U0ADMIN")
    anon = WebClient(base_url=timed_fake.base_url, retry_handlers=[])

    with pytest.raises(SlackApiError, match="bad_client_secret"):
        anon.oauth_v2_access(client_id="111.222", client_secret="wrong", code=code)
    first = anon.oauth_v2_access(client_id="111.222", client_secret="s3cret", code=code)
    assert (first["team"]["id"], first["authed_user"]["id"], first["token_type"]) == (
        "T0NEW",
        "U0ADMIN",
        "bot",
    )
    assert first["expires_in"] == 3600 and first["access_token"].startswith("xoxe.xoxb-")
    with pytest.raises(SlackApiError, match="invalid_code"):  # a code works once
        anon.oauth_v2_access(client_id="111.222", client_secret="s3cret", code=code)

    token = first["access_token"]
    bot = WebClient(base_url=timed_fake.base_url, token=token, retry_handlers=[])
    assert bot.auth_test()["team_id"] == "T0NEW"

    second = anon.oauth_v2_access(
        client_id="111.222",
        client_secret="s3cret",
        grant_type="refresh_token",
        refresh_token=first["refresh_token"],
    )
    assert second["access_token"] != token and second["refresh_token"] != first["refresh_token"]
    assert timed_fake.tokens_of("T0NEW") == [token, second["access_token"]]
    with pytest.raises(SlackApiError, match="invalid_refresh_token"):  # used up
        anon.oauth_v2_access(
            client_id="111.222",
            client_secret="s3cret",
            grant_type="refresh_token",
            refresh_token=first["refresh_token"],
        )

    manual_clock.advance(3600)
    with pytest.raises(SlackApiError, match="token_expired"):
        bot.auth_test()
    timed_fake.expire_token(second["access_token"])
    with pytest.raises(SlackApiError, match="token_expired"):
        WebClient(
            base_url=timed_fake.base_url, token=second["access_token"], retry_handlers=[]
        ).auth_test()


def test_a_code_expires_after_ten_minutes(timed_fake: FakeSlack, manual_clock: ManualClock) -> None:
    timed_fake.set_oauth_app("111.222", "s3cret", token_rotation=False)
    code = timed_fake.authorize("T0TEST", user_id="U0ALICE")
    manual_clock.advance(601)
    anon = WebClient(base_url=timed_fake.base_url, retry_handlers=[])
    with pytest.raises(SlackApiError, match="invalid_code"):
        anon.oauth_v2_access(client_id="111.222", client_secret="s3cret", code=code)
    fresh = anon.oauth_v2_access(
        client_id="111.222",
        client_secret="s3cret",
        code=timed_fake.authorize("T0TEST", user_id="U0ALICE"),
    )
    # Without rotation: a plain, non-expiring bot token and no refresh token.
    assert fresh["access_token"].startswith("xoxb-") and "refresh_token" not in fresh


# -- Workflow Builder custom steps (functions) ---------------------------------


def test_a_custom_step_runs_as_slack_documents_it(fake: FakeSlack, recorder: Recorder) -> None:
    """function_executed as Slack sends it; functions.completeSuccess/completeError
    with the errors of Slack's method reference, and the workflow token accepted."""
    definition = {
        "title": "Greet",
        "description": "Greets someone",
        "input_parameters": {
            "user_id": {"type": "slack#/types/user_id", "title": "User", "is_required": True}
        },
        "output_parameters": {
            "greeting_id": {"type": "integer", "title": "Id", "is_required": True},
            "note": {"type": "string", "title": "Note", "is_required": False},
        },
    }
    driver = SlackDriver(app_url=recorder.url, signing_secret=SECRET, fake=fake)
    sent = driver.function_executed("greet", {"user_id": "U0ALICE"}, function=definition)
    envelope = json.loads(recorder.requests[-1].body)
    assert envelope["type"] == "event_callback" and envelope["event_id"].startswith("Ev")
    event = envelope["event"]
    assert event["type"] == "function_executed"
    assert event["function"]["callback_id"] == "greet" and event["function"]["type"] == "app"
    assert event["function"]["input_parameters"][0]["name"] == "user_id"
    assert event["inputs"] == {"user_id": "U0ALICE"}
    assert event["function_execution_id"] == sent.function_execution_id
    assert event["workflow_execution_id"].startswith("Wx")
    assert event["bot_access_token"].startswith("xwfp-")
    headers = recorder.requests[-1].headers
    assert headers["X-Slack-Signature"] == slack_signature(
        SECRET, recorder.requests[-1].body, int(headers["X-Slack-Request-Timestamp"])
    )

    workflow = WebClient(base_url=fake.base_url, token=event["bot_access_token"])
    execution_id = str(sent.function_execution_id)
    for outputs, error in (
        ({}, "parameter_validation_failed"),  # greeting_id is required
        ({"greeting_id": "seven"}, "parameter_validation_failed"),
        ({"greeting_id": 7, "extra": 1}, "parameter_validation_failed"),
    ):
        with pytest.raises(SlackApiError) as refused:
            workflow.functions_completeSuccess(function_execution_id=execution_id, outputs=outputs)
        assert refused.value.response["error"] == error
    with pytest.raises(SlackApiError) as unknown:
        workflow.functions_completeSuccess(function_execution_id="Fx0NOPE", outputs={})
    assert unknown.value.response["error"] == "function_execution_not_found"

    workflow.functions_completeSuccess(
        function_execution_id=execution_id, outputs={"greeting_id": 7}
    )
    done = fake.function_execution(execution_id)
    assert done is not None and (done.state, done.outputs) == ("completed", {"greeting_id": 7})
    for again in (
        lambda: workflow.functions_completeSuccess(
            function_execution_id=execution_id, outputs={"greeting_id": 8}
        ),
        lambda: workflow.functions_completeError(function_execution_id=execution_id, error="x"),
    ):
        with pytest.raises(SlackApiError) as late:
            again()
        assert late.value.response["error"] == "execution_not_in_running_state"

    failing = driver.function_executed("greet", {"user_id": "U0ALICE"}, function=definition)
    bot = client_for(fake)
    with pytest.raises(SlackApiError) as empty:
        bot.functions_completeError(
            function_execution_id=str(failing.function_execution_id), error=""
        )
    assert empty.value.response["error"] == "invalid_arguments"
    bot.functions_completeError(
        function_execution_id=str(failing.function_execution_id), error="No such person"
    )
    failed = fake.function_execution(str(failing.function_execution_id))
    assert failed is not None and (failed.state, failed.error) == ("failed", "No such person")
