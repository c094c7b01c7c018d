"""Proof fixtures: a program in the database and nudges sent the way the sender
sends them (a DM through the fake Slack with the content's step blocks)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.content.blocks import step_message
from bot.content.loader import canonical_json, content_hash
from bot.content.models import Program as ProgramRow
from bot.content.models import ProgramVersion
from bot.content.schema import Program
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment
from bot.people.models import Person
from bot.proof.models import ProofEvent
from bot.services import Services
from bot.settings import Settings
from tests.conftest import make_settings
from tests.fakeslack import FakeSlack

OWNER = "U0OWNER01"
FIVE_PS = {
    "problem": "Calls end with the customer calling back.",
    "behavior": "Ask three clarifying questions before offering a fix.",
    "place": "The first two minutes of a customer call.",
    "prompt": "A DM before the first call of the shift.",
    "proof": "Done clicks and the repeat-contact rate.",
}


def program_data(program_id: str = "call-opener", owner: str = OWNER) -> dict[str, Any]:
    return {
        "id": program_id,
        "title": f"Open calls well ({program_id})",
        "owner": owner,
        "summary": "Understand the need before offering a fix.",
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
        "steps": [
            {
                "id": "ask-three",
                "kind": "prompt",
                "text": "Today, open each call with three clarifying questions.",
                "when": {"day": 0, "time": "09:00"},
                "rating": {"label": "How confident do you feel?"},
                "repeat": {"intervals_days": [2, 5, 12]},
            },
            {
                "id": "call-checklist",
                "kind": "checklist",
                "text": "Before the call:",
                "when": {"day": 1},
                "items": [
                    "What happened?",
                    "What were you trying to do?",
                    "What is a good outcome?",
                ],
            },
            {
                "id": "shift-reflection",
                "kind": "reflection",
                "text": "What did you learn from today's calls?",
                "when": {"day": 2},
                "reflection": {"answer": "text"},
            },
            {
                "id": "tip",
                "kind": "tip",
                "text": "Sum up the need in one sentence.",
                "when": {"day": 3},
            },
            {
                "id": "confidence",
                "kind": "reflection",
                "text": "How sure are you of the customer's need after the questions?",
                "when": {"day": 4},
                "reflection": {"answer": "scale"},
            },
        ],
    }


@dataclass
class SentNudge:
    delivery_id: int
    person_id: int
    enrollment_id: int
    user_id: str
    channel: str
    ts: str
    program: Program

    def message(self, fake: FakeSlack) -> dict[str, Any]:
        found = fake.message(self.channel, self.ts)
        assert found is not None
        return found


class World:
    """Rows and Slack messages for proof scenarios, built as the other slices would."""

    def __init__(self, services: Services, fake: FakeSlack) -> None:
        self.services = services
        self.fake = fake
        self.programs: dict[str, tuple[Program, int]] = {}

    def program(self, data: dict[str, Any] | None = None) -> tuple[Program, int]:
        program = Program.model_validate(data or program_data())
        if program.id in self.programs:
            return self.programs[program.id]
        now = self.services.clock.now()
        with self.services.session() as session:
            session.add(
                ProgramRow(id=program.id, title=program.text("title", "en"), owner=program.owner)
            )
            version = ProgramVersion(
                program_id=program.id,
                number=1,
                content_hash=content_hash(program),
                content=json.loads(canonical_json(program)),
                loaded_at=now,
            )
            session.add(version)
            session.flush()
            self.programs[program.id] = (program, version.id)
        return self.programs[program.id]

    def person(self, user_id: str, *, name: str = "", tz: str = "UTC") -> int:
        if self.fake.user_name(user_id) is None:
            self.fake.add_user(user_id, name=name or user_id.lower(), tz=tz)
        with self.services.session() as session:
            found = session.scalar(select(Person).where(Person.slack_user_id == user_id))
            if found is not None:
                return found.id
            person = Person(slack_user_id=user_id, name=name or user_id, tz=tz, locale="en-US")
            session.add(person)
            session.flush()
            return person.id

    def enrollment(self, user_id: str, program_id: str = "call-opener") -> int:
        _, version_id = self.programs[program_id]
        person_id = self.person(user_id)
        with self.services.session() as session:
            found = session.scalar(
                select(Enrollment).where(
                    Enrollment.person_id == person_id, Enrollment.program_id == program_id
                )
            )
            if found is not None:
                return found.id
            row = Enrollment(
                person_id=person_id,
                program_id=program_id,
                program_version_id=version_id,
                starts_at=self.services.clock.now(),
                enrolled_by="U0LEAD001",
                source="test",
            )
            session.add(row)
            session.flush()
            return row.id

    def send(
        self,
        user_id: str,
        step_id: str,
        *,
        program_id: str = "call-opener",
        repetition: int = 0,
        sent_at: datetime | None = None,
    ) -> SentNudge:
        """A delivered nudge: the row marked sent and the DM posted through the fake."""
        if program_id not in self.programs:
            self.program(program_data(program_id))
        program, _ = self.programs[program_id]
        enrollment_id = self.enrollment(user_id, program_id)
        now = sent_at or self.services.clock.now()
        with self.services.session() as session:
            person_id = session.scalar(select(Person.id).where(Person.slack_user_id == user_id))
            assert person_id is not None
            delivery = session.scalar(
                select(Delivery).where(
                    Delivery.enrollment_id == enrollment_id,
                    Delivery.step_id == step_id,
                    Delivery.repetition == repetition,
                )
            )
            if delivery is None:
                delivery = Delivery(
                    enrollment_id=enrollment_id,
                    person_id=person_id,
                    step_id=step_id,
                    repetition=repetition,
                    due_at=now,
                )
                session.add(delivery)
                session.flush()
            message = step_message(program, step_id, locale="en", delivery_id=delivery.id)
            posted = self.services.client.chat_postMessage(
                channel=user_id,
                metadata={"event_type": "nudge", "event_payload": {"delivery_id": delivery.id}},
                **message,
            )
            delivery.status = DeliveryStatus.sent
            delivery.channel_id = posted["channel"]
            delivery.message_ts = posted["ts"]
            delivery.sent_at = now
            delivery.attempts = 1
            return SentNudge(
                delivery.id,
                person_id,
                enrollment_id,
                user_id,
                posted["channel"],
                posted["ts"],
                program,
            )

    def events(self, delivery_id: int | None = None) -> list[ProofEvent]:
        with self.services.session() as session:
            query = select(ProofEvent).order_by(ProofEvent.id)
            if delivery_id is not None:
                query = query.where(ProofEvent.delivery_id == delivery_id)
            return list(session.scalars(query))

    def delivery(self, delivery_id: int) -> Delivery:
        with self.services.session() as session:
            row = session.get(Delivery, delivery_id)
            assert row is not None
            return row

    def deliveries(self, enrollment_id: int, step_id: str) -> list[Delivery]:
        with self.services.session() as session:
            return list(
                session.scalars(
                    select(Delivery)
                    .where(Delivery.enrollment_id == enrollment_id, Delivery.step_id == step_id)
                    .order_by(Delivery.repetition)
                )
            )


@pytest.fixture
def world(services: Services, fake_slack: FakeSlack) -> World:
    world = World(services, fake_slack)
    world.program()
    return world


def wait_for(check: Callable[[], Any], *, timeout: float = 5.0) -> Any:
    """Acks return before the work after them is done; poll for its visible result."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("the bot did not get there in time")
        time.sleep(0.02)


def later(services: Services, **delta: float) -> None:
    services.clock.advance(timedelta(**delta))  # type: ignore[attr-defined]


LEAD = "U0LEAD001"


@pytest.fixture
def settings(db_url: str, fake_slack: FakeSlack) -> Settings:
    # One L&D lead, named in the settings as a deployment would.
    return make_settings(database_url=db_url, slack_api_url=fake_slack.base_url, ld_leads=[LEAD])
