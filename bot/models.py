"""Imports every feature's models so `Base.metadata` is complete (Alembic, tests)."""

from bot.audit.models import AuditEvent  # noqa: F401
from bot.calendars.models import CalendarFeed, CalendarMatch  # noqa: F401
from bot.content.models import Program, ProgramVersion
from bot.db import Base
from bot.delivery.models import Delivery, Enrollment
from bot.digest.models import DigestSend, MetricObservation, PrivacyChoice  # noqa: F401
from bot.governance.models import ProofRollup  # noqa: F401
from bot.intake.models import IntakeDecision, IntakeDraft, IntakeRequest  # noqa: F401
from bot.people.models import Person
from bot.premortem.models import Premortem, Prevention, Risk, Vote  # noqa: F401
from bot.proof.models import NudgePreference, Pause, ProofEvent, ReinforcementBox  # noqa: F401
from bot.slack.install import STORE_TABLES  # noqa: F401 - slack_sdk OAuth store tables
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
