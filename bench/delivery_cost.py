"""What one sender process costs without a rate limit: deliveries/s and CPU ms each.

    python bench/delivery_cost.py [--nudges 3000] [--database-url URL] [--threads 8]

The fake Slack runs in a child process (bench/delivery_fake_server.py), so the
CPU time measured here is the sender's own: claiming, rendering, posting over
HTTP, recording. No pacing and no DnD lookups (NUDGEBOT_SEND_RATE_PER_MINUTE=0,
NUDGEBOT_RESPECT_DND=false). --database-url: a PostgreSQL server (a database of
the run's own is created there and dropped); default a temporary SQLite file.
Every nudge must arrive exactly once, or the figures are not published.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from delivery_common import FakeProcess, database, plan_all, program, seed_people
from report import markdown_table, publish

from bot.clock import SystemClock
from bot.delivery.sender import Sender
from bot.plugins import plug_features
from bot.services import Services
from bot.settings import Settings


def run(nudges: int, url: str | None, threads: int) -> list[object]:
    fake = FakeProcess(nudges)
    try:
        with database(url) as db:
            settings = Settings(
                _env_file=None,
                database_url=db,
                slack_api_url=fake.base_url,  # type: ignore[call-arg]
                slack_bot_token="xoxb-bench-token",
                send_rate_per_minute=0,
                respect_dnd=False,
                send_threads=threads,
            )
            services = Services.create(settings, clock=SystemClock())
            seed_people(
                services,
                nudges,
                program(
                    "cost",
                    [
                        {
                            "id": "hello",
                            "kind": "prompt",
                            "text": "Write down one question.",
                            "when": {"day": 0},
                        }
                    ],
                ),
            )
            assert plan_all(services) == nudges
            sender = Sender(services, batch_size=100)
            cpu, wall = time.process_time(), time.perf_counter()
            stats = sender.send_due(max_seconds=3600)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            services.close()
        got = fake.report()
    finally:
        fake.close()
    exact = got["people_by_nudges"] == {"1": nudges} and stats.sent == nudges
    if not exact:
        raise SystemExit(f"not exactly once: {got['people_by_nudges']} ({stats})")
    backend = "PostgreSQL" if url and not url.startswith("sqlite") else "SQLite"
    return [
        backend,
        nudges,
        threads,
        f"{wall:.1f}",
        f"{nudges / wall:.0f}",
        f"{cpu * 1000 / nudges:.2f}",
        "yes",
    ]


def main() -> None:
    plug_features()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nudges", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--database-url", default=os.environ.get("NUDGEBOT_TEST_POSTGRES_URL"))
    parser.add_argument("--sqlite-too", action="store_true", help="Also measure on SQLite.")
    args = parser.parse_args()
    rows = [run(args.nudges, args.database_url, args.threads)]
    if args.sqlite_too and args.database_url:
        rows.append(run(args.nudges, None, args.threads))
    load = os.getloadavg()[0]
    body = (
        "One sender process (bot.delivery.sender.Sender, its thread pool posting), the fake "
        "Slack in a child process, no rate limit, no DnD lookups. CPU ms is this process's "
        "CPU time (claim, render, HTTP, record) per delivery. Target: at least 300/s. "
        f"Load average at the end: {load:.1f} (the machine was shared with other work "
        "when it is above the core count).\n\n"
        + markdown_table(
            [
                "database",
                "nudges",
                "threads",
                "seconds",
                "deliveries/s",
                "CPU ms/delivery",
                "each exactly once",
            ],
            rows,
        )
    )
    measured_on = [args.database_url, None] if len(rows) > 1 else args.database_url
    publish("delivery_cost", "Sender cost without a rate limit", body, database=measured_on)


if __name__ == "__main__":
    main()
