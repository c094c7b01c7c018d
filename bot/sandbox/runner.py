"""Start the sandbox: a local Slack, the real bot pointed at it, and the page.

One port serves both the page and the bot's own HTTP surface (/slack/events,
/healthz, /metrics): the local Slack's driver posts the bot signed requests
there, exactly as Slack posts to a Request URL. The bot is built and started
the way `nudgebot run` builds it in HTTP mode (build_app, the waitress server,
the scheduler's ticks); only its settings differ: the local Slack's address and
tokens, a signing secret made up for this run, and a database of its own.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot import migrate
from bot.app import NudgebotApp, build_app
from bot.content.service import load_and_sync
from bot.errors import ConfigError
from bot.localslack import LocalSlack
from bot.plugins import plug_features
from bot.sandbox import seed
from bot.sandbox.app import make_page_app
from bot.sandbox.clock import SandboxClock
from bot.sandbox.driver import SandboxDriver
from bot.sandbox.parts import SandboxParts
from bot.server import (
    RunningTicks,
    close_quietly,
    drain,
    make_http_server,
    make_scheduler,
    serve_until,
)
from bot.services import Services
from bot.settings import Settings, load_settings

log = logging.getLogger(__name__)

DEFAULT_PORT = 3000
PORT_TRIES = 20
# Marks an SQLite file as the sandbox's own (PRAGMA application_id): the sandbox
# starts it afresh each run and refuses to wipe a file that is not one.
SANDBOX_APPLICATION_ID = 0x4E554447  # "NUDG"
# The page's long-poll, a dev pane and a few clicks at once, besides Slack's requests.
HTTP_THREADS = 16
# At stop, requests already in (a page's long-poll, a click) get this long to be answered.
DRAIN_SECONDS = 1.0
STARTER_PROGRAMS = Path(__file__).resolve().parents[2] / "nudges"


@dataclass
class Sandbox:
    """The whole sandbox in this process. ``start()`` returns when it is ready."""

    database_path: Path = Path("sandbox.db")
    host: str = "127.0.0.1"
    port: int | None = None  # None: 3000 or the next free one; 0: any free port
    empty: bool = False
    content_dir: Path | None = None
    start_at: datetime | None = None
    seed_summary: str = ""
    bound_port: int = field(init=False, default=0)
    clock: SandboxClock = field(init=False)
    slack: LocalSlack = field(init=False)
    services: Services = field(init=False)
    app: NudgebotApp = field(init=False)
    driver: SandboxDriver = field(init=False)
    parts: SandboxParts = field(init=False)
    http_server: Any = field(init=False, default=None)
    _scheduler: Any = field(init=False, default=None)
    _running: RunningTicks = field(init=False, default_factory=RunningTicks)
    _stop: threading.Event = field(init=False, default_factory=threading.Event)
    _clock_lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _thread: threading.Thread | None = field(init=False, default=None)

    # -- start ---------------------------------------------------------------

    def start(self, *, serve_in_thread: bool = True) -> Sandbox:
        """Bind the port, start the local Slack, migrate a fresh database, seed,
        and serve (in a thread, or by :meth:`serve_forever` in the caller's)."""
        port = self.bound_port = self._bind_port()
        self.clock = SandboxClock(self.start_at or first_working_moment(datetime.now(UTC)))
        self.slack = LocalSlack(
            bot_token=f"xoxb-sandbox-{secrets.token_hex(12)}",
            team_id="T0SANDBOX",
            team_name="Nudgebot Sandbox",
            team_domain="nudgebot-sandbox",
            app_id="A0SANDBOX",
            bot_user_id="U0NUDGEBOT",
            bot_id="B0NUDGEBOT",
            bot_name="nudgebot",
            clock=self.clock.timestamp,
        ).start()
        try:
            seed.seed_slack(self.slack, empty=self.empty)
            secret = secrets.token_hex(16)
            settings = self._settings(port, secret)
            fresh_database(self.database_path)
            plug_features()
            self.services = Services.create(settings, clock=self.clock)
            self.app = build_app(settings, services=self.services)
            self.driver = SandboxDriver(f"http://127.0.0.1:{port}/slack/events", secret, self.slack)
            self.parts = SandboxParts(
                self.slack,
                self.driver,
                self.clock,
                self.services,
                empty=self.empty,
                hold_ticks=self._hold_ticks,
            )
            self.http_server = make_http_server(
                self.app,
                self.services,
                host=self.host,
                port=port,
                outer=lambda bot_wsgi: make_page_app(self.parts, bot_wsgi),
            )
            migrate.upgrade_if_pending(self.services.engine, settings.database_url)
            mark_as_sandbox(self.database_path)
            load_and_sync(self.services)
            self.seed_summary = seed.seed_bot(self.services, empty=self.empty)
            self.services.metrics.watch_slack()
            self._scheduler = make_scheduler(self.services, running=self._running)
            self._scheduler.start()
        except BaseException:
            self.stop()
            raise
        if serve_in_thread:
            self._thread = threading.Thread(target=self.serve_forever, name="sandbox", daemon=True)
            self._thread.start()
        return self

    def _bind_port(self) -> int:
        if self.port == 0:
            return free_port(self.host)
        if self.port is not None:
            if not port_is_free(self.host, self.port):
                raise ConfigError(
                    f"cannot listen on {self.host}:{self.port}: another process is listening "
                    "there; pick a free port with --port (or leave it out: the sandbox finds one)"
                )
            return self.port
        for candidate in range(DEFAULT_PORT, DEFAULT_PORT + PORT_TRIES):
            if port_is_free(self.host, candidate):
                return candidate
        raise ConfigError(
            f"ports {DEFAULT_PORT}-{DEFAULT_PORT + PORT_TRIES - 1} on {self.host} are all taken; "
            "pick one with --port"
        )

    def _settings(self, port: int, secret: str) -> Settings:
        """The bot's settings: the local Slack's, whatever the environment says of
        Slack and the database (a sandbox must never reach a real one)."""
        overrides: dict[str, Any] = {
            "_env_file": None,
            "slack_bot_token": self.slack.bot_token,
            "slack_signing_secret": secret,
            "slack_app_token": None,
            "slack_api_url": self.slack.base_url,
            "install_mode": "single",
            "database_url": f"sqlite:///{self.database_path}",
            "host": self.host,
            "port": port,
            "http_threads": HTTP_THREADS,
            "ld_leads": [seed.LEAD_ID],
            "triage_channel": seed.TRIAGE_CHANNEL_ID,
            "hook_secrets": {},
            "metric_hook_secrets": {},
        }
        if self.content_dir is not None:
            overrides["content_dir"] = self.content_dir
        settings = load_settings(**overrides)
        if not settings.content_dir.is_dir() and STARTER_PROGRAMS.is_dir():
            # Started outside the project folder: the starter programs beside the code.
            settings = settings.model_copy(update={"content_dir": STARTER_PROGRAMS})
        return settings

    @contextlib.contextmanager
    def _hold_ticks(self) -> Iterator[None]:
        """The scheduler's ticks wait while the page moves the clock (they would
        otherwise race the clock's own stops for the same nudges)."""
        with self._clock_lock:
            scheduler = self._scheduler
            if scheduler is not None:
                scheduler.pause()
                self._running.wait_idle(10)
            try:
                yield
            finally:
                if scheduler is not None and self._scheduler is scheduler:
                    scheduler.resume()

    # -- serve and stop --------------------------------------------------------

    @property
    def url(self) -> str:
        """The page's address, e.g. http://127.0.0.1:3000/."""
        return f"http://{self.host}:{self.bound_port}/"

    @property
    def stop_event(self) -> threading.Event:
        """Set it (then :meth:`wake`) and :meth:`serve_forever` returns."""
        return self._stop

    def wake(self) -> None:
        """Wake the serving loop (from a signal handler: only a byte down a pipe)."""
        if self.http_server is not None:
            self.http_server.pull_trigger()

    def serve_forever(self) -> None:
        """Serve until :attr:`stop_event` is set."""
        serve_until(self.http_server, self._stop)

    def stop(self) -> None:
        """Stop serving and ticking, and close the database; the file stays."""
        self._stop.set()
        with contextlib.suppress(Exception):
            self.wake()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if "services" in self.__dict__:
            self.services.stopping.set()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._running.wait_idle(5)
            self._scheduler = None
        if self.http_server is not None:
            if "slack" in self.__dict__:
                self.slack.note_change()  # an open page's long-poll answers now, not in 20 s
            drain(self.http_server, deadline=time.monotonic() + DRAIN_SECONDS)
            close_quietly(self.http_server)
            self.http_server = None
        if "services" in self.__dict__:
            self.services.close()
        if "slack" in self.__dict__:
            self.slack.stop()


def first_working_moment(now: datetime) -> datetime:
    """Where sandbox time starts: now, if it is working time for the person the
    page shows first; else 09:05 of their next working day (a nudge due "at once"
    would otherwise wait for the morning)."""
    zone = ZoneInfo(next(p.tz for p in seed.PEOPLE if p.id == seed.DEFAULT_USER_ID))
    local = now.astimezone(zone)
    if local.weekday() < 5 and 9 <= local.hour < 16:
        return now
    day = local.date() + timedelta(days=0 if local.weekday() < 5 and local.hour < 9 else 1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 9, 5, tzinfo=zone).astimezone(UTC)


# -- the port and the database file ---------------------------------------------


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return True


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def fresh_database(path: Path) -> None:
    """Each sandbox run starts on a new database (the local Slack starts empty too):
    an old sandbox file is removed, any other file is refused."""
    if not path.exists():
        return
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            application_id = conn.execute("PRAGMA application_id").fetchone()[0]
    except sqlite3.DatabaseError:
        application_id = None
    if application_id != SANDBOX_APPLICATION_ID:
        raise ConfigError(
            f"{path} exists and is not a sandbox database; the sandbox starts afresh each run "
            "and will not overwrite it: pick another file with --db"
        )
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


def mark_as_sandbox(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA application_id = {SANDBOX_APPLICATION_ID}")
        conn.commit()
