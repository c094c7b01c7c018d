"""Triage through the fake Slack: only L&D leads decide, requesters hear at each step."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from bot.intake.models import DecisionAction, IntakeDecision, IntakeRequest, RequestStatus
from tests.conftest import RunningBot
from tests.intake.conftest import (
    BYSTANDER,
    GOOD,
    LEAD,
    REQUESTER,
    TRIAGE,
    click,
    eventually,
    open_form,
    replies,
    submit,
    triage_messages,
)


def _send_request(bot: RunningBot, answers: dict[str, str] | None = None) -> dict:
    view = open_form(bot, REQUESTER)
    assert submit(bot, REQUESTER, view, answers or GOOD) is None
    message = eventually(lambda: triage_messages(bot.fake))[-1]
    eventually(lambda: bot.fake.dm_messages(REQUESTER))  # the "thanks, it's queued" DM
    return message


def _latest(bot: RunningBot, message: dict) -> dict:
    return bot.fake.message(TRIAGE, message["ts"]) or {}


def _status(bot: RunningBot) -> RequestStatus:
    with bot.services.session() as session:
        return session.scalars(select(IntakeRequest.status)).one()


def _trail(bot: RunningBot) -> list[tuple[DecisionAction, str, str | None]]:
    with bot.services.session() as session:
        rows = session.scalars(select(IntakeDecision).order_by(IntakeDecision.id)).all()
        return [(d.action, d.actor_slack_user_id, d.note) for d in rows]


def _run_cli(bot: RunningBot, *args: str) -> tuple[int, str]:
    """`nudgebot ARGS` as a person runs it (bot.cli.main: one-line errors, exit codes)."""
    env = {
        "DATABASE_URL": bot.services.settings.database_url,
        "SLACK_BOT_TOKEN": "",
        "NUDGEBOT_TRIAGE_CHANNEL": "",
        "NUDGEBOT_LD_LEADS": "",
    }
    with CliRunner().isolation(env=env) as (_, _, output):
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
        return code, output.getvalue().decode()


def test_non_leads_cannot_triage_but_a_lead_approves_and_the_scaffold_validates(
    bot: RunningBot, tmp_path: Path
) -> None:
    message = _send_request(bot, {**GOOD, "team": 'Support, "Tier 1"\nnight shift'})
    dms_before = len(bot.fake.dm_messages(REQUESTER))
    # The open request as the CLI exports it, text exactly as typed.
    code, out = _run_cli(bot, "intake", "list", "--format", "json")
    assert code == 0, out
    [row] = json.loads(out)
    assert row["id"] == 1 and row["impact"] == 63.9 and row["gap"] == 0.33
    assert row["team"] == 'Support, "Tier 1"\nnight shift'
    code, out = _run_cli(bot, "intake", "list", "--format", "csv")
    assert code == 0 and out.splitlines()[0].startswith("id,status,impact,gap,cost,urgency,reach")
    code, out = _run_cli(bot, "intake", "scaffold", "1", "--output", str(tmp_path))
    assert code == 1 and "only an approved request" in out

    # The requester and a bystander click: refused, with an explanation only they see.
    for user, action in ((REQUESTER, "intake_approve"), (BYSTANDER, "intake_claim")):
        clicked = click(bot, user, action, message)
        refusal = eventually(lambda c=clicked: replies(bot, c))
        assert "Only L&amp;D leads" in refusal[-1]
    assert _status(bot) is RequestStatus.open
    assert [a for a, _, _ in _trail(bot)] == [DecisionAction.submitted]

    click(bot, LEAD, "intake_approve", message)

    dm = eventually(lambda: bot.fake.dm_messages(REQUESTER)[dms_before:])
    assert "*approved*" in dm[-1]["text"] and f"<@{LEAD}>" in dm[-1]["text"]
    updated = eventually(
        lambda: "approved by" in json.dumps(_latest(bot, message)) and _latest(bot, message)
    )
    assert not [b for b in updated["blocks"] if b["type"] == "actions"]  # decided: no buttons
    assert _trail(bot)[-1][:2] == (DecisionAction.approved, LEAD)

    code, out = _run_cli(bot, "intake", "scaffold", "1", "--output", str(tmp_path))
    assert code == 0, out
    [draft] = list(tmp_path.glob("*.yaml"))
    assert draft.name.startswith("intake-1-repeat-calls")
    # As scaffolded it has no steps yet, so the validator names exactly that.
    code, out = _run_cli(bot, "content", "validate", str(tmp_path))
    assert code == 1 and "steps" in out
    text = draft.read_text(encoding="utf-8").replace(
        "steps: []",
        "steps:\n- id: first-nudge\n  kind: prompt\n  when: {day: 0, time: '09:30'}\n"
        "  text: {en: 'Before your first call: ask three clarifying questions.'}\n",
    )
    draft.write_text(text, encoding="utf-8")
    code, out = _run_cli(bot, "content", "validate", str(tmp_path))
    assert code == 0, out
    assert "1 program(s), 1 step(s): all valid" in out


def test_needs_info_asks_in_the_thread_and_reopens_the_requesters_form_with_answers_kept(
    bot: RunningBot,
) -> None:
    message = _send_request(bot)
    click(bot, LEAD, "intake_claim", message)
    eventually(lambda: "claimed by" in json.dumps(_latest(bot, message)))
    picked = eventually(
        lambda: [m for m in bot.fake.dm_messages(REQUESTER) if "picked up" in m["text"]]
    )
    assert f"<@{LEAD}>" in picked[0]["text"]

    click(bot, LEAD, "intake_needs_info", message)
    asked = eventually(
        lambda: [v for v in bot.fake.views.values() if v.get("callback_id") == "intake_note"]
    )[0]
    response = bot.driver.view_submission(
        user_id=LEAD,
        view_id=asked["id"],
        state_values={
            "note": {"value": {"type": "plain_text_input", "value": "How is <repeat> measured?"}}
        },
    )
    assert response.status == 200

    thread = eventually(
        lambda: [
            m
            for m in bot.fake.messages(TRIAGE)
            if m.get("thread_ts") == message["ts"] and m["ts"] != message["ts"]
        ]
    )
    assert "How is &lt;repeat&gt; measured?" in thread[0]["text"]
    dm = eventually(
        lambda: [
            m
            for m in bot.fake.dm_messages(REQUESTER)
            if m.get("blocks") and "question" in m["text"]
        ]
    )[-1]
    assert _status(bot) is RequestStatus.needs_info

    views_before = set(bot.fake.views)
    bot.driver.block_actions(
        user_id=REQUESTER,
        actions=[{"action_id": "intake_answer"}],
        message=dm,
        channel_id=bot.fake.dm_channel_id(REQUESTER),
    )
    form = eventually(lambda: [v for k, v in bot.fake.views.items() if k not in views_before])[0]
    inputs = {b["block_id"]: b for b in form["blocks"] if b["type"] == "input"}
    for name, typed in GOOD.items():
        assert inputs[name]["element"]["initial_value"] == typed
    assert "How is &lt;repeat&gt; measured?" in json.dumps(form)

    answers = {
        **GOOD,
        "goal": "Repeat calls (same customer, 7 days) 18% → 12% by Q3",
        "reply": "From the helpdesk export",
    }
    assert submit(bot, REQUESTER, form, answers) is None

    eventually(
        lambda: any("From the helpdesk export" in m["text"] for m in bot.fake.messages(TRIAGE))
    )
    with bot.services.session() as session:
        request = session.scalars(select(IntakeRequest)).one()
        assert request.goal == answers["goal"] and request.status is RequestStatus.claimed
    assert [(a, u) for a, u, _ in _trail(bot)] == [
        (DecisionAction.submitted, REQUESTER),
        (DecisionAction.claimed, LEAD),
        (DecisionAction.needs_info, LEAD),
        (DecisionAction.resubmitted, REQUESTER),
    ]
    assert _trail(bot)[2][2] == "How is <repeat> measured?"  # kept exactly as typed


def test_a_decline_tells_the_requester_why_and_closes_the_request(bot: RunningBot) -> None:
    message = _send_request(bot)
    # A decline forged by a non-lead (a hand-made view_submission) is refused on the server.
    forged = bot.driver.view_submission(
        user_id=BYSTANDER,
        view_callback_id="intake_note",
        private_metadata=json.dumps({"request_id": 1, "action": "declined"}),
        state_values={"note": {"value": {"type": "plain_text_input", "value": "no"}}},
    )
    assert forged.json()["response_action"] == "errors"
    assert "Only L&D leads" in forged.json()["errors"]["note"]
    assert _status(bot) is RequestStatus.open

    click(bot, LEAD, "intake_decline", message)
    modal = eventually(
        lambda: [v for v in bot.fake.views.values() if v.get("callback_id") == "intake_note"]
    )[0]
    bot.driver.view_submission(
        user_id=LEAD,
        view_id=modal["id"],
        state_values={
            "note": {"value": {"type": "plain_text_input", "value": "A job aid will do"}}
        },
    )

    dm = eventually(lambda: [m for m in bot.fake.dm_messages(REQUESTER) if "declined" in m["text"]])
    assert "A job aid will do" in dm[0]["text"]
    assert _status(bot) is RequestStatus.declined
    # A late click changes nothing and says so.
    clicked = click(bot, LEAD, "intake_approve", message)
    late = eventually(lambda: replies(bot, clicked))
    assert "already declined" in late[-1]
    assert _status(bot) is RequestStatus.declined


def test_intake_list_is_for_leads_and_renders_200_open_requests_within_block_kit_limits(
    bot: RunningBot,
) -> None:
    from bot.intake import service

    with bot.services.session() as session:
        for i in range(200):
            answers = {
                **GOOD,
                "goal": f"Indicator <&> no. {chr(65 + i % 26)} from {100 + i}% → {50 + i % 40}%",
                "audience": f"{10 + i} agents " + "who must do the thing " * 6,
                "horizon": f"within {1 + i % 30} weeks; " + "constraints " * 20,
            }
            service.submit(
                session, user_id=REQUESTER, answers=answers, now=bot.services.clock.now()
            )

    bot.driver.slash_command("/intake", "list", user_id=BYSTANDER)
    refused = eventually(lambda: bot.fake.response_url_posts)
    assert "for L&amp;D leads" in json.dumps(refused[-1]["payload"])

    bot.driver.slash_command("/intake", "list", user_id=LEAD)
    opened = eventually(lambda: [c for c in bot.fake.calls_to("views.open") if c.ok])[-1]
    view = opened.response["view"]
    assert view["callback_id"] == "intake_list"
    blocks = view["blocks"]
    assert len(blocks) <= 50  # fits a message as well as a modal
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    text = "\n".join(b["text"]["text"] for b in blocks if b.get("text"))
    assert "Open training requests: 200" in text
    # The heatmap counts every open request once.
    grid = next(
        b["text"]["text"] for b in blocks if b.get("text", {}).get("text", "").startswith("```")
    )
    counts = [
        int(cell) for line in grid.splitlines()[2:-1] for cell in line.split()[2:] if cell.isdigit()
    ]
    assert sum(counts) == 200
    # Sorted by impact, highest first.
    impacts = [float(part.split("*")[0]) for part in text.split("impact *")[1:]]
    assert impacts == sorted(impacts, reverse=True) and len(impacts) >= 20
    assert "more with lower impact" in text or len(impacts) == 200
