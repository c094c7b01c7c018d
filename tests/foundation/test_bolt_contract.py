"""What bot/slack/bolt.py relies on in slack-bolt, checked against the installed Bolt.

A failure here after a Bolt upgrade names what changed: adapt bot/slack/bolt.py
(read its docstring for why each workaround exists), then widen the pin of
slack-bolt in pyproject.toml.
"""

from __future__ import annotations

import inspect
import threading
import time
from typing import Any

import pytest
from slack_bolt import App, Args, BoltContext, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.context.ack import Ack
from slack_bolt.listener import Listener
from slack_bolt.listener.listener_start_handler import ListenerStartHandler
from slack_bolt.listener.thread_runner import ThreadListenerRunner
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.request import internals
from slack_sdk.oauth.installation_store import FileInstallationStore
from slack_sdk.oauth.state_store import FileOAuthStateStore

from bot.slack import bolt, install
from bot.slack.acks import acks_first
from tests.conftest import RunningBot

USER = "U0ALICE"


def _params(func: Any) -> list[str]:
    return [p for p in inspect.signature(func).parameters if p != "self"]


def _bare_app() -> App:
    return App(signing_secret="s", token="xoxb-contract", token_verification_enabled=False)


# -- attributes and signatures --------------------------------------------------------------------


def test_app_keeps_its_listener_runner_in_a_private_attribute() -> None:
    app = _bare_app()
    assert hasattr(app, "_listener_runner"), (
        "App._listener_runner is gone: bolt.replace_listener_runner cannot install early acks"
    )
    assert app.listener_runner is app._listener_runner, (
        "App.listener_runner no longer returns App._listener_runner"
    )
    assert isinstance(app.listener_runner, ThreadListenerRunner), (
        "App's listener runner is no longer a ThreadListenerRunner: EarlyAckRunner subclasses it"
    )


def test_the_thread_runner_is_rebuilt_from_the_fields_it_holds() -> None:
    runner = _bare_app().listener_runner
    init = _params(ThreadListenerRunner.__init__)
    for name in bolt.RUNNER_FIELDS:
        assert name in init, f"ThreadListenerRunner.__init__ lost the argument {name!r}"
        assert hasattr(runner, name), f"ThreadListenerRunner no longer keeps .{name}"
    missing = [
        p.name
        for p in inspect.signature(ThreadListenerRunner.__init__).parameters.values()
        if p.name != "self"
        and p.default is inspect.Parameter.empty
        and p.name not in bolt.RUNNER_FIELDS
    ]
    assert missing == [], f"ThreadListenerRunner.__init__ needs new arguments: {missing}"


def test_the_thread_runners_run_signature() -> None:
    expected = ["request", "response", "listener_name", "listener", "starting_time"]
    assert _params(ThreadListenerRunner.run) == expected, (
        "ThreadListenerRunner.run changed its arguments: EarlyAckRunner.run overrides it"
    )


def test_a_listener_keeps_the_function_it_was_registered_with() -> None:
    app = _bare_app()

    def handler(ack: Any) -> None:
        ack()

    app.command("/contract")(handler)
    assert hasattr(app, "_listeners"), "App._listeners is gone: bolt.listener_functions reads it"
    assert all(isinstance(x, Listener) for x in app._listeners)
    assert bolt.listener_functions(app) == [handler], (
        "Listener.ack_function no longer is the registered function: @acks_first marks are lost"
    )


def test_the_listener_start_hook() -> None:
    runner = _bare_app().listener_runner
    assert isinstance(runner.listener_start_handler, ListenerStartHandler), (
        "ThreadListenerRunner.listener_start_handler is no longer a ListenerStartHandler"
    )
    assert _params(ListenerStartHandler.handle) == ["request", "response"], (
        "ListenerStartHandler.handle changed its arguments: bolt.on_listener_start wraps it"
    )


def test_bolts_body_parser_and_context_builder() -> None:
    assert _params(internals.parse_body) == ["body", "content_type"], (
        "slack_bolt.request.internals.parse_body changed: web.py checks bodies with it"
    )
    assert _params(internals.build_context)[:2] == ["context", "body"], (
        "slack_bolt.request.internals.build_context changed: FormAwareHandler rebuilds contexts"
    )
    # Bolt reads any body starting with "{" as JSON, whatever its Content-Type.
    assert bolt.parse_body('{"type": "x"}', "application/x-www-form-urlencoded") == {"type": "x"}
    assert bolt.parse_body("payload=%7B%22a%22%3A1%7D", "application/x-www-form-urlencoded") == {
        "a": 1
    }, "parse_body no longer unwraps the payload= field of a form"
    context = internals.build_context(BoltContext(), {"team_id": "T1", "user_id": "U1"})
    assert (context.team_id, context.user_id) == ("T1", "U1")


def test_the_wsgi_handler_dispatches_a_request_we_build() -> None:
    assert _params(SlackRequestHandler.dispatch) == ["request"], (
        "SlackRequestHandler.dispatch changed: FormAwareHandler overrides it"
    )
    for name in ("get_body", "get_headers"):
        assert callable(getattr(WsgiHttpRequest, name, None)), f"WsgiHttpRequest.{name} is gone"
    request = WsgiHttpRequest({"REQUEST_METHOD": "GET", "QUERY_STRING": "a=1"})
    assert request.query_string == "a=1", "WsgiHttpRequest.query_string is gone"


def test_ack_keeps_its_answer_in_response() -> None:
    ack = Ack()
    assert ack.response is None, "Ack.response is no longer None before ack()"
    ack()
    assert isinstance(ack.response, BoltResponse), "ack() no longer sets Ack.response"
    kept = bolt.KeptAck()
    kept()
    kept.response = None
    assert kept.response is not None


def test_oauth_settings_expose_the_authorizes_token_rotator(tmp_path: Any) -> None:
    oauth = OAuthSettings(
        client_id="111.222",
        client_secret="secret",
        scopes=["chat:write"],
        installation_store=FileInstallationStore(base_dir=str(tmp_path / "i")),
        state_store=FileOAuthStateStore(expiration_seconds=60, base_dir=str(tmp_path / "s")),
    )
    assert hasattr(oauth, "authorize") and hasattr(oauth.authorize, "token_rotator"), (
        "OAuthSettings.authorize.token_rotator is gone: expiring tokens would be refreshed "
        "at slack.com instead of SLACK_API_URL"
    )
    rotator = object()
    bolt.set_token_rotator(oauth, rotator)  # type: ignore[arg-type]
    assert oauth.authorize.token_rotator is rotator


def test_listeners_may_take_bolts_args_object() -> None:
    # The router's listeners take `args` and inject by name from it.
    assert {"ack", "body", "client", "respond", "context", "command", "view", "event"} <= set(
        _params(Args.__init__)
    ), "Args lost an attribute the router injects"


# -- behavior on the real App, signed requests through the fake Slack -----------------------------


def test_an_acks_first_listener_is_answered_before_it_runs(bot: RunningBot) -> None:
    release = threading.Event()
    started = threading.Event()

    @acks_first
    def slow(command: dict[str, Any]) -> None:  # never calls ack() itself
        started.set()
        release.wait(10)

    bot.app.command("/contract-slow")(slow)
    try:
        response = bot.driver.slash_command("/contract-slow", user_id=USER, user_name="alice")
        assert response.status == 200 and response.elapsed < 2, (
            "an @acks_first listener was not acked before it ran: "
            f"HTTP {response.status} after {response.elapsed:.1f} s (EarlyAckRunner not in use?)"
        )
    finally:
        release.set()
    assert started.wait(5), "the early-acked listener never ran"


def test_the_listener_thread_knows_the_requests_workspace(bot: RunningBot) -> None:
    seen: list[str | None] = []

    def where(ack: Any) -> None:
        ack()
        seen.append(install.current_workspace())

    bot.app.command("/contract-where")(where)
    response = bot.driver.slash_command("/contract-where", user_id=USER, user_name="alice")
    assert response.status == 200
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        time.sleep(0.02)
    assert seen == [bot.fake.team_id], (
        "the listener start hook did not run in the listener's thread (bolt.on_listener_start)"
    )


def test_bolt_runs_only_the_first_matching_listener(bot: RunningBot) -> None:
    """Why the router fans events out behind one listener."""
    seen: list[str] = []
    bot.app.event("pin_added")(lambda event: seen.append("first"))
    bot.app.event("pin_added")(lambda event: seen.append("second"))
    event = {"type": "pin_added", "user": USER, "channel_id": "C0G", "event_ts": "1.1"}
    assert bot.driver.event(event).status == 200
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)
    assert seen == ["first"], (
        f"Bolt ran {seen} for one event: if it now runs every match, the router's fan-out "
        "may go (bot/slack/router.py)"
    )


def test_a_form_mentioning_payload_is_read_as_a_form(bot: RunningBot) -> None:
    def echo(ack: Any, command: dict[str, Any]) -> None:
        ack(f"you said: {command['text']}")

    bot.app.command("/contract-echo")(echo)
    response = bot.driver.slash_command(
        "/contract-echo", "payload please", user_id=USER, user_name="alice"
    )
    assert response.status == 200 and "you said: payload please" in response.body, (
        "a slash command whose text says 'payload' was not answered (FormAwareHandler)"
    )


def test_an_ack_given_before_a_failure_is_kept(bot: RunningBot) -> None:
    def ack_then_fail(ack: Any) -> None:
        ack()
        raise RuntimeError("after the ack")

    bot.app.command("/contract-fail")(ack_then_fail)
    response = bot.driver.slash_command("/contract-fail", user_id=USER, user_name="alice")
    assert response.acked_in_time, (
        f"HTTP {response.status} after {response.elapsed:.1f} s: Bolt wrote over the given ack "
        "(KeptAck)"
    )


@pytest.mark.parametrize("attr", ["installation_store", "listener_runner"])
def test_public_app_properties_we_read(attr: str) -> None:
    assert isinstance(getattr(type(_bare_app()), attr, None), property), f"App.{attr} is gone"
