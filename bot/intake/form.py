"""The /intake form: its fields, validation that teaches, and reading numbers out of answers.

Pure functions over the text people typed; no Slack, no database. The text is
never rewritten: what is stored is exactly what was typed.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

MAX_CHARS = 2900  # Slack's plain_text_input allows 3000; the rest is room for labels

REQUIRED = ("goal", "audience", "context", "cost_of_inaction", "horizon")
OPTIONAL = ("team", "sponsor", "diagnostic")

DIAGNOSTICS = {
    "skill": "Skill gap: they don't know how yet",
    "process": "Process problem",
    "tools": "Tools or systems get in the way",
    "motivation": "Motivation or incentives",
    "unknown": "Don't know yet",
}

EXAMPLES = {
    "goal": "“repeat calls 18% → 12% by Q3”",
    "audience": "“40 support agents: ask three clarifying questions before offering a fix”",
    "context": "“at the start of every inbound call, before the ticket is escalated”",
    "cost_of_inaction": "“each repeat call costs €7; about 1,200 a month, €100k a year”",
    "horizon": "“by end of Q3; agents can spare 10 minutes a week, no budget for travel”",
}

# Answers that say nothing a triage could act on.
_VAGUE = {
    "tbd",
    "tba",
    "n/a",
    "na",
    "none",
    "no",
    "yes",
    "unknown",
    "idk",
    "?",
    "-",
    "--",
    "...",
    "asap",
    "soon",
    "later",
    "now",
    "urgent",
    "improve",
    "better",
    "training",
    "everyone",
    "everybody",
    "all",
    "all staff",
    "all employees",
    "the team",
    "team",
    "people",
    "staff",
    "anywhere",
    "everywhere",
    "always",
    "at work",
    "money",
    "time",
    "a lot",
    "lots",
}

_NUMBER = re.compile(
    r"(?<![\w.])[-+]?(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?)"
    r"(\s*(?:k|m|bn|thousand|million|billion)\b)?",
    re.IGNORECASE,
)
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}
_TIME_WORD = re.compile(
    r"\b(q[1-4]|h[12]|day|days|week|weeks|month|months|year|years|quarter|"
    r"jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|"
    r"june|july|august|september|october|november|december|end of year|year end)\b",
    re.IGNORECASE,
)


# Where text too long for one answer continues: the form's free-text fields, in its order.
FREE_TEXT = (*REQUIRED, *OPTIONAL[:2])
_BREAKS = ("\n\n", "\n", ". ", "; ", ", ", " ")


def split_at_break(text: str, limit: int) -> tuple[str, str]:
    """(head, rest) with head at most `limit` characters, cut at the last paragraph,
    line, sentence, clause or word break that fits (mid-word only when none does)."""
    if len(text) <= limit:
        return text, ""
    window = text[: limit + 1]
    for mark in _BREAKS:
        cut = window.rfind(mark)
        if cut > limit // 2:
            end = cut + len(mark.rstrip())
            return text[:end].rstrip(), text[end:].lstrip()
    return text[:limit], text[limit:]


@dataclass(frozen=True)
class Fitted:
    answers: dict[str, str]  # each within MAX_CHARS
    moved_to: tuple[str, ...]  # fields that took text too long for the field before
    left_out: int  # characters beyond what the whole form holds (0 in practice)


def fit_answers(answers: dict[str, str]) -> Fitted:
    """Answers that each fit an input: Slack refuses a modal whose initial value is
    longer than the input's max_length. An answer too long for its field (``/intake
    <long text>``) continues in the next empty free-text fields, cut at a break, so
    what was typed stays in the form for the person to move where it belongs."""
    fitted = dict(answers)
    moved: list[str] = []
    left_out = 0
    for name in FREE_TEXT:
        head, rest = split_at_break(fitted.get(name) or "", MAX_CHARS)
        if not rest:
            continue
        fitted[name] = head
        for other in FREE_TEXT:
            if rest and not fitted.get(other):
                fitted[other], rest = split_at_break(rest, MAX_CHARS)
                moved.append(other)
        left_out += len(rest)
    return Fitted(fitted, tuple(moved), left_out)


def numbers(text: str) -> list[float]:
    """Numbers in the order written: "1,200" → 1200, "€100k" → 100000, "2,5" → 2.5."""
    found: list[float] = []
    for match in _NUMBER.finditer(text):
        raw = match.group(1)
        if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", raw):
            value = float(raw.replace(",", ""))
        else:
            value = float(raw.replace(",", "."))
        scale = (match.group(2) or "").strip().lower()
        found.append(value * _SCALE.get(scale, 1.0))
    return found


def _is_year(value: float) -> bool:
    return value.is_integer() and 1990 <= value <= 2100


@dataclass(frozen=True)
class Goal:
    """The indicator of a goal such as "repeat calls 18% → 12% by Q3"."""

    name: str
    baseline: float
    target: float
    unit: str

    @property
    def direction(self) -> str:
        return "down" if self.target < self.baseline else "up"


def parse_goal(text: str) -> Goal | None:
    """Baseline and target are the first two numbers that are not years ("by 2027")."""
    matches = [m for m in _NUMBER.finditer(text) if m.group(1)]
    values = numbers(text)
    pairs = [(m, v) for m, v in zip(matches, values, strict=True) if not _is_year(v)]
    if len(pairs) < 2:
        pairs = list(zip(matches, values, strict=True))
    if len(pairs) < 2:
        return None
    (first, baseline), (_, target) = pairs[0], pairs[1]
    name = text[: first.start()].strip(" :-–—,(").strip()
    name = re.sub(r"\b(from|reduce|increase|raise|cut|lower|grow)\s*$", "", name, flags=re.I)
    return Goal(
        name=name.strip(" :-–—,") or text.strip()[:80],
        baseline=baseline,
        target=target,
        unit=_unit_after(text, first.end()),
    )


def _unit_after(text: str, position: int) -> str:
    rest = text[position:].lstrip()
    if rest.startswith("%"):
        return "%"
    word = re.match(r"(pp|points|days|hours|minutes|min|eur|usd|€|\$|£|calls|tickets)\b", rest)
    return word.group(1) if word else "count"


def audience_size(text: str) -> int | None:
    """The first number of the audience answer ("40 support agents"), if any."""
    values = [v for v in numbers(text) if not _is_year(v)]
    return int(values[0]) if values and values[0] >= 1 else None


def parse_horizon(text: str, today: date) -> date | None:
    """The deadline an answer names: an ISO date, a quarter, a month or a period."""
    lowered = text.lower()
    if iso := re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", lowered):
        try:
            return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        except ValueError:
            return None
    if quarter := re.search(r"\bq([1-4])(?:\s*(?:of\s*)?(\d{4}))?\b", lowered):
        month = int(quarter.group(1)) * 3
        return _month_end(month, quarter.group(2), today)
    if half := re.search(r"\bh([12])(?:\s*(\d{4}))?\b", lowered):
        return _month_end(int(half.group(1)) * 6, half.group(2), today)
    if period := re.search(r"\b(\d+)\s*(day|week|month|year)s?\b", lowered):
        n = int(period.group(1))
        days = {"day": 1, "week": 7, "month": 30, "year": 365}[period.group(2)]
        return today + timedelta(days=n * days)
    for number, name in enumerate(calendar.month_name):
        if number and re.search(rf"\b({name.lower()}|{name[:3].lower()})\b", lowered):
            year = re.search(r"\b(20\d\d)\b", lowered)
            return _month_end(number, year.group(1) if year else None, today)
    if re.search(r"\b(end of (the )?year|year end|year-end)\b", lowered):
        return date(today.year, 12, 31)
    return None


def _month_end(month: int, year: str | None, today: date) -> date:
    y = int(year) if year else today.year
    end = date(y, month, calendar.monthrange(y, month)[1])
    if year is None and end < today:
        end = date(y + 1, month, calendar.monthrange(y + 1, month)[1])
    return end


def _words(text: str) -> int:
    return len(re.findall(r"\w+", text))


def _vague(text: str, *, min_words: int, min_chars: int) -> bool:
    plain = text.strip().lower().rstrip(".!")
    return plain in _VAGUE or _words(text) < min_words or len(text.strip()) < min_chars


def field_error(name: str, text: str) -> str | None:
    """What is wrong with one answer, said as what a good answer looks like; None if fine."""
    text = text or ""
    example = EXAMPLES.get(name, "")
    if len(text) > MAX_CHARS:
        return f"Please keep it under {MAX_CHARS:,} characters (this has {len(text):,})."
    if name in OPTIONAL:
        return None
    if not text.strip():
        return _EMPTY[name] + f" For example {example}."
    check = _CHECKS[name]
    return check(text, example)


_EMPTY = {
    "goal": "Required: the one business indicator this must move, with its baseline and target.",
    "audience": "Required: who needs to act differently, and what exactly they should do.",
    "context": "Required: when and where in the work the behavior happens.",
    "cost_of_inaction": (
        "Required: what it costs if nothing is done (money, time, customers, risk)."
    ),
    "horizon": "Required: by when it must move, and the constraints (time, budget, people).",
}


def _check_goal(text: str, example: str) -> str | None:
    if _vague(text, min_words=3, min_chars=10):
        return (
            "Too vague to measure. Name the indicator (what is counted), its baseline (where "
            f"it is now) and its target (where it must get to), for example {example}."
        )
    goal = parse_goal(text)
    if goal is None:
        have = len([v for v in numbers(text) if not _is_year(v)])
        missing = "both numbers" if have == 0 else "the second number"
        return (
            f"Add {missing}: the baseline (where the indicator is today) and the target "
            f"(where it must get to), for example {example}."
        )
    if goal.baseline == goal.target:
        return (
            "The baseline and the target are the same number: what should change? "
            f"For example {example}."
        )
    return None


def _check_audience(text: str, example: str) -> str | None:
    if _vague(text, min_words=4, min_chars=20):
        return (
            "Too vague: say who (role or team, roughly how many people) and the behavior "
            f"they should do differently, for example {example}."
        )
    return None


def _check_context(text: str, example: str) -> str | None:
    if _vague(text, min_words=3, min_chars=12):
        return (
            "Too vague: say when and where the behavior happens (which moment, which tool "
            f"or meeting), for example {example}."
        )
    return None


def _check_cost(text: str, example: str) -> str | None:
    if _vague(text, min_words=3, min_chars=12):
        return f"Too vague: what does doing nothing cost, and how much? For example {example}."
    if not numbers(text):
        return (
            "Put a number on it (money, hours, customers lost, incidents), even a rough one, "
            f"for example {example}."
        )
    return None


def _check_horizon(text: str, example: str) -> str | None:
    if text.strip().lower().rstrip(".!") in _VAGUE:
        return (
            f"“{text.strip()}” is not a deadline. Give a date or a period and the constraints, "
            f"for example {example}."
        )
    if not re.search(r"\d", text) and not _TIME_WORD.search(text):
        return (
            "Give a date or a period (a quarter, a month, a number of weeks) and the "
            f"constraints, for example {example}."
        )
    if _words(text) < 2:
        return f"Add the constraints too (time people can spare, budget), for example {example}."
    return None


_CHECKS = {
    "goal": _check_goal,
    "audience": _check_audience,
    "context": _check_context,
    "cost_of_inaction": _check_cost,
    "horizon": _check_horizon,
}


def validate(answers: dict[str, str]) -> dict[str, str]:
    """Field name → what a good answer looks like, for every answer that is not good yet."""
    errors: dict[str, str] = {}
    for name in (*REQUIRED, "team", "sponsor"):
        message = field_error(name, answers.get(name) or "")
        if message:
            errors[name] = message
    diagnostic = answers.get("diagnostic")
    if diagnostic and diagnostic not in DIAGNOSTICS:
        errors["diagnostic"] = "Pick one of the listed options."
    return errors
