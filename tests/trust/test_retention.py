"""Retention: old proof events and reflections go daily, their counts stay."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from bot.audit.models import AuditEvent
from bot.clock import FixedClock
from bot.governance.models import ProofRollup
from bot.people.models import Person
from bot.proof.models import ProofEvent
from bot.services import Services
from bot.slack.install import STATES_TABLE
from bot.surface import surface


def _proof(
    session: Session,
    person: Person,
    n: int,
    *,
    days_ago: int,
    clock: FixedClock,
    text: str | None = None,
) -> None:
    session.add(
        ProofEvent(
            dedupe_key=f"k{n}",
            person_id=person.id,
            program_id="feedback",
            program_version=1,
            step_id="ask",
            kind="done",
            text=text,
            occurred_at=clock.now() - timedelta(days=days_ago),
        )
    )


def test_purge_removes_only_old_proof_and_keeps_weekly_counts(
    services: Services, clock: FixedClock
) -> None:
    with services.session() as session:
        person = Person(slack_user_id="U0EMP1", name="Emp")
        session.add(person)
        session.flush()
        _proof(session, person, 1, days_ago=500, clock=clock, text="I tried it and my team laughed")
        _proof(session, person, 2, days_ago=499, clock=clock)
        _proof(session, person, 3, days_ago=10, clock=clock, text="went well")
        now_naive = clock.now().replace(tzinfo=None)
        session.execute(
            insert(STATES_TABLE),
            [
                {"state": "old", "expire_at": now_naive - timedelta(minutes=1)},
                {"state": "live", "expire_at": now_naive + timedelta(minutes=5)},
            ],
        )
    tick = next(t for t in surface(services, store=None).ticks if t.name == "retention")
    assert tick.seconds <= 24 * 3600  # at least daily

    tick.func()

    with services.session() as session:
        left = session.execute(select(ProofEvent.dedupe_key, ProofEvent.text)).all()
        assert [tuple(r) for r in left] == [("k3", "went well")]
        rollup = session.scalars(select(ProofRollup)).one()
        assert (rollup.program_id, rollup.step_id, rollup.kind, rollup.count) == (
            "feedback",
            "ask",
            "done",
            2,
        )
        assert rollup.week_start.weekday() == 0 and rollup.week_start <= date(2025, 7, 14)
        assert session.scalars(select(STATES_TABLE.c.state)).all() == ["live"]
        purge = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "retention.purge")
        ).one()
        assert purge.details == {
            "rows": {"proof_events": 2, "slack_oauth_states": 1},
            "older_than_days": 400,
        }

    # A second run (another replica, the next day) finds nothing and counts nothing twice.
    tick.func()
    with services.session() as session:
        assert session.scalar(select(func.sum(ProofRollup.count))) == 2
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 1
