"""Block Kit for /intake, built from data: the form, the triage message, the portfolio.

People's text goes into mrkdwn escaped (&, <, >) and `verbatim`, so what they typed
is what others see: no mentions, links or markup smuggled in through a form.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.intake.form import DIAGNOSTICS, EXAMPLES, MAX_CHARS, fit_answers
from bot.intake.models import OPEN_STATUSES, DecisionAction, IntakeRequest, RequestStatus
from bot.intake.scoring import Score
from bot.slack import blocks as kit
from bot.slack.blocks import SECTION_TEXT, Block, escape


def _mrkdwn(text: str) -> Block:
    # verbatim: what a person typed is never turned into a link or a mention.
    return kit.mrkdwn(text, verbatim=True)


def _section(text: str) -> Block:
    return kit.section(text, verbatim=True)


FORM_CALLBACK = "intake_form"
NOTE_CALLBACK = "intake_note"


LABELS = {
    "goal": "Business goal: one indicator, baseline → target",
    "audience": "Target audience and key behaviors",
    "context": "Context of work: when and where it happens",
    "cost_of_inaction": "Cost of inaction",
    "horizon": "Time horizon and constraints",
    "team": "Your team",
    "sponsor": "Sponsor",
    "diagnostic": "Is training the fix?",
}
HINTS = {
    "goal": "The one business result this must move, e.g. ",
    "audience": "Who must act differently, and what exactly they should do, e.g. ",
    "context": "The moment and the place in the work, e.g. ",
    "cost_of_inaction": "Money, time, customers or risk, with a number, e.g. ",
    "horizon": "A deadline and the limits (time, budget, people), e.g. ",
}
SUGGESTIONS = {
    "process": "This looks like a *process problem*: try a *process fix* first (a clearer "
    "hand-off, a checklist in the workflow, a better default). A course will not stick while "
    "the process pushes the other way.",
    "tools": "This looks like a *tools problem*: a *job aid* or a fix to the tool (a template, "
    "a checklist where the work happens) usually beats a course.",
    "motivation": "This looks like *motivation or incentives*: start with a *manager "
    "conversation* about expectations, feedback and what gets rewarded, before any course.",
    "unknown": "Not sure training is the fix? Ask: could they do it if their job depended on "
    "it? If yes, it is not a skill gap: try a *job aid*, a *process fix* or a *manager "
    "conversation* first.",
}
ACTIONS = {
    "intake_claim": "Claim",
    "intake_approve": "Approve",
    "intake_decline": "Decline",
    "intake_needs_info": "Needs info",
}


# The form ----------------------------------------------------------------------------


def form_view(
    *,
    answers: dict[str, str],
    request_id: int | None = None,
    question: str | None = None,
    notice: str | None = None,
) -> Block:
    blocks: list[Block] = []
    fitted = fit_answers(answers)
    answers = fitted.answers
    if notice:
        blocks.append(_section(notice))
    if fitted.moved_to:
        blocks.append(_section(_moved_notice(fitted.moved_to, fitted.left_out)))
    if question is not None:
        blocks.append(_section(f"*L&amp;D asks:* {kit.escape_within(question, SECTION_TEXT - 20)}"))
        blocks.append(_text_input("reply", "Your answer to the question", answers, optional=True))
    blocks.append(
        _section(
            "A request reaches the L&amp;D queue once it names the business result it must "
            "move. Five short answers; your text is kept exactly as you type it."
        )
    )
    for name in ("goal", "audience", "context", "cost_of_inaction", "horizon"):
        blocks.append(_text_input(name, LABELS[name], answers, hint=HINTS[name] + EXAMPLES[name]))
    blocks.append(_text_input("team", LABELS["team"], answers, optional=True, multiline=False))
    blocks.append(
        _text_input("sponsor", LABELS["sponsor"], answers, optional=True, multiline=False)
    )
    blocks.append(_diagnostic_input(answers.get("diagnostic")))
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK,
        "title": kit.plain("Training request"),
        "submit": kit.plain("Send request" if request_id is None else "Send answers"),
        "close": kit.plain("Cancel"),
        "notify_on_close": True,
        "private_metadata": json.dumps({"request_id": request_id}),
        "blocks": blocks,
    }


def _moved_notice(moved_to: Sequence[str], left_out: int) -> str:
    fields = " and ".join(f"*{LABELS[name]}*" for name in moved_to)
    text = (
        f":scissors: Your text is longer than one answer holds ({MAX_CHARS:,} characters), "
        f"so it continues in {fields}. Move each part to the answer it belongs to."
    )
    if left_out:
        text += f" The last {left_out:,} characters did not fit in the form."
    return text


def _text_input(
    name: str,
    label: str,
    answers: dict[str, str],
    *,
    hint: str | None = None,
    optional: bool = False,
    multiline: bool = True,
) -> Block:
    element: Block = {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": multiline,
        "max_length": MAX_CHARS,
    }
    if answers.get(name):
        element["initial_value"] = answers[name]
    block: Block = {
        "type": "input",
        "block_id": name,
        "optional": optional,
        "label": kit.plain(label),
        "element": element,
    }
    if hint:
        block["hint"] = kit.plain(hint)
    return block


def _option(value: str) -> Block:
    return {"text": kit.plain(DIAGNOSTICS[value]), "value": value}


def _diagnostic_input(selected: str | None) -> Block:
    element: Block = {
        "type": "static_select",
        "action_id": "value",
        "placeholder": kit.plain("Skill gap, process, tools, motivation…"),
        "options": [_option(value) for value in DIAGNOSTICS],
    }
    if selected in DIAGNOSTICS:
        element["initial_option"] = _option(selected)
    return {
        "type": "input",
        "block_id": "diagnostic",
        "optional": True,
        "label": kit.plain(LABELS["diagnostic"]),
        "hint": kit.plain(
            "If people could do it when their job depended on it, it is not a skill gap."
        ),
        "element": element,
    }


def read_form(view: dict[str, Any]) -> dict[str, str]:
    """Block id → what the person typed or picked ("" when left empty)."""
    out: dict[str, str] = {}
    for block_id, actions in (view.get("state") or {}).get("values", {}).items():
        state = actions.get("value") or {}
        if state.get("type") == "static_select":
            out[block_id] = ((state.get("selected_option") or {}).get("value")) or ""
        else:
            out[block_id] = state.get("value") or ""
    return out


def form_request_id(view: dict[str, Any]) -> int | None:
    try:
        value = json.loads(view.get("private_metadata") or "{}").get("request_id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


# Notes from a lead (a question, a reason to decline) ------------------------------------


def note_view(*, action: DecisionAction, request_id: int) -> Block:
    asking = action is DecisionAction.needs_info
    label = "Your question to the requester" if asking else "Why decline? (sent to the requester)"
    return {
        "type": "modal",
        "callback_id": NOTE_CALLBACK,
        "title": kit.plain("Needs info" if asking else "Decline request"),
        "submit": kit.plain("Ask" if asking else "Decline"),
        "close": kit.plain("Cancel"),
        "private_metadata": json.dumps({"request_id": request_id, "action": action.value}),
        "blocks": [
            _section(f"Training request *#{request_id}*"),
            {
                "type": "input",
                "block_id": "note",
                "optional": not asking,
                "label": kit.plain(label),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": True,
                    "max_length": MAX_CHARS,
                },
            },
        ],
    }


def note_metadata(view: dict[str, Any]) -> tuple[int, DecisionAction] | None:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
        return int(data["request_id"]), DecisionAction(data["action"])
    except (ValueError, KeyError, TypeError):
        return None


# The triage message ------------------------------------------------------------------


def triage_blocks(request: IntakeRequest, score: Score) -> list[Block]:
    who = f"From <@{request.requester_slack_user_id}>"
    if request.team:
        who += f" · team: {kit.escape_within(request.team, 300)}"
    if request.sponsor:
        who += f" · sponsor: {kit.escape_within(request.sponsor, 300)}"
    blocks: list[Block] = [
        {"type": "header", "text": kit.plain(f"Training request #{request.id}")},
        {"type": "context", "elements": [_mrkdwn(who)]},
    ]
    for name in ("goal", "audience", "context", "cost_of_inaction", "horizon"):
        label = f"*{escape(LABELS[name])}*\n"
        blocks.append(
            _section(label + kit.escape_within(getattr(request, name), SECTION_TEXT - len(label)))
        )
    blocks.append(_section(score_line(score)))
    suggestion = SUGGESTIONS.get(request.diagnostic or "")
    if suggestion:
        picked = escape(DIAGNOSTICS[request.diagnostic or "unknown"])
        blocks.append(
            _section(f":bulb: *Is training the fix?* Requester says: {picked}.\n{suggestion}")
        )
    blocks.append({"type": "context", "elements": [_mrkdwn(status_line(request))]})
    if request.status in OPEN_STATUSES:
        blocks.append(_triage_actions(request.id))
    return blocks


def score_line(score: Score) -> str:
    return (
        f"*Impact {score.impact:g}* ({score.impact_band}) = 100 × gap {score.gap:g} "
        f"× cost {score.cost:g} × urgency {score.urgency:g} ÷ reach {score.reach:g}\n"
        f"_gap: how far the indicator must move · cost: order of magnitude of the cost of "
        f"inaction · urgency: {score.urgency_band} · reach: log10 of the audience size_"
    )


def status_line(request: IntakeRequest) -> str:
    parts = [f"Status: *{request.status.value.replace('_', ' ')}*"]
    if request.claimed_by:
        parts.append(f"claimed by <@{request.claimed_by}>")
    if request.decided_by and request.decided_at:
        parts.append(
            f"{request.status.value} by <@{request.decided_by}> "
            f"on {request.decided_at:%Y-%m-%d %H:%M} UTC"
        )
    return " · ".join(parts)


def _triage_actions(request_id: int) -> Block:
    styles = {"intake_approve": "primary", "intake_decline": "danger"}
    buttons = [
        kit.button(label, action_id, str(request_id), style=styles.get(action_id))
        for action_id, label in ACTIONS.items()
    ]
    return kit.actions(buttons, block_id=f"intake_triage_{request_id}")


def triage_text(request: IntakeRequest) -> str:
    return f"Training request #{request.id} from <@{request.requester_slack_user_id}>"


# Messages to the requester ----------------------------------------------------------


def decision_dm(
    request: IntakeRequest, action: DecisionAction, actor: str, note: str | None
) -> str:
    ref = f"Your training request *#{request.id}*"
    text = {
        DecisionAction.claimed: f"{ref} was picked up by <@{actor}> from L&amp;D.",
        DecisionAction.approved: f"{ref} was *approved* by <@{actor}>. L&amp;D will turn it "
        "into a program and get back to you.",
        DecisionAction.declined: f"{ref} was *declined* by <@{actor}>.",
        DecisionAction.needs_info: f"<@{actor}> from L&amp;D has a question about {ref[0].lower()}"
        f"{ref[1:]}.",
    }[action]
    if note and note.strip():
        label = "Question" if action is DecisionAction.needs_info else "Note"
        text += f"\n*{label}:* {kit.escape_within(note, SECTION_TEXT - 400)}"
    return text


def answer_button_blocks(text: str, request_id: int) -> list[Block]:
    answer = kit.button(
        "Answer and edit my request", "intake_answer", str(request_id), style="primary"
    )
    return [
        _section(text),
        kit.actions([answer], block_id=f"intake_answer_{request_id}"),
    ]


def status_is_final(status: RequestStatus) -> bool:
    return status not in OPEN_STATUSES
