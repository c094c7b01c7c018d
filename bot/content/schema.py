"""A program file as data: pydantic models plus the rules that span fields.

Two layers, so every mistake gets its own line number:
- the models check shapes (types, lengths, unknown keys, formats);
- `program_problems()` checks what spans fields (ids, references, translations,
  kind-specific keys, the metric's direction), each problem with its exact path.
`docs/program-format.md` is the contract this module implements.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date
from datetime import time as LocalTime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

from bot.settings import WEEKDAYS, TimeWindow

FALLBACK_LOCALE = "en"
# Arm names the delivery engine gives out itself; a variant may not take them.
RESERVED_ARMS = frozenset({"holdout", "main"})

Loc = tuple[str | int, ...]

_SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_DURATION = re.compile(r"^[1-9]\d*[mhd]$")
_HORIZON = re.compile(r"^[1-9]\d*[dwm]$")
# A calendar step's moment: the event's start or end, optionally moved by minutes or hours.
_AT = re.compile(r"^(start|end)(?:\s*([+-])\s*([1-9]\d*)([mh]))?$")
# A calendar nudge comes at most this far from its event (else it is not about that event).
MAX_CALENDAR_OFFSET_MINUTES = 12 * 60


def _localised(value: Any) -> Any:
    """A plain string is English only; a mapping is locale → text."""
    if isinstance(value, str):
        return {FALLBACK_LOCALE: value}
    if isinstance(value, dict):
        return value
    raise ValueError('expected a text, or a mapping of locale to text such as {en: "…", bg: "…"}')


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty; write the text a person should read")
    return value


Locale = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z]{2,3}$"),
    Field(description="Language code: en, bg, de …"),
]
Slug = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=_SLUG),
    Field(description="Lower-case letters, digits and single dashes, at most 64 characters."),
]


def _text_schema(max_length: int, what: str) -> WithJsonSchema:
    one = {"type": "string", "minLength": 1, "maxLength": max_length}
    return WithJsonSchema(
        {
            "description": f"{what} A plain string (English only) or a mapping of locale to "
            f"text, at most {max_length} characters each.",
            "anyOf": [
                one,
                {
                    "type": "object",
                    "propertyNames": {"pattern": "^[a-z]{2,3}$"},
                    "additionalProperties": one,
                    "required": [FALLBACK_LOCALE],
                },
            ],
        }
    )


def _check_str(value: Any) -> Any:
    if isinstance(value, str):
        return _not_blank(value)
    if isinstance(value, int | float | bool):
        raise ValueError("expected a text; put it in quotes")
    return value


# Localised texts by purpose (limits from docs/program-format.md and Block Kit).
_T75 = Annotated[str, StringConstraints(min_length=1, max_length=75), BeforeValidator(_check_str)]
_T150 = Annotated[str, StringConstraints(min_length=1, max_length=150), BeforeValidator(_check_str)]
_T300 = Annotated[str, StringConstraints(min_length=1, max_length=300), BeforeValidator(_check_str)]
_T600 = Annotated[str, StringConstraints(min_length=1, max_length=600), BeforeValidator(_check_str)]
_T1500 = Annotated[
    str, StringConstraints(min_length=1, max_length=1500), BeforeValidator(_check_str)
]
FiveP = Annotated[
    dict[Locale, _T1500], BeforeValidator(_localised), _text_schema(1500, "One of the Five Ps.")
]
Title = Annotated[
    dict[Locale, _T150], BeforeValidator(_localised), _text_schema(150, "The program's title.")
]
Summary = Annotated[
    dict[Locale, _T600], BeforeValidator(_localised), _text_schema(600, "One or two sentences.")
]
StepText = Annotated[
    dict[Locale, _T600],
    BeforeValidator(_localised),
    _text_schema(600, "What the person reads (Slack mrkdwn), readable in under a minute."),
]
Label = Annotated[
    dict[Locale, _T75],
    BeforeValidator(_localised),
    _text_schema(75, "A button or checklist label (Slack allows 75 characters)."),
]
Question = Annotated[
    dict[Locale, _T300],
    BeforeValidator(_localised),
    _text_schema(300, "A short question shown above the 1-5 buttons."),
]


def _time_text(value: Any, example: str) -> Any:
    if isinstance(value, int):
        # YAML 1.1 reads an unquoted 10:00 as the number 600 (base 60).
        raise ValueError(f'write times in quotes, like "{example}": unquoted, YAML reads a number')
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Metric(_Strict):
    """The one metric that matters: a business KPI with a baseline and a target."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=150)]
    unit: Annotated[str, StringConstraints(min_length=1, max_length=32)] = Field(
        description="%, days, EUR, count, points …"
    )
    direction: Literal["up", "down"] = Field(description="Which way is better.")
    baseline: float
    target: float = Field(description="Must be on the better side of the baseline.")
    by: str = Field(
        description="An ISO date (2027-06-30) or a duration from launch: 90d, 12w, 6m.",
        json_schema_extra={"pattern": r"^(\d{4}-\d{2}-\d{2}|[1-9]\d*[dwm])$"},
    )

    @field_validator("name", "unit", mode="before")
    @classmethod
    def _plain_text(cls, v: Any) -> Any:
        return _check_str(v)

    @field_validator("by", mode="before")
    @classmethod
    def _by(cls, v: Any) -> Any:
        if isinstance(v, date):
            return v.isoformat()
        if isinstance(v, str):
            if _HORIZON.match(v):
                return v
            try:
                return date.fromisoformat(v).isoformat()
            except ValueError:
                pass
        raise ValueError("use an ISO date like 2027-06-30 or a duration like 90d, 12w or 6m")


class Audience(_Strict):
    roles: list[Literal["employee", "manager", "ld_lead"]] = Field(default_factory=list)
    teams: list[Annotated[str, StringConstraints(min_length=1, max_length=255)]] = Field(
        default_factory=list
    )


class Schedule(_Strict):
    window: str | None = Field(
        None,
        description='Local send window "HH:MM-HH:MM"; default NUDGEBOT_WORKING_HOURS.',
        json_schema_extra={"pattern": r"^\d{2}:\d{2}-\d{2}:\d{2}$"},
    )
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] | None = Field(
        None, description="Days nudges may arrive; default NUDGEBOT_WORKING_DAYS."
    )

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, v: Any) -> Any:
        v = _time_text(v, "09:00-17:30")
        if isinstance(v, str):
            TimeWindow.parse(v)
        return v

    @property
    def time_window(self) -> TimeWindow | None:
        return TimeWindow.parse(self.window) if self.window else None

    @property
    def weekdays(self) -> tuple[int, ...] | None:
        return tuple(sorted(WEEKDAYS.index(d) for d in self.days)) if self.days else None


class Trigger(_Strict):
    """A moment of work that sends a step (the delivery engine listens for it)."""

    id: Slug
    source: Literal["webhook", "channel_join", "message", "reaction", "app_home", "calendar"]
    channel: Annotated[str, StringConstraints(pattern=r"^[CG][A-Z0-9]{2,}$")] | None = Field(
        None, description="Channel id (C…); for channel_join, message and reaction."
    )
    pattern: str | None = Field(
        None,
        description="message: a Python regular expression matched against the text; "
        "calendar: matched against the event's title.",
    )
    reaction: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_+'-]+$")] | None = Field(
        None, description="reaction only: an emoji name without colons."
    )
    min_attendees: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="calendar only: at least this many people on the invitation "
        "(attendees and organizer, the person included).",
    )
    max_attendees: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="calendar only: at most this many people on the invitation "
        "(2 for one-to-ones).",
    )
    external: bool | None = Field(
        None,
        description="calendar only: true matches events with someone from outside the "
        "company (an email domain not in NUDGEBOT_COMPANY_DOMAINS, or, when unset, not the "
        "person's own); false only events among colleagues.",
    )
    recurring: bool | None = Field(
        None,
        description="calendar only: true matches occurrences of a recurring event, "
        "false one-off events.",
    )
    first_of_day: bool | None = Field(
        None,
        description="calendar only: true matches the person's first meeting of their local day.",
    )

    @field_validator("pattern")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(
                    f"is not a valid regular expression ({exc}); check the brackets, "
                    "and write a literal ( ) [ ] . ? + * with a backslash before it"
                ) from None
        return v


def calendar_offset(at: str) -> tuple[str, int]:
    """`at` ("start-10m", "end+5m", "start") as (anchor, minutes to add)."""
    match = _AT.match(at.strip())
    if match is None:
        raise ValueError(at)
    anchor, sign, amount, unit = match.groups()
    minutes = 0 if amount is None else int(amount) * (60 if unit == "h" else 1)
    return anchor, -minutes if sign == "-" else minutes


class When(_Strict):
    """Exactly one of `day` or `trigger`."""

    day: int | None = Field(None, ge=0, le=366, description="Days after the enrollment starts.")
    time: str | None = Field(
        None,
        description='Local time "HH:MM" (with day).',
        json_schema_extra={"pattern": "^\\d{2}:\\d{2}$"},
    )
    window: str | None = Field(
        None,
        description='Local window "HH:MM-HH:MM" (with day).',
        json_schema_extra={"pattern": r"^\d{2}:\d{2}-\d{2}:\d{2}$"},
    )
    trigger: Slug | None = Field(None, description="A trigger id from `triggers`.")
    delay: str | None = Field(
        None,
        description='With trigger: send this long after it fires, e.g. "30m", "2h", "1d".',
        json_schema_extra={"pattern": r"^[1-9]\d*[mhd]$"},
    )
    at: str | None = Field(
        None,
        description="With a calendar trigger: when, from the event's start or end, e.g. "
        '"start-10m" (ten minutes before it starts), "end+5m" (five minutes after it ends), '
        '"start"; minutes (m) or hours (h), at most 12h.',
        json_schema_extra={"pattern": r"^(start|end)([+-][1-9][0-9]*[mh])?$"},
    )

    @field_validator("time", mode="before")
    @classmethod
    def _time(cls, v: Any) -> Any:
        v = _time_text(v, "09:30")
        if isinstance(v, str) and not _HHMM.match(v):
            raise ValueError(f'expected a 24-hour time like "09:30", got {v!r}')
        return v

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, v: Any) -> Any:
        v = _time_text(v, "09:00-11:00")
        if isinstance(v, str):
            TimeWindow.parse(v)
        return v

    @field_validator("delay")
    @classmethod
    def _delay(cls, v: str | None) -> str | None:
        if v is not None and not _DURATION.match(v):
            raise ValueError(f'expected minutes, hours or days like "30m", "2h", "1d", got {v!r}')
        return v

    @field_validator("at")
    @classmethod
    def _at(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            _anchor, minutes = calendar_offset(v)
        except ValueError:
            raise ValueError(
                f'expected the start or end of the event, optionally moved, like "start-10m", '
                f'"end+5m" or "start", got {v!r}'
            ) from None
        if abs(minutes) > MAX_CALENDAR_OFFSET_MINUTES:
            raise ValueError(
                f"{v!r} is more than 12h from the event; a calendar nudge belongs near its event"
            )
        return v

    @property
    def local_time(self) -> LocalTime | None:
        return LocalTime.fromisoformat(self.time) if self.time else None

    @property
    def time_window(self) -> TimeWindow | None:
        return TimeWindow.parse(self.window) if self.window else None


class Rating(_Strict):
    label: Question


class Link(_Strict):
    url: str = Field(description="https:// address of the job aid.")
    label: Label


class Reflection(_Strict):
    answer: Literal["text", "scale"] = Field(
        description="text: free text in a modal; scale: five buttons 1-5."
    )


class Repeat(_Strict):
    intervals_days: list[Annotated[int, Field(ge=1, le=365)]] = Field(
        min_length=1, max_length=10, description="Expanding gaps in days, each > the previous."
    )


class Variant(_Strict):
    """An experiment arm's alternative wording and/or timing of a step."""

    id: Slug
    text: StepText | None = None
    when: When | None = None


Answer = Literal["done", "snooze", "not_relevant"]
Kind = Literal["prompt", "checklist", "tip", "reflection", "job_aid"]
DEFAULT_ANSWERS: tuple[Answer, ...] = ("done", "snooze", "not_relevant")
# A reflection is confirmed by its own answer, so it offers no Done by default.
DEFAULT_REFLECTION_ANSWERS: tuple[Answer, ...] = ("snooze", "not_relevant")


class Step(_Strict):
    id: Slug
    kind: Kind
    text: StepText
    when: When
    answers: list[Answer] | None = Field(
        None,
        description="Buttons offered; default [done, snooze, not_relevant] "
        "([snooze, not_relevant] for a reflection).",
    )
    rating: Rating | None = None
    items: list[Label] | None = Field(None, description="checklist only: 2-10 items.")
    link: Link | None = Field(None, description="job_aid only.")
    reflection: Reflection | None = Field(None, description="reflection only.")
    repeat: Repeat | None = None
    variants: list[Variant] = Field(default_factory=list)

    @property
    def offered_answers(self) -> tuple[Answer, ...]:
        if self.answers is not None:
            return tuple(self.answers)
        return DEFAULT_REFLECTION_ANSWERS if self.kind == "reflection" else DEFAULT_ANSWERS

    def variant(self, arm: str) -> Variant | None:
        return next((v for v in self.variants if v.id == arm), None) if arm else None

    def text_for(self, arm: str = "") -> dict[str, str]:
        variant = self.variant(arm)
        return variant.text if variant is not None and variant.text is not None else self.text

    def when_for(self, arm: str = "") -> When:
        variant = self.variant(arm)
        return variant.when if variant is not None and variant.when is not None else self.when


class Program(_Strict):
    """One program file (nudges/<id>.yaml)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="Nudgebot program",
        json_schema_extra={
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$comment": "Generated by `nudgebot content schema`; do not edit.",
        },
    )

    id: Annotated[str, StringConstraints(min_length=3, max_length=64, pattern=_SLUG)] = Field(
        description="Equal to the file name without .yaml."
    )
    title: Title
    owner: Annotated[
        str, StringConstraints(pattern=r"^([UW][A-Z0-9]{2,}|[^@\s]+@[^@\s]+\.[^@\s]+)$")
    ] = Field(description="Slack user id (U…/W…) or email of who answers for the program.")
    summary: Summary
    locales: list[Locale] = Field(min_length=1, description="Must contain en; e.g. [en, bg].")
    problem: FiveP
    behavior: FiveP
    place: FiveP
    prompt: FiveP
    proof: FiveP
    metric: Metric
    audience: Audience | None = None
    schedule: Schedule | None = None
    holdout: float = Field(0.0, ge=0, le=0.5, description="Share of people in the control group.")
    triggers: list[Trigger] = Field(default_factory=list)
    steps: list[Step] = Field(min_length=1, max_length=30)

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(f"program {self.id!r} has no step {step_id!r}")

    def text(self, value: dict[str, str] | str, locale: str) -> str:
        """`value` (a localised text, or the name of a top-level one) in `locale`, else en."""
        texts = getattr(self, value) if isinstance(value, str) else value
        return localise(texts, locale)

    @property
    def variant_ids(self) -> list[str]:
        return sorted({v.id for s in self.steps for v in s.variants})


def normalise_locale(locale: str | None) -> str:
    """Slack's "bg-BG" (or "pt_BR") → "bg"."""
    return re.split(r"[-_]", locale or FALLBACK_LOCALE, maxsplit=1)[0].lower() or FALLBACK_LOCALE


def localise(texts: dict[str, str], locale: str | None) -> str:
    """The text in the person's language, falling back to English."""
    return texts.get(normalise_locale(locale)) or texts[FALLBACK_LOCALE]


# Cross-field rules ---------------------------------------------------------------------------


def program_problems(program: Program, *, expected_id: str | None = None) -> list[tuple[Loc, str]]:
    """Every rule that spans fields, as (path, message); empty when the program is sound."""
    problems: list[tuple[Loc, str]] = []
    if expected_id is not None and program.id != expected_id:
        problems.append(
            (("id",), f"is {program.id!r} but the file is {expected_id}.yaml; make them equal")
        )
    problems += _locale_problems(program)
    problems += _metric_problems(program.metric)
    problems += _trigger_problems(program.triggers)
    problems += _step_problems(program)
    return problems


def _duplicates(ids: Sequence[str]) -> Iterator[tuple[int, str]]:
    seen: set[str] = set()
    for index, value in enumerate(ids):
        if value in seen:
            yield index, value
        seen.add(value)


def _locale_problems(program: Program) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    if FALLBACK_LOCALE not in program.locales:
        problems.append(
            (("locales",), "must contain en (the fallback for everyone else); add en to the list")
        )
    for index, code in _duplicates(program.locales):
        problems.append((("locales", index), f"{code} is listed twice; keep one"))
    listed = set(program.locales)
    for loc, texts in localised_texts(program):
        for code in program.locales:
            if code not in texts:
                problems.append((loc, f"missing the {code} translation; add `{code}: ...`"))
        for code in texts:
            # Without en in `locales` the one error above says it all; no flood per text.
            if code not in listed and code != FALLBACK_LOCALE:
                problems.append(
                    ((*loc, code), f"{code} is not in locales; add it to `locales` or remove it")
                )
    return problems


def localised_texts(program: Program) -> Iterator[tuple[Loc, dict[str, str]]]:
    """Every localised text of the program with its path."""
    for name in ("title", "summary", "problem", "behavior", "place", "prompt", "proof"):
        yield (name,), getattr(program, name)
    for i, step in enumerate(program.steps):
        yield ("steps", i, "text"), step.text
        if step.rating is not None:
            yield ("steps", i, "rating", "label"), step.rating.label
        for j, item in enumerate(step.items or []):
            yield ("steps", i, "items", j), item
        if step.link is not None:
            yield ("steps", i, "link", "label"), step.link.label
        for j, variant in enumerate(step.variants):
            if variant.text is not None:
                yield ("steps", i, "variants", j, "text"), variant.text


def _metric_problems(metric: Metric) -> list[tuple[Loc, str]]:
    if metric.target == metric.baseline:
        return [(("metric", "target"), "equals the baseline; set the value you aim to reach")]
    better = (
        metric.target > metric.baseline
        if metric.direction == "up"
        else (metric.target < metric.baseline)
    )
    if not better:
        side = "above" if metric.direction == "up" else "below"
        return [
            (
                ("metric", "target"),
                f"{metric.target:g} is not {side} the baseline {metric.baseline:g} although "
                f"direction is {metric.direction}; fix the target or the direction",
            )
        ]
    return []


_TRIGGER_KEYS = {
    "webhook": set(),
    "channel_join": {"channel"},
    "message": {"channel", "pattern"},
    "reaction": {"channel", "reaction"},
    "app_home": set(),
    "calendar": {
        "pattern",
        "min_attendees",
        "max_attendees",
        "external",
        "recurring",
        "first_of_day",
    },
}
_TRIGGER_FIELDS = (
    "channel",
    "pattern",
    "reaction",
    "min_attendees",
    "max_attendees",
    "external",
    "recurring",
    "first_of_day",
)
_TRIGGER_REQUIRED = {"message": "pattern", "reaction": "reaction"}


def _trigger_problems(triggers: Sequence[Trigger]) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    for index, value in _duplicates([t.id for t in triggers]):
        problems.append(
            (("triggers", index, "id"), f"{value} is used twice; trigger ids are unique")
        )
    for i, trigger in enumerate(triggers):
        allowed = _TRIGGER_KEYS[trigger.source]
        for key in _TRIGGER_FIELDS:
            if getattr(trigger, key) is not None and key not in allowed:
                problems.append(
                    (("triggers", i, key), f"does not apply to source {trigger.source}; remove it")
                )
        required = _TRIGGER_REQUIRED.get(trigger.source)
        if required and getattr(trigger, required) is None:
            problems.append(
                (("triggers", i), f"source {trigger.source} needs `{required}`; add it")
            )
        low, high = trigger.min_attendees, trigger.max_attendees
        if low is not None and high is not None and low > high:
            problems.append(
                (
                    ("triggers", i, "max_attendees"),
                    f"{high} is below min_attendees {low}; no event could match",
                )
            )
    return problems


def _step_problems(program: Program) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    for index, value in _duplicates([s.id for s in program.steps]):
        problems.append((("steps", index, "id"), f"{value} is used twice; step ids are unique"))
    trigger_ids: dict[str, str] = {t.id: t.source for t in program.triggers}
    for i, step in enumerate(program.steps):
        problems += _when_problems(("steps", i, "when"), step.when, trigger_ids)
        problems += _kind_problems(("steps", i), step)
        if step.answers is not None:
            for j, value in _duplicates(step.answers):
                problems.append((("steps", i, "answers", j), f"{value} is listed twice"))
        if step.repeat is not None:
            gaps = step.repeat.intervals_days
            for j in range(1, len(gaps)):
                if gaps[j] <= gaps[j - 1]:
                    problems.append(
                        (
                            ("steps", i, "repeat", "intervals_days", j),
                            f"{gaps[j]} is not longer than the gap before it ({gaps[j - 1]}); "
                            "spaced repetition needs expanding intervals, e.g. [2, 5, 12, 30]",
                        )
                    )
        problems += _variant_problems(("steps", i), step, trigger_ids)
    return problems


def _when_problems(loc: Loc, when: When, trigger_ids: dict[str, str]) -> list[tuple[Loc, str]]:
    if (when.day is None) == (when.trigger is None):
        return [(loc, "give exactly one of `day` (days after the start) or `trigger`")]
    problems: list[tuple[Loc, str]] = []
    if when.time is not None and when.window is not None:
        problems.append(((*loc, "window"), "give either `time` or `window`, not both"))
    if when.trigger is not None:
        if when.trigger not in trigger_ids:
            known = ", ".join(sorted(trigger_ids)) or "none defined"
            problems.append(
                (
                    (*loc, "trigger"),
                    f"{when.trigger} is not a trigger of this program (known: {known}); "
                    "define it under `triggers`",
                )
            )
        for key in ("time", "window"):
            if getattr(when, key) is not None:
                problems.append(
                    ((*loc, key), f"`{key}` goes with `day`; use `delay` with a trigger")
                )
        calendar = trigger_ids.get(when.trigger) == "calendar"
        if calendar and when.at is None:
            problems.append(
                (loc, 'a calendar trigger needs `at`, e.g. "start-10m" or "end+5m"; add it')
            )
        if calendar and when.delay is not None:
            problems.append(
                ((*loc, "delay"), 'a calendar trigger is timed with `at` ("start-10m"), not delay')
            )
        if not calendar and when.at is not None and when.trigger in trigger_ids:
            problems.append(((*loc, "at"), "`at` goes with a calendar trigger; use `delay`"))
    else:
        if when.delay is not None:
            problems.append(((*loc, "delay"), "`delay` goes with `trigger`; use `time` with `day`"))
        if when.at is not None:
            problems.append(((*loc, "at"), "`at` goes with a calendar trigger; remove it"))
    return problems


_KIND_KEYS = {"items": "checklist", "link": "job_aid", "reflection": "reflection"}


def _kind_problems(loc: Loc, step: Step) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    for key, kind in _KIND_KEYS.items():
        present = getattr(step, key) is not None
        if present and step.kind != kind:
            problems.append(((*loc, key), f"only a {kind} step has `{key}`; remove it"))
        if not present and step.kind == kind:
            problems.append((loc, f"a {kind} step needs `{key}`; add it"))
    if step.items is not None and not 2 <= len(step.items) <= 10:
        problems.append(
            ((*loc, "items"), f"has {len(step.items)} item(s); a checklist has 2 to 10")
        )
    if step.link is not None:
        problem = link_problem(step.link.url)
        if problem:
            problems.append(((*loc, "link", "url"), problem))
    if step.kind == "reflection" and step.rating is not None:
        problems.append(
            (
                (*loc, "rating"),
                "a reflection offers its own answer; use `reflection: {answer: scale}` instead",
            )
        )
    return problems


def _variant_problems(loc: Loc, step: Step, trigger_ids: dict[str, str]) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    for j, value in _duplicates([v.id for v in step.variants]):
        problems.append(((*loc, "variants", j, "id"), f"{value} is used twice in this step"))
    for j, variant in enumerate(step.variants):
        vloc = (*loc, "variants", j)
        if variant.id in RESERVED_ARMS:
            problems.append(((*vloc, "id"), f"{variant.id} is reserved; choose another name"))
        if variant.text is None and variant.when is None:
            problems.append((vloc, "a variant changes `text`, `when` or both; add one"))
        if variant.when is not None:
            problems += _when_problems((*vloc, "when"), variant.when, trigger_ids)
    return problems


_URL = re.compile(r"^https://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(:\d+)?(/[^\s<>|]*)?$")


def link_problem(url: str) -> str | None:
    """Why `url` is not a link a person can open from Slack, or None when it is fine."""
    if url.startswith(("/", "./", "../")) or ("://" not in url and not url.startswith("mailto:")):
        return f"{url!r} is a relative or incomplete link; write the full https:// address"
    if url.startswith("mailto:"):
        return None if re.match(r"^mailto:[^@\s]+@[^@\s]+$", url) else f"{url!r} is malformed"
    if not url.startswith("https://"):
        return f"{url!r} is not https; use an https:// address"
    if not _URL.match(url) or len(url) > 3000:
        return f"{url!r} is a malformed address; check it for spaces and typos"
    return None


# Slack mrkdwn links: <https://x|label>, <https://x>; not <@U…>, <#C…>, <!here>.
MRKDWN_LINK = re.compile(r"<([^@#!<>\s][^|<>]*)(\|[^<>]*)?>")


def text_link_problems(program: Program) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    for loc, texts in localised_texts(program):
        for code, value in texts.items():
            for match in MRKDWN_LINK.finditer(value):
                problem = link_problem(match.group(1))
                if problem:
                    problems.append(((*loc, code), f"link {problem}"))
    return problems
