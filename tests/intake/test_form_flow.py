"""/intake through the fake Slack: the form, its teaching errors, and what is stored."""

from __future__ import annotations

from sqlalchemy import select

from bot.intake.models import DecisionAction, IntakeDecision, IntakeRequest
from tests.conftest import RunningBot
from tests.intake.conftest import (
    GOOD,
    REQUESTER,
    TRIAGE,
    eventually,
    open_form,
    submit,
    triage_messages,
    unescape,
)

REQUIRED = ["goal", "audience", "context", "cost_of_inaction", "horizon"]


def _inputs(view: dict) -> dict[str, dict]:
    return {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}


def test_the_form_opens_at_once_with_five_required_inputs_and_its_errors_teach(
    bot: RunningBot,
) -> None:
    view = open_form(bot, REQUESTER)

    inputs = _inputs(view)
    required = [name for name, block in inputs.items() if not block.get("optional")]
    assert required == REQUIRED
    assert {"team", "sponsor", "diagnostic"} <= {n for n, b in inputs.items() if b["optional"]}
    options = [o["value"] for o in inputs["diagnostic"]["element"]["options"]]
    assert options == ["skill", "process", "tools", "motivation", "unknown"]
    # Each required field shows what a good answer looks like before anyone types.
    assert "18% → 12%" in inputs["goal"]["hint"]["text"]
    # Text after the command prefills the goal.
    prefilled = open_form(bot, REQUESTER, "NPS 31 → 45 by June")
    assert _inputs(prefilled)["goal"]["element"]["initial_value"] == "NPS 31 → 45 by June"

    # Empty and vague answers come back as field errors that teach.
    _teaching_errors(bot, view)


CASES = [
    # field, a vague answer, what the error teaches
    ("goal", "better sales", "baseline"),
    ("goal", "Reduce repeat calls a lot", "both numbers"),
    ("goal", "Repeat calls are at 18% and too high", "the second number"),
    ("goal", "Repeat calls 18% → 18%", "the same number"),
    ("audience", "everyone", "who"),
    ("context", "at work", "when and where"),
    ("cost_of_inaction", "we lose customers and money", "number"),
    ("horizon", "asap", "not a deadline"),
    ("horizon", "whenever possible really", "a date or a period"),
]


def _teaching_errors(bot: RunningBot, view: dict) -> None:

    for field in REQUIRED:
        for empty in ("", "   "):
            ack = submit(bot, REQUESTER, view, {**GOOD, field: empty})
            assert ack is not None and ack["response_action"] == "errors"
            assert list(ack["errors"]) == [field]
            assert ack["errors"][field].startswith("Required")
            assert "for example" in ack["errors"][field].lower()
    for field, vague, teaches in CASES:
        ack = submit(bot, REQUESTER, view, {**GOOD, field: vague})
        assert ack is not None and list(ack["errors"]) == [field], (field, vague)
        assert teaches in ack["errors"][field], (field, vague)
    # A payload forged past the form's max_length is still checked on the server.
    ack = submit(bot, REQUESTER, view, {**GOOD, "goal": "x" * 5000})
    assert ack is not None and "under 2,900 characters" in ack["errors"]["goal"]
    # Several wrong answers at once: each field gets its own message.
    ack = submit(bot, REQUESTER, view, {**GOOD, "goal": "", "horizon": "asap"})
    assert ack is not None and set(ack["errors"]) == {"goal", "horizon"}
    # The form was never replaced, so what the person typed stays in it; nothing reached the queue.
    assert bot.fake.calls_to("views.update") == []
    assert triage_messages(bot.fake) == []
    with bot.services.session() as session:
        assert session.scalars(select(IntakeRequest)).all() == []


WEIRD = {
    "goal": 'Churn <b>18%</b> → 12% & "fewer" \'; DROP TABLE intake_requests; -- 🚀',
    "audience": "Агенти от поддръжката (40 души) <@U0LEAD> <!channel> *bold* _it_ 顧客対応",
    "context": "At the start of calls; `code` <https://evil.example|click> &amp; more",
    "cost_of_inaction": "€7 per repeat call × 1,200 a month 💸 " + "x" * 2400,
    "horizon": "By Q3 2027 — عربى constraints: 10 min/week",
}


def test_any_text_is_stored_and_shown_exactly_as_typed(bot: RunningBot) -> None:
    view = open_form(bot, REQUESTER)

    ack = submit(bot, REQUESTER, view, {**WEIRD, "team": "Support <3", "sponsor": ""})

    assert ack is None  # accepted: the modal closes
    message = eventually(lambda: triage_messages(bot.fake))[0]
    with bot.services.session() as session:
        stored = session.scalars(select(IntakeRequest)).one()
        for name, typed in WEIRD.items():
            assert getattr(stored, name) == typed
        assert stored.team == "Support <3" and stored.sponsor is None
    texts = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
    for name in ("goal", "audience", "context", "horizon"):
        shown = next(t for t in texts if t.startswith(f"*{_label(name)}"))
        # Escaped for Slack (no live mention, link or tag), and unescaped it is the original.
        assert "<@U0LEAD>" not in shown and "<!channel>" not in shown and "<b>" not in shown
        assert unescape(shown.split("\n", 1)[1]) == WEIRD[name]
    assert all(len(t) <= 3000 for t in texts)


def test_intake_with_text_longer_than_an_answer_opens_the_form_with_all_of_it(
    bot: RunningBot,
) -> None:
    sentences = [f"Point {n}: repeat calls cost us time and customers." for n in range(120)]
    typed = " ".join(sentences)  # about 6,000 characters: two answers' worth
    assert len(typed) > 2 * 2900

    view = open_form(bot, REQUESTER, typed)  # the fake refuses an over-long initial_value

    inputs = {
        name: block["element"]
        for name, block in _inputs(view).items()
        if block["element"]["type"] == "plain_text_input"
    }
    values = [element.get("initial_value", "") for element in inputs.values()]
    assert all(len(v) <= e["max_length"] for v, e in zip(values, inputs.values(), strict=True))
    filled = [v for v in values if v]
    assert len(filled) == 3 and " ".join(filled) == typed  # cut between sentences, all kept
    assert inputs["goal"]["initial_value"].endswith("customers.")
    notice = view["blocks"][0]["text"]["text"]
    assert "continues in" in notice and unescape(_label("audience")) in unescape(notice)


def _label(name: str) -> str:
    from bot.intake.blocks import LABELS

    return LABELS[name].replace("&", "&amp;")


def test_an_accepted_request_is_posted_for_triage_with_its_score_and_buttons(
    bot: RunningBot,
) -> None:
    view = open_form(bot, REQUESTER)

    assert submit(bot, REQUESTER, view, {**GOOD, "diagnostic": "skill"}) is None

    message = eventually(lambda: triage_messages(bot.fake))[0]
    text = " ".join(b["text"]["text"] for b in message["blocks"] if b.get("text"))
    assert "Training request #1" in text
    # 18 → 12 is a gap of 0.33; 1,200 → cost 3.1; Q3 2027 is > 6 months away; 40 people → 1.6
    assert "*Impact 63.9* (medium) = 100 × gap 0.33 × cost 3.1 × urgency 1 ÷ reach 1.6" in text
    buttons = [
        e["text"]["text"]
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert buttons == ["Claim", "Approve", "Decline", "Needs info"]
    assert "Is training the fix" not in text  # a skill gap needs no other suggestion
    dm = eventually(lambda: bot.fake.dm_messages(REQUESTER))
    assert "#1" in dm[0]["text"] and "triage queue" in dm[0]["text"]
    with bot.services.session() as session:
        request = session.scalars(select(IntakeRequest)).one()
        assert (request.triage_channel_id, request.triage_ts) == (TRIAGE, message["ts"])
        trail = session.scalars(select(IntakeDecision)).all()
        assert [(d.action, d.actor_slack_user_id) for d in trail] == [
            (DecisionAction.submitted, REQUESTER)
        ]
        assert trail[0].created_at == bot.services.clock.now()


def test_when_training_is_not_the_fix_triage_suggests_what_is(bot: RunningBot) -> None:
    cases = [
        ("process", "process fix"),
        ("tools", "job aid"),
        ("motivation", "manager conversation"),
    ]
    for diagnostic, suggests in cases:
        view = open_form(bot, REQUESTER)
        submit(bot, REQUESTER, view, {**GOOD, "diagnostic": diagnostic})

        message = eventually(lambda d=diagnostic: _triage_text_for(bot, d))
        assert "is training the fix" in message
        assert suggests in message.replace("*", "")


def _triage_text_for(bot: RunningBot, diagnostic: str) -> str | None:
    from bot.intake.form import DIAGNOSTICS

    for message in triage_messages(bot.fake):
        text = " ".join(b["text"]["text"] for b in message["blocks"] if b.get("text"))
        if DIAGNOSTICS[diagnostic] in text:
            return text.lower()
    return None
