"""App Home as Block Kit, built from `home.HomeData` (no I/O): a person's week, streaks,
pauses and preferences; for L&D leads, programs and adoption. Also its two modals."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from bot.calendars import blocks as calendar_blocks
from bot.people.privacy import withheld_reason
from bot.proof.home import HomeData, LeadData, NudgeLine, ProgramLine, StepAdoption
from bot.proof.models import Pause, PauseReason
from bot.proof.pauses import OPEN_ENDED
from bot.proof.service import local_time_text
from bot.slack import blocks as kit
from bot.slack.blocks import escape

PREFERENCES_CALLBACK = "proof_preferences"
ENROLL_CALLBACK = "proof_enroll"
RESUME_ACTION = "nudges_resume"
PAUSE_ACTION = "nudges_pause"
PREFERENCES_ACTION = "nudges_preferences"
PAGE_ACTION = "nudges_programs_page"
ENROLL_ACTION = "nudges_enroll"
MAX_HOME_BLOCKS = kit.VIEW_BLOCKS
LANGUAGES = {"en": "English", "bg": "Български"}


PAUSE_REASONS = {
    PauseReason.manual: "you paused them",
    PauseReason.fatigue: "the last few went unanswered",
    PauseReason.vacation: "your vacation",
    PauseReason.status: "your Slack status says you are away",
}


def pause_text(pause: Pause, tz: ZoneInfo) -> str:
    why = PAUSE_REASONS.get(pause.reason, str(pause.reason))
    if pause.ends_at is None or pause.ends_at >= OPEN_ENDED:
        return f"paused until you resume ({why})"
    return f"paused until {local_time_text(pause.ends_at, tz)} ({why})"


def home_view(data: HomeData) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": kit.plain("Your nudges")},
        *_pause_blocks(data),
        {"type": "divider"},
        {"type": "section", "text": kit.mrkdwn("*This week*")},
        _lines_block(data.week, data.tz, empty="No nudges yet this week."),
        {"type": "section", "text": kit.mrkdwn("*Streaks*")},
        {"type": "section", "text": kit.mrkdwn(_streak_text(data))},
        {"type": "section", "text": kit.mrkdwn("*What comes next*")},
        _lines_block(data.next, data.tz, empty="Nothing planned right now."),
        {"type": "divider"},
        *_preference_blocks(data),
    ]
    if data.calendar is not None:
        blocks += calendar_blocks.home_section(data.calendar, connected=data.calendar_connected)
    if data.lead is not None:
        blocks += _lead_blocks(data.lead, room=MAX_HOME_BLOCKS - len(blocks))
    return {"type": "home", "callback_id": "nudges_home", "blocks": blocks[:MAX_HOME_BLOCKS]}


def _pause_blocks(data: HomeData) -> list[dict[str, Any]]:
    if data.pauses:
        text = (
            ":pause_button: Your nudges are "
            + "; ".join(pause_text(p, data.tz) for p in data.pauses)
            + "."
        )
        button = kit.button("Resume", RESUME_ACTION, "resume", style="primary")
    else:
        text = ":arrow_forward: Your nudges are on."
        button = kit.button("Pause for a week", PAUSE_ACTION, "7d")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": kit.mrkdwn(text), "accessory": button}
    ]
    for p in data.upcoming:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    kit.mrkdwn(
                        f":palm_tree: Vacation from {local_time_text(p.starts_at, data.tz)}"
                        + (f" to {local_time_text(p.ends_at, data.tz)}" if p.ends_at else "")
                    )
                ],
            }
        )
    return blocks[:4]


def _lines_block(lines: Sequence[NudgeLine], tz: ZoneInfo, *, empty: str) -> dict[str, Any]:
    if not lines:
        return {"type": "context", "elements": [kit.mrkdwn(empty)]}
    text = "\n".join(
        f"• {local_time_text(n.when, tz)} · _{escape(n.program)}_: {escape(n.snippet)}"
        + (f"  {n.answer}" if n.answer else "")
        for n in lines
    )
    return {"type": "section", "text": kit.mrkdwn(text)}


def _streak_text(data: HomeData) -> str:
    if not data.streaks:
        return "Your streaks appear after your first answers."
    return "\n".join(
        f"• _{escape(s.program)}_: *{s.count}* in a row · {escape(s.behavior)}"
        for s in data.streaks[:10]
    )


def _preference_blocks(data: HomeData) -> list[dict[str, Any]]:
    language = LANGUAGES.get(data.language or "", "as in Slack")
    tz_text = f"{data.tz.key}" + (" (your choice)" if data.tz_override else " (from Slack)")
    text = (
        "*Preferences*\n"
        f"Working hours: {escape(data.working_hours)} · Time zone: {tz_text} · Language: {language}"
    )
    return [
        {
            "type": "section",
            "text": kit.mrkdwn(text),
            "accessory": kit.button("Change", PREFERENCES_ACTION, "edit"),
        }
    ]


def _lead_blocks(lead: LeadData, *, room: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "divider"},
        {"type": "header", "text": kit.plain("Programs (L&D)")},
        {
            "type": "context",
            "elements": [
                kit.mrkdwn(
                    f"{lead.total} program(s) · page {lead.page + 1} of {lead.pages} · "
                    "adoption = answered ÷ delivered per step"
                )
            ],
        },
    ]
    for program in lead.programs:
        if len(blocks) >= room - 1:
            break
        blocks.append(_program_block(program, lead.min_group))
    paging = []
    if lead.page > 0:
        paging.append(kit.button("Previous", f"{PAGE_ACTION}_prev", str(lead.page - 1)))
    if lead.page + 1 < lead.pages:
        paging.append(kit.button("Next", f"{PAGE_ACTION}_next", str(lead.page + 1)))
    if paging:
        blocks.append({"type": "actions", "block_id": "programs_paging", "elements": paging})
    return blocks[:room]


def _step_adoption(step: StepAdoption, k: int) -> str:
    if step.answered is None:
        return f"{escape(step.step_id)} ·/{step.delivered} ({withheld_reason(k)})"
    share = f" ({100 * step.answered // step.delivered}%)" if step.delivered else ""
    return f"{escape(step.step_id)} {step.answered}/{step.delivered}{share}"


def _program_block(program: ProgramLine, k: int) -> dict[str, Any]:
    adoption = (
        ", ".join(_step_adoption(s, k) for s in program.steps[:12]) or "nothing delivered yet"
    )
    status = "" if program.active else " · retired"
    head = f"*{escape(program.title)}* (`{program.id}`){status}"
    text = f"{head}\n{program.enrolled} enrolled · {adoption}"
    block: dict[str, Any] = {
        "type": "section",
        "block_id": f"program_{program.id}"[:255],
        "text": kit.mrkdwn(text),
    }
    if program.active:
        block["accessory"] = kit.button("Enroll…", ENROLL_ACTION, program.id)
    return block


def preferences_modal(
    *, working_hours: str, tz_override: str | None, language: str | None
) -> dict[str, Any]:
    lang_options = [{"text": kit.plain("As in Slack"), "value": "slack"}] + [
        {"text": kit.plain(label), "value": code} for code, label in LANGUAGES.items()
    ]
    chosen = next((o for o in lang_options if o["value"] == (language or "slack")), lang_options[0])
    tz_element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "value",
        "max_length": 64,
        "placeholder": kit.plain("Europe/Sofia"),
    }
    if tz_override:
        tz_element["initial_value"] = tz_override
    return {
        "type": "modal",
        "callback_id": PREFERENCES_CALLBACK,
        "title": kit.plain("Preferences"),
        "submit": kit.plain("Save"),
        "close": kit.plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": "hours",
                "label": kit.plain("Working hours (nudges arrive only inside them)"),
                "hint": kit.plain("Like 09:00-17:30, in your time zone"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "initial_value": working_hours,
                    "max_length": 11,
                },
            },
            {
                "type": "input",
                "block_id": "tz",
                "optional": True,
                "label": kit.plain("Time zone (leave empty to use Slack's)"),
                "element": tz_element,
            },
            {
                "type": "input",
                "block_id": "language",
                "label": kit.plain("Language of nudges"),
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "options": lang_options,
                    "initial_option": chosen,
                },
            },
        ],
    }


def enroll_modal(*, program_id: str, title: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": ENROLL_CALLBACK,
        "private_metadata": json.dumps({"program_id": program_id}),
        "title": kit.plain("Enroll people"),
        "submit": kit.plain("Enroll"),
        "close": kit.plain("Cancel"),
        "blocks": [
            {
                "type": "section",
                "text": kit.mrkdwn(f"Enroll into *{escape(title)}* (`{program_id}`):"),
            },
            {
                "type": "input",
                "block_id": "channel",
                "optional": True,
                "label": kit.plain("Everyone in a channel"),
                "element": {
                    "type": "conversations_select",
                    "action_id": "value",
                    "filter": {"include": ["public", "private"], "exclude_bot_users": True},
                },
            },
            {
                "type": "input",
                "block_id": "usergroup",
                "optional": True,
                "label": kit.plain("Or a user group (its id, S…)"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "max_length": 32,
                    "placeholder": kit.plain("S0123ABCD"),
                },
            },
        ],
    }
