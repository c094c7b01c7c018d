"""The fake Slack in a process of its own, for the delivery benchmarks.

    python bench/delivery_fake_server.py --users N [--workspace-per-minute R]
        [--fault-share S --fault-kinds K,K --retry-after N --slow-seconds N]

Prints its base URL on the first line, then answers commands on stdin:
`report` prints one JSON line (DMs per person, 429s, post times); `quit` stops.
Running it apart keeps the fake's CPU out of the sender's figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakeslack import FakeSlack


def report(fake: FakeSlack, users: int) -> dict[str, object]:
    per_user: Counter[int] = Counter()
    for i in range(users):
        nudges = [m for m in fake.dm_messages(f"U{i:07d}") if m.get("metadata")]
        per_user[len(nudges)] += 1
    posts = fake.calls_to("chat.postMessage")
    ok = [c.time for c in posts if c.ok]
    return {
        "people_by_nudges": {str(k): v for k, v in sorted(per_user.items())},
        "post_calls": len(posts),
        "posts_ok": len(ok),
        "rate_limited": sum(1 for c in posts if c.status == 429 and c.fault is None),
        "faults": sum(1 for c in posts if c.fault is not None),
        "injected_429": sum(1 for c in posts if c.fault == "rate_limited"),
        "first_post": min(ok) if ok else 0.0,
        "last_post": max(ok) if ok else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--workspace-per-minute", type=float, default=None)
    parser.add_argument("--fault-share", type=float, default=0.0, help="of chat.postMessage calls")
    parser.add_argument("--fault-kinds", default="rate_limited")
    parser.add_argument("--fault-methods", default="chat.postMessage", help="comma list, or *")
    parser.add_argument("--retry-after", type=int, default=1)
    parser.add_argument("--slow-seconds", type=float, default=2.0)
    args = parser.parse_args()
    with FakeSlack(bot_token="xoxb-bench-token") as fake:
        for i in range(args.users):
            fake.add_user(f"U{i:07d}", name=f"user{i}")
        if args.workspace_per_minute:
            fake.set_rate_limit(1.0, args.workspace_per_minute)
        if args.fault_share:
            for n, method in enumerate(args.fault_methods.split(",")):
                fake.inject_random(
                    None if method == "*" else method,
                    share=args.fault_share,
                    kinds=args.fault_kinds.split(","),
                    seed=7 + n,
                    retry_after=args.retry_after,
                    seconds=args.slow_seconds,
                    commit=True,  # a dropped answer's post was carried out: the worst case
                )
        print(fake.base_url, flush=True)
        for line in sys.stdin:
            if line.strip() == "report":
                print(json.dumps(report(fake, args.users)), flush=True)
            elif line.strip() == "quit":
                break


if __name__ == "__main__":
    main()
