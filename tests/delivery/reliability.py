"""Shared set-up of the reliability scenarios: many people, sender subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, insert, select

from bot.delivery.models import Delivery, DeliveryStatus, Enrollment
from bot.delivery.planner import plan
from bot.people.models import Person
from bot.services import Services
from tests.conftest import BOT_TOKEN
from tests.delivery.conftest import step, store_program
from tests.fakeslack import FakeSlack

REPO = Path(__file__).resolve().parents[2]


def seed(services: Services, fake: FakeSlack, count: int, *, now: datetime) -> list[str]:
    """`count` people enrolled in one program whose first step is due now."""
    users = [f"U{i:07d}" for i in range(count)]
    for user in users:
        fake.add_user(user, name=user.lower())
    with services.session() as session:
        version = store_program(session, "fan-out", [step("hello", day=0)])
        session.execute(
            insert(Person),
            [
                {
                    "slack_user_id": u,
                    "workspace_id": "T0TEST",
                    "name": u,
                    "tz": "UTC",
                    "working_days": "mon,tue,wed,thu,fri,sat,sun",
                    "working_hours": "00:00-23:59",
                }
                for u in users
            ],
        )
        ids = {u: i for u, i in session.execute(select(Person.slack_user_id, Person.id))}
        session.execute(
            insert(Enrollment),
            [
                {
                    "person_id": ids[u],
                    "program_id": "fan-out",
                    "program_version_id": version,
                    "starts_at": now,
                    "created_at": now,
                    "updated_at": now,
                    "arm": "",
                    "source": "test",
                }
                for u in users
            ],
        )
        plan(session, settings=services.settings, now=now)
        assert session.scalar(select(func.count()).select_from(Delivery)) == count
    return users


def worker_env(services: Services, fake: FakeSlack, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUDGEBOT_", "SLACK_"))}
    env.update(
        DATABASE_URL=services.settings.database_url,
        SLACK_API_URL=fake.base_url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        NUDGEBOT_SEND_RATE_PER_MINUTE="0",
        NUDGEBOT_RESPECT_DND="false",
        NUDGEBOT_LOG_LEVEL="WARNING",
        NUDGEBOT_LOG_FORMAT="text",
        PYTHONPATH=str(REPO),
    )
    env.update(settings)
    return env


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "send"],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=out,
        )


def counts(services: Services) -> Counter[str]:
    with services.session() as session:
        rows = session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
        return Counter({str(status): n for status, n in rows})


def wait_for(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def nudges_per_user(fake: FakeSlack, users: list[str]) -> Counter[str]:
    """How many nudge DMs (messages carrying a delivery id) each person received."""
    found: Counter[str] = Counter()
    for user in users:
        for message in fake.dm_messages(user):
            if (message.get("metadata") or {}).get("event_type") == "nudge_delivery":
                found[user] += 1
    return found


def all_done(services: Services, total: int) -> bool:
    c = counts(services)
    return c[DeliveryStatus.sent] + c[DeliveryStatus.failed] == total
