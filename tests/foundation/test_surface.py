"""bot/surface.py is the whole Slack surface: the App listens to exactly what it lists,
the manifest declares exactly that, and person-facing errors are answered in one place
(bot/slack/router.py), through the fake Slack as Slack would see them."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.errors import FieldErrors, PermissionDenied, Refusal, UserError
from bot.services import Services
from bot.slack import bolt, router
from bot.slack.acks import acks_first
from bot.surface import surface
from tests.conftest import RunningBot

REPO = Path(__file__).resolve().parents[2]
USER = "U0ALICE"


def _manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "config/manifest.yml").read_text())
    return data


def _wait_for(check: Any, seconds: float = 5) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


# -- the listing -------------------------------------------------------------------------------


def test_every_bolt_listener_of_the_app_comes_from_the_surface(bot: RunningBot) -> None:
    routes = surface(bot.services, store=None).slack_routes
    expected = Counter(router.listener_name(r) for r in routes if r.kind != "event")
    expected.update({router.listener_name(r) for r in routes if r.kind == "event"})
    mounted = Counter(getattr(f, "__name__", repr(f)) for f in bolt.listener_functions(bot.app))
    assert mounted == expected


def test_one_event_type_is_one_listener_and_keeps_every_handler_listed(
    services: Services,
) -> None:
    routes = surface(services, store=None).slack_routes
    handlers: dict[str, int] = Counter()
    for route in routes:
        if route.kind == "event":
            handlers[route.name] += len(route.handlers)
    # A message can be a delivery trigger and a pre-mortem risk; Home opened both
    # renders Home and fires a trigger.
    assert handlers["message"] == 2
    assert handlers["app_home_opened"] == 2
    # user_change: one handler, which updates the directory then the Slack status.
    assert handlers["user_change"] == 1


def test_the_manifest_declares_exactly_the_surfaces_commands_and_events(bot: RunningBot) -> None:
    manifest = _manifest()
    routes = surface(bot.services, store=None).slack_routes
    commands = {r.name for r in routes if r.kind == "command"}
    events = {r.name for r in routes if r.kind == "event"}
    if any(r.kind == "function" for r in routes):  # custom steps: Bolt's app.function
        events.add("function_executed")
    declared_commands = {c["command"] for c in manifest["features"]["slash_commands"]}
    declared_events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert declared_commands == commands == bot.app.registered_commands
    assert {e.split(".")[0] for e in declared_events} == events == bot.app.registered_events


def test_every_tick_and_hook_of_the_process_is_the_surfaces(bot: RunningBot) -> None:
    found = surface(bot.services, store=None)
    names = [t.name for t in found.ticks]
    assert len(names) == len(set(names)), "two ticks with one name"
    assert [t.name for t in bot.services.ticks] == names
    assert all(t.seconds > 0 for t in found.ticks)
    assert set(bot.services.hooks) == set(found.hooks) == {"trigger", "metric"}


def test_no_slice_registers_itself() -> None:
    for path in (REPO / "bot").rglob("listeners.py"):
        text = path.read_text()
        assert "def register(" not in text, f"{path}: routes belong in bot/surface.py"
        assert "add_tick(" not in text and "add_hook(" not in text, path


# -- the one error handler ---------------------------------------------------------------------


def _mount(bot: RunningBot, *routes: router.Route) -> None:
    router.mount(bot.app, routes)


def test_a_user_error_in_a_command_is_an_ephemeral_reply(bot: RunningBot) -> None:
    @acks_first
    def refuse(ack: Any, command: dict[str, Any]) -> None:
        ack()
        raise UserError(f"no program called {command['text']!r}")

    _mount(bot, router.command("/refuse", refuse, explain=lambda e: f"Nothing changed: {e}."))
    response = bot.driver.slash_command("/refuse", "abc", user_id=USER, user_name="alice")
    assert response.status == 200 and response.acked_in_time
    posts = _wait_for(lambda: bot.fake.response_url_posts)
    assert posts, "the refusal never reached the person"
    payload = posts[-1]["payload"]
    assert payload["text"] == "Nothing changed: no program called 'abc'."
    assert payload["response_type"] == "ephemeral"


def test_a_refusal_before_the_ack_is_acked_then_explained(bot: RunningBot) -> None:
    def refuse(command: dict[str, Any]) -> None:
        raise PermissionDenied("only L&D leads can do this")

    _mount(bot, router.command("/refuse-early", refuse))
    response = bot.driver.slash_command("/refuse-early", user_id=USER, user_name="alice")
    assert response.status == 200 and response.acked_in_time
    posts = _wait_for(lambda: bot.fake.response_url_posts)
    assert posts and posts[-1]["payload"]["text"] == "only L&D leads can do this"


def test_a_field_error_in_a_view_submission_is_shown_on_its_block(bot: RunningBot) -> None:
    def submit(ack: Any, view: dict[str, Any]) -> None:
        raise FieldErrors({"due": "Pick a date in the future."})

    _mount(bot, router.view_submission("surface_test_form", submit))
    response = bot.driver.view_submission(
        user_id=USER, view_callback_id="surface_test_form", state_values={}
    )
    assert response.status == 200
    assert response.json() == {
        "response_action": "errors",
        "errors": {"due": "Pick a date in the future."},
    }


def test_a_user_error_in_a_view_submission_goes_on_the_routes_block(bot: RunningBot) -> None:
    def submit(ack: Any) -> None:
        raise UserError("that risk no longer exists")

    _mount(bot, router.view_submission("surface_test_risk", submit, error_block="risk"))
    response = bot.driver.view_submission(
        user_id=USER, view_callback_id="surface_test_risk", state_values={}
    )
    assert response.json() == {
        "response_action": "errors",
        "errors": {"risk": "that risk no longer exists"},
    }


def test_a_real_modal_refused_shows_the_refusal_on_its_field(bot: RunningBot) -> None:
    """A reflection for a nudge that does not exist: the proof service refuses, the
    router shows it on the modal's field (the route's error_block), worded by proof."""
    response = bot.driver.view_submission(
        user_id=USER,
        view_callback_id="proof_reflection",
        private_metadata=json.dumps({"delivery_id": 987654}),
        state_values={"answer": {"text": {"type": "plain_text_input", "value": "It went well"}}},
    )
    assert response.status == 200
    answer = response.json()
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == ["answer"]
    assert answer["errors"]["answer"].startswith("Not saved: ")


def test_a_real_command_refused_is_explained_with_its_help(bot: RunningBot) -> None:
    """/premortem in a DM is refused by the handler and worded by its route."""
    response = bot.driver.slash_command(
        "/premortem",
        "Launch the new onboarding",
        user_id=USER,
        user_name="alice",
        channel_id="D0ALICE",
        channel_name="directmessage",
    )
    assert response.status == 200
    posts = _wait_for(lambda: bot.fake.response_url_posts)
    assert posts, "the refusal never reached the person"
    text = posts[-1]["payload"]["text"]
    assert "direct message" in text and text.endswith("(`/premortem help` shows how)")


def test_an_unexpected_error_is_an_apology_and_a_log_line_without_the_payload(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "my private reflection about my manager"

    def broken(ack: Any, command: dict[str, Any]) -> None:
        ack()
        raise RuntimeError(command["text"])

    _mount(bot, router.command("/broken", broken))
    with caplog.at_level(logging.INFO):
        response = bot.driver.slash_command("/broken", secret, user_id=USER, user_name="alice")
        assert response.status == 200
        posts = _wait_for(lambda: bot.fake.response_url_posts)
    assert posts and posts[-1]["payload"]["text"].startswith("Sorry, something went wrong")
    assert any("listener failed: RuntimeError" in r.getMessage() for r in caplog.records)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert secret not in logged
    assert secret not in json.dumps(posts)


def test_a_refused_click_without_a_response_url_reaches_the_person_by_dm(
    bot: RunningBot,
) -> None:
    def refuse(ack: Any) -> None:
        ack()
        raise UserError("that program is archived")

    bot.fake.add_user(USER, name="alice")
    _mount(bot, router.action("surface_test_home_button", refuse))
    view = {"id": "V0HOME", "type": "home", "blocks": [], "callback_id": ""}
    response = bot.driver.block_actions(
        user_id=USER, actions=[{"action_id": "surface_test_home_button"}], view=view
    )
    assert response.status == 200
    dms = _wait_for(lambda: bot.fake.dm_messages(USER))
    assert dms and dms[-1]["text"] == "that program is archived"


def test_a_refusal_worded_in_full_is_shown_as_it_is(bot: RunningBot) -> None:
    def refuse(ack: Any) -> None:
        ack()
        raise Refusal("Only L&D leads can triage training requests.")

    _mount(bot, router.action("surface_test_refusal", refuse, explain=lambda e: f"Nope: {e}"))
    response = bot.driver.block_actions(
        user_id=USER, actions=[{"action_id": "surface_test_refusal"}], channel_id="C0GENERAL"
    )
    assert response.status == 200
    posts = _wait_for(lambda: bot.fake.response_url_posts)
    assert posts and posts[-1]["payload"]["text"] == "Only L&D leads can triage training requests."
