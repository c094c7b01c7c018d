"""Block Kit for the pre-mortem's modals (no I/O): the decision form, the anonymous
risk form and the merge form. The ids here are the listeners' callback ids."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.premortem.models import Premortem, Prevention, Risk
from bot.slack.blocks import Block, context, escape, plain, section, truncate

ANON_VIEW = "premortem_anonymous_risk"
DECIDE_VIEW = "premortem_decision"
MERGE_VIEW = "premortem_merge_risks"


def decision_modal(
    premortem: Premortem, risk: Risk, *, existing: Prevention | None, today: date
) -> Block:
    action: Block = {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": True,
        "max_length": 1000,
        "placeholder": plain("What will we do so this does not happen?", 150),
    }
    owner: Block = {"type": "users_select", "action_id": "value"}
    due: Block = {"type": "datepicker", "action_id": "value"}
    if existing is not None:
        action["initial_value"] = existing.action
        owner["initial_user"] = existing.owner_id
        due["initial_date"] = existing.due_date.isoformat()
    return {
        "type": "modal",
        "callback_id": DECIDE_VIEW,
        "private_metadata": f"{premortem.id}:{risk.id}",
        "title": plain("Prevention", 24),
        "submit": plain("Save", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            section(f"*Risk #{risk.number}*\n{escape(truncate(risk.text, 2500))}"),
            {
                "type": "input",
                "block_id": "action",
                "label": plain("Prevention", 2000),
                "element": action,
            },
            {"type": "input", "block_id": "owner", "label": plain("Owner", 2000), "element": owner},
            {
                "type": "input",
                "block_id": "due",
                "label": plain("Due date", 2000),
                "element": due,
                "hint": plain(f"After {today.isoformat()}", 2000),
            },
        ],
    }


def anonymous_modal(premortem: Premortem) -> Block:
    return {
        "type": "modal",
        "callback_id": ANON_VIEW,
        "private_metadata": str(premortem.id),
        "title": plain("Anonymous risk", 24),
        "submit": plain("Add risk", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            section(
                f"*{escape(truncate(premortem.initiative, 300))}*\nYour name is not stored with "
                "this risk and nobody, the facilitator included, will see who wrote it."
            ),
            {
                "type": "input",
                "block_id": "risk",
                "label": plain("Why did it fail?", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": True,
                    "max_length": 2000,
                },
            },
        ],
    }


def merge_modal(premortem: Premortem, risks: Sequence[Risk]) -> Block:
    options = [
        {
            "text": plain(f"#{r.number} {r.text}", 75),
            "value": str(r.number),
        }
        for r in risks[:100]
    ]

    def select(block_id: str, label: str) -> Block:
        return {
            "type": "input",
            "block_id": block_id,
            "label": plain(label, 2000),
            "element": {"type": "static_select", "action_id": "value", "options": options},
        }

    blocks = [select("source", "Merge this risk…"), select("target", "…into this one")]
    if len(risks) > 100:
        blocks.insert(0, context("Only the first 100 risks are listed here."))
    return {
        "type": "modal",
        "callback_id": MERGE_VIEW,
        "private_metadata": str(premortem.id),
        "title": plain("Merge risks", 24),
        "submit": plain("Merge", 24),
        "close": plain("Cancel", 24),
        "blocks": blocks,
    }
