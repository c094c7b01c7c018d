"""Workspace installs: the slack_sdk stores on our migrated tables, two workspaces
kept apart, and uninstall stopping everything queued for a workspace."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_bolt import App, BoltRequest
from slack_bolt.oauth.callback_options import SuccessArgs
from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import MetaData, select
from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent
from bot.clock import FixedClock
from bot.content.models import Program, ProgramVersion
from bot.delivery import uninstall
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment
from bot.errors import ConfigError
from bot.people.models import Person
from bot.services import Services
from bot.settings import Settings
from bot.slack import install, oauth, tokens
from tests.conftest import RunningBot, make_settings
from tests.fakeslack import FakeSlack


def _oauth(settings: Settings, **more: Any) -> Settings:
    values = settings.model_dump() | {
        "install_mode": "oauth",
        "slack_client_id": "1111.2222",
        "slack_client_secret": "client-secret-0123456789",
    }
    values.pop("slack_signing_secret")
    values.pop("slack_bot_token")
    return make_settings(**(values | more))


def _shape(table: Any) -> tuple[Any, ...]:
    columns = tuple(
        (c.name, type(c.type).__name__, getattr(c.type, "length", None), c.nullable, c.primary_key)
        for c in table.columns
    )
    indexes = sorted((i.name, tuple(c.name for c in i.columns)) for i in table.indexes)
    return columns, tuple(indexes)


def test_our_tables_are_exactly_the_stores_tables() -> None:
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
    from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

    theirs = MetaData()
    expected = [
        SQLAlchemyInstallationStore.build_installations_table(theirs, "slack_installations"),
        SQLAlchemyInstallationStore.build_bots_table(theirs, "slack_bots"),
        SQLAlchemyOAuthStateStore.build_oauth_states_table(theirs, "slack_oauth_states"),
    ]
    assert [_shape(t) for t in install.STORE_TABLES] == [_shape(t) for t in expected]


def _people_with_nudges(session: Session, clock: FixedClock) -> dict[str, int]:
    now = clock.now()
    session.add(Program(id="feedback", title="Feedback", owner="ld"))
    session.flush()
    version = ProgramVersion(program_id="feedback", number=1, content_hash="h", content={})
    session.add(version)
    session.flush()
    ids = {}
    for team, user in (("T1", "U1"), ("T2", "U1"), ("T2", "U2")):
        person = Person(workspace_id=team, slack_user_id=user, name=user)
        session.add(person)
        session.flush()
        enrollment = Enrollment(
            person_id=person.id, program_id="feedback", program_version_id=version.id, starts_at=now
        )
        session.add(enrollment)
        session.flush()
        for n, status in enumerate(
            (DeliveryStatus.planned, DeliveryStatus.sending, DeliveryStatus.sent)
        ):
            session.add(
                Delivery(
                    enrollment_id=enrollment.id,
                    person_id=person.id,
                    step_id=f"s{n}",
                    status=status,
                    due_at=now + timedelta(hours=n),
                )
            )
        ids[f"{team}/{user}"] = person.id
    return ids


def _statuses(session: Session, person_id: int) -> list[str]:
    rows = session.scalars(
        select(Delivery.status).where(Delivery.person_id == person_id).order_by(Delivery.step_id)
    )
    return [str(s) for s in rows]


def _eventually(services: Services, person_id: int, expected: list[str]) -> None:
    """Events are acked first and handled on the listener pool: wait for the result."""
    deadline = time.monotonic() + 10
    while True:
        with services.session() as session:
            got = _statuses(session, person_id)
        if got == expected or time.monotonic() > deadline:
            assert got == expected
            return
        time.sleep(0.02)


def _bot(team: str, token: str) -> Installation:
    return Installation(
        app_id="A0NUDGE",
        team_id=team,
        team_name=f"Team {team}",
        user_id=f"U0INSTALLER{team}",
        bot_token=token,
        bot_id=f"B{team}",
        bot_user_id=f"UB{team}",
        bot_scopes=["chat:write"],
        bot_refresh_token=f"xoxe-1-{team}",
        bot_token_expires_at=int(time.time()) + 12 * 3600,
    )


def test_two_workspaces_uninstalling_one_stops_only_its_nudges(
    services: Services, clock: FixedClock, fake_slack: FakeSlack
) -> None:
    settings = _oauth(services.settings)
    services = Services.create(settings, clock=clock, engine=services.engine)
    store = install.installation_store_for(settings, services.engine)
    store.save(_bot("T1", "xoxb-t1-token"))
    store.save(_bot("T2", "xoxb-t2-token"))
    fake_slack.add_user("UBT2", name="nudgebot", is_bot=True)
    fake_slack.add_token("xoxb-t2-token", user_id="UBT2", bot_id="BT2")
    with services.session() as session:
        ids = _people_with_nudges(session, clock)

    result = uninstall.handle_uninstall(services, team_id="T1", store=store)

    assert (result.installation_removed, result.cancelled_deliveries) == (True, 2)
    with services.session() as session:
        assert _statuses(session, ids["T1/U1"]) == ["cancelled", "cancelled", "sent"]
        # Same Slack user id, other workspace: untouched.
        assert _statuses(session, ids["T2/U1"]) == ["planned", "sending", "sent"]
        event = session.scalars(select(AuditEvent)).one()
        assert (event.action, event.target, event.workspace_id) == (
            "install.remove",
            "workspace:T1",
            "T1",
        )
    assert tokens.workspace_client(settings, store, team_id="T1") is None
    client = tokens.workspace_client(settings, store, team_id="T2")
    assert client is not None and client.auth_test()["user_id"] == "UBT2"
    # Idempotent: Slack retries the event.
    again = uninstall.handle_uninstall(services, team_id="T1", store=store)
    assert (again.installation_removed, again.cancelled_deliveries) == (False, 0)


def test_uninstall_event_over_http_stops_sending(bot: RunningBot, clock: FixedClock) -> None:
    with bot.services.session() as session:
        ids = _people_with_nudges(session, clock)

    response = bot.driver.event({"type": "app_uninstalled"})
    assert response.status == 200

    # Single-workspace mode: everything in the database belongs to the one workspace.
    for person_id in ids.values():
        _eventually(bot.services, person_id, ["cancelled", "cancelled", "sent"])
    with bot.services.session() as session:
        assert session.scalars(select(AuditEvent.details)).one() == {
            "reason": "app_uninstalled",
            "cancelled_deliveries": 6,
        }


def test_revoked_user_tokens_are_not_an_uninstall(bot: RunningBot, clock: FixedClock) -> None:
    with bot.services.session() as session:
        ids = _people_with_nudges(session, clock)
    bot.driver.event({"type": "tokens_revoked", "tokens": {"oauth": ["U1"], "bot": []}})
    bot.driver.event({"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["UB1"]}})
    _eventually(bot.services, ids["T1/U1"], ["cancelled", "cancelled", "sent"])
    with bot.services.session() as session:
        # Only the second event (the bot's token) was an uninstall.
        assert session.scalars(select(AuditEvent.details)).all() == [
            {"reason": "tokens_revoked", "cancelled_deliveries": 6}
        ]


def test_oauth_install_page_issues_a_state_kept_in_our_database(services: Services) -> None:
    settings = _oauth(services.settings, slack_scopes="chat:write,im:history")
    oauth_settings = oauth.oauth_settings_for(settings, services.engine)
    app = App(signing_secret="test-signing-secret-0123456789abcdef", oauth_settings=oauth_settings)
    assert app.oauth_flow is not None

    response = app.oauth_flow.handle_installation(BoltRequest(body="", query="", headers={}))

    assert response.status == 200
    assert "client_id=1111.2222" in response.body and "scope=chat:write,im:history" in response.body
    with services.engine.connect() as conn:
        states = conn.execute(select(install.STATES_TABLE.c.state)).scalars().all()
    assert len(states) == 1 and states[0] in response.body
    assert oauth_settings.state_store.consume(states[0]) is True
    assert oauth_settings.state_store.consume(states[0]) is False  # a state works once


def test_scopes_come_from_the_manifest_unless_set(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yml"
    manifest.write_text(
        "oauth_config:\n  scopes:\n    bot:\n      - chat:write\n      - im:write\n"
    )
    assert oauth.bot_scopes(make_settings(), manifest) == ["chat:write", "im:write"]
    assert oauth.bot_scopes(make_settings(slack_scopes="chat:write,commands"), manifest) == [
        "chat:write",
        "commands",
    ]
    manifest.write_text("oauth_config:\n  scopes:\n    bot: [chat:write\n  x: : y\n")
    with pytest.raises(ConfigError, match=r"manifest.yml:\d+ cannot be read"):
        oauth.bot_scopes(make_settings(), manifest)
    with pytest.raises(ConfigError, match="SLACK_CLIENT_ID and SLACK_CLIENT_SECRET"):
        oauth.oauth_settings_for(make_settings(install_mode="oauth"), engine=None)  # type: ignore[arg-type]


def test_an_installation_is_audited_and_then_shows_bolts_success_page(
    services: Services, clock: FixedClock
) -> None:
    settings = _oauth(services.settings, slack_scopes="chat:write")
    services = Services.create(settings, clock=clock, engine=services.engine)
    app = App(signing_secret="s" * 32, **oauth.app_kwargs(settings, services))
    flow = app.oauth_flow
    assert flow is not None

    response = flow.success_handler(
        SuccessArgs(
            request=BoltRequest(body="", query="", headers={}),
            installation=_bot("T9", "xoxb-t9-token"),
            settings=flow.settings,
            default=flow.default_callback_options,
        )
    )

    assert response.status == 200 and "Thank you" in response.body
    with services.session() as session:
        event = session.scalars(select(AuditEvent)).one()
    assert (event.actor, event.action, event.target) == (
        "U0INSTALLERT9",
        "install.add",
        "workspace:T9",
    )
