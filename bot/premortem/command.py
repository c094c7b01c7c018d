"""Starting a pre-mortem from `/premortem`: the templates, the command's options, the horizon."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from bot.errors import UserError
from bot.settings import Settings

# Risks per vote-board message: 40 sections + a header + an actions row stay under
# Slack's 50 blocks per message, so a thread of 300 risks becomes 8 board messages.
PAGE_SIZE = 40
MAX_RISK_CHARS = 2000
MAX_INITIATIVE_CHARS = 300


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    questions: tuple[str, ...]


TEMPLATES: dict[str, Template] = {
    "why": Template(
        "why",
        "Why did it fail?",
        (
            "It is {horizon} and {initiative} has failed. What went wrong?",
            "What did someone see coming but never say out loud?",
            "Which dependency, person or decision let us down?",
        ),
    ),
    "risks": Template(
        "risks",
        "Risks and precautions",
        (
            "What could go wrong with {initiative} before {horizon}?",
            "Which of these would hurt most, and how likely is it?",
            "What precaution would have stopped it?",
        ),
    ),
    "stakeholders": Template(
        "stakeholders",
        "Stakeholder concerns",
        (
            "It is {horizon} and {initiative} has failed. What worried the team?",
            "What worried leadership?",
            "What worried customers?",
        ),
    ),
}


# -- the slash command --------------------------------------------------------------


@dataclass(frozen=True)
class StartRequest:
    initiative: str
    template: str
    horizon_months: int


@dataclass(frozen=True)
class Command:
    kind: str  # "start" | "list" | "help"
    start: StartRequest | None = None


_TEMPLATE_OPT = re.compile(r"(?:^|\s)--template(?:=|\s+)(\S+)")
_HORIZON_OPT = re.compile(r"(?:^|\s)--horizon(?:=|\s+)(\S+)")


def parse_command(text: str, *, settings: Settings) -> Command:
    """`/premortem <initiative> [--template NAME] [--horizon 6m]`, `list` or `help`."""
    text = (text or "").strip()
    if text.lower() in ("", "help", "-h", "--help"):
        return Command("help")
    if text.lower() == "list":
        return Command("list")
    template: str = settings.premortem_template
    months = settings.premortem_horizon_months
    if m := _TEMPLATE_OPT.search(text):
        template = m.group(1).lower()
        if template not in TEMPLATES:
            raise UserError(f"unknown template {m.group(1)!r}; use one of: {', '.join(TEMPLATES)}")
        text = _TEMPLATE_OPT.sub(" ", text, count=1)
    if m := _HORIZON_OPT.search(text):
        months = _parse_months(m.group(1))
        text = _HORIZON_OPT.sub(" ", text, count=1)
    initiative = " ".join(text.split())
    if not initiative:
        raise UserError("name the initiative, for example: /premortem Launch the new onboarding")
    if len(initiative) > MAX_INITIATIVE_CHARS:
        raise UserError(f"keep the initiative under {MAX_INITIATIVE_CHARS} characters")
    return Command("start", StartRequest(initiative, template, months))


def _parse_months(value: str) -> int:
    m = re.fullmatch(r"(\d{1,2})\s*m?", value.strip().lower())
    if not m or not 1 <= int(m.group(1)) <= 60:
        raise UserError(f"--horizon takes months between 1 and 60, like 6m; got {value!r}")
    return int(m.group(1))


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for candidate in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")
