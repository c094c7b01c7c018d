"""Block Kit for proof: answered nudges, the reason and reflection modals, the
fatigue DM and /nudges replies. Pure: data in, dicts out. App Home is built in
home_blocks.py; its names are importable from here too."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.content.blocks import (
    BLOCK_ID_ACTIONS,
    BLOCK_ID_CHECKLIST,
    BLOCK_ID_CONTEXT,
    BLOCK_ID_RATING,
    BLOCK_ID_REFLECTION,
    message_locale,
    step_message,
    ui_strings,
    ui_time,
)
from bot.content.schema import Program
from bot.proof.home import NudgeLine
from bot.proof.home_blocks import RESUME_ACTION, pause_text
from bot.proof.models import Pause, ProofEvent
from bot.proof.service import NOT_RELEVANT_REASONS, local_time_text
from bot.slack import blocks as kit
from bot.slack.blocks import escape

NOT_RELEVANT_CALLBACK = "proof_not_relevant"
REFLECTION_CALLBACK = "proof_reflection"
SOMEONE_ELSE = "This nudge is for someone else, so your click changed nothing."


# -- the answered nudge ---------------------------------------------------------------------


def answer_lines(events: Sequence[ProofEvent], tz: ZoneInfo, lang: str = "en") -> list[str]:
    """What was answered and when, in the message's language and the reader's zone."""
    ui = ui_strings(lang)
    lines = []
    for e in events:
        when = ui_time(e.occurred_at, tz, lang)
        if e.kind == "done":
            what = ui["all_done"] if e.value == "checklist" else ui["done"]
            lines.append(f":white_check_mark: *{what}* · {when}")
        elif e.kind == "rating":
            lines.append(f":star: {ui['rated'].format(value=e.value)} · {when}")
        elif e.kind == "reflection":
            what = ui["answered_scale"].format(value=e.value) if e.value else ui["reflection_saved"]
            lines.append(f":memo: {what} · {when}")
        elif e.kind == "not_relevant":
            lines.append(
                f":no_entry_sign: *{ui['not_relevant']}* · {when}: {ui['not_coming_back']}"
            )
        elif e.kind == "reason" and e.value:
            reason = ui.get(f"reason_{e.value}") or NOT_RELEVANT_REASONS.get(e.value, e.value)
            lines.append(ui["reason"].format(reason=reason))
    return lines


def answered_message(
    program: Program,
    step_id: str,
    *,
    locale: str,
    delivery_id: int,
    arm: str,
    events: Sequence[ProofEvent],
    tz: ZoneInfo,
    snoozed_until: datetime | None = None,
) -> dict[str, Any]:
    """The nudge as it reads after an answer: what was answered and when, and only
    the parts still open (a rating not given yet, checklist items not ticked)."""
    message = step_message(program, step_id, locale=locale, delivery_id=delivery_id, arm=arm)
    kinds = {e.kind for e in events}
    closed = bool(kinds & {"done", "not_relevant", "reflection"}) or snoozed_until is not None
    ticked = {int(e.value or 0) for e in events if e.kind == "check"}
    # A rating stays open after Done (both may be given), not after it was given or refused.
    rating_closed = bool(kinds & {"rating", "not_relevant"}) or snoozed_until is not None
    rating_closed |= closed and program.step(step_id).kind == "reflection"
    blocks: list[dict[str, Any]] = message["blocks"]
    drop: set[int] = set()
    for i, block in enumerate(blocks):
        block_id = block.get("block_id")
        if block_id in (BLOCK_ID_ACTIONS, BLOCK_ID_REFLECTION) and closed:
            drop.add(i)
        elif block_id == BLOCK_ID_RATING and rating_closed:
            drop.add(i)
            drop |= _unnamed_neighbours(blocks, i)
        elif block_id == BLOCK_ID_CHECKLIST:
            blocks[i] = _checklist(block, ticked, open_=not closed)
    kept = [b for i, b in enumerate(blocks) if i not in drop]
    lang = message_locale(program, locale)
    lines = answer_lines(events, tz, lang)
    if snoozed_until is not None:
        ui = ui_strings(lang)
        back = ui["comes_back"].format(when=ui_time(snoozed_until, tz, lang))
        lines.append(f":alarm_clock: *{ui['snoozed']}* · {back}")
    if lines:
        at = next(
            (i for i, b in enumerate(kept) if b.get("block_id") == BLOCK_ID_CONTEXT), len(kept)
        )
        kept.insert(
            at,
            {
                "type": "context",
                "block_id": "proof_answers",
                "elements": [kit.mrkdwn("\n".join(lines))],
            },
        )
    return {"text": message["text"], "blocks": kept}


def _unnamed_neighbours(blocks: list[dict[str, Any]], i: int) -> set[int]:
    """The rating's question above it and the scale's legend below it have no block_id."""
    out = set()
    if i > 0 and blocks[i - 1].get("type") == "section" and "block_id" not in blocks[i - 1]:
        out.add(i - 1)
    below = blocks[i + 1] if i + 1 < len(blocks) else {}
    if below.get("type") == "context" and "block_id" not in below:
        out.add(i + 1)
    return out


def _checklist(block: dict[str, Any], ticked: set[int], *, open_: bool) -> dict[str, Any]:
    element = dict(block["elements"][0])
    options = element["options"]
    if open_ and len(ticked) < len(options):
        chosen = [o for o in options if int(o["value"].split("|")[1]) in ticked]
        if chosen:
            element["initial_options"] = chosen
        return {**block, "elements": [element]}
    lines = [
        (":ballot_box_with_check: " if n in ticked else ":white_medium_square: ")
        + escape(o["text"]["text"])
        for n, o in enumerate(options)
    ]
    return {"type": "section", "block_id": BLOCK_ID_CHECKLIST, "text": kit.mrkdwn("\n".join(lines))}


# -- modals -------------------------------------------------------------------------------------


def not_relevant_modal(delivery_id: int, lang: str = "en") -> dict[str, Any]:
    """Asks why, in the language the nudge was read in (`lang`)."""
    ui = ui_strings(lang)
    options = [
        {"text": kit.plain(ui.get(f"reason_{code}") or label), "value": code}
        for code, label in NOT_RELEVANT_REASONS.items()
    ]
    return {
        "type": "modal",
        "callback_id": NOT_RELEVANT_CALLBACK,
        "private_metadata": json.dumps({"delivery_id": delivery_id}),
        "title": kit.plain(ui["nr_title"]),
        "submit": kit.plain(ui["nr_submit"]),
        "close": kit.plain(ui["nr_close"]),
        "blocks": [
            {"type": "section", "text": kit.mrkdwn(ui["nr_intro"])},
            {
                "type": "input",
                "block_id": "reason",
                "optional": True,
                "label": kit.plain(ui["nr_why"]),
                "element": {"type": "radio_buttons", "action_id": "choice", "options": options},
            },
            {
                "type": "input",
                "block_id": "details",
                "optional": True,
                "label": kit.plain(ui["nr_words"]),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "text",
                    "multiline": True,
                    "max_length": 500,
                },
            },
        ],
    }


def reflection_modal(delivery_id: int, question: str, lang: str = "en") -> dict[str, Any]:
    """The question asked again, with a box for the answer, in the nudge's language."""
    ui = ui_strings(lang)
    return {
        "type": "modal",
        "callback_id": REFLECTION_CALLBACK,
        "private_metadata": json.dumps({"delivery_id": delivery_id}),
        "title": kit.plain(ui["rf_title"]),
        "submit": kit.plain(ui["rf_submit"]),
        "close": kit.plain(ui["rf_close"]),
        "blocks": [
            {"type": "section", "text": kit.mrkdwn(question)},
            {
                "type": "input",
                "block_id": "answer",
                "label": kit.plain(ui["rf_label"]),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "text",
                    "multiline": True,
                    "min_length": 2,
                    "max_length": 3000,
                },
            },
        ],
    }


# -- DMs and /nudges replies ------------------------------------------------------------------


def fatigue_dm(limit: int) -> dict[str, Any]:
    text = (
        f"Your last {limit} nudges went unanswered, so I have paused them: no more for now. "
        "Nothing is lost; they wait for you."
    )
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": kit.mrkdwn(f":pause_button: {text}")},
            {
                "type": "actions",
                "block_id": "fatigue",
                "elements": [
                    kit.button("Resume my nudges", RESUME_ACTION, "resume", style="primary")
                ],
            },
            {
                "type": "context",
                "elements": [
                    kit.mrkdwn("Or type `/nudges resume` any time. `/nudges help` lists more.")
                ],
            },
        ],
    }


def owner_report(*, program_title: str, step_id: str, count: int) -> str:
    return (
        f":no_entry_sign: Someone marked step *{escape(step_id)}* of _{escape(program_title)}_ "
        f"as not relevant to them ({count} so far). The reasons are in "
        "`nudgebot proof export --program …` (kind `reason`)."
    )


HELP = (
    "*/nudges* controls the nudges you get:\n"
    "• `/nudges status`: what comes next and what is paused\n"
    "• `/nudges pause` (until you resume) or `/nudges pause until 2026-12-14`\n"
    "• `/nudges resume`: start again; nothing planned was lost\n"
    "• `/nudges vacation 2026-12-21 2027-01-04`: no nudges in those days\n"
    "• `/nudges stop PROGRAM`: leave a program (ids are in `/nudges status`)\n"
    "• `/nudges digest`: your team's behaviors this week (for managers)\n"
    "• `/nudges calendar https://…`: connect your calendar for nudges timed to your meetings "
    "(`/nudges calendar off` disconnects it)\n"
    "• `/nudges workflow-key`: a key for Nudgebot's Workflow Builder steps (for L&D leads)\n"
    "A Slack status with :palm_tree: or “vacation” / “OOO” pauses nudges while it lasts."
)


def status_text(
    *,
    tz: ZoneInfo,
    pauses: Sequence[Pause],
    upcoming: Sequence[Pause],
    next_lines: Sequence[NudgeLine],
    programs: Sequence[tuple[str, str]],
) -> str:
    parts = []
    if pauses:
        parts.append(
            ":pause_button: Your nudges are " + "; ".join(pause_text(p, tz) for p in pauses) + "."
        )
    else:
        parts.append(":arrow_forward: Your nudges are on.")
    for p in upcoming:
        start = local_time_text(p.starts_at, tz)
        end = local_time_text(p.ends_at, tz) if p.ends_at else "you resume"
        parts.append(f":palm_tree: Vacation planned from {start} to {end}.")
    if next_lines:
        parts.append("*Next:*")
        parts += [
            f"• {local_time_text(n.when, tz)}: _{escape(n.program)}_: {escape(n.snippet)}"
            for n in next_lines
        ]
    else:
        parts.append("Nothing is planned for you right now.")
    if programs:
        parts.append("*Your programs:* " + ", ".join(f"{escape(t)} (`{i}`)" for i, t in programs))
    parts.append(f"Times are in {tz.key}.")
    return "\n".join(parts)
