"""Personal-data declarations of the tables that exist today.

Each feature may move its own lines next to its models later; what matters is
that every person link is declared somewhere imported by `bot.governance.service`
(the forget test fails for any column left out).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent
from bot.calendars.models import CalendarFeed, CalendarMatch
from bot.content.models import Program
from bot.db import utcnow
from bot.delivery.models import Delivery, Enrollment, SenderLock
from bot.digest.models import DigestSend, PrivacyChoice
from bot.governance.models import ProofRollup
from bot.governance.registry import (
    Holds,
    Mode,
    declare_not_personal,
    register_personal_data,
    register_retention,
)
from bot.intake.models import IntakeDecision, IntakeDraft, IntakeRequest
from bot.people.models import Person
from bot.premortem.models import Premortem, Prevention, Risk, Vote
from bot.proof.models import NudgePreference, Pause, ProofEvent
from bot.slack.install import BOTS_TABLE, INSTALLATIONS_TABLE

FORGOTTEN = "forgotten"
REMOVED_TEXT = "(removed at the author's request)"
SLACK = Holds.slack_user_id


def week_start(when: datetime) -> date:
    day = when.date()
    return day - timedelta(days=day.weekday())


def rollup_proof(session: Session, rows: Sequence[Row[Any]]) -> None:
    """Add deleted proof events to the anonymous weekly counts."""
    counts = Counter(
        (row.program_id, row.step_id, row.kind, week_start(row.occurred_at)) for row in rows
    )
    for (program_id, step_id, kind, week), count in counts.items():
        key = (
            (ProofRollup.program_id == program_id)
            & (ProofRollup.step_id == step_id)
            & (ProofRollup.kind == kind)
            & (ProofRollup.week_start == week)
        )
        # The caller holds the deleted rows' locks, so two replicas never add the
        # same events twice; a row lock on the rollup serialises the increment.
        existing = session.scalar(select(ProofRollup.id).where(key).with_for_update())
        if existing is None:
            session.add(
                ProofRollup(
                    program_id=program_id, step_id=step_id, kind=kind, week_start=week, count=count
                )
            )
            session.flush()
        else:
            session.execute(
                update(ProofRollup)
                .where(ProofRollup.id == existing)
                .values(count=ProofRollup.count + count, updated_at=utcnow())
            )


def _core() -> None:
    register_personal_data(Person, "id", Mode.delete)
    register_personal_data(Person, "slack_user_id", Mode.delete, holds=SLACK)
    register_personal_data(Person, "manager_slack_user_id", Mode.unlink, holds=SLACK)
    register_personal_data(Enrollment, "person_id", Mode.delete)
    register_personal_data(Enrollment, "enrolled_by", Mode.unlink, holds=SLACK)
    register_personal_data(Delivery, "person_id", Mode.delete)
    # A connected calendar: the encrypted address (export shows it withheld) and the
    # event keys and times it planned (docs/privacy.md, Calendars).
    register_personal_data(CalendarFeed, "person_id", Mode.delete)
    register_personal_data(CalendarMatch, "person_id", Mode.delete)
    register_personal_data(ProofEvent, "person_id", Mode.delete, rollup=rollup_proof)
    register_retention(ProofEvent, "occurred_at", rollup=rollup_proof)
    register_personal_data(Pause, "person_id", Mode.delete)
    register_personal_data(NudgePreference, "person_id", Mode.delete)
    register_personal_data(AuditEvent, "actor", Mode.unlink, holds=SLACK, unlink_to=FORGOTTEN)
    register_personal_data(AuditEvent, "target", Mode.unlink, holds=SLACK, unlink_to=FORGOTTEN)
    # The installer of a workspace: the installation must survive them leaving.
    register_personal_data(INSTALLATIONS_TABLE, "user_id", Mode.unlink, holds=SLACK, unlink_to="")
    declare_not_personal(Delivery, "lease_owner", "the id of the bot replica sending it")
    declare_not_personal(SenderLock, "owner", "the id of the bot replica holding the lock")
    declare_not_personal(BOTS_TABLE, "bot_user_id", "the app's own bot user")
    declare_not_personal(INSTALLATIONS_TABLE, "bot_user_id", "the app's own bot user")
    declare_not_personal(
        Program,
        "owner",
        "the owning team as written in nudges/*.yaml (content under review "
        "in git, not collected about a person); edit the file to change it",
    )


def _features() -> None:
    # Intake: a requester's requests are theirs; leads' decisions stay, unsigned.
    register_personal_data(IntakeRequest, "requester_slack_user_id", Mode.delete, holds=SLACK)
    register_personal_data(IntakeRequest, "claimed_by", Mode.unlink, holds=SLACK)
    register_personal_data(IntakeRequest, "decided_by", Mode.unlink, holds=SLACK)
    register_personal_data(
        IntakeDecision,
        "actor_slack_user_id",
        Mode.unlink,
        holds=SLACK,
        unlink_to="",
        scrub={"note": None},
    )
    register_personal_data(IntakeDraft, "slack_user_id", Mode.delete, holds=SLACK)
    # Pre-mortems: the shared board keeps its risks and counts, not who said what.
    register_personal_data(Premortem, "facilitator_id", Mode.unlink, holds=SLACK, unlink_to="")
    register_personal_data(Premortem, "started_by", Mode.unlink, holds=SLACK, unlink_to="")
    register_personal_data(
        Risk, "author_id", Mode.unlink, holds=SLACK, scrub={"text": REMOVED_TEXT}
    )
    register_personal_data(Vote, "voter_id", Mode.unlink, holds=SLACK)
    register_personal_data(Prevention, "owner_id", Mode.unlink, holds=SLACK, unlink_to="")
    register_personal_data(Prevention, "decided_by", Mode.unlink, holds=SLACK, unlink_to="")
    register_personal_data(Prevention, "status_changed_by", Mode.unlink, holds=SLACK)
    # Their follow-up DMs are deliveries: Delivery.person_id above covers them.
    # Digests: what was sent to a reader is theirs.
    register_personal_data(DigestSend, "recipient_user_id", Mode.delete, holds=SLACK)
    register_personal_data(PrivacyChoice, "person_id", Mode.delete)


_core()
_features()
