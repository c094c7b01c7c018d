"""Digest test helpers: programs, people, sent nudges and proof stored as the real code
stores them, so every figure a test checks comes from the same tables the bot reads."""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from bot.content.loader import content_hash
from bot.content.models import Program as ProgramRow
from bot.content.models import ProgramVersion
from bot.content.schema import Program
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment
from bot.people.models import Person, Role
from bot.proof.models import ProofEvent
from bot.services import Services
from bot.settings import Settings
from tests.conftest import make_settings
from tests.delivery.conftest import program_data as base_program_data
from tests.fakeslack import FakeSlack

METRIC_SECRET = "metric-secret-0123456789abcdef"
LEAD = "ULEAD0001"
FIVE_PS = {
    "problem": "Customers call back about the same issue.",
    "behavior": "Ask three clarifying questions before offering a fix.",
    "place": "The first two minutes of every customer call.",
    "prompt": "A DM before the first call of the shift.",
    "proof": "Done clicks, and the repeat-contact rate.",
}


def program_data(program_id: str, step_ids: list[str], **extra: Any) -> dict[str, Any]:
    """The delivery tests' program, with a call-centre story and a dated metric."""
    steps = extra.pop("steps", None) or [
        {"id": s, "kind": "prompt", "text": f"*Step {s}:* do {s} today.", "when": {"day": i}}
        for i, s in enumerate(step_ids)
    ]
    metric = dict(base_program_data(program_id, [])["metric"], by="2027-06-30")
    return base_program_data(program_id, steps, **{**FIVE_PS, "metric": metric, **extra})


class World:
    """Builds a small company in the test database."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.versions: dict[str, tuple[int, int]] = {}
        self._keys = itertools.count(1)

    def program(self, program_id: str, step_ids: list[str], **extra: Any) -> Program:
        program = Program.model_validate(program_data(program_id, step_ids, **extra))
        self.session.add(ProgramRow(id=program_id, title=program_id, owner="ld@example.com"))
        self.session.flush()
        version = ProgramVersion(
            program_id=program_id,
            number=1,
            content_hash=content_hash(program),
            content=program.model_dump(mode="json", exclude_defaults=True),
        )
        self.session.add(version)
        self.session.flush()
        self.versions[program_id] = (version.id, 1)
        return program

    def person(self, user_id: str, *, manager: str | None = None, **fields: Any) -> Person:
        fields.setdefault("name", f"Name-{user_id}")
        fields.setdefault("tz", "UTC")
        person = Person(
            slack_user_id=user_id, workspace_id="T0TEST", manager_slack_user_id=manager, **fields
        )
        self.session.add(person)
        self.session.flush()
        return person

    def commit(self) -> None:
        """Make everything built so far visible to the bot's own sessions."""
        self.session.commit()

    def lead(self, user_id: str = LEAD) -> Person:
        return self.person(user_id, role=Role.ld_lead)

    def enroll(self, person: Person, program_id: str, *, arm: str = "") -> Enrollment:
        version_id, _ = self.versions[program_id]
        enrollment = Enrollment(
            person_id=person.id,
            program_id=program_id,
            program_version_id=version_id,
            starts_at=datetime(2026, 9, 1, tzinfo=UTC),
            arm=arm,
        )
        self.session.add(enrollment)
        self.session.flush()
        return enrollment

    def nudge(
        self,
        enrollment: Enrollment,
        step_id: str,
        sent_at: datetime,
        *,
        answer: str | None = None,
        value: str | None = None,
        text: str | None = None,
        status: DeliveryStatus = DeliveryStatus.sent,
    ) -> Delivery:
        """A nudge sent at `sent_at`, and the person's answer to it (if any)."""
        delivery = Delivery(
            enrollment_id=enrollment.id,
            person_id=enrollment.person_id,
            step_id=step_id,
            repetition=next(self._keys),
            status=status,
            due_at=sent_at,
            sent_at=sent_at if status == DeliveryStatus.sent else None,
        )
        self.session.add(delivery)
        self.session.flush()
        if answer:
            self.proof(delivery, answer, value=value, text=text, at=sent_at)
        return delivery

    def proof(
        self,
        delivery: Delivery,
        kind: str,
        *,
        at: datetime,
        value: str | None = None,
        text: str | None = None,
    ) -> ProofEvent:
        enrollment = self.session.get(Enrollment, delivery.enrollment_id)
        assert enrollment is not None
        event = ProofEvent(
            dedupe_key=f"test-{next(self._keys)}",
            person_id=delivery.person_id,
            program_id=enrollment.program_id,
            program_version=1,
            step_id=delivery.step_id,
            delivery_id=delivery.id,
            kind=kind,
            value=value,
            text=text,
            occurred_at=at,
        )
        self.session.add(event)
        self.session.flush()
        return event


@pytest.fixture
def settings(db_url: str, fake_slack: FakeSlack) -> Settings:
    return make_settings(
        database_url=db_url,
        slack_api_url=fake_slack.base_url,
        metric_hook_secrets={"crm": METRIC_SECRET},
        ld_leads=[LEAD],
    )


@pytest.fixture
def world(services: Services) -> Iterator[World]:
    with services.session() as session:
        yield World(session)


def signed_headers(body: bytes, *, timestamp: int, secret: str = METRIC_SECRET) -> dict[str, str]:
    mac = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "X-Nudgebot-Source": "crm",
        "X-Nudgebot-Timestamp": str(timestamp),
        "X-Nudgebot-Signature": "v0=" + mac.hexdigest(),
    }
