"""Outages are quiet and heal: a tick that keeps failing logs a line when the
failures start, at most a line a minute while they last, and a line when it
works again; the work resumes by itself, and no nudge is lost or sent twice."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot import migrate
from bot.app import build_app
from bot.clock import FixedClock
from bot.delivery.models import Delivery, DeliveryStatus
from bot.delivery.planner import enroll_and_plan
from bot.log import ExpectedNoiseFilter
from bot.metrics import Outage
from bot.server import scheduled_ticks
from bot.services import Services
from tests.conftest import T0, make_settings
from tests.delivery.conftest import step, store_person, store_program
from tests.fakeslack import FakeSlack


def _lost_database() -> OperationalError:
    return OperationalError(
        "SELECT 1", {}, ConnectionRefusedError("connection to server failed: refused")
    )


def test_an_hour_of_failures_every_second_is_a_line_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FixedClock(T0)
    outage = Outage("delivery-send tick", now=clock.now)
    with caplog.at_level(logging.INFO, logger="bot.metrics"):
        for _ in range(3600):
            outage.failed(_lost_database())
            clock.advance(timedelta(seconds=1))
        outage.succeeded()
        outage.succeeded()  # working, and quiet again

    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == (
        "delivery-send tick failing: database error: connection to server failed: refused; "
        "retrying quietly (a line a minute while it lasts)"
    )
    assert caplog.records[0].exc_info is None, "a lost database needs no traceback"
    still = lines[1:-1]
    assert len(still) == 59  # one a minute, at minutes 1 to 59 of the hour, never more
    assert still[0].startswith("delivery-send tick still failing after 60 s: 61 failed attempts")
    assert lines[-1] == "delivery-send tick works again after 60 min 0 s and 3600 failed attempt(s)"


def test_a_bug_in_a_tick_shows_its_traceback_once() -> None:
    clock = FixedClock(T0)
    records: list[logging.LogRecord] = []
    logger = logging.getLogger("test.outage")
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        outage = Outage("plan tick", now=clock.now, logger=logger)
        for _ in range(5):
            outage.failed(KeyError("step"))
    finally:
        logger.removeHandler(handler)
    assert len(records) == 1
    assert records[0].exc_info is not None
    assert records[0].getMessage().startswith("plan tick failing: KeyError: 'step'")


def test_a_scheduled_tick_that_raises_is_reported_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    services = Services.create(make_settings(), clock=FixedClock(T0))
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) <= 3:
            raise _lost_database()

    services.add_tick("flaky", flaky, 1)
    [(_, tick)] = scheduled_ticks(services)
    with caplog.at_level(logging.INFO, logger="bot.metrics"):
        for _ in range(5):
            tick()  # APScheduler would log each raise with a traceback; nothing is raised
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith("database failing: database error")
    assert messages[0].endswith(
        "(seen first by the flaky tick); retrying quietly (a line a minute while it lasts)"
    )
    assert messages[1].startswith("database works again")
    services.close()


class TcpProxy:
    """127.0.0.1:port → the database server, so a test can take the database away
    (stop: every connection cut, new ones refused) and bring it back on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            conns, self._conns = self._conns, []
        if listener is not None:
            listener.close()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxied_postgres(fresh_db_url: Callable[[str], str]) -> Iterator[tuple[str, TcpProxy]]:
    url = fresh_db_url("postgresql")
    migrate.upgrade(url)
    parsed = make_url(url)
    proxy = TcpProxy((parsed.host or "127.0.0.1", parsed.port or 5432))
    proxy.start()
    yield parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(False), proxy
    proxy.stop()


PEOPLE = 40


def _wait(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    done = threading.Event()
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        done.wait(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class FanOut:
    """PEOPLE enrolled and due, and the scheduler's rhythm in simulated time (each
    tick at its interval: a send every second, a reap every 15, the plan every 60…),
    run on a thread as `nudgebot run` would."""

    def __init__(self, services: Services, fake: FakeSlack, clock: FixedClock) -> None:
        self.services, self.fake, self.clock = services, fake, clock
        build_app(services.settings, services=services)  # registers the ticks, as run does
        services.metrics.watch_slack()  # as run does once it serves
        self.users = [f"U0OUT{n:04d}" for n in range(PEOPLE)]
        with services.session() as session:
            store_program(session, "welcome", [step("hello", day=0)])
            for user in self.users:
                fake.add_user(user, name=user.lower())
                store_person(session, user)
            enroll_and_plan(
                session,
                settings=services.settings,
                now=clock.now(),
                program_id="welcome",
                user_ids=self.users,
                starts_at=clock.now(),
                enrolled_by="test",
                source="test",
            )
        self.ticks = scheduled_ticks(services)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._scheduler, daemon=True)

    def _scheduler(self) -> None:
        """Every tick of the process at its own interval, in simulated seconds."""
        n = 0
        while not self._stop.is_set():
            n += 1
            self.clock.advance(timedelta(seconds=1))
            for tick, run in self.ticks:
                if n % max(1, int(tick.seconds)) == 0:
                    run()
            self._stop.wait(0.01)

    def posted(self) -> int:
        return len(self.fake.calls_to("chat.postMessage"))

    def outage(
        self, proxy: TcpProxy, caplog: pytest.LogCaptureFixture
    ) -> tuple[list[str], list[str]]:
        """Cut `proxy` a few posts into the fan-out for 75 simulated seconds, bring it
        back, wait until every nudge is sent: (log lines during, log lines since)."""
        self._thread.start()
        try:
            _wait(lambda: self.posted() >= 5, "the fan-out to start")
            first = len(caplog.records)
            proxy.stop()
            lost_at = self.clock.now()
            _wait(lambda: self.clock.now() - lost_at > timedelta(seconds=75), "the outage")
            during = _shown(caplog.records[first:])
            proxy.start()
            _wait(lambda: _unsent(self.services) == 0, "every nudge to be sent", seconds=120)
        finally:
            self._stop.set()
            self._thread.join(timeout=30)
        return during, _shown(caplog.records[first:])

    def assert_each_got_one(self) -> None:
        for user in self.users:
            nudges = [m for m in self.fake.dm_messages(user) if m.get("metadata")]
            assert len(nudges) == 1, f"{user} got {len(nudges)} nudges"


def test_the_database_lost_mid_fan_out_then_back_every_nudge_once_and_a_short_log(
    proxied_postgres: tuple[str, TcpProxy],
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, proxy = proxied_postgres
    clock = FixedClock(T0)
    settings = make_settings(
        database_url=url,
        slack_api_url=fake_slack.base_url,
        send_rate_per_minute=900,  # 15 a second: the fan-out lasts long enough to cut into
        respect_dnd=False,
    )
    services = Services.create(settings, clock=clock)
    fan_out = FanOut(services, fake_slack, clock)
    with caplog.at_level(logging.INFO):
        during, after = fan_out.outage(proxy, caplog)
    services.close()

    fan_out.assert_each_got_one()
    # One set of lines for the process, whichever ticks (each at its own interval) failed.
    assert [m for m in during if " failing: " in m] == [
        next(m for m in during if m.startswith("database failing: database error: "))
    ], during
    assert "(seen first by the delivery-send tick)" in during[0], during
    assert any(m.startswith("database still failing after 6") for m in during), during
    assert any(m.startswith("database works again") for m in after), after
    assert len(during) < 20, "\n".join(during)


def test_slack_lost_mid_fan_out_then_back_every_nudge_once_and_a_short_log(
    db_url: str, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    fake = urlsplit(fake_slack.base_url)
    proxy = TcpProxy((fake.hostname or "127.0.0.1", fake.port or 80))
    proxy.start()
    clock = FixedClock(T0)
    settings = make_settings(
        database_url=db_url,
        slack_api_url=fake._replace(netloc=f"127.0.0.1:{proxy.port}").geturl(),
        send_rate_per_minute=900,
        respect_dnd=False,
    )
    services = Services.create(settings, clock=clock)
    fan_out = FanOut(services, fake_slack, clock)
    try:
        with caplog.at_level(logging.INFO):
            during, after = fan_out.outage(proxy, caplog)
    finally:
        proxy.stop()
        services.close()

    fan_out.assert_each_got_one()
    assert any(m.startswith("Slack failing: ") for m in during), during
    assert any(m.startswith("Slack still failing after") for m in during), during
    assert any(m.startswith("Slack works again") for m in after), after
    assert len(during) < 20, "\n".join(during)


def _shown(records: list[logging.LogRecord]) -> list[str]:
    """The lines an operator reads: the records that pass the log handler's filter."""
    noise = ExpectedNoiseFilter()
    return [r.getMessage() for r in records if noise.filter(r)]


def _unsent(services: Services) -> int:
    try:
        with services.session() as session:
            return int(
                session.scalar(
                    select(func.count(Delivery.id)).where(
                        Delivery.status.in_([DeliveryStatus.planned, DeliveryStatus.sending])
                    )
                )
                or 0
            )
    except OperationalError:
        return -1
