"""`nudgebot run`: migrate, check Slack, then serve HTTP and tick the scheduler.

HTTP runs on waitress: a production WSGI server in pure Python (no compiler, no
fork), with a thread pool so a slow listener never holds another request's ack,
and its own buffering of slow clients. Socket Mode, when SLACK_APP_TOKEN is set,
receives Slack over a websocket instead; /healthz, /metrics and /hooks are
served over HTTP in both modes.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from waitress import wasyncore
from waitress.server import create_server

from bot import migrate
from bot.app import NudgebotApp, build_app
from bot.content.service import load_and_sync
from bot.delivery.sender import release_process_leases
from bot.errors import ConfigError, ServiceUnavailable
from bot.services import Services, Tick
from bot.web import WSGIApp, make_wsgi_app
from bot.webclient import MANIFEST_HINT

log = logging.getLogger(__name__)
# After SIGTERM, running ticks get this long to finish; the promise is "gone within 10 s".
SHUTDOWN_GRACE_SECONDS = 7.0
SWITCH_INTERVAL_SECONDS = 0.001
# After SIGTERM, requests already received get this long to be answered.
DRAIN_SECONDS = 2.0
DRAIN_POLL_SECONDS = 0.02


def check_app_token(services: Services) -> None:
    """apps.connections.open with SLACK_APP_TOKEN, before migrating: a refused
    app-level token is one line and exit 2, like a refused bot token."""
    token = services.settings.slack_app_token
    assert token is not None
    client = WebClient(
        token=token.get_secret_value(),
        base_url=services.settings.slack_api_url,
        timeout=services.settings.slack_timeout_seconds,
    )
    try:
        client.apps_connections_open(app_token=token.get_secret_value())
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown error")
        raise ConfigError(
            f"SLACK_APP_TOKEN was refused by Slack ({error}); create an app-level token with "
            "the connections:write scope on the app's Basic Information page"
        ) from None
    except OSError as exc:
        raise _slack_unreachable(services, exc) from None


def _slack_unreachable(services: Services, exc: OSError) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"cannot reach Slack at {services.settings.slack_api_url} ({exc}); "
        "check SLACK_API_URL and the network"
    )


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
        raise _slack_unreachable(services, exc) from None
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
        timezone="UTC",
        # A tick that starts late (a busy machine, a long previous run) still runs, once:
        # no "missed by" warnings for work that is only a little late.
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    for tick, func in scheduled_ticks(services, running=running):
        scheduler.add_job(func, "interval", seconds=tick.seconds, id=tick.name, name=tick.name)
    return scheduler


def scheduled_ticks(
    services: Services, *, running: RunningTicks | None = None
) -> list[tuple[Tick, Callable[[], object]]]:
    """Each tick as the scheduler runs it: timed, and its failures reported as an
    outage (a few lines, however long it lasts) rather than raised to APScheduler."""
    wrapped: list[tuple[Tick, Callable[[], object]]] = []
    for tick in services.ticks:
        func = services.metrics.timed(tick.name, tick.func)
        wrapped.append((tick, running.wrap(func) if running is not None else func))
    return wrapped


def make_http_server(
    app: NudgebotApp,
    services: Services,
    *,
    host: str,
    port: int,
    outer: Callable[[WSGIApp], WSGIApp] | None = None,
) -> Any:
    """The waitress server `nudgebot run` serves (the ack benchmark serves the same).
    ``outer`` wraps the bot's WSGI app in routes of its own (the sandbox's page).

    It also shortens the interpreter's switch interval for the process: an ack
    waits for the interpreter lock at every step, while the sender's and the
    listeners' threads hold it in turns of this length (Python's default: 5 ms)."""
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    try:
        wsgi = make_wsgi_app(app, services)
        return create_server(
            outer(wsgi) if outer is not None else wsgi,
            host=host,
            port=port,
            threads=services.settings.http_threads,
            ident="nudgebot",
            clear_untrusted_proxy_headers=True,
        )
    except ValueError:  # waitress could not resolve the host
        raise ConfigError(
            f"cannot listen on {host}:{port}: {host!r} is not an address or host name this "
            "machine can bind; set --host or NUDGEBOT_HOST (0.0.0.0 for every interface)"
        ) from None
    except OSError as exc:
        hint = (
            "another process is listening there; stop it or pick a free port with --port "
            "or NUDGEBOT_PORT"
            if exc.errno == errno.EADDRINUSE
            else "check --host and --port (NUDGEBOT_HOST, NUDGEBOT_PORT)"
        )
        reason = (exc.strerror or str(exc)).lower()
        raise ConfigError(f"cannot listen on {host}:{port}: {reason}; {hint}") from None


def run(services: Services, *, host: str, port: int) -> None:
    """Check everything a person can get wrong before changing anything, then serve.

    Order matters: settings and the listening address first (nothing done yet),
    then Slack's answer to the tokens, and only then the database migration."""
    stop = StopRequest()
    stop.install()  # from here on SIGTERM/SIGINT mean "stop cleanly", even mid-start
    settings = services.settings
    if settings.install_mode != "oauth" and settings.slack_bot_token is None:
        raise ConfigError(
            f"SLACK_BOT_TOKEN is not set; {MANIFEST_HINT}, "
            "or try Nudgebot without Slack: `nudgebot sandbox`"
        )
    app: NudgebotApp = build_app(settings, services=services)  # SLACK_SIGNING_SECRET first
    server = make_http_server(app, services, host=host, port=port)  # the port, before migrating
    stop.server = server
    try:
        _serve(app, server, services, stop, host=host, port=port)
    finally:
        close_quietly(server)


def _serve(
    app: NudgebotApp, server: Any, services: Services, stop: StopRequest, *, host: str, port: int
) -> None:
    settings = services.settings
    if settings.install_mode == "oauth":
        identity: dict[str, Any] = {"team_id": "(several: OAuth install mode)"}
    else:
        identity = check_slack_credentials(services)
    if settings.socket_mode:
        check_app_token(services)
    if migrate.upgrade_if_pending(services.engine, settings.database_url):
        log.info("database migrated to revision %s", migrate.current_revision(services.engine))
    else:
        log.info("database at revision %s (up to date)", migrate.current_revision(services.engine))
    # An invalid program file stops the start with the same lines `content validate` prints.
    load_and_sync(services)
    services.metrics.watch_slack()  # from here on, Slack away is an outage, not a failure
    running = RunningTicks()
    scheduler = make_scheduler(services, running=running)
    socket_handler = _start_socket_mode(app, services) if settings.socket_mode else None
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
        serve_until(server, stop.requested)
    finally:
        services.stopping.set()  # the sender stops claiming and hands its claims back
        if stop.signal_name:
            log.info("signal %s: shutting down", stop.signal_name)
        scheduler.shutdown(wait=False)  # no new ticks; running ones get a deadline below
        drain(server, deadline=time.monotonic() + DRAIN_SECONDS)
        finished = running.wait_idle(SHUTDOWN_GRACE_SECONDS)
        if socket_handler is not None:
            socket_handler.close()
        if not finished:
            _abandon_ticks(services)
        services.close()
        log.info("stopped")


class StopRequest:
    """SIGTERM/SIGINT set a flag and wake the serving loop; nothing else happens in
    the handler. Closing waitress from a signal handler pulled its trigger's pipe
    out from under a worker still answering (EBADF, logged at ERROR): the main
    thread closes it instead, once the loop has returned and the workers are done."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.signal_name = ""
        self.server: Any = None

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.requested.is_set():
            return
        self.signal_name = signal.Signals(signum).name
        self.requested.set()
        # One byte down waitress's own wake-up pipe: select() returns at once. During
        # start-up (migrating, checking Slack) the flag is read when serving would begin.
        if self.server is not None:
            self.server.pull_trigger()


def serve_until(server: Any, stop: threading.Event) -> None:
    """waitress's loop, one poll at a time, until `stop` is set (by a signal)."""
    while not stop.is_set():
        wasyncore.loop(
            timeout=server.adj.asyncore_loop_timeout,
            map=server._map,
            use_poll=server.adj.asyncore_use_poll,
            count=1,
        )


def drain(server: Any, *, deadline: float) -> None:
    """Stop accepting, answer the requests already in, then let the workers go.

    The listening socket closes first (new connections are refused, as a load
    balancer expects of a stopping replica); the loop keeps flushing answers
    until no connection has a request or output pending or the deadline passes."""
    wasyncore.dispatcher.close(server)  # the listening socket only; the trigger stays open
    while _busy(server) and time.monotonic() < deadline:
        wasyncore.loop(timeout=DRAIN_POLL_SECONDS, map=server._map, count=1)
    server.task_dispatcher.shutdown(
        cancel_pending=True, timeout=max(0.1, deadline - time.monotonic())
    )


def _busy(server: Any) -> bool:
    if server.task_dispatcher.queue:
        return True
    return any(
        channel.requests or channel.total_outbufs_len
        for channel in list(server.active_channels.values())
    )


def close_quietly(server: Any) -> None:
    """Close the client connections and the listening socket. The trigger's pipe
    is left to the process's exit: a worker thread that outlived the drain may
    still pull it, and a closed pipe there is the EBADF this avoids."""
    for channel in list(server._map.values()):
        if channel is not server.trigger:
            with contextlib.suppress(OSError):
                channel.close()


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
