"""Prometheus metrics of one process, served at /metrics.

Counters and histograms are fed by the code that does the work (the sender, the
Slack client's retry path through `SlackCallObserver`, the WSGI app timing each
Slack request, the scheduler); the outbox gauges are read from the database at
scrape time by the delivery core's collector (bot.delivery.metrics), so every
replica reports the same shared truth and nothing has to keep them in step.

Series (names as exported):
- nudgebot_deliveries{status}                   gauge, rows of the outbox by status
- nudgebot_outbox_depth                         gauge, nudges due now and not yet sent
- nudgebot_outbox_oldest_due_age_seconds        gauge, how late the oldest of those is
- nudgebot_sends_total{outcome}                 counter; rate() is sends per second
- nudgebot_slack_rate_limited_total{method}     counter of 429 answers
- nudgebot_slack_errors_total{method,error}     counter of Slack errors (ok:false, 5xx, network)
- nudgebot_ack_seconds                          histogram, request in → ack out
- nudgebot_tick_seconds{tick}                   histogram of scheduler tick durations
- nudgebot_tick_failures_total{tick}            counter of ticks that raised
- nudgebot_metrics_database_up                  gauge, 0 when the outbox query failed
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, Histogram
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError

from bot.clock import Clock

log = logging.getLogger(__name__)

# Slack wants an ack within 3 s: buckets are dense below that.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
TICK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
# Several Prometheus servers may scrape every replica; the outbox does not need
# a fresher answer than this.
GAUGE_CACHE_SECONDS = 5.0
RATE_LIMITED = "ratelimited"
# While a tick keeps failing, one line at most this often (with the count of failures).
OUTAGE_REPORT_EVERY = timedelta(minutes=1)


class Metrics:
    """The process's instruments on `registry` (Services.registry)."""

    def __init__(self, registry: CollectorRegistry, *, clock: Clock) -> None:
        self.registry = registry
        self._clock = clock
        self.slack_outage: Outage | None = None
        self.database_outage = Outage("database", now=clock.now)
        self.sends = Counter(
            "nudgebot_sends", "Nudges handed to Slack, by outcome.", ["outcome"], registry=registry
        )
        self.rate_limited = Counter(
            "nudgebot_slack_rate_limited",
            "Slack answers 429 (rate limited), by API method.",
            ["method"],
            registry=registry,
        )
        self.slack_errors = Counter(
            "nudgebot_slack_errors",
            "Slack API errors, by method and error code.",
            ["method", "error"],
            registry=registry,
        )
        self.ack_seconds = Histogram(
            "nudgebot_ack_seconds",
            "Time from a Slack request arriving to its ack.",
            buckets=ACK_BUCKETS,
            registry=registry,
        )
        self.tick_seconds = Histogram(
            "nudgebot_tick_seconds",
            "Duration of scheduler ticks, by tick name.",
            ["tick"],
            buckets=TICK_BUCKETS,
            registry=registry,
        )
        self.tick_failures = Counter(
            "nudgebot_tick_failures",
            "Ticks that raised, by tick name.",
            ["tick"],
            registry=registry,
        )
        for outcome in ("sent", "failed", "retried"):
            self.sends.labels(outcome=outcome)

    def observe_send(self, *, outcome: str = "sent") -> None:
        """One nudge left the sender: sent, failed (permanently) or retried (later)."""
        self.sends.labels(outcome=outcome).inc()

    def observe_slack_error(self, method: str, error: str) -> None:
        """A Slack call failed; `error` is Slack's code (ratelimited, channel_not_found,
        http_503, connection). 429s also count in nudgebot_slack_rate_limited_total."""
        self.slack_errors.labels(method=method, error=error[:64]).inc()
        if error in (RATE_LIMITED, "http_429"):
            self.rate_limited.labels(method=method).inc()

    def observe_ack(self, seconds: float) -> None:
        self.ack_seconds.observe(max(0.0, seconds))

    @contextmanager
    def time_tick(self, name: str) -> Iterator[None]:
        """Wrap one run of a scheduler tick; failures are counted and re-raised."""
        start = time.perf_counter()
        try:
            yield
        except BaseException:
            self.tick_failures.labels(tick=name).inc()
            raise
        finally:
            self.tick_seconds.labels(tick=name).observe(time.perf_counter() - start)

    def timed(self, name: str, func: Callable[[], object]) -> Callable[[], object]:
        """`func` wrapped for the scheduler: timed, counted, and its failures reported
        as an outage (see `Outage`) instead of a traceback each time it runs. The
        database out of reach is one fact of the process, not one per tick: every
        tick reports it to `database_outage`, so it is one set of lines, not ten."""
        outage = Outage(f"{name} tick", now=self._clock.now)
        # Only a tick that found the database away can say it is back: a tick
        # with nothing to read (no triage channel, say) succeeds either way.
        missed_database = False

        def run() -> object:
            nonlocal missed_database
            try:
                with self.time_tick(name):
                    result = func()
            except Exception as exc:  # every failure is reported, quietly
                if database_unreachable(exc):
                    missed_database = True
                    self.database_outage.failed(exc, seen_by=f"the {name} tick")
                else:
                    outage.failed(exc)
                return None
            outage.succeeded()
            if missed_database:
                missed_database = False
                self.database_outage.succeeded()
            return result

        return run

    def watch_slack(self) -> None:
        """Report Slack out of reach as an outage (a line when it starts, a line a
        minute, a line when it answers again): for serving processes, whose work
        retries by itself. A command reports its one failure instead."""
        self.slack_outage = Outage("Slack", now=self._clock.now)

    def observe_slack_reachable(self, failure: BaseException | str | None) -> None:
        if self.slack_outage is None:
            return
        if failure is None:
            self.slack_outage.succeeded()
        else:
            self.slack_outage.failed(failure)

    def slack_observer(self) -> SlackCallObserver:
        """A retry handler that retries nothing and counts every Slack error; put
        it first in a WebClient's retry_handlers so it sees each attempt."""
        return SlackCallObserver(self)


class Outage:
    """The log of one repeated piece of work (a tick, a scrape, the sender loop)
    while it keeps failing: one line when the failures start, at most one a
    minute while they last (with how many attempts failed), one when it works
    again. A database or Slack that is away for an hour is then a handful of
    lines, not a traceback every second; /healthz and the tick failure counter
    carry the rest.

    A failure that is not the database or the network (a bug) gets its traceback
    once, on the first line: that is the line someone will need."""

    def __init__(
        self,
        what: str,
        *,
        now: Callable[[], datetime],
        every: timedelta = OUTAGE_REPORT_EVERY,
        level: int = logging.ERROR,
        logger: logging.Logger = log,
    ) -> None:
        self.what = what
        self._now = now
        self._every = every
        self._level = level
        self._log = logger
        self._lock = threading.Lock()
        self._since: datetime | None = None
        self._reported_at: datetime | None = None
        self._failures = 0
        self._unreported = 0

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failed(self, exc: BaseException | str, *, seen_by: str = "") -> None:
        now = self._now()
        reason = exc if isinstance(exc, str) else describe_failure(exc)
        with self._lock:
            self._failures += 1
            if self._since is None:
                self._since = self._reported_at = now
                self._unreported = 0
                first = True
            else:
                self._unreported += 1
                if self._reported_at is not None and now - self._reported_at < self._every:
                    return
                self._reported_at = now
                first = False
            failures, unreported, since = self._failures, self._unreported, self._since
            self._unreported = 0
        if first:
            self._log.log(
                self._level,
                "%s failing: %s%s; retrying quietly (a line a minute while it lasts)",
                self.what,
                reason,
                f" (seen first by {seen_by})" if seen_by else "",
                exc_info=exc if isinstance(exc, BaseException) and not _is_outage(exc) else None,
            )
            return
        self._log.warning(
            "%s still failing after %s: %d failed attempts (%d since the last line); last: %s",
            self.what,
            _duration(now - since),
            failures,
            unreported,
            reason,
        )

    def succeeded(self) -> None:
        if self._since is None:  # the common case, without the lock
            return
        with self._lock:
            if self._since is None:
                return
            since, failures = self._since, self._failures
            self._since = self._reported_at = None
            self._failures = self._unreported = 0
        self._log.info(
            "%s works again after %s and %d failed attempt(s)",
            self.what,
            _duration(self._now() - since),
            failures,
        )


def describe_failure(exc: BaseException) -> str:
    """One line naming what failed: the database, Slack, the network, or the error."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        lines = str(exc.orig).strip().splitlines()
        return f"database error: {lines[0] if lines else type(exc.orig).__name__}"
    if isinstance(exc, SQLAlchemyError):
        lines = str(exc).strip().splitlines()
        return f"database error: {lines[0] if lines else type(exc).__name__}"
    if isinstance(exc, SlackApiError):
        return f"Slack answered {exc.response.get('error', 'an error')}"
    if isinstance(exc, OSError):
        return f"cannot reach Slack or the network: {exc}"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def database_unreachable(exc: BaseException) -> bool:
    """The database cannot be reached (refused, dropped, gone), as opposed to a query
    it refused: those are a tick's own failure."""
    return isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def _is_outage(exc: BaseException) -> bool:
    """A service away (database, Slack, network), as opposed to a bug in the code."""
    return isinstance(exc, SQLAlchemyError | SlackApiError | OSError)


def _duration(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60} s"


class SlackCallObserver(RetryHandler):
    """slack_sdk asks each retry handler about every answer, successful or not,
    and every network error: the one place that sees all Slack errors of a client."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(max_retry_count=0)
        self._metrics = metrics

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        error_code = _error_code(response, error)
        if error_code is not None:
            method = request.url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0][:64]
            self._metrics.observe_slack_error(method, error_code)
        if response is None:
            self._metrics.observe_slack_reachable(error or "no answer")
        elif response.status_code >= 500:
            self._metrics.observe_slack_reachable(f"Slack answered HTTP {response.status_code}")
        else:  # an answer, even a refusal or a 429: Slack is there
            self._metrics.observe_slack_reachable(None)
        return False

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return False


def _error_code(response: HttpResponse | None, error: Exception | None) -> str | None:
    if response is None:
        return "connection" if error is not None else None
    if response.status_code == 429:
        return RATE_LIMITED
    if response.status_code >= 400:
        return f"http_{response.status_code}"
    body = response.body if isinstance(response.body, dict) else {}
    if body.get("ok") is False:
        return str(body.get("error") or "unknown")[:64]
    return None
