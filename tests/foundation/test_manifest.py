"""config/manifest.yml asks for exactly what the code uses: commands, events, scopes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app import NudgebotApp, build_app
from bot.services import Services
from tests.conftest import make_settings

REPO = Path(__file__).resolve().parents[2]

# Bot scope each Web API method needs (Slack's method reference). A method the
# code starts calling that is missing here fails the test until it is added.
METHOD_SCOPES: dict[str, set[str]] = {
    "auth.test": set(),
    "chat.postMessage": {"chat:write"},
    "chat.update": {"chat:write"},
    "chat.postEphemeral": {"chat:write"},
    "chat.delete": {"chat:write"},
    "chat.getPermalink": set(),
    "conversations.open": {"im:write"},
    "conversations.history": {"im:history"},
    "conversations.replies": {"channels:history"},
    "conversations.members": {"channels:read", "groups:read"},
    "conversations.info": {"channels:read", "groups:read"},
    "conversations.join": {"channels:join"},
    "users.info": {"users:read"},
    "users.list": {"users:read"},
    "users.profile.get": {"users.profile:read"},
    "usergroups.users.list": {"usergroups:read"},
    "views.open": set(),
    "views.update": set(),
    "views.push": set(),
    "views.publish": set(),
    "dnd.info": {"dnd:read"},
    "pins.add": {"pins:write"},
    "reactions.add": {"reactions:write"},
    "files.upload.v2": {"files:write"},
    "oauth.v2.access": set(),
}
# Bot scope each event subscription needs.
EVENT_SCOPES: dict[str, set[str]] = {
    "app_home_opened": set(),
    "member_joined_channel": {"channels:read"},
    "message.channels": {"channels:history"},
    "message.groups": {"groups:history"},
    "message.im": {"im:history"},
    "reaction_added": {"reactions:read"},
    "user_change": {"users:read"},
    "team_join": {"users:read"},
    "app_uninstalled": set(),
    "function_executed": set(),  # a run of one of the app's custom steps
    "tokens_revoked": set(),
}
_CALL = re.compile(
    r"\.((?:auth|chat|conversations|users|usergroups|views|dnd|pins|reactions|files|oauth)"
    r"_[A-Za-z0-9_]+)\("
)


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "config/manifest.yml").read_text())
    return data


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> NudgebotApp:
    db = tmp_path_factory.mktemp("manifest") / "m.db"
    settings = make_settings(database_url=f"sqlite:///{db}")
    return build_app(settings, services=Services.create(settings))


def _methods_called_by_the_code() -> set[str]:
    methods = set()
    for path in (REPO / "bot").rglob("*.py"):
        for name in _CALL.findall(path.read_text()):
            methods.add(name.replace("_", "."))
    return methods


def test_commands_match_both_ways(manifest: dict[str, Any], app: NudgebotApp) -> None:
    declared = {c["command"] for c in manifest["features"]["slash_commands"]}
    assert declared == app.registered_commands
    assert {"/intake", "/premortem", "/nudges"} <= declared


def test_events_match_both_ways(manifest: dict[str, Any], app: NudgebotApp) -> None:
    declared = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    # Bolt listens to "message"; Slack subscribes per conversation type.
    assert {e.split(".")[0] for e in declared} == app.registered_events


def test_custom_steps_match_both_ways_and_are_declared_as_slack_requires(
    manifest: dict[str, Any], app: NudgebotApp
) -> None:
    functions = manifest["functions"]
    assert set(functions) == app.registered_functions == {"send_nudge", "enroll_in_program"}
    # Custom steps need an org-ready app whose functions run on our server, and
    # come as function_executed events (listed as Slack's custom-step apps list it).
    assert manifest["settings"]["org_deploy_enabled"] is True
    assert manifest["settings"]["function_runtime"] == "remote"
    assert "function_executed" in manifest["settings"]["event_subscriptions"]["bot_events"]
    for callback_id, definition in functions.items():
        assert definition["title"] and definition["description"], callback_id
        for kind in ("input_parameters", "output_parameters"):
            for name, parameter in definition[kind].items():
                assert parameter["name"] == name, f"{callback_id}.{kind}.{name}"
                assert parameter["type"] and parameter["title"], f"{callback_id}.{kind}.{name}"
                assert isinstance(parameter["is_required"], bool)


def test_scopes_are_exactly_what_methods_and_events_need(manifest: dict[str, Any]) -> None:
    called = _methods_called_by_the_code()
    unknown = called - set(METHOD_SCOPES)
    assert unknown == set(), f"add these methods to METHOD_SCOPES: {sorted(unknown)}"
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    needed = {"commands"}
    needed |= {scope for method in called for scope in METHOD_SCOPES[method]}
    needed |= {scope for event in events for scope in EVENT_SCOPES[event]}
    if "users.info" in called or "users.list" in called:
        needed.add("users:read.email")  # the org import matches people by email
    declared = set(manifest["oauth_config"]["scopes"]["bot"])
    assert declared == needed


def test_socket_mode_interactivity_and_home_are_on(manifest: dict[str, Any]) -> None:
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["features"]["bot_user"]["always_online"] is True
