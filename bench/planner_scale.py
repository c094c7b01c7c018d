"""The planner at scale: 100,000 people enrolled, the next 7 days planned.

    python bench/planner_scale.py [--people 100000] [--days 7] [--database-url URL]
                                  [--doc PATH]

Seeds a database of the run's own on PostgreSQL (--database-url, default
NUDGEBOT_TEST_POSTGRES_URL; it refuses to run without one) with people across
six time zones and four countries, each enrolled in a 30-day program of seven steps (fixed
times, windows and spaced repetitions), then runs the planner in a child process
so its time and peak memory are its own (VmHWM, the child's own high-water mark:
ru_maxrss would include the parent's memory at fork time). A second pass is the
plan tick every minute when nothing changed: it must look at nobody and insert
nothing. A third moves one person to another time zone: the tick re-plans
exactly that person. Targets: under 30 s and under 500 MB for the first pass.

Time is fixed: everyone enrolls at START (a Monday) and the passes plan at START
and the minutes after it, so the rows planned are the same whatever the day the
bench runs (weekends and public holidays move nudges, and with them the count).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from delivery_common import database, program
from report import DOC, markdown_table, peak_mb, publish, require_postgres
from sqlalchemy import func, select, update

from bot.clock import FixedClock
from bot.delivery.models import Delivery
from bot.delivery.planner import plan
from bot.people.models import Person
from bot.plugins import plug_features
from bot.services import Services
from bot.settings import Settings

# Monday 03:00 UTC: no zone below is at the edge of its working hours.
START = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
ZONES = [
    ("Europe/Sofia", "BG"),
    ("America/New_York", "US"),
    ("Asia/Tokyo", "JP"),
    ("Europe/Berlin", "DE"),
    ("America/Los_Angeles", "US"),
    ("Asia/Kolkata", "IN"),
]
STEPS = [
    {"id": "welcome", "kind": "prompt", "text": "Welcome.", "when": {"day": 0}},
    {
        "id": "first",
        "kind": "prompt",
        "text": "First.",
        "when": {"day": 1, "time": "09:30"},
        "repeat": {"intervals_days": [2, 5, 12]},
    },
    {
        "id": "buddy",
        "kind": "prompt",
        "text": "Buddy.",
        "when": {"day": 3, "window": "10:00-12:00"},
    },
    {"id": "check", "kind": "prompt", "text": "Check.", "when": {"day": 5, "time": "14:00"}},
    {"id": "mid", "kind": "prompt", "text": "Mid.", "when": {"day": 10}},
    {"id": "late", "kind": "prompt", "text": "Late.", "when": {"day": 24, "time": "11:00"}},
    {"id": "reflect", "kind": "prompt", "text": "Reflect.", "when": {"day": 29}},
]


def settings_for(url: str) -> Settings:
    return Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]


def child(url: str, days: int, minute: int, move: bool = False) -> None:
    """One pass of the planner, `minute` minutes after START (one plan tick each)."""
    clock = FixedClock(START + timedelta(minutes=minute))
    services = Services.create(settings_for(url), clock=clock)
    if move:
        with services.session() as session:
            person = session.scalar(select(Person).order_by(Person.id).limit(1))
            assert person is not None
            person.tz_override = "Pacific/Auckland"  # what App Home preferences do
    started = time.perf_counter()
    with services.session() as session:
        result = plan(
            session, settings=services.settings, now=services.clock.now(), horizon_days=days
        )
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": peak_mb(),
                "people": result.people,
                "inserted": result.inserted,
                "moved": result.moved,
            }
        )
    )


def seed(url: str, people: int) -> None:
    from delivery_common import seed_people

    services = Services.create(settings_for(url), clock=FixedClock(START))
    seed_people(services, people, program("ramp-bench", STEPS), all_day=False)
    with services.session() as session:
        for i, (tz, country) in enumerate(ZONES):
            session.execute(
                update(Person).where(Person.id % len(ZONES) == i).values(tz=tz, country=country)
            )
    services.close()


def run_child(url: str, days: int, minute: int, *extra: str) -> dict[str, float]:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            url,
            "--days",
            str(days),
            "--minute",
            str(minute),
            *extra,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    plug_features()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--database-url", default=os.environ.get("NUDGEBOT_TEST_POSTGRES_URL"))
    parser.add_argument("--doc", default=str(DOC), help="where to write the figures")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--minute", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--move", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.days, args.minute, move=args.move)
        return
    server = require_postgres(
        args.database_url, how="pass --database-url or set NUDGEBOT_TEST_POSTGRES_URL"
    )
    with database(server) as url:
        started = time.perf_counter()
        seed(url, args.people)
        seeded = time.perf_counter() - started
        first = run_child(url, args.days, 0)
        again = run_child(url, args.days, 1)
        moved = run_child(url, args.days, 2, "--move")
        services = Services.create(settings_for(url))
        with services.session() as session:
            rows = session.scalar(select(func.count()).select_from(Delivery))
        services.close()
    passes = [
        ("first (empty outbox)", first),
        ("again: the plan tick, nothing changed", again),
        ("the tick after one person changed time zone", moved),
    ]
    table = markdown_table(
        ["pass", "people planned", "deliveries written", "moved", "seconds", "peak MB"],
        [
            [
                name,
                int(r["people"]),
                int(r["inserted"]),
                int(r["moved"]),
                f"{r['seconds']:.2f}",
                f"{r['peak_mb']:.0f}",
            ]
            for name, r in passes
        ],
    )
    body = (
        f"{args.people:,} people on PostgreSQL across six time zones and four holiday "
        f"calendars, each enrolled in a 30-day program of seven steps (fixed times, windows, "
        f"spaced repetitions) on {START:%A %Y-%m-%d %H:%M} UTC; the next {args.days} days from "
        f"then planned by `bot.delivery.planner.plan` in a process of its own (peak memory: its "
        f"own VmHWM; the later passes are the plan ticks one and two minutes after; the date is "
        f"fixed so the count does not depend on the day the bench runs). {rows:,} rows in the "
        f"outbox afterwards; seeding took {seeded:.0f} s. Targets: first pass under 30 s "
        "and 500 MB. "
        "Load average at the end: "
        f"{os.getloadavg()[0]:.1f} (2 cores; the machine was shared with other work when it is "
        "above 2).\n\n" + table
    )
    title = f"Planner: {args.people:,} people, the next {args.days} days"
    publish("planner_scale", title, body, database=server, doc=Path(args.doc))


if __name__ == "__main__":
    main()
