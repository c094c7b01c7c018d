"""Claiming due rows of the outbox, and deciding which of them are still wanted.

A claim moves due rows to `sending` under a lease in one statement and reads, in
the same transaction, everything the post needs. Whether a claimed row is still
wanted (the person left, the enrollment stopped, the step is settled, a feature's
DM has nothing left to say) is decided from that read, before any Slack call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.content.schema import Program, normalise_locale
from bot.delivery import plugins
from bot.delivery.leases import Outcome
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment, EnrollmentStatus
from bot.delivery.service import load_program
from bot.people.models import Person
from bot.services import Services


@dataclass
class Claimed:
    delivery: Delivery
    person: Person
    enrollment: Enrollment | None  # None: not a step (a pre-mortem follow-up)
    locale: str = "en"
    extra: dict[str, Any] = field(default_factory=dict)


def claim_due(
    services: Services, *, owner: str, limit: int, programs: dict[int, Program]
) -> list[Claimed]:
    """Up to `limit` due rows, moved to `sending` under our lease (FOR UPDATE SKIP
    LOCKED on PostgreSQL: replicas never claim the same row), with what sending them
    needs: the person, the enrollment, the language, and each program version
    (`programs` is the caller's cache). Features' DMs are rendered now, from the
    current state."""
    now = services.clock.now()
    lease = now + timedelta(seconds=services.settings.send_lease_seconds)
    due = (
        select(Delivery.id)
        .where(Delivery.status == DeliveryStatus.planned, Delivery.due_at <= now)
        .order_by(Delivery.due_at)
        .limit(limit)
    )
    if services.engine.dialect.name != "sqlite":
        due = due.with_for_update(skip_locked=True)
    with services.session() as session:
        ids = list(
            session.scalars(
                update(Delivery)
                .where(Delivery.id.in_(due.scalar_subquery()))
                .values(
                    status=DeliveryStatus.sending,
                    lease_owner=owner,
                    lease_until=lease,
                    attempts=Delivery.attempts + 1,
                    updated_at=now,
                )
                .returning(Delivery.id),
                execution_options={"synchronize_session": False},
            )
        )
        if not ids:
            return []
        rows = session.execute(
            select(Delivery, Person, Enrollment)
            .join(Person, Person.id == Delivery.person_id)
            .outerjoin(Enrollment, Enrollment.id == Delivery.enrollment_id)
            .where(Delivery.id.in_(ids))
            .order_by(Delivery.due_at, Delivery.id)
        )
        claimed = [Claimed(r.Delivery, r.Person, r.Enrollment) for r in rows]
        # The language a person chose in the bot wins over Slack's (one query a batch).
        features = plugins.current()
        chosen = features.chosen_languages(session, {i.person.id for i in claimed})
        for item in claimed:
            item.locale = normalise_locale(chosen.get(item.person.id) or item.person.locale)
            if item.enrollment is None:
                _render_feature_dm(session, item, features)
                continue
            # A repetition stops once the step is settled (the answer-settled hook).
            item.extra["done"] = item.delivery.repetition > 0 and features.settled(
                session, item.enrollment.id, item.delivery.step_id
            )
            version = item.enrollment.program_version_id
            if version not in programs:
                programs[version] = load_program(session, version)
        session.expunge_all()
    return claimed


def not_wanted(item: Claimed) -> Outcome | None:
    person, enrollment = item.person, item.enrollment
    if person.is_deleted:
        return Outcome(DeliveryStatus.cancelled, error="account deactivated", stat="skipped")
    if person.is_bot:
        return Outcome(DeliveryStatus.skipped, error="a bot", stat="skipped")
    if enrollment is None:
        unwanted = item.extra.get("unwanted")
        if unwanted:
            return Outcome(DeliveryStatus.cancelled, error=unwanted, stat="skipped")
        return None
    if enrollment.status != EnrollmentStatus.active:
        return Outcome(
            DeliveryStatus.cancelled, error=f"enrollment {enrollment.status}", stat="skipped"
        )
    if item.extra.get("done"):
        return Outcome(
            DeliveryStatus.skipped,
            error="repetitions settled (confirmed or not relevant)",
            stat="skipped",
        )
    return None


def _render_feature_dm(session: Session, item: Claimed, features: plugins.DeliveryPlugins) -> None:
    """A delivery that is not a step: its feature renders it now, from the current state,
    or says why it is no longer wanted (the prevention was closed meanwhile)."""
    d = item.delivery
    render = features.renderers.get(d.kind)
    if render is None:
        item.extra["unwanted"] = f"no sender for deliveries of kind {d.kind}"
        return
    try:
        item.extra["message"] = render(session, d)
    except plugins.NotWanted as exc:
        item.extra["unwanted"] = str(exc)
