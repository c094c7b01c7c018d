"""How fast `nudgebot run` acknowledges Slack while its send tick fans out nudges.

    python bench/proof_ack_latency.py [--nudges 10000] [--per-kind 5] [--rounds 60]
                                      [--idle-rounds 10] [--pause 0.2] [--kinds LIST]
                                      [--database-url URL] [--doc PATH]

Starts the real `nudgebot run` (bot.server.run: the start-up checks, the content
sync, the waitress server and WSGI app with their default threads, and every
APScheduler tick, the send tick among them) in a process of its own, against the
fake Slack of tests/fakeslack/ and a migrated database of its own: a temporary
SQLite file, or the PostgreSQL database --database-url names (the bench empties
it). It seeds `--nudges` DMs and, once the bot is up, makes them due: the send
tick posts them all. While it does, every round sends a burst of signed requests
at the same moment, `--per-kind` of each kind, as Slack encodes them: a Done
click on a nudge (block_actions), `/nudges status`, `/intake` (it opens the form
modal) and `/premortem <initiative>` (slash commands, form-encoded). They come
from a clicker process of its own, as Slack's servers are not in the bot's
process. Each request's time to its HTTP answer is the ack latency Slack sees (it
gives up at 3 s); only rounds that ended while the fan-out was still running
count as "fan-out". The same bursts on the idle bot give the baseline. `--kinds
click` sends clicks only (with --per-kind 20: the shape of the earlier click
figures), in a section of its own. Every
request must also be answered in the way a person sees (click logged, reply
posted, modal opened, pre-mortem posted), or the figures are not published.
Prints a table and writes it to docs/benchmarks.md (--doc: another file).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml
from report import DOC, markdown_table, publish
from sqlalchemy import func, insert, select, text, update

from bot import migrate
from bot.content.blocks import step_message
from bot.content.loader import canonical_json, content_hash
from bot.content.models import Program as ProgramRow
from bot.content.models import ProgramVersion
from bot.content.schema import Program
from bot.db import make_engine
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment
from bot.localslack import USER_AGENT
from bot.people.models import Person
from bot.plugins import plug_features
from bot.proof.models import ProofEvent
from bot.services import Services
from bot.settings import Settings
from tests.fakeslack import DriverResponse, FakeSlack, SlackDriver, slack_signature

SECRET = "bench-signing-secret-0123456789abcdef"
TOKEN = "xoxb-bench-token"
KINDS = ("Done click", "/nudges status", "/intake (opens the form)", "/premortem")
# --kinds names them so; a run of clicks alone compares with the figures before commands.
KIND_NAMES = dict(zip(("click", "nudges", "intake", "premortem"), KINDS, strict=True))
CHANNELS = [f"C0BENCH{n:03d}" for n in range(10)]  # where the pre-mortems start
KIND_HEADER = "X-Bench-Kind"  # tells the bot-side timer which kind a request is


def program() -> Program:
    five = {k: f"The {k}." for k in ("problem", "behavior", "place", "prompt", "proof")}
    return Program.model_validate(
        {
            "id": "bench-program",
            "title": "Benchmark program",
            "owner": "ld@example.com",
            "summary": "Benchmark.",
            "locales": ["en"],
            **five,
            "metric": {
                "name": "KPI",
                "unit": "%",
                "direction": "down",
                "baseline": 18,
                "target": 12,
                "by": "90d",
            },
            "steps": [
                {"id": "s0", "kind": "prompt", "text": "Do the thing today.", "when": {"day": 0}}
            ],
        }
    )


def content_dir(work: Path) -> Path:
    """The content library `nudgebot run` syncs at start: the bench's one program."""
    folder = work / "nudges"
    folder.mkdir()
    data = json.loads(canonical_json(program()))
    (folder / "bench-program.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


def seed(services: Services, fake: FakeSlack, *, nudges: int, clickers: int) -> list[str]:
    """Program, people, enrollments; `nudges` deliveries planned for tomorrow (the
    fan-out makes them due). Returns the clickers' user ids."""
    now = services.clock.now()
    prog = program()
    with services.session() as session:
        session.add(ProgramRow(id=prog.id, title="Benchmark program", owner=prog.owner))
        content = json.loads(canonical_json(prog))
        version = ProgramVersion(
            program_id=prog.id,
            number=1,
            content_hash=content_hash(prog),
            content=content,
            loaded_at=now,
        )
        session.add(version)
        session.flush()
        version_id = version.id
        users = [f"U{n:08d}" for n in range(nudges + clickers)]
        session.execute(
            insert(Person),
            [
                {
                    "slack_user_id": u,
                    "workspace_id": "",
                    "name": u,
                    "tz": "UTC",
                    "locale": "en-US",
                    "role": "employee",
                    "is_deleted": False,
                    "is_bot": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for u in users
            ],
        )
        ids = {r[0]: r[1] for r in session.execute(select(Person.slack_user_id, Person.id))}
        # Planned already (the outbox rows below): the plan tick, as in a steady state,
        # has nobody to re-plan, and its timing never decides what a round measures.
        session.execute(
            insert(Enrollment),
            [
                {
                    "person_id": ids[u],
                    "program_id": prog.id,
                    "program_version_id": version_id,
                    "status": "active",
                    "starts_at": now,
                    "arm": "",
                    "source": "bench",
                    "replan_at": now + timedelta(days=30),
                    "created_at": now,
                    "updated_at": now,
                }
                for u in users
            ],
        )
        enrollments = {
            r[0]: r[1] for r in session.execute(select(Enrollment.person_id, Enrollment.id))
        }
        session.execute(
            insert(Delivery),
            [
                {
                    "enrollment_id": enrollments[ids[u]],
                    "person_id": ids[u],
                    "step_id": "s0",
                    "repetition": 0,
                    "status": "planned",
                    "due_at": now + timedelta(days=1),
                    "window_end": now + timedelta(hours=6),
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for u in users[:nudges]
            ],
        )
    for u in users:
        fake.add_user(u, name=u.lower())
    for channel in CHANNELS:
        fake.add_channel(channel, name=channel.lower(), members=users[nudges:])
    return users[nudges:]


def sent_nudges(services: Services, clickers: list[str]) -> list[dict[str, Any]]:
    """A nudge already delivered to each clicker (posted the way the sender does)."""
    prog = program()
    out = []
    with services.session() as session:
        for user in clickers:
            person = session.scalars(select(Person).where(Person.slack_user_id == user)).one()
            enrollment = session.scalar(select(Enrollment).where(Enrollment.person_id == person.id))
            assert enrollment is not None
            delivery = Delivery(
                enrollment_id=enrollment.id,
                person_id=person.id,
                step_id="s0",
                repetition=0,
                due_at=services.clock.now(),
            )
            session.add(delivery)
            session.flush()
            message = step_message(prog, "s0", locale="en", delivery_id=delivery.id)
            posted = services.client.chat_postMessage(channel=user, **message)
            delivery.status = DeliveryStatus.sent
            delivery.channel_id, delivery.message_ts = posted["channel"], posted["ts"]
            delivery.sent_at = services.clock.now()
            out.append({"user": user, "channel": posted["channel"], "ts": posted["ts"]})
    return out


class Recorder(SlackDriver):
    """Builds the signed requests Slack would send, without sending them."""

    def __init__(self, fake: FakeSlack) -> None:
        super().__init__(app_url="http://unused/", signing_secret=SECRET, fake=fake)
        self.built: list[dict[str, str]] = []
        self.kind = ""

    def _send(self, body: bytes, headers: dict[str, str]) -> DriverResponse:
        self.built.append(
            {"kind": self.kind, "body": body.decode(), "content_type": headers["Content-Type"]}
        )
        return DriverResponse(0, {}, "", 0.0, body, headers)


@dataclass
class Burst:
    """One round's requests, shuffled, and what each should lead to."""

    requests: list[dict[str, str]]
    kinds: tuple[str, ...] = KINDS
    response_urls: list[str] = field(default_factory=list)  # /nudges replies
    triggers: list[str] = field(default_factory=list)  # /intake modals
    initiatives: list[str] = field(default_factory=list)  # /premortem parents


def burst(
    fake: FakeSlack,
    number: int,
    nudges: list[dict[str, Any]],
    people: list[str],
    kinds: tuple[str, ...] = KINDS,
) -> Burst:
    """`len(nudges)` requests of each kind in `kinds`, built just before they are
    sent (a trigger_id lives 3 s)."""
    recorder = Recorder(fake)
    out = Burst([], kinds)
    for i, n in enumerate(nudges):
        user = people[(number * len(nudges) + i) % len(people)]
        recorder.kind = KINDS[0]
        if recorder.kind in kinds:
            message = fake.message(n["channel"], n["ts"])
            recorder.block_actions(
                user_id=n["user"],
                actions=[{"action_id": "nudge_done"}],
                message=message,
                channel_id=n["channel"],
            )
        recorder.kind = KINDS[1]
        if recorder.kind in kinds:
            recorder.slash_command("/nudges", "status", user_id=user, channel_id=CHANNELS[0])
        recorder.kind = KINDS[2]
        if recorder.kind in kinds:
            recorder.slash_command("/intake", "", user_id=user, channel_id=CHANNELS[0])
        recorder.kind = KINDS[3]
        if recorder.kind in kinds:
            initiative = f"Launch of the new onboarding, round {number} no. {i}"
            channel = CHANNELS[i % len(CHANNELS)]
            recorder.slash_command("/premortem", initiative, user_id=user, channel_id=channel)
    for request in recorder.built:
        form = parse_qs(request["body"])
        if request["kind"] == KINDS[1]:
            out.response_urls.append(form["response_url"][0])
        elif request["kind"] == KINDS[2]:
            out.triggers.append(form["trigger_id"][0])
        elif request["kind"] == KINDS[3]:
            out.initiatives.append(form["text"][0])
    random.Random(number).shuffle(recorder.built)
    out.requests = recorder.built
    return out


class Clicker:
    """The people, in a process of their own (this script with --click), as Slack's
    servers are: the fake Web API's work in this process never delays a request."""

    def __init__(self, port: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--click", "--port", str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def round(self, requests: list[dict[str, str]]) -> dict[str, list[float]]:
        """Everyone at once; each ack's latency in ms, by kind."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(requests) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        assert all(status == 200 for status in answer["statuses"]), answer["statuses"]
        by_kind: dict[str, list[float]] = defaultdict(list)
        for request, ms in zip(requests, answer["ms"], strict=True):
            by_kind[request["kind"]].append(float(ms))
        return by_kind

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def click(port: int) -> None:
    """The clicker process: per line of requests, one round; prints the latencies."""
    for line in sys.stdin:
        print(json.dumps(send_together(port, json.loads(line))), flush=True)


def send_together(port: int, requests: list[dict[str, str]]) -> dict[str, list[Any]]:
    """Every request leaves at the same moment; each round trip in ms, with its status."""
    barrier = threading.Barrier(len(requests))
    ms: list[float] = [0.0] * len(requests)
    statuses: list[int] = [0] * len(requests)

    def press(i: int, request: dict[str, str]) -> None:
        body = request["body"].encode()
        stamp = int(time.time())
        headers = {
            "Content-Type": request["content_type"],
            "User-Agent": USER_AGENT,
            "X-Slack-Request-Timestamp": str(stamp),
            "X-Slack-Signature": slack_signature(SECRET, body, stamp),
            KIND_HEADER: request["kind"],
        }
        barrier.wait()
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/slack/events", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        ms[i] = (time.perf_counter() - started) * 1000
        statuses[i] = response.status
        conn.close()

    threads = [threading.Thread(target=press, args=item) for item in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"ms": ms, "statuses": statuses}


def percentile(values: list[float], q: float) -> float:
    """Nearest rank: with n values, p99 is the value below which 99% of them lie."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_settings(url: str, api_url: str, content: Path | None = None) -> Settings:
    extra: dict[str, Any] = {"content_dir": content} if content is not None else {}
    return Settings(
        _env_file=None,
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,  # type: ignore[call-arg]
        database_url=url,
        slack_api_url=api_url,
        send_rate_per_minute=0,
        respect_dnd=False,
        **extra,
    )


def timed(wsgi: Any, timings: dict[str, list[float]]) -> Any:
    """The bot's own share of each request: request in to response headers out, in ms."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        started = time.perf_counter()
        kind = environ.get("HTTP_" + KIND_HEADER.upper().replace("-", "_"))

        def start(status: str, headers: Any, *rest: Any) -> Any:
            if kind is not None:
                timings[kind].append((time.perf_counter() - started) * 1000)
            return start_response(status, headers, *rest)

        return wsgi(environ, start)

    return app


def serve(args: argparse.Namespace) -> None:
    """The bot: `nudgebot run` itself (bot.server.run, as the CLI calls it), its HTTP
    app wrapped in a timer. Writes its port to `port` and, after SIGTERM, its
    timings to `result`."""
    from bot import server as bot_server
    from bot.log import configure_logging

    work = Path(args.work)
    settings = bench_settings(args.database_url, args.api_url, Path(args.content))
    configure_logging(settings.log_level, settings.log_format)
    services = Services.create(settings)
    timings: dict[str, list[float]] = defaultdict(list)
    make_http_server = bot_server.make_http_server

    def instrumented(app: Any, services: Services, *, host: str, port: int) -> Any:
        server = make_http_server(app, services, host=host, port=port)
        server.application = timed(server.application, timings)
        (work / "port").write_text(str(server.effective_port))
        return server

    bot_server.make_http_server = instrumented  # type: ignore[assignment]
    bot_server.run(services, host="127.0.0.1", port=0)
    (work / "result").write_text(json.dumps(timings))


class FanOut:
    """Counts the nudges the fake Slack received (DMs; the pre-mortems post to
    channels) and notes when the last of them arrived."""

    def __init__(self, fake: FakeSlack, expected: int) -> None:
        self.fake = fake
        self.base = self.count()
        self.expected = expected
        self.started = 0.0
        self.ended = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def count(self) -> int:
        posts = self.fake.calls_to("chat.postMessage")
        return sum(1 for c in posts if c.ok and not str(c.params.get("channel")).startswith("C"))

    def start(self) -> None:
        self.started = time.monotonic()
        self._thread.start()

    def sent(self) -> int:
        return self.count() - self.base

    @property
    def done(self) -> bool:
        return self.ended > 0

    def _watch(self) -> None:
        while not self._stop.is_set() and self.sent() < self.expected:
            time.sleep(0.05)
        self.ended = time.monotonic()

    def wait(self, timeout: float) -> None:
        self._thread.join(timeout)
        self._stop.set()


@dataclass
class Measured:
    idle: dict[str, list[float]]
    busy: dict[str, list[float]]
    server_idle: dict[str, list[float]]
    server_busy: dict[str, list[float]]
    rounds_during: int
    rounds_after: int
    sent: int
    seconds: float
    answered: dict[str, tuple[int, int]]  # kind: (answered, sent)


def wait_until(ready: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {what} did not happen within {timeout:.0f} s")
        time.sleep(0.1)


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def merge(into: dict[str, list[float]], more: dict[str, list[float]]) -> None:
    for kind, values in more.items():
        into[kind] += values


def measure(args: argparse.Namespace) -> Measured:
    """One fresh database and one `nudgebot run`; the bursts idle, then during the fan-out."""
    work = Path(tempfile.mkdtemp())
    url = args.database_url or f"sqlite:///{work}/bench.db"
    if args.database_url:
        reset(url)
    migrate.upgrade(url)
    per = args.per_kind
    with FakeSlack(bot_token=TOKEN) as fake:
        services = Services.create(bench_settings(url, fake.base_url))
        total_rounds = 1 + args.idle_rounds + args.rounds
        people = seed(services, fake, nudges=args.nudges, clickers=per * total_rounds)
        targets = sent_nudges(services, people)
        bursts = (
            burst(fake, r, targets[r * per : (r + 1) * per], people, args.kinds)
            for r in range(10**9)
        )
        log = (work / "bot.log").open("w")
        bot = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                "--work",
                str(work),
                "--database-url",
                url,
                "--api-url",
                fake.base_url,
                "--content",
                str(content_dir(work)),
            ],
            stderr=log,
        )
        sent_bursts: list[Burst] = []
        try:
            wait_until(lambda: (work / "port").exists() or bot.poll() is not None, 120, "start")
            port = int((work / "port").read_text())
            wait_until(lambda: healthy(port), 60, "/healthz answering")
            clicker = Clicker(port)

            def one_round() -> dict[str, list[float]]:
                b = next(bursts)
                sent_bursts.append(b)
                return clicker.round(b.requests)

            one_round()  # warm-up: caches, first parse, first connections
            idle: dict[str, list[float]] = defaultdict(list)
            for _ in range(args.idle_rounds):
                merge(idle, one_round())
                time.sleep(args.pause)
            fan_out = FanOut(fake, args.nudges)
            with services.session() as session:
                # Due now: the next send tick claims them.
                session.execute(
                    update(Delivery)
                    .where(Delivery.status == DeliveryStatus.planned)
                    .values(due_at=services.clock.now() - timedelta(seconds=1))
                )
            fan_out.start()
            wait_until(lambda: fan_out.sent() >= min(200, args.nudges // 10), 60, "fan-out start")
            busy: dict[str, list[float]] = defaultdict(list)
            during = after = 0
            for _ in range(args.rounds):
                got = one_round()
                if fan_out.done:
                    after += 1  # an idle round by now: not counted
                    break
                merge(busy, got)
                during += 1
                time.sleep(args.pause)
            clicker.close()
            fan_out.wait(timeout=900)
            answered = wait_answered(services, fake, sent_bursts, per)
        finally:
            if bot.poll() is None:
                bot.send_signal(signal.SIGTERM)
            bot.wait(timeout=60)
            log.close()
        services.close()
    result = (work / "result").read_text() if (work / "result").exists() else None
    if result is None:
        raise SystemExit(f"bench: the bot left no timings; see {work / 'bot.log'}")
    server = {k: list(v) for k, v in json.loads(result).items()}
    idle_n = per * args.idle_rounds
    busy_n = per * during
    return Measured(
        idle=dict(idle),
        busy=dict(busy),
        server_idle={k: v[per : per + idle_n] for k, v in server.items()},
        server_busy={k: v[per + idle_n : per + idle_n + busy_n] for k, v in server.items()},
        rounds_during=during,
        rounds_after=after,
        sent=fan_out.sent(),
        seconds=fan_out.ended - fan_out.started,
        answered=answered,
    )


def wait_answered(
    services: Services, fake: FakeSlack, bursts: list[Burst], per: int
) -> dict[str, tuple[int, int]]:
    """What each kind of request led to, as a person sees it, once the work after
    the acks is done (30 s at most): (answered, sent)."""
    urls = {u for b in bursts for u in b.response_urls}
    triggers = {t for b in bursts for t in b.triggers}
    initiatives = {i for b in bursts for i in b.initiatives}
    clicks = per * len(bursts) if KINDS[0] in bursts[0].kinds else 0

    def count() -> dict[str, tuple[int, int]]:
        with services.session() as session:
            logged = session.scalar(select(func.count()).select_from(ProofEvent)) or 0
        replied = {p["url"] for p in fake.response_url_posts}
        opened = {c.params.get("trigger_id") for c in fake.calls_to("views.open") if c.ok}
        posted = {
            text
            for c in fake.calls_to("chat.postMessage")
            if c.ok and str(c.params.get("channel")).startswith("C")
            for text in initiatives
            if text in json.dumps(c.params)
        }
        return {
            KINDS[0]: (min(logged, clicks), clicks),
            KINDS[1]: (len(urls & replied), len(urls)),
            KINDS[2]: (len(triggers & opened), len(triggers)),
            KINDS[3]: (len(posted), len(initiatives)),
        }

    deadline = time.monotonic() + 30
    while True:
        got = count()
        if all(a == n for a, n in got.values()) or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def reset(url: str) -> None:
    """An empty PostgreSQL database (the bench owns the one it is given)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def _row(kind: str, when: str, values: list[float], inside: list[float]) -> list[object]:
    if not values:
        return [kind, when, 0, "", "", "", ""]
    return [
        kind,
        when,
        len(values),
        f"{statistics.median(values):.1f}",
        f"{percentile(values, 0.99):.1f}",
        f"{max(values):.1f}",
        f"{percentile(inside, 0.99):.1f}" if inside else "",
    ]


def sent_kinds(kinds: tuple[str, ...]) -> str:
    what = {
        KINDS[0]: "Done clicks on a nudge (block_actions)",
        KINDS[1]: "`/nudges status`",
        KINDS[2]: "`/intake` (opens the form modal)",
        KINDS[3]: "`/premortem <initiative>`",
    }
    said = [what[k] for k in kinds]
    commands = [k for k in kinds if k != KINDS[0]]
    text_ = ", ".join(said[:-1]) + (" and " if len(said) > 1 else "") + said[-1]
    return text_ + (" (slash commands are form-encoded)" if commands else "")


def report(args: argparse.Namespace, m: Measured) -> None:
    backend = "PostgreSQL" if (args.database_url or "").startswith("postgres") else "SQLite"
    rows = []
    for kind in args.kinds:
        rows.append(_row(kind, "idle", m.idle.get(kind, []), m.server_idle.get(kind, [])))
        rows.append(_row(kind, "fan-out", m.busy.get(kind, []), m.server_busy.get(kind, [])))
    table = markdown_table(
        ["request", "bot", "n", "p50 ms", "p99 ms", "max ms", "p99 ms inside the bot"], rows
    )
    answered = ", ".join(
        f"{kind} {a} of {n}" for kind, (a, n) in m.answered.items() if kind in args.kinds
    )
    busy_p99 = {k: percentile(v, 0.99) for k, v in m.busy.items() if v}
    worst = max(busy_p99, key=lambda k: busy_p99[k]) if busy_p99 else None
    verdict = (
        f"Slowest p99 during the fan-out: {worst}, {busy_p99[worst]:.1f} ms "
        f"({'met' if busy_p99[worst] < 100 else 'NOT met'})."
        if worst
        else "No round ran during the fan-out: raise --nudges."
    )
    body = (
        f"{backend}. One `nudgebot run` process (bot.server.run: HTTP on waitress and every "
        f"scheduler tick; the send tick does the fan-out, with no pacing and no DnD look-ups) "
        f"and a fresh database with {args.nudges:,} nudges that become due once the bot is "
        f"up. Every round, {args.per_kind} requests of each kind arrive at the same moment "
        f"({len(args.kinds) * args.per_kind} at once, shuffled), signed and encoded as Slack "
        f"sends them: {sent_kinds(args.kinds)}. After one "
        f"warm-up round, {args.idle_rounds} rounds on the idle bot, then rounds every "
        f"{args.pause:.1f} s while the fan-out runs: {m.rounds_during} rounds ended before "
        f"its last post and count (a round after it is not counted). p99 is the "
        f"nearest-rank 99th percentile of n samples. "
        f'"p50/p99/max" is the HTTP round trip (a new connection each) from a clicker '
        f'process of its own; "inside the bot" is request in to answer out in the bot\'s '
        f"WSGI stack. The bot, the fake Slack, the clicker and the database share this "
        f"machine's cores. Fan-out: {m.sent:,} DMs in {m.seconds:.1f} s "
        f"({m.sent / max(m.seconds, 1e-9):,.0f}/s). Answered as a person sees it (click "
        f"logged, reply posted, modal opened, pre-mortem posted): {answered}. Load average "
        f"at the end: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores; above that, other "
        f"work shared the machine). Target: p99 under 100 ms during the fan-out (Slack "
        f"gives up at 3000 ms). {verdict}\n\n{table}"
    )
    name = f"proof_ack_latency_{backend.lower()}"
    title = f"Ack latency of clicks and slash commands during a fan-out ({backend})"
    if args.kinds != KINDS:
        name += "_" + "_".join(k for k, v in KIND_NAMES.items() if v in args.kinds)
        title = f"Ack latency during a fan-out, {', '.join(args.kinds)} only ({backend})"
    publish(name, title, body, database=args.database_url, doc=Path(args.doc))


def main() -> None:
    plug_features()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nudges", type=int, default=10_000)
    parser.add_argument("--per-kind", type=int, default=5, help="requests of each kind a round")
    parser.add_argument("--rounds", type=int, default=60, help="at most, during the fan-out")
    parser.add_argument("--idle-rounds", type=int, default=10)
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between rounds")
    parser.add_argument(
        "--kinds",
        default=",".join(KIND_NAMES),
        help=f"which requests a round sends (default all: {','.join(KIND_NAMES)})",
    )
    parser.add_argument("--database-url", default=None, help="PostgreSQL; default SQLite")
    parser.add_argument("--doc", default=str(DOC), help="where to write the figures")
    # The bot's and the clicker's own arguments (they are this script, started by `run`).
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--click", action="store_true", help=argparse.SUPPRESS)
    for name in ("--work", "--api-url", "--port", "--content"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        args.kinds = tuple(KIND_NAMES[k.strip()] for k in args.kinds.split(","))
    except KeyError as exc:
        parser.error(f"--kinds: no kind {exc.args[0]!r}; use {','.join(KIND_NAMES)}")
    if args.click:
        click(int(args.port))
    elif args.serve:
        serve(args)
    else:
        measured = measure(args)
        if any(a != n for a, n in measured.answered.values()):
            raise SystemExit(f"bench: some requests went unanswered: {measured.answered}")
        report(args, measured)


if __name__ == "__main__":
    main()
