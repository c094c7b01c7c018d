"""Ours against the naive design, side by side: start-up time and memory at scale.

    python bench/planner_naive.py [--people 100000] [--database-url URL]

The naive design many Slack bots use: one APScheduler job per person (a cron
trigger at the person's nudge time, in their time zone) in a SQLAlchemyJobStore
on the same PostgreSQL. Its start-up registers every person's job
(`add_job(..., replace_existing=True)`), and a restart re-opens the job store;
the same process on an empty job store is its memory at rest.
Ours: the process starts with three interval ticks (plan, send, reap) whatever
the head count, because the outbox is in the database; its first plan tick then
plans the next days for everyone. Each variant runs in a child process of its
own (time from start to ready; peak memory is the child's own high-water mark,
VmHWM: ru_maxrss would count the parent's memory at fork, which once hid both
sides behind the seeding process), one after the other in one run. Target: ten
times better on both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import markdown_table, publish

ZONES = [
    "Europe/Sofia",
    "America/New_York",
    "Asia/Tokyo",
    "Europe/Berlin",
    "America/Los_Angeles",
    "Asia/Kolkata",
]


def send_nudge(user_id: str) -> None:
    """The naive job: would post one DM (never runs in the benchmark)."""


def _peak_mb() -> float:
    """This process's own peak resident memory (VmHWM), in MB. Read here rather than
    imported from planner_scale, which would load the bot into the naive child."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def naive(url: str, people: int, register: bool) -> dict[str, float]:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    from bot.db import normalize_url

    started = time.perf_counter()
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=normalize_url(url))}, timezone="UTC"
    )
    scheduler.start(paused=True)
    if register:
        for i in range(people):
            scheduler.add_job(
                send_nudge,
                "cron",
                day_of_week="mon-fri",
                hour=9,
                minute=30,
                timezone=ZONES[i % len(ZONES)],
                args=[f"U{i:07d}"],
                id=f"U{i:07d}",
                replace_existing=True,
            )
    scheduler.resume()
    jobs = len(scheduler.get_jobs())
    seconds = time.perf_counter() - started
    scheduler.shutdown(wait=False)
    return {"seconds": seconds, "peak_mb": _peak_mb(), "jobs": jobs}


def ours(url: str, plan_too: bool) -> dict[str, float]:
    from bot.app import build_app
    from bot.clock import SystemClock
    from bot.delivery.planner import plan
    from bot.server import make_scheduler
    from bot.services import Services
    from bot.settings import Settings

    started = time.perf_counter()
    settings = Settings(
        _env_file=None,
        database_url=url,
        slack_bot_token="xoxb-bench",  # type: ignore[call-arg]
        slack_signing_secret="bench-secret-0123456789",
    )
    services = Services.create(settings, clock=SystemClock())
    build_app(settings, services=services)
    scheduler = make_scheduler(services)
    scheduler.start(paused=True)
    jobs = len(scheduler.get_jobs())
    inserted = 0
    if plan_too:
        with services.session() as session:
            inserted = plan(
                session, settings=settings, now=services.clock.now(), horizon_days=7
            ).inserted
    seconds = time.perf_counter() - started
    scheduler.shutdown(wait=False)
    return {"seconds": seconds, "peak_mb": _peak_mb(), "jobs": jobs, "inserted": inserted}


def run_child(people: int, *args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--people", str(people), "--child", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("NUDGEBOT_TEST_POSTGRES_URL"))
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, url = args.child[0], args.child[1]
        if kind.startswith("naive"):
            result = naive(url, args.people, register=kind == "naive-cold")
        else:
            result = ours(url, plan_too=kind == "ours-plan")
        print(json.dumps(result))
        return

    from delivery_common import database, program, seed_people
    from planner_scale import STEPS

    from bot.clock import SystemClock
    from bot.services import Services
    from bot.settings import Settings

    with database(args.database_url) as url:
        services = Services.create(
            Settings(_env_file=None, database_url=url),  # type: ignore[call-arg]
            clock=SystemClock(),
        )
        seed_people(services, args.people, program("ramp-bench", STEPS), all_day=False)
        services.close()
        results = {
            "naive: start on an empty job store (nobody scheduled)": run_child(
                args.people, "naive-empty", url
            ),
            "naive: start, registering every person's job": run_child(
                args.people, "naive-cold", url
            ),
            "naive: restart on the filled job store": run_child(args.people, "naive-restart", url),
            "ours: start (ticks only)": run_child(args.people, "ours", url),
            "ours: start + first plan tick (7 days, everyone)": run_child(
                args.people, "ours-plan", url
            ),
        }
    cold = results["naive: start, registering every person's job"]
    warm = results["naive: restart on the filled job store"]
    start = results["ours: start (ticks only)"]
    mine = results["ours: start + first plan tick (7 days, everyone)"]
    empty = results["naive: start on an empty job store (nobody scheduled)"]
    # What grows with the people: each side's peak above its own process at rest.
    naive_growth = cold["peak_mb"] - empty["peak_mb"]
    ours_growth = max(mine["peak_mb"] - start["peak_mb"], 1.0)
    rows = [
        [name, int(r["jobs"]), f"{r['seconds']:.1f}", f"{r['peak_mb']:.0f}"]
        for name, r in results.items()
    ]
    body = (
        f"{args.people:,} people enrolled, PostgreSQL. Start-up to ready: naive "
        f"{cold['seconds']:.0f} s (restart {warm['seconds']:.1f} s), ours "
        f"{start['seconds']:.1f} s: {cold['seconds'] / start['seconds']:.0f}× "
        f"({warm['seconds'] / start['seconds']:.0f}× against the restart). Even counting our "
        f"first plan tick for everyone, {cold['seconds'] / mine['seconds']:.1f}×. Peak memory "
        f"of the whole process: {cold['peak_mb'] / mine['peak_mb']:.1f}× less with the first "
        f"plan tick, {cold['peak_mb'] / start['peak_mb']:.1f}× at start-up. Ours is "
        f"{start['peak_mb']:.0f} MB before it plans anyone: the interpreter and the libraries "
        "the whole bot imports (Bolt, SQLAlchemy, psycopg, Alembic, pydantic, holidays); the "
        f"naive side runs only a scheduler ({empty['peak_mb']:.0f} MB at rest), so "
        f"{cold['peak_mb']:.0f} / {start['peak_mb']:.0f} MB is the ceiling of this ratio "
        "whatever the planner does. The memory that grows with the people (peak above the "
        f"same process at rest): naive {naive_growth:.0f} MB, ours {ours_growth:.0f} MB, "
        f"{naive_growth / ours_growth:.0f}×; the outbox lives in the database. Peak is each "
        "child's own VmHWM; each row is a fresh process. Load average at the end: "
        f"{os.getloadavg()[0]:.1f} (2 cores; shared with other work when above 2).\n\n"
        + markdown_table(["variant", "scheduler jobs", "seconds to ready", "peak MB"], rows)
    )
    publish("planner_naive", "Start-up against one APScheduler job per person", body)


if __name__ == "__main__":
    main()
