"""Shared by the delivery benchmarks: a database of its own, people, a fake Slack process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

from bot import migrate
from bot.content.loader import content_hash
from bot.content.models import Program as ProgramRow
from bot.content.models import ProgramVersion
from bot.content.schema import Program
from bot.db import normalize_url
from bot.delivery.models import Enrollment
from bot.delivery.planner import plan
from bot.people.models import Person
from bot.services import Services

HERE = Path(__file__).resolve().parent
FIVE_PS = {k: f"The {k}." for k in ("problem", "behavior", "place", "prompt", "proof")}


def program(program_id: str, steps: list[dict[str, Any]]) -> Program:
    return Program.model_validate(
        {
            "id": program_id,
            "title": "Bench",
            "owner": "ld@example.com",
            "summary": "Bench.",
            "locales": ["en"],
            **FIVE_PS,
            "steps": steps,
            "metric": {
                "name": "x",
                "unit": "%",
                "direction": "down",
                "baseline": 2,
                "target": 1,
                "by": "90d",
            },
        }
    )


@contextmanager
def database(url: str | None) -> Iterator[str]:
    """A migrated empty database: a temporary SQLite file, or a fresh PostgreSQL
    database created on the server `url` points at (dropped afterwards)."""
    if url is None or url.startswith("sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            db = f"sqlite:///{tmp}/bench.db"
            migrate.upgrade(db)
            yield db
        return
    admin = create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    name = f"nudgebot_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = make_url(normalize_url(url)).set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(db)
        yield db
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed_people(
    services: Services, count: int, prog: Program, *, tz: str = "UTC", all_day: bool = True
) -> None:
    """`count` people (U0000000…) enrolled in `prog`, starting now, in bulk."""
    now = services.clock.now()
    with services.session() as session:
        session.add(ProgramRow(id=prog.id, title=prog.id, owner="ld@example.com"))
        version = ProgramVersion(
            program_id=prog.id,
            number=1,
            content_hash=content_hash(prog),
            content=prog.model_dump(mode="json", exclude_defaults=True),
        )
        session.add(version)
        session.flush()
        for start in range(0, count, 20_000):
            users = [f"U{i:07d}" for i in range(start, min(count, start + 20_000))]
            extra = (
                {"working_days": "mon,tue,wed,thu,fri,sat,sun", "working_hours": "00:00-23:59"}
                if all_day
                else {}
            )
            session.execute(
                insert(Person),
                [
                    {"slack_user_id": u, "workspace_id": "T0", "name": u, "tz": tz, **extra}
                    for u in users
                ],
            )
            ids = (
                session.execute(select(Person.id).where(Person.slack_user_id.in_(users)))
                .scalars()
                .all()
            )
            session.execute(
                insert(Enrollment),
                [
                    {
                        "person_id": pid,
                        "program_id": prog.id,
                        "program_version_id": version.id,
                        "starts_at": now,
                        "created_at": now,
                        "updated_at": now,
                        "arm": "",
                        "source": "bench",
                    }
                    for pid in ids
                ],
            )


def plan_all(services: Services) -> int:
    with services.session() as session:
        return plan(session, settings=services.settings, now=services.clock.now()).inserted


class FakeProcess:
    """bench/delivery_fake_server.py as a child process."""

    def __init__(self, users: int, workspace_per_minute: float | None = None, *faults: str) -> None:
        """`faults`: more arguments of delivery_fake_server.py (--fault-share ...)."""
        cmd = [sys.executable, str(HERE / "delivery_fake_server.py"), "--users", str(users)]
        if workspace_per_minute:
            cmd += ["--workspace-per-minute", str(workspace_per_minute)]
        cmd += list(faults)
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(HERE.parent)},
        )
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()

    def report(self) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("report\n")
        self.proc.stdin.flush()
        return dict(json.loads(self.proc.stdout.readline()))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def now_utc() -> datetime:
    return datetime.now(UTC)
