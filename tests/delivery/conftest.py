"""Helpers for delivery tests: programs and people stored as the real code stores them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from bot.content.loader import content_hash
from bot.content.models import Program as ProgramRow
from bot.content.models import ProgramVersion
from bot.content.schema import Program
from bot.people.models import Person
from bot.settings import Settings
from tests.conftest import make_settings
from tests.fakeslack import FakeSlack

FIVE_PS = {k: f"The {k}." for k in ("problem", "behavior", "place", "prompt", "proof")}


def program_data(program_id: str, steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "id": program_id,
        "title": f"Program {program_id}",
        "owner": "ld@example.com",
        "summary": "A program for tests.",
        "locales": ["en"],
        **FIVE_PS,
        "metric": {
            "name": "Repeat contacts",
            "unit": "%",
            "direction": "down",
            "baseline": 18,
            "target": 12,
            "by": "90d",
        },
        "steps": steps,
        **extra,
    }


def step(step_id: str, **when: Any) -> dict[str, Any]:
    extra = when.pop("extra", {})
    return {"id": step_id, "kind": "prompt", "text": f"Do {step_id} now.", "when": when, **extra}


def store_program(
    session: Session, program_id: str, steps: list[dict[str, Any]], **extra: Any
) -> int:
    program = Program.model_validate(program_data(program_id, steps, **extra))
    if session.get(ProgramRow, program_id) is None:
        session.add(ProgramRow(id=program_id, title=program_id, owner="ld@example.com"))
        session.flush()
    number = 1 + sum(1 for _ in session.query(ProgramVersion).filter_by(program_id=program_id))
    version = ProgramVersion(
        program_id=program_id,
        number=number,
        content_hash=content_hash(program),
        content=program.model_dump(mode="json", exclude_defaults=True),
    )
    session.add(version)
    session.flush()
    return version.id


def store_person(session: Session, user_id: str, **fields: Any) -> Person:
    fields.setdefault("name", user_id.lower())
    fields.setdefault("tz", "UTC")
    person = Person(slack_user_id=user_id, workspace_id="T0TEST", **fields)
    session.add(person)
    session.flush()
    return person


@pytest.fixture
def add_program(session: Session) -> Callable[..., int]:
    return lambda program_id, steps, **extra: store_program(session, program_id, steps, **extra)


@pytest.fixture
def add_person(session: Session) -> Callable[..., Person]:
    return lambda user_id, **fields: store_person(session, user_id, **fields)


def local(dt: datetime, tz: str) -> str:
    from zoneinfo import ZoneInfo

    return dt.astimezone(ZoneInfo(tz)).strftime("%a %Y-%m-%d %H:%M")


HOOK_SECRET = "crm-secret-0123456789abcdef"


@pytest.fixture
def settings(db_url: str, fake_slack: FakeSlack) -> Settings:
    """The suite's settings plus a webhook source, so /hooks/trigger can be exercised."""
    return make_settings(
        database_url=db_url, slack_api_url=fake_slack.base_url, hook_secrets=f"crm={HOOK_SECRET}"
    )
