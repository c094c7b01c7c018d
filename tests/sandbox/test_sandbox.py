"""`nudgebot sandbox` end to end over its page's API: the real bot on the local Slack.

Each test starts a sandbox (seeded workspace, fresh SQLite file, a free port) and
does what a person on the page does; the browser test (test_browser.py) does the
same through Chromium. These check what a person would see in Slack.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox import seed
from bot.sandbox.runner import SANDBOX_APPLICATION_ID, Sandbox
from tests.sandbox.conftest import MONDAY_MORNING, PageClient, State, plain, texts

SAM, LEAD = seed.DEFAULT_USER_ID, seed.LEAD_ID
SIX, THREE = seed.SUPPORT_MANAGER_ID, seed.SALES_MANAGER_ID
TRIAGE = seed.TRIAGE_CHANNEL_ID
REPO = Path(__file__).resolve().parents[2]
MINUTE = timedelta(minutes=1)


def dm(user: str) -> str:
    return "D" + user[1:]


def bot_messages(state: State) -> list[dict[str, Any]]:
    conversation = state.get("conversation") or {"messages": []}
    return [m for m in conversation["messages"] if m["is_bot"] and not m["ephemeral"]]


def elements(html: str) -> list[dict[str, str]]:
    """The interactive elements of rendered Block Kit, as the page's script finds them."""
    found = []
    for tag in re.findall(r"<[^>]*\bbk-el\b[^>]*>", html):
        found.append(dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', tag)))
    return found


def welcome(state: State) -> dict[str, Any] | None:
    return next((m for m in bot_messages(state) if "Welcome to the team" in plain(m["html"])), None)


# -- a newcomer sees a nudge, and answers it ---------------------------------------


def test_the_first_nudge_arrives_at_once_and_a_click_changes_it(page: PageClient) -> None:
    state = page.wait_for(SAM, dm(SAM), lambda s: welcome(s) is not None, "the welcome nudge")
    nudge = welcome(state)
    assert nudge is not None
    assert state["me"]["name"] == "Sam Taylor"
    assert state["clock"]["local"].startswith("Mon 7 Dec, 09:0")
    done = next(e for e in elements(nudge["html"]) if e["data-action-id"] == "nudge_done")

    answer = page.post(
        "/sandbox/api/action",
        {
            "user": SAM,
            "conversation": dm(SAM),
            "ts": nudge["ts"],
            "block_id": done["data-block-id"],
            "action_id": "nudge_done",
            "type": "button",
        },
    )

    assert answer["ok"] is True and answer["ack_ms"] > 0  # the page shows how fast the bot acked
    changed = page.wait_for(
        SAM,
        dm(SAM),
        lambda s: (w := welcome(s)) is not None and w["html"] != nudge["html"],
        "the nudge change after Done",
    )
    after = welcome(changed)
    assert after is not None
    assert "nudge_done" not in after["html"]  # answered: the buttons give way to the answer
    # The answer is behavior proof in the bot's own database.
    from sqlalchemy import select

    from bot.proof.models import ProofEvent

    with page.box.services.session() as session:
        kinds = [(e.step_id, e.kind) for e in session.scalars(select(ProofEvent)).all()]
    assert ("welcome-first-week", "done") in kinds


def test_ticking_then_unticking_the_last_box_is_kept(page: PageClient) -> None:
    state = page.wait_for(SAM, dm(SAM), lambda s: welcome(s) is not None, "the welcome nudge")
    nudge = welcome(state)
    assert nudge is not None
    box = next(e for e in elements(nudge["html"]) if e["data-type"] == "checkboxes")
    first = re.search(r'<input type="checkbox" value="([^"]+)"', nudge["html"])
    assert first is not None
    click = {
        "user": SAM,
        "conversation": dm(SAM),
        "ts": nudge["ts"],
        "block_id": box["data-block-id"],
        "action_id": box["data-action-id"],
        "type": "checkboxes",
    }
    page.post("/sandbox/api/action", {**click, "values": [first.group(1)]})
    ticked = page.wait_for(
        SAM,
        dm(SAM),
        lambda s: (w := welcome(s)) is not None and " checked" in w["html"],
        "the ticked box",
    )
    page.post("/sandbox/api/action", {**click, "values": []})
    page.wait_for(
        SAM,
        dm(SAM),
        lambda s: (
            (w := welcome(s)) is not None
            and " checked" not in w["html"]
            and s["version"] > ticked["version"]
        ),
        "the box unticked again",
    )


# -- the L&D lead's /intake ---------------------------------------------------------


def _intake_fields(view: dict[str, Any], text: str) -> list[dict[str, Any]]:
    fields = []
    for block in view["blocks"]:
        if block["type"] != "input" or block.get("optional"):
            continue
        element = block["element"]
        fields.append(
            {
                "block_id": block["block_id"],
                "action_id": element["action_id"],
                "type": element["type"],
                "value": text,
            }
        )
    return fields


def test_intake_refuses_a_missing_field_then_reaches_triage_and_is_approved(
    page: PageClient,
) -> None:
    opened = page.post(
        "/sandbox/api/compose",
        {"user": LEAD, "conversation": TRIAGE, "text": "/intake Cut time to first reply"},
    )
    assert opened["ok"] is True
    state = page.wait_for(LEAD, TRIAGE, lambda s: s["modal"] is not None, "the intake modal")
    modal = state["modal"]
    assert "Training request" in plain(modal["title"])
    assert "Cut time to first reply" in modal["html"]  # the command's text is in the form
    view = page.box.slack.view(modal["view_id"])
    assert view is not None
    fields = _intake_fields(view, "First reply to customers within 4 h, from 11 h today")

    missing = page.post(
        "/sandbox/api/submit",
        {"user": LEAD, "view_id": modal["view_id"], "fields": fields[:-1]},
    )
    assert missing["ok"] is False
    assert list(missing["errors"]) == [fields[-1]["block_id"]]  # beside that field only
    assert page.box.slack.open_modal(LEAD) is not None  # the modal stays, typed text kept

    done = page.post(
        "/sandbox/api/submit", {"user": LEAD, "view_id": modal["view_id"], "fields": fields}
    )
    assert done == {"ok": True}
    state = page.wait_for(
        LEAD,
        TRIAGE,
        lambda s: any("Training request #1" in t for t in texts(s)),
        "the request in #ld-triage",
    )
    assert state["modal"] is None
    card = next(m for m in bot_messages(state) if "Training request #1" in plain(m["html"]))
    approve = next(e for e in elements(card["html"]) if e["data-action-id"] == "intake_approve")

    page.post(
        "/sandbox/api/action",
        {
            "user": LEAD,
            "conversation": TRIAGE,
            "ts": card["ts"],
            "block_id": approve["data-block-id"],
            "action_id": "intake_approve",
            "type": "button",
        },
    )

    state = page.wait_for(
        LEAD,
        TRIAGE,
        lambda s: any(
            "Training request #1" in t and "intake_approve" not in m["html"]
            for t, m in zip(texts(s), (s["conversation"] or {}).get("messages", []), strict=True)
        ),
        "the approved request",
    )
    approved = next(t for t in texts(state) if "Training request #1" in t)
    assert "approved" in approved.lower()


def test_someone_who_is_no_lead_cannot_approve(page: PageClient) -> None:
    """Who may do what is the bot's check, whatever the page lets a person click."""
    page.post(
        "/sandbox/api/compose",
        {"user": LEAD, "conversation": TRIAGE, "text": "/intake Cut time to first reply"},
    )
    state = page.wait_for(LEAD, TRIAGE, lambda s: s["modal"] is not None, "the intake modal")
    view = page.box.slack.view(state["modal"]["view_id"])
    assert view is not None
    page.post(
        "/sandbox/api/submit",
        {
            "user": LEAD,
            "view_id": view["id"],
            "fields": _intake_fields(view, "First reply within 4 h, from 11 h"),
        },
    )
    state = page.wait_for(
        LEAD, TRIAGE, lambda s: any("Training request #1" in t for t in texts(s)), "the card"
    )
    card = next(m for m in bot_messages(state) if "Training request #1" in plain(m["html"]))
    approve = next(e for e in elements(card["html"]) if e["data-action-id"] == "intake_approve")
    page.box.slack.add_members(TRIAGE, SAM)

    page.post(
        "/sandbox/api/action",
        {
            "user": SAM,
            "conversation": TRIAGE,
            "ts": card["ts"],
            "block_id": approve["data-block-id"],
            "action_id": "intake_approve",
            "type": "button",
        },
    )

    refused = page.wait_for(
        SAM,
        TRIAGE,
        lambda s: any(m["ephemeral"] for m in s["conversation"]["messages"]),
        "the refusal only Sam sees",
    )
    assert "intake_approve" in next(
        m["html"] for m in bot_messages(refused) if "Training request #1" in plain(m["html"])
    )


# -- /premortem in a channel ----------------------------------------------------------


def test_premortem_in_a_channel_collects_a_risk_in_its_thread(page: PageClient) -> None:
    channel = seed.SUPPORT_ESCALATIONS_CHANNEL_ID
    page.post(
        "/sandbox/api/compose",
        {"user": SIX, "conversation": channel, "text": "/premortem New onboarding for support"},
    )
    state = page.wait_for(
        SIX,
        channel,
        lambda s: any("Pre-mortem" in t for t in texts(s)),
        "the pre-mortem's parent message",
    )
    parent = next(m for m in bot_messages(state) if "Pre-mortem" in plain(m["html"]))

    posted = page.post(
        "/sandbox/api/compose",
        {
            "user": SAM,
            "conversation": channel,
            "text": "Nobody owns the new checklist after week one",
            "thread_ts": parent["ts"],
        },
    )

    assert posted["ok"] is True
    page.wait_for(
        SIX,
        channel,
        lambda s: any(
            "Nobody owns the new checklist" in plain(r["html"])
            for m in s["conversation"]["messages"]
            for r in m["thread"]
        ),
        "the risk in the thread",
    )
    from sqlalchemy import select

    from bot.premortem.models import Risk

    def risks() -> list[str]:
        with page.box.services.session() as session:
            return [r.text for r in session.scalars(select(Risk)).all()]

    # The bot took the reply as a risk (the message event reached it, signed).
    page.wait_for(SIX, channel, lambda s: bool(risks()), "the risk recorded by the bot")
    assert risks() == ["Nobody owns the new checklist after week one"]


# -- the clock, and the Monday digest ----------------------------------------------------


def test_monday_brings_the_digest_with_figures_for_six_and_none_for_three(
    page: PageClient,
) -> None:
    moved = page.post("/sandbox/api/clock", {"user": SIX, "to": "monday"})
    assert moved == {"ok": True, "moving": True}
    state = page.wait_for(SIX, dm(SIX), lambda s: not s["clock"]["moving"], "the clock stop")
    assert state["clock"]["local"] == "Mon 14 Dec, 09:00"
    state = page.wait_for(
        SIX, dm(SIX), lambda s: any("Your team" in t for t in texts(s)), "Georgi's digest"
    )
    six = next(t for t in texts(state) if "Your team" in t)
    assert re.search(r"\d+ of 6|\d+%", six), six  # figures for a team of six

    page.post("/sandbox/api/clock", {"user": THREE, "to": "day"})
    state = page.wait_for(THREE, dm(THREE), lambda s: not s["clock"]["moving"], "the clock stop")
    state = page.wait_for(
        THREE, dm(THREE), lambda s: any("Your team" in t for t in texts(s)), "Sarah's digest"
    )
    three = next(t for t in texts(state) if "Your team" in t)
    assert not re.search(r"\d+ of 3|\d+%", three), three  # too few people: no figures
    # A week went by at its own pace: each nudge went out when it was due, not late.
    from sqlalchemy import select

    from bot.delivery.models import Delivery, DeliveryStatus

    with page.box.services.session() as session:
        sent = session.scalars(select(Delivery).where(Delivery.status == DeliveryStatus.sent))
        late = [d.step_id for d in sent if d.sent_at and (d.sent_at - d.due_at) > MINUTE]
    assert late == []


def test_next_nudge_moves_the_clock_to_it_and_it_arrives(page: PageClient) -> None:
    state = page.wait_for(SAM, dm(SAM), lambda s: s["next_nudge"] is not None, "a next nudge")
    before = len(bot_messages(page.state(SAM, dm(SAM))))
    due = page.box.parts.next_due()
    assert due is not None

    page.post("/sandbox/api/clock", {"user": SAM, "to": "next"})

    state = page.wait_for(SAM, dm(SAM), lambda s: not s["clock"]["moving"], "the clock stop")
    assert page.box.clock.now() >= due
    assert page.box.parts.next_due() != due  # that nudge went out (to whoever it was for)
    assert len(bot_messages(state)) >= before


def test_a_message_in_a_channel_reaches_the_bot_as_an_event(page: PageClient) -> None:
    """Message triggers fire: #support-escalations is customer-call-opener's trigger channel."""
    channel = seed.SUPPORT_ESCALATIONS_CHANNEL_ID
    answer = page.post(
        "/sandbox/api/compose",
        {"user": SAM, "conversation": channel, "text": "ESC #4711 customer waiting since Friday"},
    )
    assert answer["ok"] is True
    requests = page.get("/sandbox/api/dev")["requests"]
    event = [r for r in requests if r["kind"] == "event" and r["summary"] == "message"]
    assert event and event[-1]["status"] == 200


# -- what the page may and may not do --------------------------------------------------


def test_commands_and_messages_follow_slack_rules(page: PageClient) -> None:
    unknown = page.post(
        "/sandbox/api/compose", {"user": SAM, "conversation": dm(SAM), "text": "/deploy"}
    )
    assert unknown["ok"] is False and "/deploy is not a valid command" in unknown["error"]
    typed = page.post(
        "/sandbox/api/compose", {"user": SAM, "conversation": dm(SAM), "text": "hello bot"}
    )
    assert typed["ok"] is False and "turned off" in typed["error"]  # Messages tab read-only
    helped = page.post(
        "/sandbox/api/compose", {"user": SAM, "conversation": dm(SAM), "text": "/nudges help"}
    )
    assert helped["ok"] is True
    state = page.wait_for(
        SAM,
        dm(SAM),
        lambda s: any(m["ephemeral"] for m in s["conversation"]["messages"]),
        "the /nudges help answer only Sam sees",
    )
    only_mine = [m for m in state["conversation"]["messages"] if m["ephemeral"]]
    assert "/nudges" in plain(only_mine[-1]["html"])
    assert not any(m["ephemeral"] for m in page.state(SIX, dm(SAM)).get("conversation") or [])


def test_bad_requests_to_the_page_api_are_4xx(page: PageClient) -> None:
    assert page.status_of("/sandbox/api/state?user=U0NOBODY") == 400
    assert page.status_of("/sandbox/api/compose", b"not json") == 400
    assert page.status_of("/sandbox/api/nothing") == 404
    assert page.status_of("/static/../runner.py") == 404
    assert page.status_of("/static/%2e%2e/runner.py") == 404
    clock = json.dumps({"user": SAM, "to": "yesterday"}).encode()
    assert page.status_of("/sandbox/api/clock", clock) == 400
    # The bot's own route checks Slack's signature: an unsigned request is refused.
    form = "application/x-www-form-urlencoded"
    assert page.status_of("/slack/events", b"command=/intake", content_type=form) == 401
    assert page.status_of("/healthz") == 200


def test_other_sites_cannot_drive_the_sandbox(page: PageClient) -> None:
    compose = json.dumps({"user": SAM, "conversation": dm(SAM), "text": "/nudges pause"}).encode()
    # A form post from another site's page (no CORS preflight for text/plain): refused.
    assert page.status_of("/sandbox/api/compose", compose, content_type="text/plain") == 415
    # A DNS name rebound to 127.0.0.1 carries its own Host: refused.
    rebound = {"Host": "evil.example:3000"}
    assert page.status_of("/sandbox/api/state?user=U0SAM", headers=rebound) == 403
    assert page.status_of("/", headers=rebound) == 403
    assert all(r.kind != "slash_command" for r in page.box.driver.sent_since(0))  # none sent
    with urllib.request.urlopen(page.base + "/") as response:
        policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("style-src")[0]


def test_the_developer_pane_lists_web_api_calls_and_acked_requests(page: PageClient) -> None:
    page.wait_for(SAM, dm(SAM), lambda s: welcome(s) is not None, "the welcome nudge")
    page.post("/sandbox/api/compose", {"user": SAM, "conversation": dm(SAM), "text": "/nudges"})
    dev = page.get("/sandbox/api/dev")
    methods = {c["method"] for c in dev["calls"]}
    assert {"chat.postMessage", "users.list"} <= methods
    posted = next(c for c in dev["calls"] if c["method"] == "chat.postMessage")
    assert posted["ok"] is True and posted["args"]["channel"].startswith("D")
    assert all("token" not in c["args"] for c in dev["calls"])
    command = next(r for r in dev["requests"] if r["kind"] == "slash_command")
    assert command["summary"].startswith("/nudges") and command["status"] == 200
    assert command["ack_ms"] > 0
    later = page.get(f"/sandbox/api/dev?since={dev['calls'][-1]['n']}")
    assert all(c["n"] > dev["calls"][-1]["n"] for c in later["calls"])


def test_the_page_and_its_files_are_served(page: PageClient) -> None:
    for path in ("/", "/preview", "/static/sandbox.js", "/static/sandbox.css"):
        assert page.status_of(path) == 200, path
    people = page.get("/sandbox/api/people")
    assert people["default"] == SAM
    assert {p["id"] for p in people["people"]} >= {SAM, LEAD, SIX, THREE}
    catalog = page.get("/sandbox/api/preview")
    assert catalog["problems"] == []
    assert any(p["id"] == seed.AT_ONCE_PROGRAM for p in catalog["programs"])


# -- its own database, its own Slack, whatever the environment says ----------------------


def test_it_never_touches_the_configured_database_or_slack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    production = tmp_path / "production.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{production}")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api/")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-production-token")
    box = Sandbox(database_path=tmp_path / "sandbox.db", port=0, start_at=MONDAY_MORNING)
    box.start()
    try:
        settings = box.services.settings
        assert settings.database_url == f"sqlite:///{tmp_path / 'sandbox.db'}"
        assert settings.slack_api_url == box.slack.base_url
        assert settings.host == "127.0.0.1"
        assert box.slack.calls  # the bot talked to the local Slack...
    finally:
        box.stop()
    assert not production.exists()  # ...and never opened the configured database


def test_it_starts_afresh_over_its_own_file_and_refuses_any_other(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    for _ in range(2):  # the second start wipes the first one's file
        box = Sandbox(database_path=path, port=0, start_at=MONDAY_MORNING).start()
        box.stop()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == SANDBOX_APPLICATION_ID
        assert conn.execute("SELECT count(*) FROM intake_requests").fetchone()[0] == 0

    other = tmp_path / "nudgebot.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE keep (x)")
    from bot.errors import ConfigError

    with pytest.raises(ConfigError, match="not a sandbox database"):
        Sandbox(database_path=other, port=0).start()
    with sqlite3.connect(other) as conn:
        assert conn.execute("SELECT count(*) FROM keep").fetchone() == (0,)


def test_empty_starts_with_only_you_and_no_enrollments(tmp_path: Path) -> None:
    box = Sandbox(database_path=tmp_path / "s.db", port=0, empty=True, start_at=MONDAY_MORNING)
    box.start()
    try:
        people = PageClient(box).get("/sandbox/api/people")
        assert [(p["id"], p["name"]) for p in people["people"]] == [(LEAD, "You")]
        assert box.parts.next_due() is None
    finally:
        box.stop()


# -- the command --------------------------------------------------------------------------


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUDGEBOT_", "SLACK_"))}
    env.pop("DATABASE_URL", None)
    return env


def test_the_command_prints_the_address_serves_and_stops_cleanly(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "sandbox", "--port", "0", "--db", "box.db"],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"ready at (http://127\.0\.0\.1:\d+/)", line)
        assert match, line
        with socket.create_connection(("127.0.0.1", int(match.group(1).rsplit(":", 1)[1][:-1]))):
            pass
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "Traceback" not in err and "ERROR" not in err, err
    assert "sandbox stopped" in out
    assert (tmp_path / "box.db").exists()


def test_the_command_on_a_taken_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "bot", "sandbox", "--port", str(port)],
            cwd=tmp_path,
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"nudgebot: cannot listen on 127.0.0.1:{port}: another process is listening there; "
        "pick a free port with --port (or leave it out: the sandbox finds one)"
    ]
    assert not (tmp_path / "sandbox.db").exists()


def test_the_command_with_a_bad_setting_is_one_line(tmp_path: Path) -> None:
    env = {**_env(tmp_path), "NUDGEBOT_WORKING_HOURS": "nine to five"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "sandbox", "--port", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "NUDGEBOT_WORKING_HOURS" in lines[0], result.stderr
    assert not (tmp_path / "sandbox.db").exists()
