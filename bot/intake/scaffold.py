"""An approved request → a program draft for nudges/ (docs/program-format.md).

The Five Ps come prefilled from the request (Problem from the goal and the cost
of inaction, Behavior from the audience and behaviors, Place from the context,
Proof and the metric from the goal's indicator). Steps are left to the L&D lead:
the file passes `nudgebot content validate` once they are written.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import yaml

from bot.errors import UserError
from bot.intake.form import Goal, parse_goal, parse_horizon
from bot.intake.models import IntakeRequest, RequestStatus

_SLUG_OK = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")
# The program format's limits (docs/program-format.md): a request's answers may be longer.
FIVE_P_MAX, SUMMARY_MAX, TITLE_MAX = 1500, 600, 150


def fit(text: str, limit: int) -> str:
    """`text` if it fits, else cut at the last space before `limit` and marked with …"""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"


def program_id_for(request: IntakeRequest) -> str:
    words = re.findall(r"[a-z0-9]+", request.goal.lower().encode("ascii", "ignore").decode())
    words = [w for w in words if not w.isdigit()][:5]
    slug = "-".join([f"intake-{request.id}", *words])[:64].strip("-")
    return slug


def check_program_id(program_id: str) -> str:
    if not _SLUG_OK.match(program_id):
        raise UserError(
            f"{program_id!r} is not a program id: use 3–64 characters a-z, 0-9 and '-' "
            "(the file name without .yaml)"
        )
    return program_id


def _number(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def _title(goal: Goal) -> str:
    unit = "" if goal.unit == "count" else goal.unit
    sep = "" if unit == "%" else " "
    move = f"{_number(goal.baseline)}{sep}{unit} → {_number(goal.target)}{sep}{unit}".replace(
        " " * 2, " "
    )
    return fit(f"{goal.name}: {move.strip()}", TITLE_MAX)


def program_document(
    request: IntakeRequest, *, program_id: str, owner: str, today: date
) -> dict[str, Any]:
    if request.status is not RequestStatus.approved:
        raise UserError(
            f"request #{request.id} is {request.status.value}; only an approved request "
            "becomes a program draft (approve it in the triage channel first)"
        )
    goal = parse_goal(request.goal)
    if goal is None:  # validation requires both numbers, so only hand-edited rows get here
        raise UserError(f"request #{request.id} names no baseline and target in its goal")
    deadline = parse_horizon(request.horizon, today)
    name = fit(goal.name, TITLE_MAX)
    return {
        "id": program_id,
        "title": {"en": _title(goal)},
        "owner": owner,
        "summary": {
            "en": fit(
                f"Drafted from training request #{request.id}. {request.audience}", SUMMARY_MAX
            )
        },
        "locales": ["en"],
        "problem": {
            "en": fit(f"{request.goal}\n\nCost of inaction: {request.cost_of_inaction}", FIVE_P_MAX)
        },
        "behavior": {"en": fit(request.audience, FIVE_P_MAX)},
        "place": {"en": fit(request.context, FIVE_P_MAX)},
        "prompt": {
            "en": fit(
                "To write: what nudges the behavior at the moment of work "
                f"(time horizon and constraints: {request.horizon})",
                FIVE_P_MAX,
            )
        },
        "proof": {
            "en": fit(
                "Done clicks and answers in Nudgebot show the behavior was tried; "
                f"{name} moving from {_number(goal.baseline)} to {_number(goal.target)} "
                "shows whether it pays off.",
                FIVE_P_MAX,
            )
        },
        "metric": {
            "name": name,
            "unit": goal.unit,
            "direction": goal.direction,
            "baseline": _number(goal.baseline),
            "target": _number(goal.target),
            "by": deadline if deadline else "90d",
        },
        "steps": [],
    }


HEADER = """\
# Program draft from training request #{id} (nudgebot intake scaffold {id}).
# The Five Ps and the metric come from the request, as the requester typed them (answers
# longer than the format allows end in …; the full text: nudgebot intake list --all --format json).
# Before launch: write `prompt` and the steps (1–30), then run
#   nudgebot content validate
# A first step could look like this (see docs/program-format.md):
# steps:
#   - id: first-nudge
#     kind: prompt
#     when: {{day: 0, time: "09:30"}}
#     text:
#       en: "..."
"""


class _Dumper(yaml.SafeDumper):
    """Multi-line answers as `|` blocks, so the file reads like the form did."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def program_yaml(request: IntakeRequest, *, program_id: str, owner: str, today: date) -> str:
    document = program_document(request, program_id=program_id, owner=owner, today=today)
    body = yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=4096,
        default_flow_style=False,
    )
    return HEADER.format(id=request.id) + body
