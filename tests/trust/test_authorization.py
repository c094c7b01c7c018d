"""The authorization table of docs/security.md, walked cell by cell through the fake Slack.

Every command, button, view submission, webhook and CLI command is one row of
CASES below and one row of the docs table (the test holds the two, and the
app's registrations, to the same set, so none can drift). Each row names who
may do it and the cells that are tried: the allowed actors must get the effect,
and every refused actor must get an explanation only they see (an ephemeral
reply, a response_url post, a DM from the bot, or field errors in the modal), a
401/403 on HTTP, and nothing may change in the database.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from bot.app import ListenerPool, NudgebotApp, build_app
from bot.cli import cli
from bot.delivery import triggers
from bot.delivery.models import Enrollment
from bot.digest.models import PrivacyChoice
from bot.digest.service import metric_signature
from bot.intake import service as intake_service
from bot.intake.models import DecisionAction, IntakeRequest, RequestStatus
from bot.models import Base
from bot.people.models import Person
from bot.premortem import service as pm_service
from bot.premortem.models import Phase, Premortem, Prevention, PreventionStatus, Risk, Vote
from bot.proof.models import ProofEvent
from bot.settings import Settings
from bot.slack import bolt
from tests.conftest import RunningBot, make_settings
from tests.fakeslack import DriverResponse, FakeSlack
from tests.proof.conftest import SentNudge, World

DOCS = Path(__file__).resolve().parents[2] / "docs" / "security.md"
EMP, MGR, LEAD, OTHER = "U0EMP0001", "U0MGR0001", "U0LEAD001", "U0OTHER01"
TEAM = "C0TEAM"
HOOK_SECRET = "trigger-secret-0123456789"
METRIC_SECRET = "metric-secret-0123456789"
# Bookkeeping that any signed request may touch (event dedupe), not data anyone changed.
NOT_DATA = {"slack_events_seen", "alembic_version"}

# The vocabulary of the docs' "Who may do it" column.
ANYONE = "anyone"
SELF = "employee (self only)"
MANAGER = "manager (of their reports)"
LD_LEAD = "L&D lead"
FACILITATOR = "facilitator or L&D lead"
PREVENTION_PEOPLE = "owner, facilitator or L&D lead"
TAKEOVER = "L&D lead; a participant once the facilitator has left"
REQUESTER = "requester only"
SIGNED = "signed sender"
OPERATOR = "CLI operator"


@pytest.fixture
def settings(db_url: str, fake_slack: FakeSlack) -> Settings:
    return make_settings(
        database_url=db_url,
        slack_api_url=fake_slack.base_url,
        ld_leads=[LEAD],
        hook_secrets={"crm": HOOK_SECRET},
        metric_hook_secrets={"bi": METRIC_SECRET},
    )


# -- the world every cell acts on ------------------------------------------------------------


@dataclass
class Ctx:
    bot: RunningBot
    world: World
    nudges: dict[str, SentNudge] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    @property
    def fake(self) -> FakeSlack:
        return self.bot.fake

    def scalar(self, query: Any) -> Any:
        with self.bot.services.session() as session:
            return session.scalar(query)


def build_world(bot: RunningBot) -> Ctx:
    fake, services = bot.fake, bot.services
    world = World(services, fake)
    world.program()
    for user in (EMP, MGR, LEAD, OTHER):
        world.person(user)
    fake.add_channel(TEAM, name="team", members=[EMP, MGR, LEAD, OTHER])
    with services.session() as session:
        session.execute(
            update(Person).where(Person.slack_user_id == EMP).values(manager_slack_user_id=MGR)
        )
    ctx = Ctx(bot, world)
    # One nudge of EMP's per button, so an allowed click never spoils another cell.
    for n, name in enumerate(("done", "not_relevant", "snooze", "rate", "reason")):
        ctx.nudges[name] = world.send(EMP, "ask-three", repetition=n)
    ctx.nudges["check"] = world.send(EMP, "call-checklist")
    ctx.nudges["reflect"] = world.send(EMP, "shift-reflection")
    ctx.nudges["reflection"] = world.send(EMP, "shift-reflection", repetition=1)
    now = services.clock.now()
    with services.session() as session:
        for name in ("claim", "approve", "decline", "needs_info", "note", "asked"):
            request = intake_service.submit(
                session, user_id=EMP, answers=dict(INTAKE_ANSWERS), now=now
            )
            ctx.ids[f"intake_{name}"] = request.id
        intake_service.decide(
            session,
            request_id=ctx.ids["intake_asked"],
            action=DecisionAction.needs_info,
            actor_id=LEAD,
            actor_is_lead=True,
            now=now,
            note="How is it measured today?",
        )
        for name, phase in PREMORTEMS.items():
            ctx.ids[f"pm_{name}"] = _premortem(session, bot, phase)
        p = session.get(Premortem, ctx.ids["pm_decide"])
        assert p is not None
        risk = session.scalar(select(Risk).where(Risk.premortem_id == p.id))
        assert risk is not None
        ctx.ids["risk_decide"] = risk.id
        prevention = pm_service.record_prevention(
            session,
            premortem=p,
            risk_id=risk.id,
            action="Pilot with one team",
            owner_id=MGR,
            due=now.date().replace(year=now.year + 1),
            decided_by=EMP,
        )
        ctx.ids["prevention"] = prevention.id
        vote_pm = session.get(Premortem, ctx.ids["pm_vote"])
        assert vote_pm is not None
        vote_risk = session.scalar(select(Risk).where(Risk.premortem_id == vote_pm.id))
        assert vote_risk is not None
        ctx.ids["risk_vote"] = vote_risk.id
        pm_service.cast_vote(session, premortem=vote_pm, risk_id=vote_risk.id, voter_id=OTHER)
    return ctx


INTAKE_ANSWERS = {
    "goal": "Repeat calls 18% → 12% by Q3",
    "audience": "40 support agents: ask three clarifying questions before offering a fix",
    "context": "At the start of every inbound call, before the ticket is escalated",
    "cost_of_inaction": "Each repeat call costs €7; about 1,200 a month",
    "horizon": "By end of Q3 2027; agents can spare 10 minutes a week",
}
# Pre-mortems facilitated by EMP, one per phase a row needs.
PREMORTEMS = {
    "collect": Phase.collect,
    "collect_lead": Phase.collect,
    "takeover": Phase.collect,
    "merge": Phase.collect,
    "vote": Phase.vote,
    "decide": Phase.decide,
}


def _premortem(session: Any, bot: RunningBot, phase: Phase) -> int:
    services = bot.services
    p = pm_service.start(
        session,
        settings=services.settings,
        channel_id=TEAM,
        user_id=EMP,
        request=pm_service.StartRequest(
            "Launch the new CRM", services.settings.premortem_template, 6
        ),
        now=services.clock.now(),
    )
    for n, text_ in enumerate(("Nobody uses it", "Data is wrong"), start=1):
        pm_service.add_thread_risk(
            session, premortem=p, user_id=MGR, text=text_, message_ts=f"1700000000.00000{n}"
        )
    while p.phase != phase:
        pm_service.advance(
            session, premortem=p, settings=services.settings, now=services.clock.now()
        )
    session.flush()
    return p.id


# -- seeing what changed -------------------------------------------------------------------------


def snapshot(ctx: Ctx) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table (small here), as text, in primary-key order."""
    rows: dict[str, list[tuple[str, ...]]] = {}
    with ctx.bot.services.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in NOT_DATA:
                continue
            found = conn.execute(select(table).order_by(*table.primary_key.columns))
            rows[table.name] = [tuple(str(v) for v in row) for row in found]
    return rows


def diff(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> list[str]:
    return [name for name in before if before[name] != after[name]]


@dataclass
class Seen:
    """What an actor could see in Slack before a request, to find what is new after it."""

    posts: int
    ephemerals: int
    dms: int
    actor: str

    @classmethod
    def now(cls, fake: FakeSlack, actor: str) -> Seen:
        return cls(
            len(fake.response_url_posts), len(fake.ephemerals), len(fake.dm_messages(actor)), actor
        )

    def private_replies(self, fake: FakeSlack, response: Any) -> list[str]:
        """Texts only the actor sees that arrived since: response_url posts for this
        request, ephemerals to them, DMs from the bot to them, modal field errors."""
        texts: list[str] = []
        url = getattr(response, "response_url", None)
        for post in fake.response_url_posts[self.posts :]:
            payload = post["payload"]
            if post["url"] == url and payload.get("response_type", "ephemeral") == "ephemeral":
                texts.append(str(payload.get("text", "")))
        for eph in fake.ephemerals[self.ephemerals :]:
            if eph.get("user") == self.actor:
                texts.append(str(eph.get("text", "")))
        texts += [str(m.get("text", "")) for m in fake.dm_messages(self.actor)[self.dms :]]
        if isinstance(response, DriverResponse) and response.body.strip().startswith("{"):
            body = response.json()
            if body.get("response_action") == "errors":
                texts += [str(v) for v in body.get("errors", {}).values()]
        return texts


def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


# -- the rows --------------------------------------------------------------------------------

Run = Callable[[Ctx, str], Any]
Effect = Callable[[Ctx, str], bool]


@dataclass(frozen=True)
class Row:
    action: str  # the docs table's first column, without backticks
    who: str
    registered: tuple[str, ...]  # what the app registers for it (command, action id, callback)
    run: Run
    allowed: tuple[str, ...]
    denied: tuple[str, ...]
    effect: Effect


def command(name: str, text_: str, *, naming_emp: bool = False) -> Run:
    """With `naming_emp`, anyone else types EMP's name after it: about someone else."""

    def run(ctx: Ctx, actor: str) -> DriverResponse:
        typed = f"{text_} <@{EMP}|emp>" if naming_emp and actor != EMP else text_
        return ctx.bot.driver.slash_command(name, typed, user_id=actor, channel_id=TEAM)

    return run


def nudge_click(nudge: str, action_id: str, extra: str, **fields: Any) -> Run:
    def run(ctx: Ctx, actor: str) -> DriverResponse:
        sent = ctx.nudges[nudge]
        value = f"{sent.delivery_id}|{extra}"
        action: dict[str, Any] = {"action_id": action_id, **fields}
        if action_id == "nudge_snooze":
            action["selected_option"] = {"value": value}
        elif action_id == "nudge_check":
            action["selected_options"] = [{"value": value}]
        else:
            action["value"] = value
        return ctx.bot.driver.block_actions(
            user_id=actor, actions=[action], message=sent.message(ctx.fake), channel_id=sent.channel
        )

    return run


def btn(action_id: str, value: Callable[[Ctx], str], channel: str | None = TEAM) -> Run:
    return lambda ctx, actor: ctx.bot.driver.block_actions(
        user_id=actor, actions=[{"action_id": action_id, "value": value(ctx)}], channel_id=channel
    )


def home_click(action_id: str, value: str = "") -> Run:
    def run(ctx: Ctx, actor: str) -> DriverResponse:
        view = {"id": "V0HOME" + actor[-4:], "type": "home", "blocks": []}
        return ctx.bot.driver.block_actions(
            user_id=actor, actions=[{"action_id": action_id, "value": value}], view=view
        )

    return run


def submit(callback: str, values: dict[str, Any], meta: Callable[[Ctx], str]) -> Run:
    return lambda ctx, actor: ctx.bot.driver.view_submission(
        user_id=actor, view_callback_id=callback, state_values=values, private_metadata=meta(ctx)
    )


def text_input(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def events_of(nudge: str) -> Effect:
    def effect(ctx: Ctx, actor: str) -> bool:
        delivery = ctx.nudges[nudge].delivery_id
        query = select(func.count(ProofEvent.id)).where(ProofEvent.delivery_id == delivery)
        return bool(ctx.scalar(query))

    return effect


def slack_call(method: str) -> Effect:
    def effect(ctx: Ctx, actor: str) -> bool:
        return any(_by(call, actor) for call in ctx.fake.calls_to(method))

    return effect


def _by(call: Any, actor: str) -> bool:
    # views.open carries the actor's trigger_id; views.publish and DMs name them.
    params = json.dumps(call.params)
    return actor in params or call.method == "views.open"


def replied(ctx: Ctx, actor: str) -> bool:
    return bool(ctx.fake.response_url_posts)


def key_given(ctx: Ctx, actor: str) -> bool:
    """A Workflow Builder key for `actor` (bot/workflows), told to them only."""
    return any(
        "Your Nudgebot workflow key: `nbk1-" + actor in str(post["payload"].get("text"))
        for post in ctx.fake.response_url_posts
    )


def table_grew(name: str, base: int) -> Effect:
    def effect(ctx: Ctx, actor: str) -> bool:
        table = Base.metadata.tables[name]
        return int(ctx.scalar(select(func.count()).select_from(table)) or 0) > base

    return effect


def person_changed(column: str) -> Effect:
    def effect(ctx: Ctx, actor: str) -> bool:
        query = select(getattr(Person, column)).where(Person.slack_user_id == actor)
        return ctx.scalar(query) is not None

    return effect


def intake_status(key: str, status: RequestStatus) -> Effect:
    return lambda ctx, actor: (
        ctx.scalar(select(IntakeRequest.status).where(IntakeRequest.id == ctx.ids[key])) == status
    )


def count_of(column: Any, *where: Any) -> Callable[[Ctx], int]:
    return lambda ctx: int(ctx.scalar(select(func.count(column)).where(*where)) or 0)


def grew(counter: Callable[[Ctx], int], base: int) -> Effect:
    return lambda ctx, actor: counter(ctx) > base


def dm_says(words: str) -> Effect:
    return lambda ctx, actor: any(words in str(m.get("text")) for m in ctx.fake.dm_messages(actor))


def pm(name: str) -> Callable[[Ctx], str]:
    return lambda ctx: str(ctx.ids[f"pm_{name}"])


def pm_field(name: str, column: str, value: Any) -> Effect:
    return lambda ctx, actor: (
        ctx.scalar(select(getattr(Premortem, column)).where(Premortem.id == ctx.ids[f"pm_{name}"]))
        == (actor if value is ACTOR else value)
    )


ACTOR = object()


def hook(name: str, body: dict[str, Any], secret: str, source: str) -> Run:
    def run(ctx: Ctx, actor: str) -> Any:
        import urllib.request
        from urllib.error import HTTPError

        raw = json.dumps(body).encode()
        stamp = str(int(ctx.bot.services.clock.now().timestamp()))  # hooks use the bot's clock
        sign = metric_signature if name == "metric" else triggers.signature
        key = {"signed": secret, "wrong secret": "not-the-secret"}.get(actor)
        headers = {
            "Content-Type": "application/json",
            "X-Nudgebot-Source": source,
            "X-Nudgebot-Timestamp": stamp,
        }
        if key is not None:
            headers["X-Nudgebot-Signature"] = sign(key, stamp, raw)
        request = urllib.request.Request(
            f"{ctx.bot.url}/hooks/{name}", data=raw, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return HttpResult(response.status)
        except HTTPError as exc:
            return HttpResult(exc.code)

    return run


@dataclass
class HttpResult:
    status: int


def http_ok(ctx: Ctx, actor: str) -> bool:
    return True  # the status is checked by the walker


class CalendarSubmit:
    """Submitting the connect modal. The walk's settings have no NUDGEBOT_CALENDAR_KEY,
    so the answer is the modal's field error saying what to set: the submitter's own
    modal answers (tests/calendars walks a connection with a key)."""

    def __init__(self) -> None:
        self.answers: list[DriverResponse] = []

    def run(self, ctx: Ctx, actor: str) -> DriverResponse:
        response = ctx.bot.driver.view_submission(
            user_id=actor,
            view_callback_id="calendar_connect_modal",
            state_values={
                "address": {"address_input": text_input("https://calendar.example/feed.ics")}
            },
            private_metadata="",
        )
        self.answers.append(response)
        return response

    def answered(self, ctx: Ctx, actor: str) -> bool:
        return bool(self.answers) and '"address"' in self.answers[-1].body


CALENDAR_SUBMIT = CalendarSubmit()


def rows() -> list[Row]:

    return [
        # /nudges: always about the person who typed it; the text cannot name anyone else.
        Row(
            "/nudges help",
            ANYONE,
            ("/nudges",),
            command("/nudges", "help"),
            (EMP, OTHER),
            (),
            replied,
        ),
        Row(
            "/nudges status", SELF, ("/nudges",), command("/nudges", "status"), (EMP,), (), replied
        ),
        Row(
            "/nudges pause",
            SELF,
            ("/nudges",),
            command("/nudges", "pause", naming_emp=True),
            (EMP,),
            (OTHER,),
            table_grew("nudge_pauses", 0),
        ),
        Row(
            "/nudges resume", SELF, ("/nudges",), command("/nudges", "resume"), (EMP,), (), replied
        ),
        Row(
            "/nudges vacation",
            SELF,
            ("/nudges",),
            command("/nudges", "vacation 2026-12-24 2027-01-02"),
            (EMP,),
            (),
            replied,
        ),
        Row(
            "/nudges stop",
            SELF,
            ("/nudges",),
            command("/nudges", "stop call-opener"),
            (EMP,),
            (OTHER,),
            lambda ctx, actor: (
                ctx.scalar(
                    select(Enrollment.status).where(Enrollment.person_id == ctx.world.person(EMP))
                ).value
                != "active"
            ),
        ),
        Row(
            "/nudges digest",
            MANAGER,
            ("/nudges",),
            command("/nudges", "digest"),
            (MGR,),
            (),
            replied,
        ),
        Row(
            "/nudges workflow-key",
            LD_LEAD,
            ("/nudges",),
            command("/nudges", "workflow-key"),
            (LEAD,),
            (EMP, MGR, OTHER),
            key_given,
        ),
        # Answers in a nudge: only the person it was sent to.
        Row(
            "nudge_done",
            SELF,
            ("nudge_done",),
            nudge_click("done", "nudge_done", "done"),
            (EMP,),
            (OTHER, MGR, LEAD),
            events_of("done"),
        ),
        Row(
            "nudge_not_relevant",
            SELF,
            ("nudge_not_relevant",),
            nudge_click("not_relevant", "nudge_not_relevant", "not_relevant"),
            (EMP,),
            (OTHER, MGR),
            events_of("not_relevant"),
        ),
        Row(
            "nudge_snooze",
            SELF,
            ("nudge_snooze",),
            nudge_click("snooze", "nudge_snooze", "1h"),
            (EMP,),
            (OTHER, LEAD),
            events_of("snooze"),
        ),
        Row(
            "nudge_check",
            SELF,
            ("nudge_check",),
            nudge_click("check", "nudge_check", "0"),
            (EMP,),
            (OTHER,),
            events_of("check"),
        ),
        Row(
            "nudge_rate_1 … nudge_rate_5",
            SELF,
            ("^nudge_rate_[1-5]$",),
            nudge_click("rate", "nudge_rate_4", "4"),
            (EMP,),
            (OTHER, MGR),
            events_of("rate"),
        ),
        Row(
            "nudge_reflect",
            SELF,
            ("nudge_reflect",),
            nudge_click("reflect", "nudge_reflect", "text"),
            (EMP,),
            (OTHER, MGR),
            slack_call("views.open"),
        ),
        Row(
            "nudge_link",
            ANYONE,
            ("nudge_link",),
            nudge_click("done", "nudge_link", "link"),
            (EMP,),
            (),
            http_ok,
        ),
        Row(
            "view proof_reflection",
            SELF,
            ("proof_reflection",),
            submit(
                "proof_reflection",
                {"answer": {"text": text_input("Asked more, fixed faster")}},
                lambda ctx: json.dumps({"delivery_id": ctx.nudges["reflection"].delivery_id}),
            ),
            (EMP,),
            (OTHER, MGR, LEAD),
            events_of("reflection"),
        ),
        Row(
            "view proof_not_relevant",
            SELF,
            ("proof_not_relevant",),
            submit(
                "proof_not_relevant",
                {"details": {"text": text_input("I do not take calls")}},
                lambda ctx: json.dumps({"delivery_id": ctx.nudges["not_relevant"].delivery_id}),
            ),
            (EMP,),
            (OTHER, MGR),
            grew(count_of(ProofEvent.id, ProofEvent.kind == "reason"), 0),
        ),
        # App Home: each person's own page; the lead section only for leads.
        Row(
            "nudges_pause",
            SELF,
            ("nudges_pause",),
            home_click("nudges_pause", "7d"),
            (OTHER,),
            (),
            table_grew("nudge_pauses", 1),
        ),
        Row(
            "nudges_resume",
            SELF,
            ("nudges_resume",),
            home_click("nudges_resume", "resume"),
            (EMP,),
            (),
            slack_call("views.publish"),
        ),
        Row(
            "nudges_preferences",
            SELF,
            ("nudges_preferences",),
            home_click("nudges_preferences", "edit"),
            (EMP,),
            (),
            slack_call("views.open"),
        ),
        Row(
            "view proof_preferences",
            SELF,
            ("proof_preferences",),
            submit(
                "proof_preferences",
                {
                    "hours": {"value": text_input("08:00-16:00")},
                    "tz": {"value": text_input("Europe/Sofia")},
                },
                lambda ctx: "",
            ),
            (EMP,),
            (),
            person_changed("tz_override"),
        ),
        # Calendars: a person connects only their own (the address is theirs, and secret).
        Row(
            "/nudges calendar",
            SELF,
            ("/nudges",),
            command("/nudges", "calendar"),
            (EMP,),
            (),
            replied,
        ),
        Row(
            "calendar_connect · calendar_reconnect",
            SELF,
            ("calendar_connect", "calendar_reconnect"),
            home_click("calendar_connect", "connect"),
            (EMP,),
            (),
            slack_call("views.open"),
        ),
        Row(
            "calendar_disconnect",
            SELF,
            ("calendar_disconnect",),
            home_click("calendar_disconnect", "disconnect"),
            (EMP,),
            (),
            slack_call("views.publish"),
        ),
        Row(
            "view calendar_connect_modal",
            SELF,
            ("calendar_connect_modal",),
            CALENDAR_SUBMIT.run,
            (EMP,),
            (),
            CALENDAR_SUBMIT.answered,
        ),
        Row(
            "nudges_programs_page_prev · _next",
            ANYONE,
            ("^nudges_programs_page_(prev|next)$",),
            home_click("nudges_programs_page_next", "1"),
            (LEAD, EMP),
            (),
            slack_call("views.publish"),
        ),
        Row(
            "nudges_enroll",
            LD_LEAD,
            ("nudges_enroll",),
            home_click("nudges_enroll", "call-opener"),
            (LEAD,),
            (EMP, MGR),
            slack_call("views.open"),
        ),
        Row(
            "view proof_enroll",
            LD_LEAD,
            ("proof_enroll",),
            submit(
                "proof_enroll",
                {
                    "channel": {
                        "value": {"type": "conversations_select", "selected_conversation": TEAM}
                    }
                },
                lambda ctx: json.dumps({"program_id": "call-opener"}),
            ),
            (LEAD,),
            (EMP, MGR, OTHER),
            grew(count_of(Enrollment.id), 1),
        ),
        # /intake
        Row(
            "/intake",
            ANYONE,
            ("/intake",),
            command("/intake", ""),
            (OTHER,),
            (),
            slack_call("views.open"),
        ),
        Row(
            "/intake list",
            LD_LEAD,
            ("/intake",),
            command("/intake", "list"),
            (LEAD,),
            (EMP, MGR),
            slack_call("views.open"),
        ),
        Row(
            "view intake_form (new request)",
            ANYONE,
            ("intake_form",),
            submit(
                "intake_form",
                {k: {"value": text_input(v)} for k, v in INTAKE_ANSWERS.items()},
                lambda ctx: json.dumps({"request_id": None}),
            ),
            (OTHER,),
            (),
            grew(count_of(IntakeRequest.id), 6),
        ),
        Row(
            "view intake_form (answer a question)",
            REQUESTER,
            ("intake_form",),
            submit(
                "intake_form",
                {k: {"value": text_input(v)} for k, v in INTAKE_ANSWERS.items()},
                lambda ctx: json.dumps({"request_id": ctx.ids["intake_asked"]}),
            ),
            (EMP,),
            (OTHER, LEAD),
            intake_status("intake_asked", RequestStatus.open),
        ),
        Row(
            "view_closed intake_form",
            ANYONE,
            ("intake_form",),
            lambda ctx, actor: ctx.bot.driver.view_closed(
                user_id=actor,
                view={
                    "id": "V0CLOSED",
                    "callback_id": "intake_form",
                    "private_metadata": "",
                    "blocks": [],
                    "state": {"values": {"goal": {"value": text_input("x y")}}},
                },
            ),
            (OTHER,),
            (),
            lambda ctx, actor: True,
        ),
        Row(
            "intake_claim",
            LD_LEAD,
            ("intake_claim",),
            btn("intake_claim", lambda ctx: str(ctx.ids["intake_claim"])),
            (LEAD,),
            (EMP, MGR, OTHER),
            intake_status("intake_claim", RequestStatus.claimed),
        ),
        Row(
            "intake_approve",
            LD_LEAD,
            ("intake_approve",),
            btn("intake_approve", lambda ctx: str(ctx.ids["intake_approve"])),
            (LEAD,),
            (EMP, OTHER),
            intake_status("intake_approve", RequestStatus.approved),
        ),
        Row(
            "intake_decline",
            LD_LEAD,
            ("intake_decline",),
            btn("intake_decline", lambda ctx: str(ctx.ids["intake_decline"])),
            (LEAD,),
            (EMP, OTHER),
            slack_call("views.open"),
        ),
        Row(
            "intake_needs_info",
            LD_LEAD,
            ("intake_needs_info",),
            btn("intake_needs_info", lambda ctx: str(ctx.ids["intake_needs_info"])),
            (LEAD,),
            (EMP, OTHER),
            slack_call("views.open"),
        ),
        Row(
            "view intake_note",
            LD_LEAD,
            ("intake_note",),
            submit(
                "intake_note",
                {"note": {"value": text_input("Not this quarter")}},
                lambda ctx: json.dumps(
                    {"request_id": ctx.ids["intake_note"], "action": "declined"}
                ),
            ),
            (LEAD,),
            (EMP, MGR),
            intake_status("intake_note", RequestStatus.declined),
        ),
        Row(
            "intake_answer",
            REQUESTER,
            ("intake_answer",),
            btn("intake_answer", lambda ctx: str(ctx.ids["intake_asked"]), channel=None),
            (EMP,),
            (OTHER, LEAD),
            slack_call("views.open"),
        ),
        # /premortem
        Row(
            "/premortem INITIATIVE",
            ANYONE,
            ("/premortem",),
            command("/premortem", "Move to SSO"),
            (OTHER,),
            (),
            grew(count_of(Premortem.id), len(PREMORTEMS)),
        ),
        Row(
            "/premortem list · help",
            ANYONE,
            ("/premortem",),
            command("/premortem", "list"),
            (OTHER,),
            (),
            replied,
        ),
        Row(
            "premortem_add_anonymous",
            ANYONE,
            ("premortem_add_anonymous",),
            btn("premortem_add_anonymous", pm("collect")),
            (OTHER,),
            (),
            slack_call("views.open"),
        ),
        Row(
            "view premortem_anonymous_risk",
            ANYONE,
            ("premortem_anonymous_risk",),
            submit(
                "premortem_anonymous_risk",
                {"risk": {"value": text_input("Budget cut")}},
                pm("collect"),
            ),
            (OTHER,),
            (),
            grew(count_of(Risk.id), 2 * len(PREMORTEMS)),
        ),
        Row(
            "premortem_next_phase · premortem_publish",
            FACILITATOR,
            ("premortem_next_phase", "premortem_publish"),
            btn("premortem_next_phase", lambda ctx: f"{ctx.ids['pm_collect']}:collect"),
            (EMP,),
            (OTHER, MGR),
            pm_field("collect", "phase", Phase.vote),
        ),
        Row(
            "premortem_take_over",
            TAKEOVER,
            ("premortem_take_over",),
            btn("premortem_take_over", pm("takeover")),
            (LEAD,),
            (OTHER, MGR),
            pm_field("takeover", "facilitator_id", ACTOR),
        ),
        Row(
            "premortem_vote",
            ANYONE,
            ("premortem_vote",),
            btn("premortem_vote", lambda ctx: str(ctx.ids["risk_vote"])),
            (MGR,),
            (),
            grew(count_of(Vote.id), 1),
        ),
        Row(
            "premortem_take_back",
            ANYONE,
            ("premortem_take_back",),
            btn("premortem_take_back", pm("vote")),
            (OTHER,),
            (),
            lambda ctx, actor: count_of(Vote.id, Vote.voter_id == OTHER)(ctx) == 0,
        ),
        Row(
            "premortem_merge",
            FACILITATOR,
            ("premortem_merge",),
            btn("premortem_merge", pm("merge")),
            (EMP,),
            (OTHER, MGR),
            slack_call("views.open"),
        ),
        Row(
            "view premortem_merge_risks",
            FACILITATOR,
            ("premortem_merge_risks",),
            submit(
                "premortem_merge_risks",
                {
                    "source": {"value": {"selected_option": {"value": "2"}}},
                    "target": {"value": {"selected_option": {"value": "1"}}},
                },
                pm("merge"),
            ),
            (LEAD,),
            (OTHER, MGR),
            lambda ctx, actor: (
                ctx.scalar(
                    select(func.count(Risk.id)).where(
                        Risk.premortem_id == ctx.ids["pm_merge"], Risk.merged_into_id.is_not(None)
                    )
                )
                == 1
            ),
        ),
        Row(
            "premortem_decide",
            FACILITATOR,
            ("premortem_decide",),
            btn("premortem_decide", lambda ctx: f"{ctx.ids['pm_decide']}:{ctx.ids['risk_decide']}"),
            (EMP,),
            (OTHER, MGR),
            slack_call("views.open"),
        ),
        Row(
            "view premortem_decision",
            FACILITATOR,
            ("premortem_decision",),
            submit(
                "premortem_decision",
                {
                    "action": {"value": text_input("Train the champions first")},
                    "owner": {"value": {"selected_user": MGR}},
                    "due": {"value": {"selected_date": "2027-03-01"}},
                },
                lambda ctx: f"{ctx.ids['pm_decide']}:{ctx.ids['risk_decide']}",
            ),
            (LEAD,),
            (OTHER, MGR),
            lambda ctx, actor: (
                ctx.scalar(
                    select(Prevention.decided_by).where(Prevention.id == ctx.ids["prevention"])
                )
                == LEAD
            ),
        ),
        Row(
            "premortem_prevention_status_*",
            PREVENTION_PEOPLE,
            ("^premortem_prevention_status_",),
            lambda ctx, actor: ctx.bot.driver.block_actions(
                user_id=actor,
                channel_id=TEAM,
                actions=[
                    {
                        "action_id": "premortem_prevention_status_done",
                        "value": f"{ctx.ids['prevention']}:done",
                    }
                ],
            ),
            (MGR,),
            (OTHER,),
            lambda ctx, actor: (
                ctx.scalar(select(Prevention.status).where(Prevention.id == ctx.ids["prevention"]))
                == PreventionStatus.done
            ),
        ),
        # Digest buttons
        Row(
            "digest_share_with_manager",
            SELF,
            ("digest_share_with_manager",),
            btn("digest_share_with_manager", lambda ctx: "on", channel=None),
            (EMP,),
            (),
            grew(count_of(PrivacyChoice.person_id), 0),
        ),
        Row(
            "digest_enrollment_opt_in",
            SELF,
            ("digest_enrollment_opt_in",),
            btn("digest_enrollment_opt_in", lambda ctx: "off", channel=None),
            (EMP,),
            (),
            grew(count_of(PrivacyChoice.person_id), 0),
        ),
        Row(
            "digest_impact_brief",
            LD_LEAD,
            ("digest_impact_brief",),
            btn("digest_impact_brief", lambda ctx: "call-opener", channel=None),
            (LEAD,),
            (EMP, MGR),
            dm_says("mpact"),
        ),
        # Webhooks: the "actors" are the request's signature.
        Row(
            "POST /hooks/trigger",
            SIGNED,
            ("hook:trigger",),
            hook("trigger", {"trigger": "escalated", "user": EMP}, HOOK_SECRET, "crm"),
            ("signed",),
            ("unsigned", "wrong secret"),
            http_ok,
        ),
        Row(
            "POST /hooks/metric",
            SIGNED,
            ("hook:metric",),
            hook("metric", {"program": "call-opener", "value": 15.5}, METRIC_SECRET, "bi"),
            ("signed",),
            ("unsigned", "wrong secret"),
            http_ok,
        ),
    ]


def cli_commands() -> list[str]:
    def walk(cmd: click.Command, path: list[str]) -> Iterator[str]:
        if isinstance(cmd, click.Group):
            for name, sub in sorted(cmd.commands.items()):
                yield from walk(sub, [*path, name])
        else:
            yield " ".join(path)

    return list(walk(cli, ["nudgebot"]))


# -- the docs table -------------------------------------------------------------------------------


def docs_table() -> dict[str, str]:
    """{action: who} from the table under "## Who may do what" in docs/security.md."""
    section = DOCS.read_text().split("## Who may do what", 1)[1].split("\n## ", 1)[0]
    table: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        table[cells[0].strip("`").replace("` · `", " · ")] = cells[1]
    return table


def recorded_registrations(settings: Settings, services: Any, monkeypatch: Any) -> set[str]:
    """Every command, action id and view callback the app registers."""
    seen: set[str] = set()

    def recorder(name: str) -> Callable[..., Any]:
        original = getattr(NudgebotApp, name)

        def record(self: Any, constraints: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(constraints, re.Pattern):
                seen.add(constraints.pattern)
            elif isinstance(constraints, str):
                seen.add(constraints)
            return original(self, constraints, *args, **kwargs)

        return record

    for name in ("command", "action", "view", "view_submission", "view_closed"):
        monkeypatch.setattr(NudgebotApp, name, recorder(name))
    build_app(settings, services=services)
    seen |= {f"hook:{name}" for name in services.hooks}
    return seen


# -- the walk -------------------------------------------------------------------------------------


def test_the_docs_table_the_app_and_the_walk_cover_the_same_actions(
    settings: Settings, services: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    documented = docs_table()
    walked = {row.action: row.who for row in rows()}
    walked |= {name: OPERATOR for name in cli_commands()}
    assert documented == walked
    registered = recorded_registrations(settings, services, monkeypatch)
    covered = {r for row in rows() for r in row.registered}
    # OAuth-mode routes and Bolt internals register no per-person action.
    assert registered - covered == set(), "an action the table does not list"
    assert covered - registered == set(), "a table row for an action the app no longer has"


def test_every_cli_command_is_the_operators_and_answers_help() -> None:
    """CLI actions need shell access to the host; the table's Slack cells for them are
    'no' because no Slack route reaches them (checked above: every Slack route is a row)."""
    runner = CliRunner()
    for name in cli_commands():
        result = runner.invoke(cli, [*name.split()[1:], "--help"], catch_exceptions=False)
        assert result.exit_code == 0, name
        assert "Usage:" in result.output, name


def test_every_cell_of_the_authorization_table(bot: RunningBot) -> None:
    ctx = build_world(bot)
    failures: list[str] = []
    for row in rows():
        for actor in row.denied:
            problem = _refused(ctx, row, actor)
            if problem:
                failures.append(f"{row.action} as {actor}: {problem}")
        for actor in row.allowed:
            problem = _allowed(ctx, row, actor)
            if problem:
                failures.append(f"{row.action} as {actor}: {problem}")
    assert failures == [], "\n".join(failures)


def settled(ctx: Ctx) -> dict[str, list[tuple[str, ...]]]:
    """The database once the work after the last ack is over. The listener pool counts
    every listener running or queued behind acks, so once it is idle nothing more comes
    of the request: the bot's own signal, not a pause long enough on this machine."""
    pool = bolt.listener_executor(ctx.bot.app)
    assert isinstance(pool, ListenerPool) and pool.wait_idle(10), "a listener never finished"
    return snapshot(ctx)


def _refused(ctx: Ctx, row: Row, actor: str) -> str | None:
    before = settled(ctx)
    seen = Seen.now(ctx.fake, actor)
    response = row.run(ctx, actor)
    if isinstance(response, HttpResult):
        if response.status not in (401, 403):
            return f"HTTP {response.status}, expected 401 or 403"
    else:
        if response.status != 200:
            return f"HTTP {response.status} from the bot"
        if not eventually(lambda: seen.private_replies(ctx.fake, response)):
            return "no explanation reached the refused actor"
    changed = diff(before, settled(ctx))
    return f"changed {changed}" if changed else None


def _allowed(ctx: Ctx, row: Row, actor: str) -> str | None:
    response = row.run(ctx, actor)
    if isinstance(response, HttpResult):
        return (
            None
            if response.status not in (401, 403) and response.status < 500
            else (f"HTTP {response.status}")
        )
    if response.status != 200:
        return f"HTTP {response.status} from the bot"
    if not eventually(lambda: row.effect(ctx, actor)):
        return "the allowed action had no effect"
    return None
