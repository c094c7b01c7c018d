"""Imports every feature's models so `Base.metadata` is complete (Alembic, tests)."""

from bot.content.models import Program, ProgramVersion
from bot.db import Base
from bot.delivery.models import Delivery, Enrollment
from bot.people.models import Person
from bot.proof.models import ProofEvent
from bot.slack.models import SeenEvent

__all__ = [
    "Base",
    "Delivery",
    "Enrollment",
    "Person",
    "Program",
    "ProgramVersion",
    "ProofEvent",
    "SeenEvent",
]
