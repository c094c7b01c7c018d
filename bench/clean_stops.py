"""How often does SIGTERM/SIGINT stop `nudgebot run` cleanly, on a busy machine,
with Slack requests and sends in flight?

    python bench/clean_stops.py [--runs 50] [--load N] [--postgres URL]

Each run starts `nudgebot run` against the fake Slack (a process of its own),
waits until it serves, keeps a few clients posting signed Slack requests and
reading /healthz while the sender works through due nudges, then sends SIGTERM
(even runs) or SIGINT (odd runs). A stop is clean when the process exits 0 and
its log has no ERROR line and no traceback. N busy-loop processes (default: one
per core) keep the CPUs loaded the whole time; they are stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, insert, select

from bench.delivery_common import FakeProcess, database
from bench.report import markdown_table, publish
from bot.clock import SystemClock
from bot.content.models import ProgramVersion
from bot.content.service import load_and_sync
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment
from bot.people.models import Person
from bot.plugins import plug_features
from bot.services import Services
from bot.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
BOT_TOKEN = "xoxb-bench-token"  # the token bench/delivery_fake_server.py accepts
SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"
PROGRAM, STEP = "customer-call-opener", "three-questions"
PEOPLE = 100
BACKLOG = 150  # due nudges kept waiting before each start, so every stop lands mid-send
CLIENTS = 4


@dataclass
class StopResult:
    signal: str
    code: int | None
    seconds: float
    in_flight: int
    requests: int
    posts: int
    bad_lines: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.code == 0 and not self.bad_lines


@contextmanager
def cpu_load(processes: int) -> Iterator[None]:
    """`processes` busy loops, each ended (by its own pid) when the block ends."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)
    ]
    try:
        yield
    finally:
        for proc in spinners:
            proc.kill()
        for proc in spinners:
            proc.wait()


def seed(db_url: str, fake_url: str) -> list[tuple[int, int]]:
    """The repository's library and PEOPLE enrolled people: (enrollment, person) ids."""
    services = Services.create(_settings(db_url, fake_url), clock=SystemClock())
    try:
        load_and_sync(services)
        now = services.clock.now()
        pairs = []
        with services.session() as session:
            version = session.scalar(
                select(ProgramVersion.id).where(ProgramVersion.program_id == PROGRAM)
            )
            for n in range(PEOPLE):
                user = f"U{n:07d}"  # the fake server's users
                person = session.execute(
                    insert(Person).returning(Person.id),
                    {
                        "slack_user_id": user,
                        "name": user,
                        "tz": "UTC",
                        "locale": "en-US",
                        "working_days": "mon,tue,wed,thu,fri,sat,sun",
                        "working_hours": "00:00-23:59",
                    },
                ).scalar_one()
                enrollment = session.execute(
                    insert(Enrollment).returning(Enrollment.id),
                    {
                        "person_id": person,
                        "program_id": PROGRAM,
                        "program_version_id": version,
                        "starts_at": now - timedelta(days=1),
                        "enrolled_by": "bench",
                        "source": "bench",
                    },
                ).scalar_one()
                pairs.append((enrollment, person))
        return pairs
    finally:
        services.close()


def top_up(db_url: str, fake_url: str, pairs: list[tuple[int, int]], repetition: int) -> None:
    """Make sure BACKLOG nudges are due before the next start."""
    services = Services.create(_settings(db_url, fake_url), clock=SystemClock())
    try:
        with services.session() as session:
            waiting = session.scalar(
                select(func.count(Delivery.id)).where(Delivery.status == DeliveryStatus.planned)
            )
            missing = BACKLOG - int(waiting or 0)
            due = services.clock.now() - timedelta(minutes=1)
            rows = [
                {
                    "enrollment_id": e,
                    "person_id": p,
                    "step_id": STEP,
                    "repetition": repetition,
                    "due_at": due,
                }
                for e, p in pairs[: max(0, missing)]
            ]
            if rows:
                session.execute(insert(Delivery), rows)
    finally:
        services.close()


def _settings(db_url: str, fake_url: str) -> Settings:
    os.environ.update(_bot_env(db_url, fake_url))
    return load_settings()


def _bot_env(db_url: str, fake_url: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_url,
        "DATABASE_URL": db_url,
        "NUDGEBOT_LOG_FORMAT": "json",
        "NUDGEBOT_SEND_RATE_PER_MINUTE": "600",  # 10 a second: the backlog outlasts a run
        "NUDGEBOT_RESPECT_DND": "false",
    }


class Clients:
    """CLIENTS threads posting signed url_verification events and reading /healthz."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.in_flight = 0
        self.done = 0
        self.signer = SignatureVerifier(SIGNING_SECRET)
        self.threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(CLIENTS)]

    def __enter__(self) -> Clients:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)

    def _loop(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            with self.lock:
                self.in_flight += 1
            try:
                urllib.request.urlopen(self._request(n), timeout=5).read()
            except (OSError, urllib.error.HTTPError):
                time.sleep(0.02)  # refused once the bot stops listening: expected
            finally:
                with self.lock:
                    self.in_flight -= 1
                    self.done += 1

    def _request(self, n: int) -> urllib.request.Request:
        if n % 2:
            return urllib.request.Request(f"{self.url}/healthz")
        body = json.dumps({"type": "url_verification", "challenge": f"c{n}"}).encode()
        ts = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": self.signer.generate_signature(timestamp=ts, body=body),
        }
        return urllib.request.Request(f"{self.url}/slack/events", data=body, headers=headers)


def one_stop(db_url: str, fake: FakeProcess, number: int) -> StopResult:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "NUDGEBOT_"))}
    env.update(_bot_env(db_url, fake.base_url))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--host", "127.0.0.1", "--port", "0"],
        cwd=REPO,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    url = None
    for line in proc.stderr:
        lines.append(line)
        if '"serving on http://' in line:
            url = json.loads(line)["message"].split()[2]
            break
    if url is None:
        proc.wait(timeout=60)
        return StopResult("-", proc.returncode, 0.0, 0, 0, 0, bad_lines=lines[-5:])
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr or ()), daemon=True)
    reader.start()
    posts_before = fake.report()["post_calls"]
    sig = signal.SIGTERM if number % 2 == 0 else signal.SIGINT
    with Clients(url) as clients:
        deadline = time.monotonic() + 15
        while fake.report()["post_calls"] == posts_before and time.monotonic() < deadline:
            time.sleep(0.1)  # the first send tick: from here on nudges are in flight
        time.sleep(random.uniform(0.2, 1.5))  # the stop lands at a random moment of the work
        with clients.lock:
            in_flight = clients.in_flight
        started = time.monotonic()
        proc.send_signal(sig)
        try:
            code: int | None = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = None
        took = time.monotonic() - started
    reader.join(timeout=10)
    bad = [line for line in lines if _is_bad(line)]
    return StopResult(
        sig.name,
        code,
        took,
        in_flight,
        clients.done,
        int(fake.report()["post_calls"]) - int(posts_before),
        bad_lines=bad,
    )


def _is_bad(line: str) -> bool:
    if "Traceback" in line:
        return True
    try:
        return str(json.loads(line).get("level")) in ("error", "critical")
    except ValueError:
        return bool(line.strip())  # a line that is not the JSON log: something printed raw


def main() -> None:
    plug_features()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument(
        "--load",
        type=int,
        default=os.cpu_count() or 2,
        help="busy-loop processes (default: one per core)",
    )
    parser.add_argument("--postgres", help="PostgreSQL server URL (default: SQLite)")
    args = parser.parse_args()
    os.chdir(REPO)  # the library (nudges/) and config/ as `nudgebot run` finds them
    results: list[StopResult] = []
    fake = FakeProcess(users=PEOPLE)
    try:
        with database(args.postgres) as db_url, cpu_load(args.load):
            pairs = seed(db_url, fake.base_url)
            for number in range(args.runs):
                top_up(db_url, fake.base_url, pairs, repetition=number + 1)
                result = one_stop(db_url, fake, number)
                results.append(result)
                print(
                    f"run {number + 1:>2}: {result.signal:<7} exit {result.code} in "
                    f"{result.seconds:.2f} s, {result.in_flight} request(s) in flight, "
                    f"{result.posts} post(s) — {'clean' if result.clean else 'NOT CLEAN'}",
                    flush=True,
                )
                for line in result.bad_lines[:5]:
                    print("    " + line.rstrip()[:300], flush=True)
    finally:
        fake.close()
    _publish(results, args)


def _publish(results: list[StopResult], args: argparse.Namespace) -> None:
    clean = sum(r.clean for r in results)
    seconds = [r.seconds for r in results]
    rows = [
        ("clean stops (exit 0, no ERROR line, no traceback)", f"{clean} of {len(results)}"),
        (
            "stops by SIGTERM / SIGINT",
            f"{sum(r.signal == 'SIGTERM' for r in results)} / "
            f"{sum(r.signal == 'SIGINT' for r in results)}",
        ),
        (
            "runs with requests in flight at the signal",
            f"{sum(r.in_flight > 0 for r in results)} of {len(results)}",
        ),
        ("runs that were posting nudges", f"{sum(r.posts > 0 for r in results)} of {len(results)}"),
        (
            "time to stop, median / max",
            f"{statistics.median(seconds):.2f} s / {max(seconds):.2f} s",
        ),
        ("CPU load", f"{args.load} busy-loop process(es) throughout"),
        ("database", "PostgreSQL" if args.postgres else "SQLite"),
    ]
    publish(
        "clean_stops",
        "Clean stops of `nudgebot run` under load",
        "Each run starts `nudgebot run` against the fake Slack, keeps "
        f"{CLIENTS} clients sending signed Slack requests and health checks while the "
        "sender posts a backlog of due nudges (10 a second), and stops it with SIGTERM or "
        "SIGINT at a random moment 0.2-1.5 s after its first post.\n\n"
        + markdown_table(["", "figure"], rows),
        database=args.postgres,
    )


if __name__ == "__main__":
    main()
