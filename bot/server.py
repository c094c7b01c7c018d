"""`nudgebot run`: migrate, check Slack, then serve HTTP and tick the scheduler.

HTTP runs on waitress: a production WSGI server in pure Python (no compiler, no
fork), with a thread pool so a slow listener never holds another request's ack,
and its own buffering of slow clients. Socket Mode, when SLACK_APP_TOKEN is set,
receives Slack over a websocket instead; /healthz, /metrics and /hooks are
served over HTTP in both modes.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from slack_sdk.errors import SlackApiError
from waitress.server import create_server

from bot import migrate
from bot.app import NudgebotApp, build_app
from bot.content.service import load_and_sync
from bot.delivery.sender import release_process_leases
from bot.errors import ConfigError
from bot.services import Services
from bot.slack.client import MANIFEST_HINT
from bot.web import make_wsgi_app

log = logging.getLogger(__name__)
# After SIGTERM, running ticks get this long to finish; the promise is "gone within 10 s".
SHUTDOWN_GRACE_SECONDS = 7.0
SWITCH_INTERVAL_SECONDS = 0.001


def check_slack_credentials(services: Services) -> dict[str, Any]:
    """auth.test once, so a wrong token is one clear line, not a stream of 401s later."""
    try:
        response = services.client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown error")
        raise ConfigError(
            f"SLACK_BOT_TOKEN was refused by Slack ({error}); {MANIFEST_HINT}"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot reach Slack at {services.settings.slack_api_url} ({exc}); "
            "check SLACK_API_URL and the network"
        ) from None
    return dict(response.data) if isinstance(response.data, dict) else {}


class RunningTicks:
    """How many ticks are running now, so shutdown can wait for them with a deadline
    (APScheduler's shutdown(wait=True) waits without one)."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = threading.Condition()

    def wrap(self, func: Callable[[], object]) -> Callable[[], None]:
        def tracked() -> None:
            with self._idle:
                self._count += 1
            try:
                func()
            finally:
                with self._idle:
                    self._count -= 1
                    self._idle.notify_all()

        return tracked

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, timeout=timeout)


def make_scheduler(
    services: Services, *, running: RunningTicks | None = None
) -> BackgroundScheduler:
    # In-memory job store on purpose: each replica ticks on its own and the
    # database holds every durable fact, so nothing is lost when a process dies.
    scheduler = BackgroundScheduler(
        timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1}
    )
    for tick in services.ticks:
        func = services.metrics.timed(tick.name, tick.func)
        if running is not None:
            func = running.wrap(func)
        scheduler.add_job(func, "interval", seconds=tick.seconds, id=tick.name, name=tick.name)
    return scheduler


def make_http_server(app: NudgebotApp, services: Services, *, host: str, port: int) -> Any:
    """The waitress server `nudgebot run` serves (the ack benchmark serves the same).

    It also shortens the interpreter's switch interval for the process: an ack
    waits for the interpreter lock at every step, while the sender's and the
    listeners' threads hold it in turns of this length (Python's default: 5 ms)."""
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    return create_server(
        make_wsgi_app(app, services),
        host=host,
        port=port,
        threads=services.settings.http_threads,
        ident="nudgebot",
        clear_untrusted_proxy_headers=True,
    )


def run(services: Services, *, host: str, port: int) -> None:
    settings = services.settings
    if settings.install_mode == "oauth":
        identity: dict[str, Any] = {"team_id": "(several: OAuth install mode)"}
    else:
        if settings.slack_bot_token is None:
            raise ConfigError(f"SLACK_BOT_TOKEN is not set; {MANIFEST_HINT}")
        identity = check_slack_credentials(services)
    if migrate.upgrade_if_pending(services.engine, settings.database_url):
        log.info("database migrated to revision %s", migrate.current_revision(services.engine))
    else:
        log.info("database at revision %s (up to date)", migrate.current_revision(services.engine))
    # An invalid program file stops the start with the same lines `content validate` prints.
    load_and_sync(services)
    app: NudgebotApp = build_app(settings, services=services)
    server = make_http_server(app, services, host=host, port=port)
    running = RunningTicks()
    scheduler = make_scheduler(services, running=running)
    socket_handler = _start_socket_mode(app, services) if settings.socket_mode else None
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        if not stopping.is_set():
            stopping.set()
            services.stopping.set()  # the sender stops claiming and hands its claims back
            log.info("signal %s: shutting down", signal.Signals(signum).name)
            server.close()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scheduler.start()
    log.info(
        "serving on http://%s:%s (%s mode, workspace %s, %d threads)",
        host,
        getattr(server, "effective_port", port),
        "socket" if socket_handler else "http",
        identity.get("team_id", "?"),
        settings.http_threads,
    )
    try:
        server.run()
    except OSError:
        # Closing the listening socket from the signal handler ends waitress's
        # select() with EBADF: that is the way out, not a failure.
        if not stopping.is_set():
            raise
    finally:
        scheduler.shutdown(wait=False)  # no new ticks; running ones get a deadline below
        finished = running.wait_idle(SHUTDOWN_GRACE_SECONDS)
        if socket_handler is not None:
            socket_handler.close()
        if not finished:
            _abandon_ticks(services)
        services.close()
        log.info("stopped")


def _abandon_ticks(services: Services) -> None:
    """A tick (a long send batch) outlived the grace period: release what this process
    holds and leave without waiting for it, as a crash would but with no lease left."""
    released = release_process_leases(services)
    log.warning(
        "ticks still running after %.0f s; released %d claimed nudge(s) and stopping",
        SHUTDOWN_GRACE_SECONDS,
        released,
    )
    services.close()
    log.info("stopped")
    logging.shutdown()
    # The tick's threads are not daemons: a normal exit would wait for them.
    os._exit(0)


def _start_socket_mode(app: NudgebotApp, services: Services) -> Any:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    token = services.settings.slack_app_token
    assert token is not None
    handler = SocketModeHandler(app, token.get_secret_value())
    handler.connect()  # type: ignore[no-untyped-call]  # reconnects by itself after a drop
    return handler
