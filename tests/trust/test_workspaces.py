"""Two workspaces on one Nudgebot (OAuth install mode): each installs through the real
OAuth flow, and nothing of one ever shows in, or is sent to, the other.

Both workspaces have a person with the same Slack user id (U0SAME) and a manager with
the same id (U0MGR); U0LEAD is an L&D lead in T1 only. Everything runs through the
HTTP fake of Slack: install pages, oauth.v2.access, slash commands, clicks, events.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from bot.cli import cli, main
from bot.clock import FixedClock
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment
from bot.delivery.planner import plan
from bot.delivery.sender import Sender
from bot.delivery.service import enroll
from bot.digest import blocks as digest_blocks
from bot.digest.impact import impact_brief
from bot.digest.jobs import send_due_digests
from bot.digest.models import MetricObservation
from bot.digest.team import team_members
from bot.intake.models import IntakeRequest, RequestStatus
from bot.people import directory
from bot.people.models import Person
from bot.people.service import apply_slack_users, import_org_text
from bot.premortem.blocks import NEXT_PHASE
from bot.premortem.models import Premortem
from bot.proof.blocks import SOMEONE_ELSE
from bot.proof.models import ProofEvent
from bot.services import Services
from bot.settings import Settings
from bot.slack import install
from tests.conftest import SIGNING_SECRET, RunningBot, make_settings
from tests.delivery.conftest import step, store_program
from tests.digest.conftest import METRIC_SECRET, signed_headers
from tests.fakeslack import FakeSlack, SlackDriver
from tests.intake.conftest import GOOD, eventually, open_form, submit

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "client-secret-0123456789"
TRIAGE = "C0TRIAGE"
SAME, MANAGER, LEAD = "U0SAME", "U0MGR", "U0LEAD"
# Thursday 26 Nov 2026 10:00 UTC (the suite's T0) and the next digest: Monday 30 Nov 09:00.
DIGEST_TIME = datetime(2026, 11, 30, 9, 5, tzinfo=UTC)

PEOPLE = {
    # team: (user id, name, role, manager)
    "T1": [
        (SAME, "ana", "employee", MANAGER),
        ("U0TOM", "tom", "employee", MANAGER),
        (MANAGER, "maria", "manager", ""),
        (LEAD, "lena", "ld_lead", ""),
    ],
    "T2": [
        (SAME, "sam", "employee", MANAGER),
        ("U0TINA", "tina", "employee", MANAGER),
        (MANAGER, "mike", "manager", ""),
        (LEAD, "leo", "employee", ""),  # the same id as T1's lead, but no lead here
        ("U0LEAD2", "lisa", "ld_lead", ""),
    ],
}
GOALS = {"T1": "Repeat calls 18% → 12% by Q3", "T2": "Churn 9% → 6% by Q4"}


@pytest.fixture
def settings(db_url: str, fake_slack: FakeSlack) -> Settings:
    fake_slack.set_oauth_app(CLIENT_ID, CLIENT_SECRET)
    for team, people in PEOPLE.items():
        handle = fake_slack.add_team(team, team_name=f"Company {team}")
        for user_id, name, _, _ in people:
            handle.add_user(user_id, name=name, email=f"{name}@{team.lower()}.example.com")
        handle.add_channel(TRIAGE, name="ld-triage", members=[u for u, *_ in people])
        handle.add_channel("C0GENERAL", name="general", members=[u for u, *_ in people])
    return make_settings(
        database_url=db_url,
        slack_api_url=fake_slack.base_url,
        slack_bot_token=None,
        install_mode="oauth",
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,
        slack_scopes="chat:write,im:write,users:read,commands",
        triage_channel=TRIAGE,
        privacy_min_group=2,
        metric_hook_secrets={"crm": METRIC_SECRET},
    )


@dataclass
class Workspaces:
    bot: RunningBot
    clock: FixedClock
    teams: dict[str, RunningBot]  # per team: a driver signing as that team, its fake handle
    install_tokens: dict[str, str]

    @property
    def services(self) -> Services:
        return self.bot.services

    def fake(self, team: str) -> FakeSlack:
        return self.teams[team].fake


def _get(url: str, cookie: str | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return (
            response.status,
            response.read().decode(),
            response.headers.get("Set-Cookie") or "",
        )


def install_via_oauth(bot: RunningBot, team: str, installer: str) -> str:
    """What an admin does: open /slack/install, approve in Slack, come back. The bot
    token Slack issued is returned."""
    status, page, cookie = _get(f"{bot.url}/slack/install")
    assert status == 200
    state = re.search(r"slack-app-oauth-state=([^;]+)", cookie)
    assert state is not None and f"state={state.group(1)}" in page
    code = bot.fake.authorize(team, user_id=installer)
    status, done, _ = _get(
        f"{bot.url}/slack/oauth_redirect?code={code}&state={state.group(1)}",
        cookie=f"slack-app-oauth-state={state.group(1)}",
    )
    assert status == 200 and "Thank you" in done
    (token,) = bot.fake.tokens_of(team)
    return token


def _org_csv(tmp_path: Path, team: str) -> Path:
    path = tmp_path / f"org-{team}.csv"
    rows = ["slack_user_id,email,manager_slack_user_id,team,role"]
    for user_id, name, role, manager in PEOPLE[team]:
        rows.append(f"{user_id},{name}@{team.lower()}.example.com,{manager},{team}-team,{role}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _cli(monkeypatch: pytest.MonkeyPatch, settings: Settings, *args: str) -> str:
    env = {
        "DATABASE_URL": settings.database_url,
        "SLACK_API_URL": settings.slack_api_url,
        "NUDGEBOT_INSTALL_MODE": "oauth",
        "SLACK_CLIENT_ID": CLIENT_ID,
        "SLACK_CLIENT_SECRET": CLIENT_SECRET,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


@pytest.fixture
def workspaces(
    bot: RunningBot,
    clock: FixedClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Workspaces]:
    teams = {}
    for team in PEOPLE:
        handle = bot.fake.team(team)
        driver = SlackDriver(
            app_url=f"{bot.url}/slack/events", signing_secret=SIGNING_SECRET, fake=handle
        )
        teams[team] = RunningBot(bot.url, bot.app, bot.services, driver, handle)
    tokens = {
        "T1": install_via_oauth(teams["T1"], "T1", "U0ADMIN1"),
        "T2": install_via_oauth(teams["T2"], "T2", "U0ADMIN2"),
    }
    settings = bot.services.settings
    synced = _cli(monkeypatch, settings, "people", "sync")
    for team in PEOPLE:
        _cli(
            monkeypatch,
            settings,
            "org",
            "import",
            str(_org_csv(tmp_path, team)),
            "--workspace",
            team,
        )
    assert "T1: synced 5 people" in synced and "T2: synced 6 people" in synced  # + the bot
    yield Workspaces(bot, clock, teams, tokens)


def _people(services: Services) -> dict[tuple[str, str], Person]:
    with services.session() as session:
        people = session.scalars(select(Person).where(Person.is_bot.is_(False)))
        return {(p.workspace_id, p.slack_user_id): p for p in people}


def _enroll(ws: Workspaces, team: str, *user_ids: str) -> None:
    with ws.services.session() as session:
        result = enroll(
            session,
            program_id="habit",
            user_ids=list(user_ids),
            starts_at=ws.clock.now(),
            enrolled_by=LEAD,
            source="test",
            now=ws.clock.now(),
            workspace_id=team,
        )
        assert result.enrolled == list(user_ids)
        people = [e for e in result.enrollment_ids]
        assert people
        ids = session.scalars(
            select(Person.id).where(Person.workspace_id == team, Person.slack_user_id.in_(user_ids))
        )
        plan(session, settings=ws.services.settings, now=ws.clock.now(), person_ids=list(ids))


def _nudges(fake: FakeSlack, user_id: str) -> list[dict[str, Any]]:
    return [
        m
        for m in fake.dm_messages(user_id)
        if (m.get("metadata") or {}).get("event_type") == "nudge_delivery"
    ]


# -- install, people, nudges ---------------------------------------------------------------------


def test_each_workspace_installs_syncs_its_people_and_gets_nudges_with_its_own_token(
    workspaces: Workspaces,
) -> None:
    ws = workspaces
    people = _people(ws.services)
    # The same Slack user id is two people, each with their own workspace's profile and role.
    assert people[("T1", SAME)].name == "ana" and people[("T2", SAME)].name == "sam"
    assert people[("T1", LEAD)].role == "ld_lead" and people[("T2", LEAD)].role == "employee"
    assert people[("T1", SAME)].manager_slack_user_id == MANAGER
    assert {w for w, _ in people} == {"T1", "T2"}

    with ws.services.session() as session:
        store_program(session, "habit", [step("hello", day=0)])
    _enroll(ws, "T1", SAME)
    _enroll(ws, "T2", SAME, "U0TINA")

    stats = Sender(ws.services).send_due()

    assert stats.sent == 3
    (t1,) = _nudges(ws.fake("T1"), SAME)
    (t2,) = _nudges(ws.fake("T2"), SAME)
    assert "Do hello now." in t1["text"] and "Do hello now." in t2["text"]
    assert len(_nudges(ws.fake("T2"), "U0TINA")) == 1
    assert _nudges(ws.fake("T1"), "U0TINA") == []  # Tina is not in T1 at all
    # Each DM went out with the bot token of its own workspace.
    posts = ws.bot.fake.calls_to("chat.postMessage")
    by_team = sorted(
        str(ws.bot.fake.token_team(str(c.headers.get("Authorization", ""))[7:])) for c in posts
    )
    assert by_team == ["T1", "T2", "T2"]
    with ws.services.session() as session:
        rows = session.execute(
            select(Person.workspace_id, Delivery.channel_id, Delivery.status).join(
                Person, Person.id == Delivery.person_id
            )
        ).all()
    assert sorted((w, c, str(s)) for w, c, s in rows) == sorted(
        [
            ("T1", ws.fake("T1").dm_channel_id(SAME), "sent"),
            ("T2", ws.fake("T2").dm_channel_id(SAME), "sent"),
            ("T2", ws.fake("T2").dm_channel_id("U0TINA"), "sent"),
        ]
    )


def test_a_click_on_a_nudge_counts_only_from_its_own_workspace(workspaces: Workspaces) -> None:
    ws = workspaces
    with ws.services.session() as session:
        store_program(session, "habit", [step("hello", day=0)])
    _enroll(ws, "T1", SAME)
    assert Sender(ws.services).send_due().sent == 1
    (nudge,) = _nudges(ws.fake("T1"), SAME)

    # The same user id in T2 presses Done on T1's nudge (a forged or replayed payload).
    forged = ws.teams["T2"].driver.block_actions(
        user_id=SAME,
        actions=[{"action_id": "nudge_done"}],
        message=nudge,
        channel_id=ws.fake("T1").dm_channel_id(SAME),
    )
    said = eventually(lambda: _ephemeral_replies(ws.teams["T2"], forged.response_url))
    assert said == [SOMEONE_ELSE]
    assert _proof_count(ws.services) == 0
    # Ana, in T1, presses it: recorded.
    ws.teams["T1"].driver.block_actions(
        user_id=SAME,
        actions=[{"action_id": "nudge_done"}],
        message=nudge,
        channel_id=ws.fake("T1").dm_channel_id(SAME),
    )
    eventually(lambda: _proof_count(ws.services) == 1)


def _proof_count(services: Services) -> int:
    with services.session() as session:
        return len(session.scalars(select(ProofEvent.id)).all())


def test_a_bot_token_about_to_expire_is_rotated_before_the_nudge_goes_out(
    workspaces: Workspaces,
) -> None:
    ws = workspaces
    installed = ws.install_tokens["T1"]
    # The token Slack issued at install is an hour from its end (rotation starts two
    # hours before) and Slack stops accepting it: only a refreshed one can post.
    with ws.services.engine.begin() as conn:
        conn.execute(
            update(install.BOTS_TABLE)
            .where(install.BOTS_TABLE.c.team_id == "T1")
            .values(
                bot_token_expires_at=datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)
            )
        )
    ws.bot.fake.expire_token(installed)
    with ws.services.session() as session:
        store_program(session, "habit", [step("hello", day=0)])
    _enroll(ws, "T1", SAME)

    assert Sender(ws.services).send_due().sent == 1

    assert len(_nudges(ws.fake("T1"), SAME)) == 1
    refreshes = [c for c in ws.bot.fake.calls_to("oauth.v2.access") if c.params.get("grant_type")]
    assert len(refreshes) == 1 and refreshes[0].ok
    rotated = ws.bot.fake.tokens_of("T1")[-1]
    assert rotated != installed
    (post,) = ws.bot.fake.calls_to("chat.postMessage")
    assert post.headers.get("Authorization") == f"Bearer {rotated}"
    store = install.installation_store_for(ws.services.settings, ws.services.engine)
    bot = store.find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None and bot.bot_token == rotated  # kept for the next process too
    # T2's token was not touched.
    assert ws.bot.fake.tokens_of("T2") == [ws.install_tokens["T2"]]


# -- intake, kept per workspace ------------------------------------------------------------------


def _request_from(team_bot: RunningBot, user: str, goal: str) -> None:
    view = open_form(team_bot, user)
    assert submit(team_bot, user, view, {**GOOD, "goal": goal}) is None


def _triage(fake: FakeSlack) -> list[str]:
    return [str(m.get("text")) for m in fake.messages(TRIAGE) if not m.get("thread_ts")]


def test_intake_requests_stay_in_their_workspace_and_only_its_lead_decides(
    workspaces: Workspaces,
) -> None:
    ws = workspaces
    _request_from(ws.teams["T1"], SAME, GOALS["T1"])
    _request_from(ws.teams["T2"], SAME, GOALS["T2"])
    with ws.services.session() as session:
        requests = {
            r.workspace_id: (r.id, r.requester_slack_user_id)
            for r in session.scalars(select(IntakeRequest))
        }
    assert requests == {"T1": (1, SAME), "T2": (2, SAME)}
    # Each request went to its own workspace's triage channel, thanked in its own DM.
    eventually(lambda: _triage(ws.fake("T1")) and _triage(ws.fake("T2")))
    t1_triage, t2_triage = _triage(ws.fake("T1")), _triage(ws.fake("T2"))
    assert len(t1_triage) == 1 and "#1" in t1_triage[0]
    assert len(t2_triage) == 1 and "#2" in t2_triage[0]

    # T1's lead sees T1's portfolio only.
    portfolio = open_form_list(ws.teams["T1"], LEAD)
    assert "Repeat calls" in portfolio and "Churn" not in portfolio
    # The same user id in T2 is no lead there: refused, nothing opened.
    refusal = ws.teams["T2"].driver.slash_command("/intake", "list", user_id=LEAD)
    assert refusal.acked_in_time
    said = eventually(lambda: _ephemeral_replies(ws.teams["T2"], refusal.response_url))
    assert "for L&amp;D leads" in said[0]

    # T1's lead claims T1's request; a click naming T2's request changes nothing.
    _click(ws.teams["T1"], LEAD, "intake_claim", 1)
    eventually(lambda: _status(ws.services, 1) == RequestStatus.claimed)
    forged = _click(ws.teams["T1"], LEAD, "intake_approve", 2)
    said = eventually(lambda: _ephemeral_replies(ws.teams["T1"], forged.response_url))
    assert said == ["Nothing changed: there is no training request #2."]
    assert _status(ws.services, 2) == RequestStatus.open
    # T2's own lead decides T2's request.
    _click(ws.teams["T2"], "U0LEAD2", "intake_approve", 2)
    eventually(lambda: _status(ws.services, 2) == RequestStatus.approved)
    assert _status(ws.services, 1) == RequestStatus.claimed


def open_form_list(team_bot: RunningBot, user: str) -> str:
    before = len(team_bot.fake.calls_to("views.open"))
    assert team_bot.driver.slash_command("/intake", "list", user_id=user).acked_in_time
    eventually(lambda: len(team_bot.fake.calls_to("views.open")) > before)
    opened = team_bot.fake.calls_to("views.open")[-1]
    assert opened.ok
    return str(opened.params.get("view"))


def _ephemeral_replies(team_bot: RunningBot, url: str | None) -> list[str]:
    return [
        str(p["payload"].get("text"))
        for p in team_bot.fake.response_url_posts
        if p["url"] == url and p["payload"].get("response_type") == "ephemeral"
    ]


def _click(team_bot: RunningBot, user: str, action_id: str, request_id: int) -> Any:
    response = team_bot.driver.block_actions(
        user_id=user,
        actions=[{"action_id": action_id, "value": str(request_id), "type": "button"}],
        channel_id=TRIAGE,
    )
    assert response.acked_in_time
    return response


def _status(services: Services, request_id: int) -> RequestStatus:
    with services.session() as session:
        request = session.get(IntakeRequest, request_id)
        assert request is not None
        return request.status


# -- pre-mortems, kept per workspace ------------------------------------------------------------

INITIATIVES = {"T1": "Launch the new help centre", "T2": "Move billing to the cloud"}


def _premortems(services: Services) -> dict[str, tuple[int, str, str | None]]:
    with services.session() as session:
        return {
            p.workspace_id: (p.id, str(p.phase), p.parent_ts)
            for p in session.scalars(select(Premortem))
        }


def _next_phase(team_bot: RunningBot, user: str, premortem_id: int) -> Any:
    response = team_bot.driver.block_actions(
        user_id=user,
        actions=[{"action_id": NEXT_PHASE, "value": f"{premortem_id}:collect", "type": "button"}],
        channel_id="C0GENERAL",
    )
    assert response.acked_in_time
    return response


def test_premortems_stay_in_their_workspace_and_only_its_lead_moves_them_on(
    workspaces: Workspaces,
) -> None:
    ws = workspaces
    for team, initiative in INITIATIVES.items():
        started = ws.teams[team].driver.slash_command(
            "/premortem", initiative, user_id=SAME, channel_id="C0GENERAL"
        )
        assert started.acked_in_time
    found = eventually(
        lambda: (p := _premortems(ws.services)) and all(v[2] for v in p.values()) and len(p) == 2
    )
    assert found
    ids = {team: v[0] for team, v in _premortems(ws.services).items()}
    # Each parent message is in its own workspace's #general (the same channel id in both).
    t1_general = " ".join(str(m.get("text")) for m in ws.fake("T1").messages("C0GENERAL"))
    t2_general = " ".join(str(m.get("text")) for m in ws.fake("T2").messages("C0GENERAL"))
    assert "help centre" in t1_general and "billing" not in t1_general
    assert "billing" in t2_general and "help centre" not in t2_general

    listed = ws.teams["T1"].driver.slash_command(
        "/premortem", "list", user_id=LEAD, channel_id="C0GENERAL"
    )
    said = eventually(lambda: _ephemeral_replies(ws.teams["T1"], listed.response_url))
    assert "help centre" in said[0] and "billing" not in said[0]

    # T1's lead, clicking in T1 with T2's pre-mortem id: no such pre-mortem.
    forged = _next_phase(ws.teams["T1"], LEAD, ids["T2"])
    said = eventually(lambda: _ephemeral_replies(ws.teams["T1"], forged.response_url))
    assert said[0].startswith(f"no pre-mortem with id {ids['T2']}")
    # The same user id in T2 is neither lead nor facilitator there.
    refused = _next_phase(ws.teams["T2"], LEAD, ids["T2"])
    said = eventually(lambda: _ephemeral_replies(ws.teams["T2"], refused.response_url))
    assert said[0].startswith("Only the facilitator")
    assert _premortems(ws.services)["T2"][1] == "collect"
    # In T1 the lead moves T1's pre-mortem on to the vote.
    _next_phase(ws.teams["T1"], LEAD, ids["T1"])
    eventually(lambda: _premortems(ws.services)["T1"][1] == "vote")
    assert _premortems(ws.services)["T2"][1] == "collect"


# -- digests -----------------------------------------------------------------------------------


def _digest_text(fake: FakeSlack, user_id: str) -> str:
    posted = [m for m in fake.dm_messages(user_id) if "metadata" not in m]
    return "\n".join(str(b) for m in posted for b in m.get("blocks") or [])


def test_digests_show_each_reader_only_their_own_workspace(workspaces: Workspaces) -> None:
    ws = workspaces
    with ws.services.session() as session:
        store_program(session, "habit", [step("hello", day=0)])
    _enroll(ws, "T1", SAME, "U0TOM")
    _enroll(ws, "T2", SAME, "U0TINA")
    assert Sender(ws.services).send_due().sent == 4
    _request_from(ws.teams["T1"], SAME, GOALS["T1"])
    _request_from(ws.teams["T2"], SAME, GOALS["T2"])
    # Everyone lets their manager see their own counts, clicking in their own workspace.
    for team, people in (("T1", [SAME, "U0TOM"]), ("T2", [SAME, "U0TINA"])):
        for user in people:
            ws.teams[team].driver.block_actions(
                user_id=user,
                actions=[{"action_id": digest_blocks.SHARE_ACTION, "value": "on"}],
                channel_id=ws.fake(team).dm_channel_id(user),
            )
    with ws.services.session() as session:
        eventually(lambda: _shared_count(ws.services) == 4)

    ws.clock.set(DIGEST_TIME)
    sent = send_due_digests(ws.services)

    assert sorted((d.workspace_id, d.kind.value, d.recipient) for d in sent) == [
        ("T1", "ld", LEAD),
        ("T1", "manager", MANAGER),
        ("T2", "ld", "U0LEAD2"),
        ("T2", "manager", MANAGER),
    ]
    maria, mike = _digest_text(ws.fake("T1"), MANAGER), _digest_text(ws.fake("T2"), MANAGER)
    assert "• ana: acted" in maria and "• tom: acted" in maria
    assert "• sam" not in maria and "• tina" not in maria
    assert "• sam: acted" in mike and "• tina: acted" in mike
    assert "• ana" not in mike and "• tom" not in mike
    lena, lisa = _digest_text(ws.fake("T1"), LEAD), _digest_text(ws.fake("T2"), "U0LEAD2")
    assert "Repeat calls" in lena and "Churn" not in lena
    assert "Churn" in lisa and "Repeat calls" not in lisa
    # T2's U0LEAD is no lead: no L&D digest there.
    assert _digest_text(ws.fake("T2"), LEAD) == ""
    # Sent once per reader and workspace: the next tick sends nothing.
    assert send_due_digests(ws.services) == []


def _shared_count(services: Services) -> int:
    from bot.digest.models import PrivacyChoice

    with services.session() as session:
        return len(
            session.scalars(
                select(PrivacyChoice).where(PrivacyChoice.share_with_manager.is_(True))
            ).all()
        )


# -- KPI values ---------------------------------------------------------------------------------


def _post_metric(bot: RunningBot, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    body = json.dumps(payload).encode()
    headers = signed_headers(body, timestamp=int(bot.services.clock.now().timestamp()))
    request = urllib.request.Request(
        f"{bot.url}/hooks/metric", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_kpi_values_are_kept_per_workspace(workspaces: Workspaces) -> None:
    ws = workspaces
    with ws.services.session() as session:
        store_program(session, "habit", [step("hello", day=0)])
    value = {"program": "habit", "date": "2026-11-25"}
    # The same program, day, team and source, about two workspaces: two values.
    assert _post_metric(ws.bot, {**value, "value": 18, "workspace": "T1"})[0] == 200
    assert _post_metric(ws.bot, {**value, "value": 9.5, "workspace": "T2"})[0] == 200
    status, answer = _post_metric(ws.bot, {**value, "value": 1})
    assert status == 400 and str(answer["error"]).startswith("workspace: required")

    with ws.services.session() as session:
        rows = session.execute(select(MetricObservation.workspace_id, MetricObservation.value))
        assert sorted((w, v) for w, v in rows) == [("T1", 18.0), ("T2", 9.5)]
        t1 = impact_brief(
            session,
            program_id="habit",
            now=ws.clock.now(),
            settings=ws.services.settings,
            workspace_id="T1",
        )
        t2 = impact_brief(
            session,
            program_id="habit",
            now=ws.clock.now(),
            settings=ws.services.settings,
            workspace_id="T2",
        )
    assert (t1.current, t2.current) == (18.0, 9.5)


# -- uninstall -----------------------------------------------------------------------------------


def test_uninstalling_one_workspace_stops_only_its_nudges(workspaces: Workspaces) -> None:
    ws = workspaces
    with ws.services.session() as session:
        store_program(session, "habit", [step("hello", day=0), step("later", day=1)])
    _enroll(ws, "T1", SAME)
    _enroll(ws, "T2", SAME)
    assert Sender(ws.services).send_due().sent == 2

    response = ws.teams["T1"].driver.event({"type": "app_uninstalled"})
    assert response.status == 200

    def t1_cancelled() -> bool:
        with ws.services.session() as session:
            rows = session.execute(
                select(Person.workspace_id, Delivery.step_id, Delivery.status).join(
                    Person, Person.id == Delivery.person_id
                )
            ).all()
        return {(w, s, str(st)) for w, s, st in rows} == {
            ("T1", "hello", "sent"),
            ("T1", "later", "cancelled"),
            ("T2", "hello", "sent"),
            ("T2", "later", "planned"),
        }

    eventually(t1_cancelled)
    assert install.workspace_tokens(ws.services).token("T1") is None
    # A day later T2's second nudge goes out; nothing more reaches T1, not even a
    # nudge planned after the uninstall.
    ws.clock.set(ws.clock.now() + timedelta(days=1, hours=7))  # Friday 17:00, before 17:30
    _enroll(ws, "T1", "U0TOM")
    ws.bot.fake.reset_calls()
    stats = Sender(ws.services).send_due()
    assert stats.sent == 1
    assert len(_nudges(ws.fake("T2"), SAME)) == 2
    assert len(_nudges(ws.fake("T1"), SAME)) == 1 and _nudges(ws.fake("T1"), "U0TOM") == []
    tokens = {str(c.headers.get("Authorization", ""))[7:] for c in ws.bot.fake.calls}
    assert {ws.bot.fake.token_team(t) for t in tokens} == {"T2"}
    with ws.services.session() as session:
        tom = session.execute(
            select(Delivery.step_id, Delivery.status, Delivery.last_error)
            .join(Person, Person.id == Delivery.person_id)
            .where(Person.slack_user_id == "U0TOM")
        ).all()
    assert ("hello", DeliveryStatus.cancelled, "app uninstalled") in tom
    assert all(status != DeliveryStatus.sent for _, status, _ in tom)


# -- single mode: one workspace, one row per person ----------------------------------------------


def test_single_mode_slack_sync_and_org_import_meet_on_the_same_rows(
    db_url: str, fake_slack: FakeSlack, clock: FixedClock
) -> None:
    services = Services.create(
        make_settings(database_url=db_url, slack_api_url=fake_slack.base_url), clock=clock
    )
    fake_slack.add_user("U0ANA", name="ana")
    fake_slack.add_user("U0BOSS", name="boss")
    try:
        # The org CSV comes first and names a manager nobody synced yet; then Slack.
        with services.session() as session:
            imported = import_org_text(
                session,
                text="slack_user_id,email,manager_slack_user_id\nU0ANA,ana@example.com,U0BOSS\n"
                "U0BOSS,boss@example.com,\n",
                source="org.csv",
            )
        assert (imported.created, imported.errors) == (2, [])
        ((scope, client),) = install.sync_targets(services)
        assert scope is None  # single mode: the one bot client, no workspace filter
        with services.session() as session:
            synced = apply_slack_users(session, users=directory.slack_users(client))
        assert synced.created == 1  # only the bot user is new: Ana and her boss were known
        people = _people(services)
        assert {u for _, u in people} == {"U0ANA", "U0BOSS"}
        assert {w for w, _ in people} == {""}
        assert people[("", "U0ANA")].name == "ana"  # Slack's profile landed on the CSV's row
        with services.session() as session:
            team = team_members(session, manager_user_id="U0BOSS")
        assert [p.slack_user_id for p in team] == ["U0ANA"]
    finally:
        services.close()


def test_the_enroll_command_enrolls_in_the_named_workspace_only(
    workspaces: Workspaces, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = workspaces
    settings = ws.services.settings
    with ws.services.session() as session:
        store_program(session, "habit", [step("hello", day=0)])

    out = _cli(monkeypatch, settings, "enroll", "habit", "--user", SAME, "--workspace", "T2")

    assert out.startswith("enrolled 1 in habit")
    with ws.services.session() as session:
        enrolled = session.execute(
            select(Person.workspace_id, Person.slack_user_id).join(
                Enrollment, Enrollment.person_id == Person.id
            )
        ).all()
    assert [tuple(row) for row in enrolled] == [("T2", SAME)]  # not T1's person of that id

    # Exactly as a shell sees it: exit status 1 and one line saying what to do.
    for args, said in [
        ((), "say which one to enroll in with --workspace T"),
        (("--workspace", "T9"), "--workspace: the app is not installed in T9"),
    ]:
        with CliRunner().isolation() as (_, err, _):
            with pytest.raises(SystemExit) as exited:
                main(["enroll", "habit", "--user", SAME, *args])
            assert exited.value.code == 1
            assert said in err.getvalue().decode()
