"""Throughput under Slack's rate limit: how much of the allowed rate the sender uses.

    python bench/delivery_throughput.py [--nudges 900] [--per-minute 1200] [--database-url URL]

The fake Slack (a child process) enforces a workspace budget of --per-minute
chat.postMessage calls (token bucket) and one per second per conversation, and
answers 429 with Retry-After beyond it. The sender is told the same budget
(NUDGEBOT_SEND_RATE_PER_MINUTE). The rate is measured between the first and the
last accepted post. Targets: at least 95% of the allowed rate, under 1% of posts
answered 429, every nudge exactly once.
"""

from __future__ import annotations

import argparse
import os
import sys
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


def main() -> None:
    plug_features()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nudges", type=int, default=900)
    parser.add_argument("--per-minute", type=int, default=1200)
    parser.add_argument("--database-url", default=os.environ.get("NUDGEBOT_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    fake = FakeProcess(args.nudges, workspace_per_minute=args.per_minute)
    try:
        with database(args.database_url) as db:
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None,
                database_url=db,
                slack_api_url=fake.base_url,
                slack_bot_token="xoxb-bench-token",
                send_rate_per_minute=args.per_minute,
                respect_dnd=False,
            )
            services = Services.create(settings, clock=SystemClock())
            step = {"id": "hello", "kind": "prompt", "text": "One question.", "when": {"day": 0}}
            seed_people(services, args.nudges, program("throughput", [step]))
            assert plan_all(services) == args.nudges
            stats = Sender(services, batch_size=100).send_due(max_seconds=3600)
            services.close()
        got = fake.report()
    finally:
        fake.close()
    span = got["last_post"] - got["first_post"]
    rate = (got["posts_ok"] - 1) / span * 60 if span > 0 else 0.0
    share = rate / args.per_minute
    limited = got["rate_limited"] / max(1, got["post_calls"])
    exact = got["people_by_nudges"] == {"1": args.nudges} and stats.sent == args.nudges
    rows = [
        [
            args.nudges,
            args.per_minute,
            f"{span:.1f}",
            f"{rate:.0f}",
            f"{share:.1%}",
            got["rate_limited"],
            f"{limited:.2%}",
            "yes" if exact else "NO",
        ]
    ]
    body = (
        "One sender process against the fake Slack (child process) with its workspace "
        f"budget at {args.per_minute}/min and 1/s per conversation. Targets: rate at least "
        "95% of the allowed one, under 1% of posts answered 429, each nudge exactly once. "
        f"Load average at the end: {os.getloadavg()[0]:.1f} (2 cores; the machine was shared "
        "with other work when it is above 2).\n\n"
        + markdown_table(
            [
                "nudges",
                "allowed/min",
                "seconds",
                "achieved/min",
                "of allowed",
                "429s",
                "429 share",
                "each exactly once",
            ],
            rows,
        )
    )
    publish(
        "delivery_throughput",
        "Sender throughput under the rate limit",
        body,
        database=args.database_url,
    )
    if not exact:
        raise SystemExit("some nudge was lost or doubled")


if __name__ == "__main__":
    main()
