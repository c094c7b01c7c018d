"""Graceful shutdown: SIGTERM while `nudgebot run` is sending a few hundred nudges.

An operator rolling out a new version sends SIGTERM and expects the old process
gone within 10 s, with no nudge stuck behind a lease it still holds (a stuck
nudge waits out its lease and is then reconciled: late, for someone).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from bot.clock import SystemClock
from bot.content.models import ProgramVersion
from bot.content.service import load_and_sync
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment
from bot.people.models import Person
from bot.services import Services
from tests.conftest import make_settings
from tests.fakeslack import FakeSlack
from tests.foundation.test_run import REPO, BotProcess, _env

NUDGES = 300
PROGRAM = "customer-call-opener"
STEP = "three-questions"


def _seed(db_url: str, fake: FakeSlack) -> None:
    """A migrated database with the repository's library and NUDGES planned, due nudges."""
    from bot import migrate

    migrate.upgrade(db_url)
    services = Services.create(
        make_settings(database_url=db_url, slack_api_url=fake.base_url), clock=SystemClock()
    )
    try:
        load_and_sync(services)
        now = services.clock.now()
        with services.session() as session:
            version = session.scalar(
                select(ProgramVersion.id).where(ProgramVersion.program_id == PROGRAM)
            )
            assert version is not None
            for n in range(NUDGES):
                user = f"U0SHUT{n:04d}"
                fake.add_user(user, name=f"person {n}")
                person = session.execute(
                    insert(Person).returning(Person.id),
                    {"slack_user_id": user, "name": f"person {n}", "tz": "UTC", "locale": "en-US"},
                ).scalar_one()
                enrollment = session.execute(
                    insert(Enrollment).returning(Enrollment.id),
                    {
                        "person_id": person,
                        "program_id": PROGRAM,
                        "program_version_id": version,
                        "starts_at": now - timedelta(days=1),
                        "enrolled_by": "U0LEAD001",
                        "source": "test",
                    },
                ).scalar_one()
                session.execute(
                    insert(Delivery),
                    {
                        "enrollment_id": enrollment,
                        "person_id": person,
                        "step_id": STEP,
                        "due_at": now - timedelta(minutes=5),
                    },
                )
    finally:
        services.close()


def _drain(proc: subprocess.Popen[str], lines: list[str]) -> None:
    assert proc.stderr is not None
    for line in proc.stderr:
        lines.append(line)


def _count(services: Services, *conditions: object) -> int:
    with services.session() as session:
        return int(session.scalar(select(func.count(Delivery.id)).where(*conditions)) or 0)


@pytest.fixture
def seeded(db_url: str, fake_slack: FakeSlack) -> Iterator[Services]:
    _seed(db_url, fake_slack)
    services = Services.create(
        make_settings(database_url=db_url, slack_api_url=fake_slack.base_url),
        clock=SystemClock(),
    )
    yield services
    services.close()


def test_sigterm_while_sending_exits_within_10s_and_holds_no_lease(
    seeded: Services, fake_slack: FakeSlack, db_url: str
) -> None:
    # 60 posts a minute: sending 300 would take five minutes, so SIGTERM lands mid-send.
    env = _env(fake_slack, db_url, NUDGEBOT_SEND_RATE_PER_MINUTE="60")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--host", "127.0.0.1", "--port", "0"],
        cwd=REPO,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        running = BotProcess(proc)
        # Drain stderr meanwhile: a full pipe would block the bot's logging, not its shutdown.
        reader = threading.Thread(target=_drain, args=(proc, running.lines), daemon=True)
        reader.start()
        deadline = time.monotonic() + 30
        while not fake_slack.calls_to("chat.postMessage"):
            assert time.monotonic() < deadline, "the bot never started sending"
            time.sleep(0.05)
        time.sleep(1.0)  # well inside a send batch
        assert _count(seeded, Delivery.status == DeliveryStatus.sending) > 0, "not mid-send"

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=5)
    messages = [json.loads(line)["message"] for line in running.lines if line.startswith("{")]

    assert code == 0, "\n".join(messages[-20:])
    assert took < 10, f"took {took:.1f} s to stop"
    assert any(m.startswith("signal SIGTERM") for m in messages)
    # Nothing left behind a lease of the stopped process: every claimed nudge was
    # either sent (and recorded) or handed back to `planned` for the next replica.
    owner_prefix = f"%:{proc.pid}:%"
    assert (
        _count(
            seeded,
            Delivery.status == DeliveryStatus.sending,
            Delivery.lease_owner.like(owner_prefix),
        )
        == 0
    )
    sent = _count(seeded, Delivery.status == DeliveryStatus.sent)
    assert 0 < sent < NUDGES, "SIGTERM should land mid-send"
    assert _count(seeded, Delivery.status == DeliveryStatus.planned) == NUDGES - sent
    # A nudge posted in the last instant may not be recorded as sent; it is then
    # planned with its attempt on record, so the next sender finds it in the DM
    # history instead of posting it again.
    with seeded.session() as session:
        rows = {d.id: d for d in session.scalars(select(Delivery))}
    for call in fake_slack.calls_to("chat.postMessage"):
        delivery_id = _delivery_of(call.params)
        row = rows[delivery_id]
        assert row.status == DeliveryStatus.sent or row.attempts >= 1, delivery_id


def _delivery_of(params: dict[str, object]) -> int:
    metadata = params["metadata"]
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    assert isinstance(metadata, dict)
    return int(metadata["event_payload"]["delivery_id"])
