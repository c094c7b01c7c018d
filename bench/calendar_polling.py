"""One full polling pass over many calendar feeds, through the real poller.

    python bench/calendar_polling.py [--feeds 10000] [--threads 8] [--database-url URL]
                                     [--no-publish] [--doc PATH]

A local HTTP server (a process of its own, so its memory and CPU are not counted)
serves `--feeds` realistic feeds: 30-80 events each over the coming weeks, among
them weekly and daily series with a moved and a cancelled occurrence, customer
calls with outside attendees, declined invitations, all-day events, in a few time
zones. Each feed belongs to a person enrolled in a program with calendar triggers
(external calls, one-to-ones before and after). Then `bot.calendars.feeds.poll`
reads every feed once, as the `calendar-poll` tick does: conditional request,
parse, expand, match, outbox writes. Reported: feeds per second, CPU per feed,
peak memory of the polling process and its parse workers (ru_maxrss), what it planned. The target
(issue #18): 10,000 feeds in under 5 minutes on 2 cores, peak under 300 MB.
Database: a temporary SQLite file unless --database-url names another.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from report import DOC, markdown_table, publish
from sqlalchemy import func, insert, select, update

from bot import migrate
from bot.calendars import feeds, secret
from bot.calendars.fetch import Fetcher
from bot.calendars.models import CalendarFeed
from bot.content.loader import content_hash
from bot.content.models import Program as ProgramRow
from bot.content.models import ProgramVersion
from bot.content.schema import Program
from bot.db import make_engine, make_session_factory, session_scope
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment
from bot.people.models import Person
from bot.settings import Settings

NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)  # a Thursday morning in Europe
KEY = "q9Qz6sWlqv3M0rk5i4hYpUO3Y2N9cH3m3lq0pC0ZyQg="
ZONES = ["Europe/Berlin", "Europe/Sofia", "America/New_York", "Europe/London"]


def program() -> Program:
    five = {k: f"The {k}." for k in ("problem", "behavior", "place", "prompt", "proof")}
    return Program.model_validate(
        {
            "id": "bench-calendar",
            "title": "Calendar benchmark",
            "owner": "ld@example.com",
            "summary": "Benchmark.",
            "locales": ["en"],
            **five,
            "metric": {
                "name": "x",
                "unit": "%",
                "direction": "down",
                "baseline": 18,
                "target": 12,
                "by": "90d",
            },
            "triggers": [
                {"id": "external-call", "source": "calendar", "external": True},
                {
                    "id": "one-to-one",
                    "source": "calendar",
                    "pattern": r"(?i)\b1:1\b",
                    "max_attendees": 2,
                    "recurring": True,
                },
            ],
            "steps": [
                {
                    "id": "opener",
                    "kind": "tip",
                    "text": "Open with questions.",
                    "when": {"trigger": "external-call", "at": "start-10m"},
                },
                {
                    "id": "prep",
                    "kind": "tip",
                    "text": "Let them open.",
                    "when": {"trigger": "one-to-one", "at": "start-10m"},
                },
                {
                    "id": "notes",
                    "kind": "tip",
                    "text": "Write down what you agreed.",
                    "when": {"trigger": "one-to-one", "at": "end+5m"},
                },
                {"id": "later", "kind": "tip", "text": "Later.", "when": {"day": 90}},
            ],
        }
    )


# -- the feeds ---------------------------------------------------------------------------------


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")


def feed_text(index: int) -> bytes:
    """A realistic feed for person `index` (deterministic, 30-80 events)."""
    rng = random.Random(index)
    me = f"p{index}@example.com"
    zone = ZONES[index % len(ZONES)]
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
        f"X-WR-TIMEZONE:{zone}",
    ]
    day0 = NOW.replace(hour=0, minute=0, second=0) - timedelta(days=14)

    def vevent(
        uid: str,
        start: datetime,
        minutes: int,
        title: str,
        people: list[str],
        extra: list[str] | None = None,
    ) -> None:
        lines.extend(
            [
                "BEGIN:VEVENT",
                f"UID:{uid}",
                "DTSTAMP:20261101T000000Z",
                f"SUMMARY:{title}",
                f"DTSTART;TZID={zone}:{_stamp(start)}",
                f"DTEND;TZID={zone}:{_stamp(start + timedelta(minutes=minutes))}",
                f"ORGANIZER;CN=Org:mailto:{people[0]}",
            ]
        )
        for who in people:
            state = "DECLINED" if who == me and rng.random() < 0.05 else "ACCEPTED"
            lines.append(f"ATTENDEE;CN={who};PARTSTAT={state};ROLE=REQ-PARTICIPANT:mailto:{who}")
        lines.extend(extra or [])
        lines.append(
            "DESCRIPTION:Agenda and dial-in details for the meeting, as calendar "
            "invitations carry them.\\nJoin: https://meet.example.com/abc-defg-hij"
        )
        lines.append("END:VEVENT")

    # recurring series: standup, 1:1s, team meeting, with exceptions
    series = rng.randint(4, 8)
    for s in range(series):
        start = day0 + timedelta(days=rng.randint(0, 6), hours=rng.randint(8, 15))
        uid = f"series-{index}-{s}@example.com"
        one_to_one = s % 3 == 0
        people = (
            [me, f"r{s}@example.com"]
            if one_to_one
            else [me, *(f"c{s}{k}@example.com" for k in range(rng.randint(2, 7)))]
        )
        title = f"1:1 {people[1].split('@')[0]}" if one_to_one else f"Team sync {s}"
        rule = "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR" if s == 1 else "FREQ=WEEKLY"
        exdate = start + timedelta(days=7)
        vevent(
            uid,
            start,
            30,
            title,
            people,
            [f"RRULE:{rule};COUNT=40", f"EXDATE;TZID={zone}:{_stamp(exdate)}"],
        )
        moved = start + timedelta(days=14)
        vevent(
            uid,
            moved + timedelta(hours=1),
            30,
            title,
            people,
            [f"RECURRENCE-ID;TZID={zone}:{_stamp(moved)}"],
        )
        cancelled = start + timedelta(days=21)
        vevent(
            uid,
            cancelled,
            30,
            title,
            people,
            [f"RECURRENCE-ID;TZID={zone}:{_stamp(cancelled)}", "STATUS:CANCELLED"],
        )
    # one-off meetings and customer calls over four weeks
    for e in range(rng.randint(30, 80) - 3 * series):
        start = day0 + timedelta(
            days=rng.randint(0, 28), hours=rng.randint(8, 17), minutes=rng.choice((0, 15, 30, 45))
        )
        if rng.random() < 0.3:
            people = [me, f"buyer{e}@customer{rng.randint(1, 500)}.com"]
            title = f"Call with Customer {e}"
        else:
            people = [me, *(f"x{e}{k}@example.com" for k in range(rng.randint(1, 6)))]
            title = rng.choice(["Planning", "Review", "Design crit", "Retro", "Interview"])
        vevent(f"one-{index}-{e}@example.com", start, rng.choice((25, 30, 45, 60)), title, people)
    for a in range(2):  # all-day: never meetings
        day = (day0 + timedelta(days=rng.randint(0, 28))).strftime("%Y%m%d")
        lines.extend(
            [
                "BEGIN:VEVENT",
                f"UID:allday-{index}-{a}",
                "DTSTAMP:20261101T000000Z",
                "SUMMARY:Out of office",
                f"DTSTART;VALUE=DATE:{day}",
                "END:VEVENT",
            ]
        )
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def serve(port_queue: Any) -> None:
    cache: dict[int, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            index = int(self.path.rsplit("/", 1)[1].split(".")[0])
            body = cache.get(index) or feed_text(index)
            if len(cache) < 2000:
                cache[index] = body
            etag = f'"{index}-v1"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


# -- the run -----------------------------------------------------------------------------------


def build(settings: Settings, count: int, base: str) -> None:
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    prog = program()
    with session_scope(factory) as session:
        session.add(ProgramRow(id=prog.id, title=prog.id, owner="ld@example.com"))
        session.flush()
        version = ProgramVersion(
            program_id=prog.id,
            number=1,
            content_hash=content_hash(prog),
            content=prog.model_dump(mode="json", exclude_defaults=True),
        )
        session.add(version)
        session.flush()
        people = [
            {
                "slack_user_id": f"U{i:08d}",
                "workspace_id": "T0BENCH",
                "name": f"p{i}",
                "email": f"p{i}@example.com",
                "tz": ZONES[i % len(ZONES)],
            }
            for i in range(count)
        ]
        session.execute(insert(Person), people)
        ids = {uid: pid for uid, pid in session.execute(select(Person.slack_user_id, Person.id))}
        session.execute(
            insert(Enrollment),
            [
                {
                    "person_id": ids[f"U{i:08d}"],
                    "program_id": prog.id,
                    "program_version_id": version.id,
                    "starts_at": NOW - timedelta(days=1),
                    "arm": "",
                    "source": "bench",
                    "replan_at": NOW + timedelta(days=365),
                }
                for i in range(count)
            ],
        )
        session.execute(
            insert(CalendarFeed),
            [
                {
                    "person_id": ids[f"U{i:08d}"],
                    "next_read_at": NOW,
                    "address_secret": secret.seal(settings, f"{base}/private/{i}.ics"),
                }
                for i in range(count)
            ],
        )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--processes", type=int, default=2, help="parse worker processes")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--no-publish", action="store_true")
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args()

    ports: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(ports,), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{ports.get(timeout=30)}"
    folder = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{folder.name}/bench.db"
    settings = Settings(
        _env_file=None,
        database_url=url,
        calendar_key=KEY,  # type: ignore[call-arg]
        calendar_allow_http=True,
        calendar_threads=args.threads,
        company_domains="example.com",
        jitter_minutes=0,
    )
    migrate.upgrade(url)
    build(settings, args.feeds, base)

    engine = make_engine(url)
    factory = make_session_factory(engine)
    fetcher = Fetcher(threads=args.threads, timeout=30)
    parsers = feeds.Parser(args.processes)
    parsers.events(feed_text(0), start=NOW, end=NOW, email=None, tz=ZoneInfo("UTC"))  # warm
    parsers.worker_cpu_seconds = 0.0
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    stats = feeds.poll(
        lambda: session_scope(factory),
        settings=settings,
        fetcher=fetcher,
        now=lambda: NOW,
        batch=500,
        parser=parsers,
    )
    wall = time.perf_counter() - started
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    # The steady state: every feed read again, conditionally (ETag), nothing changed.
    with session_scope(factory) as session:
        session.execute(update(CalendarFeed).values(next_read_at=NOW))
    again = time.perf_counter()
    second = feeds.poll(
        lambda: session_scope(factory),
        settings=settings,
        fetcher=fetcher,
        now=lambda: NOW + timedelta(minutes=15),
        batch=500,
        parser=parsers,
    )
    wall2 = time.perf_counter() - again
    parsers.close()
    with session_scope(factory) as session:
        planned = (
            session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.status == DeliveryStatus.planned, Delivery.step_id != "later")
            )
            or 0
        )
    fetcher.close()
    server.terminate()
    folder.cleanup()

    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    cpu += parsers.worker_cpu_seconds  # measured in each worker, per feed parsed
    peak_mb = usage1.ru_maxrss / 1024
    worker_mb = parsers.worker_peak_kib / 1024
    total_mb = peak_mb + args.processes * worker_mb
    rate = args.feeds / wall
    rows = [
        ["feeds", f"{args.feeds:,}"],
        [
            "read (200) / not modified / failed",
            f"{stats.read} / {stats.not_modified} / {stats.failed}",
        ],
        ["calendar nudges planned", f"{planned:,}"],
        ["wall time", f"{wall:.1f} s"],
        ["feeds per second", f"{rate:.0f}"],
        ["CPU per feed (poller and parse workers)", f"{1000 * cpu / args.feeds:.1f} ms"],
        [
            "peak memory (ru_maxrss)",
            f"poller {peak_mb:.0f} MB + {args.processes} parse workers of at most "
            f"{worker_mb:.0f} MB = {total_mb:.0f} MB (target < 300 MB)",
        ],
        ["10,000 feeds at this rate", f"{10_000 / rate / 60:.1f} min (target < 5 min)"],
        [
            "second pass, conditional (304 not modified)",
            f"{second.not_modified:,} feeds in {wall2:.1f} s ({args.feeds / wall2:.0f} feeds/s)",
        ],
    ]
    body = (
        f"One polling pass (`bot.calendars.feeds.poll`, {args.threads} threads, "
        f"{args.processes} parse processes) over feeds "
        "served by a local HTTP server in another process: 30-80 events each, series with "
        "moved and cancelled occurrences, customer calls, declines, all-day events.\n\n"
        + markdown_table(["", "value"], rows)
    )
    if args.no_publish:
        print(body)
    else:
        publish(
            "calendar-polling", "Calendar polling", body, database=args.database_url, doc=args.doc
        )


if __name__ == "__main__":
    main()
