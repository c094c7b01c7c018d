"""Claims under a lease: who holds a row, until when, and what is recorded at the end.

A sender claims due rows by moving them to `sending` with its owner id and a lease.
Whatever it records afterwards is fenced by the claim (owner and attempt number),
so a row reaped after its lease ran out, and maybe claimed again since, is never
recorded by the old claim. Rows of a sender that vanished go back to `planned`
(`reap_expired`), to be reconciled against the DM history before any post.
On SQLite, one process may send at a time (`SqliteSenderLock`).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.delivery.models import Delivery, DeliveryStatus, SenderLock
from bot.errors import ConfigError
from bot.services import Services

log = logging.getLogger("bot.delivery.sender")

SQLITE_LOCK = "sender"
SQLITE_LOCK_SECONDS = 30


def _process_prefix() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:"


def make_owner() -> str:
    return _process_prefix() + uuid.uuid4().hex[:8]


def release_process_leases(services: Services) -> int:
    """Hand every nudge this process's senders claimed back to `planned` at once, so
    another replica takes it now instead of after the lease. The attempt stays on
    record, so whoever sends next first looks in the DM history: none twice."""
    with services.session() as session:
        result = session.execute(
            update(Delivery)
            .where(
                Delivery.status == DeliveryStatus.sending,
                Delivery.lease_owner.startswith(_process_prefix(), autoescape=True),
            )
            .values(status=DeliveryStatus.planned, lease_owner=None, lease_until=None),
            execution_options={"synchronize_session": False},
        )
        return int(getattr(result, "rowcount", 0) or 0)


@dataclass
class Outcome:
    status: DeliveryStatus
    error: str | None = None
    due_at: datetime | None = None
    window_end: datetime | None = None
    channel: str | None = None
    ts: str | None = None
    counted: bool = True  # False: the claim was not an attempt (nothing reached Slack)
    stat: str = "sent"
    fence: int = 0  # the row's attempt number at our claim: recorded only while unchanged


class SenderRefused(ConfigError):
    """Another process holds the sender lock of this SQLite database."""


class SqliteSenderLock:
    """On SQLite only one process may send: a row held under a lease it renews."""

    def __init__(self, services: Services, owner: str) -> None:
        self.services = services
        self.owner = owner
        self.enabled = services.engine.dialect.name == "sqlite"

    def hold(self) -> None:
        """On SQLite only one process may send; refuse clearly when another does."""
        if not self.enabled:
            return
        now = self.services.clock.now()
        until = now + timedelta(seconds=SQLITE_LOCK_SECONDS)
        with self.services.session() as session:
            lock = session.get(SenderLock, SQLITE_LOCK)
            if lock is None:
                session.add(SenderLock(name=SQLITE_LOCK, owner=self.owner, lease_until=until))
                try:
                    session.flush()
                except IntegrityError:
                    raise self._refused(None) from None
                return
            if lock.owner != self.owner and lock.lease_until > now and owner_alive(lock.owner):
                raise self._refused(lock)
            lock.owner, lock.lease_until = self.owner, until

    def release(self) -> None:
        if not self.enabled:
            return
        with self.services.session() as session:
            lock = session.get(SenderLock, SQLITE_LOCK)
            if lock is not None and lock.owner == self.owner:
                session.delete(lock)

    def _refused(self, lock: SenderLock | None) -> SenderRefused:
        who = lock.owner.rsplit(":", 1)[0] if lock else "another process"
        return SenderRefused(
            f"another process ({who}) is already sending nudges from this SQLite database; "
            "SQLite allows one sender: stop it first, or use PostgreSQL (DATABASE_URL) to run "
            "several replicas"
        )


def reap_expired(services: Services, *, owner: str) -> int:
    """Rows whose sender vanished mid-send go back to planned; having an
    attempt on record, they are reconciled against history before any post."""
    now = services.clock.now()
    with services.session() as session:
        owners = session.scalars(
            select(Delivery.lease_owner)
            .where(Delivery.status == DeliveryStatus.sending, Delivery.lease_until >= now)
            .distinct()
        )
        # A sender on this host that was killed holds nothing: no need to wait out its lease.
        dead = [o for o in owners if o and o != owner and not owner_alive(o)]
        result = session.execute(
            update(Delivery)
            .where(
                Delivery.status == DeliveryStatus.sending,
                or_(Delivery.lease_until < now, Delivery.lease_owner.in_(dead)),
            )
            .values(
                status=DeliveryStatus.planned,
                lease_owner=None,
                lease_until=None,
                updated_at=now,
            ),
            execution_options={"synchronize_session": False},
        )
        count = int(getattr(result, "rowcount", 0) or 0)
    if count:
        log.warning("%d nudge(s) found with an expired lease; they will be reconciled", count)
    return count


def renew_lease(services: Services, d: Delivery, *, owner: str, seconds: float) -> bool:
    """Extend our lease of `d` by `seconds` from now; False when the claim is no longer
    ours (reaped, maybe claimed again: the attempt number tells claims apart)."""
    now = services.clock.now()
    until = now + timedelta(seconds=seconds)
    with services.session() as session:
        result = session.execute(
            update(Delivery)
            .where(
                Delivery.id == d.id,
                Delivery.status == DeliveryStatus.sending,
                Delivery.lease_owner == owner,
                Delivery.attempts == d.attempts,
            )
            .values(lease_until=until, updated_at=now),
            execution_options={"synchronize_session": False},
        )
        renewed = int(getattr(result, "rowcount", 0) or 0) == 1
    if renewed:
        d.lease_until = until
    return renewed


def record_outcomes(services: Services, owner: str, outcomes: list[tuple[int, Outcome]]) -> None:
    if not outcomes:
        return
    now = services.clock.now()
    sent = [(i, o) for i, o in outcomes if o.status == DeliveryStatus.sent]
    other = [(i, o) for i, o in outcomes if o.status != DeliveryStatus.sent]
    with services.session() as session:
        if sent:
            # The common case in one executemany (psycopg pipelines it).
            session.connection().execute(
                _RECORD_SENT,
                [
                    {
                        "b_id": i,
                        "b_owner": owner,
                        "b_fence": o.fence,
                        "b_channel": o.channel,
                        "b_ts": o.ts,
                        "b_now": now,
                    }
                    for i, o in sent
                ],
            )
        for delivery_id, outcome in other:
            # Only while our lease stands: a reaped and re-claimed row is not ours.
            session.execute(
                update(Delivery)
                .where(
                    Delivery.id == delivery_id,
                    Delivery.status == DeliveryStatus.sending,
                    Delivery.lease_owner == owner,
                    Delivery.attempts == outcome.fence,
                )
                .values(**_values(outcome, now)),
                execution_options={"synchronize_session": False},
            )


_TABLE = cast(Table, Delivery.__table__)
# Only while our claim stands: a reaped and re-claimed row is not ours to record (the
# attempt number tells our claim from a later one by this same sender).
_RECORD_SENT = (
    update(_TABLE)
    .where(
        _TABLE.c.id == bindparam("b_id"),
        _TABLE.c.status == DeliveryStatus.sending.value,
        _TABLE.c.lease_owner == bindparam("b_owner"),
        _TABLE.c.attempts == bindparam("b_fence"),
    )
    .values(
        status=DeliveryStatus.sent.value,
        channel_id=bindparam("b_channel"),
        message_ts=bindparam("b_ts"),
        sent_at=bindparam("b_now"),
        updated_at=bindparam("b_now"),
        lease_owner=None,
        lease_until=None,
        last_error=None,
    )
)


def _values(outcome: Outcome, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": outcome.status,
        "lease_owner": None,
        "lease_until": None,
        "updated_at": now,
    }
    if outcome.status == DeliveryStatus.sent:
        values.update(
            channel_id=outcome.channel, message_ts=outcome.ts, sent_at=now, last_error=None
        )
    else:
        values["last_error"] = (outcome.error or "")[:255] or None
    if outcome.due_at is not None:
        values["due_at"] = outcome.due_at
    if outcome.window_end is not None:
        values["window_end"] = outcome.window_end
    if not outcome.counted:
        values["attempts"] = Delivery.attempts - 1
    return values


def owner_alive(owner: str) -> bool:
    """False when the owner ran on this host and its process is gone (kill -9)."""
    parts = owner.split(":")
    if len(parts) < 3 or parts[0] != socket.gethostname()[:60]:
        return True
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True
