"""The sender: due rows of the outbox become DMs, each exactly once.

A claim moves due rows to `sending` under a lease (FOR UPDATE SKIP LOCKED on
PostgreSQL, so replicas never claim the same row; on SQLite one process holds
the sender lock). Each DM carries message metadata naming its delivery id. A
row tried before (its lease expired, or the answer was lost) is first looked
up in the DM's history by that metadata and only posted when it is not there:
that is what makes "exactly once" hold across crashes, timeouts and replicas.
"""

from __future__ import annotations

import http.client
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.content.blocks import step_message
from bot.content.schema import Program, normalise_locale
from bot.delivery import plugins
from bot.delivery.calendar import Calendar
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment, EnrollmentStatus, SenderLock
from bot.delivery.pacing import MemoryBudget, Pacer, SqlBudget
from bot.delivery.planner import person_calendar, program_calendar
from bot.delivery.service import load_program
from bot.errors import ConfigError
from bot.log import log_context
from bot.metrics import Metrics
from bot.people.models import Person
from bot.services import Services
from bot.settings import Settings
from bot.slack import install
from bot.slack.acks import ANSWERING

log = logging.getLogger(__name__)
T = TypeVar("T")

METADATA_EVENT = "nudge_delivery"
# Slack's answers that will not change by trying again: recorded once, never retried.
PERMANENT_ERRORS = frozenset(
    {
        "user_not_found",
        "account_inactive",
        "channel_not_found",
        "cannot_dm_bot",
        "user_disabled",
        "is_archived",
        "not_in_channel",
        "user_is_restricted",
        "restricted_action",
        "messages_tab_disabled",
        "user_not_visible",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
        "too_many_attachments",
        "channel_is_archived",
    }
)
# The app itself is misconfigured: pause, keep the nudges, tell the operator.
AUTH_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "not_allowed_token_type",
        "team_access_not_granted",
        "ekm_access_denied",
    }
)
AUTH_PAUSE = 60.0
HISTORY_PAGES = 5
DND_CACHE_SECONDS = 60.0
RECORD_GROUP = 25  # outcomes written per transaction
RECORD_EVERY = 0.25  # seconds: never hold a result longer than this
SQLITE_LOCK = "sender"
SQLITE_LOCK_SECONDS = 30
SLACK_AWAY_AFTER = 120.0  # seconds without any answer from Slack: it is away, not the nudge
YIELD_TO_ACKS = 0.05  # seconds a post waits at most while `nudgebot run` answers Slack


def sender_client(
    settings: Settings, metrics: Metrics | None = None, *, token: str | None = None
) -> WebClient:
    """A WebClient that never retries by itself: a retried post after a lost
    answer would be a duplicate. The sender decides, after checking history.
    (The metrics observer only counts errors by method; it retries nothing.)
    `token`: a workspace's bot token (OAuth mode); SLACK_BOT_TOKEN otherwise."""
    if token is None:
        if settings.slack_bot_token is None:
            raise ConfigError("SLACK_BOT_TOKEN is not set; the sender cannot post")
        token = settings.slack_bot_token.get_secret_value()
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=settings.slack_timeout_seconds,
        retry_handlers=[metrics.slack_observer()] if metrics is not None else [],
    )


def _process_prefix() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:"


def make_owner() -> str:
    return _process_prefix() + uuid.uuid4().hex[:8]


def release_process_leases(services: Services) -> int:
    """Hand every nudge this process's senders claimed back to `planned` at once, so
    another replica takes it now instead of after the lease. The attempt stays on
    record, so whoever sends next first looks in the DM history: none twice."""
    with services.session() as session:
        result = session.execute(
            update(Delivery)
            .where(
                Delivery.status == DeliveryStatus.sending,
                Delivery.lease_owner.startswith(_process_prefix(), autoescape=True),
            )
            .values(status=DeliveryStatus.planned, lease_owner=None, lease_until=None),
            execution_options={"synchronize_session": False},
        )
        return int(getattr(result, "rowcount", 0) or 0)


class SlackFailure(Exception):
    """A call that did not succeed, sorted by what to do about it."""

    def __init__(
        self, kind: str, error: str, retry_after: float = 0.0, *, unanswered: bool = False
    ) -> None:
        super().__init__(f"{kind}: {error}")
        self.kind = kind  # permanent | temporary | rate_limited | auth
        self.error = error
        self.retry_after = retry_after
        # No answer from Slack itself (timeout, refused or dropped connection, a 5xx
        # page): what Slack being away looks like, as opposed to an error it answered.
        self.unanswered = unanswered
        self.on_post = False  # chat.postMessage's own answer (its budget is the one paced)


def call_slack(func: Callable[[], T]) -> T:
    try:
        return func()
    except SlackApiError as exc:
        raise _classify(exc) from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        # Timeouts, refused and dropped connections: the call may or may not
        # have taken effect; the next attempt checks history first.
        raise SlackFailure("temporary", type(exc).__name__, unanswered=True) from None


def _classify(exc: SlackApiError) -> SlackFailure:
    response = exc.response
    status = getattr(response, "status_code", 200)
    error = str(response.get("error") or f"http_{status}") if response is not None else "unknown"
    if status == 429 or error == "ratelimited":
        headers = getattr(response, "headers", {}) or {}
        retry = headers.get("Retry-After") or headers.get("retry-after") or "1"
        return SlackFailure("rate_limited", "ratelimited", float(retry))
    if status >= 500:
        return SlackFailure("temporary", f"http_{status}", unanswered=True)
    if error in PERMANENT_ERRORS:
        return SlackFailure("permanent", error)
    if error in AUTH_ERRORS:
        return SlackFailure("auth", error)
    return SlackFailure("temporary", error)


@dataclass
class SendStats:
    claimed: int = 0
    sent: int = 0
    reconciled: int = 0
    failed: int = 0
    retried: int = 0
    deferred: int = 0
    skipped: int = 0
    lost: int = 0  # the lease lapsed before the post: another sender has the row now

    def add(self, other: SendStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Outcome:
    status: DeliveryStatus
    error: str | None = None
    due_at: datetime | None = None
    window_end: datetime | None = None
    channel: str | None = None
    ts: str | None = None
    counted: bool = True  # False: the claim was not an attempt (nothing reached Slack)
    stat: str = "sent"
    fence: int = 0  # the row's attempt number at our claim: recorded only while unchanged


@dataclass
class _Claimed:
    delivery: Delivery
    person: Person
    enrollment: Enrollment | None  # None: not a step (a pre-mortem follow-up)
    locale: str = "en"
    extra: dict[str, Any] = field(default_factory=dict)


class SenderRefused(ConfigError):
    """Another process holds the sender lock of this SQLite database."""


class Sender:
    """One process's sender. One loop drives it; it fans each batch out to threads."""

    def __init__(
        self,
        services: Services,
        *,
        client: WebClient | None = None,
        owner: str | None = None,
        batch_size: int = 50,
        pacer: Pacer | None = None,
    ) -> None:
        self.services = services
        self.settings = services.settings
        # OAuth mode: each workspace's own (rotated) bot token; see _client_of.
        self._tokens = (
            install.workspace_tokens(services)
            if services.settings.install_mode == "oauth"
            else None
        )
        self._team_clients: dict[str, WebClient] = {}
        self.client = client or sender_client(
            services.settings, services.metrics, token="" if self._tokens else None
        )
        self.owner = owner or make_owner()
        self.batch_size = batch_size
        # The posting budget is the workspace's: on PostgreSQL every replica reserves
        # its send slots from one row per workspace (see bot.delivery.pacing).
        shared = services.engine.dialect.name == "postgresql"
        store = SqlBudget(services.engine) if shared else MemoryBudget()
        self.pacer = pacer or Pacer(services.settings.send_rate_per_minute, store=store)
        self.threads = max(1, services.settings.send_threads)
        self._executor: ThreadPoolExecutor | None = None
        self._last_answer = -SLACK_AWAY_AFTER  # monotonic time Slack last answered a call
        self._in_hand: set[Future[tuple[int, _Outcome]]] = set()
        self._dm: dict[str, str] = {}
        self._programs: dict[int, Program] = {}
        self._dnd: dict[str, tuple[float, bool, float]] = {}
        self._sqlite = services.engine.dialect.name == "sqlite"

    # -- the loop's entry points ------------------------------------------------------

    def send_due(self, *, max_seconds: float = 20.0) -> SendStats:
        """Claim and send due rows until none are left or `max_seconds` passed.

        A pipeline, not batches: whenever no more than one row per thread is left
        in hand, the next due rows are claimed, so a slow or failing Slack call
        holds up only its own nudge. Rows still in hand when `max_seconds` has
        passed (a post waiting for a slow answer) stay in hand: the threads carry
        on and the next call records them, so the loop never idles the budget
        waiting for one call. Outcomes are written in small groups, each group
        one transaction; `close()` waits for and records what is left."""
        stats = SendStats()
        started = time.monotonic()
        pending: list[tuple[int, _Outcome]] = []
        last_flush = time.monotonic()
        exhausted = False
        pool = self._pool()
        while True:
            claiming = (
                not exhausted
                and time.monotonic() - started < max_seconds
                and not self.services.stopping.is_set()
            )
            if claiming and len(self._in_hand) <= self.threads:
                want = self._claim_size(len(self._in_hand))
                self.hold_lock()
                ANSWERING.quiet(YIELD_TO_ACKS)  # claims and records, too, let acks go first
                claimed = self.claim(want)
                stats.claimed += len(claimed)
                exhausted = len(claimed) < want
                self._in_hand.update(pool.submit(self._process_logged, i) for i in claimed)
            if not self._in_hand or (
                not claiming
                and time.monotonic() - started >= max_seconds
                and not self.services.stopping.is_set()
            ):
                break
            done, self._in_hand = wait(
                self._in_hand, timeout=RECORD_EVERY, return_when=FIRST_COMPLETED
            )
            pending.extend(self._settled(done, stats))
            if pending and (
                len(pending) >= RECORD_GROUP or time.monotonic() - last_flush > RECORD_EVERY
            ):
                ANSWERING.quiet(YIELD_TO_ACKS)
                self._record(pending)
                pending, last_flush = [], time.monotonic()
        self._record(pending)
        return stats

    def close(self, timeout: float | None = None) -> SendStats:
        """Wait (up to `timeout` seconds) for the rows still in hand, record them, and
        stop the threads. Rows not back by then stay `sending` until their lease runs
        out and are reconciled against the DM history: never lost, never doubled."""
        stats = SendStats()
        if self._in_hand:
            done, self._in_hand = wait(self._in_hand, timeout=timeout)
            self._record(self._settled(done, stats))
        if self._executor is not None:
            self._executor.shutdown(wait=not self._in_hand)
            self._executor = None
        return stats

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="sender")
        return self._executor

    def _settled(
        self, done: set[Future[tuple[int, _Outcome]]], stats: SendStats
    ) -> list[tuple[int, _Outcome]]:
        """The outcomes of finished rows that are ours to record, counted in `stats`."""
        settled = []
        for future in done:
            delivery_id, outcome = future.result()
            setattr(stats, outcome.stat, getattr(stats, outcome.stat) + 1)
            if outcome.stat == "lost":
                continue  # not ours any more: nothing to record
            settled.append((delivery_id, outcome))
            if outcome.stat in ("sent", "failed", "retried"):
                self.services.metrics.observe_send(outcome=outcome.stat)
        return settled

    def _claim_size(self, in_hand: int) -> int:
        """Rows to claim now: enough to keep every thread busy, no more than the budget
        can send well inside the lease (the rest stay free for other replicas)."""
        want = max(self.threads, self.batch_size - in_hand)
        rate = self.pacer.per_second
        if rate:
            window = max(1.0, (self.settings.send_lease_seconds - self._lease_margin()) / 2)
            want = min(want, max(self.threads, int(rate * window)))
        return want

    def _process_logged(self, item: _Claimed) -> tuple[int, _Outcome]:
        with log_context(delivery_id=item.delivery.id):
            outcome = self._process(item)
        outcome.fence = item.delivery.attempts
        return item.delivery.id, outcome

    def reap(self) -> int:
        """Rows whose sender vanished mid-send go back to planned; having an
        attempt on record, they are reconciled against history before any post."""
        now = self.services.clock.now()
        with self.services.session() as session:
            owners = session.scalars(
                select(Delivery.lease_owner)
                .where(Delivery.status == DeliveryStatus.sending, Delivery.lease_until >= now)
                .distinct()
            )
            # A sender on this host that was killed holds nothing: no need to wait out its lease.
            dead = [o for o in owners if o and o != self.owner and not _alive(o)]
            result = session.execute(
                update(Delivery)
                .where(
                    Delivery.status == DeliveryStatus.sending,
                    or_(Delivery.lease_until < now, Delivery.lease_owner.in_(dead)),
                )
                .values(
                    status=DeliveryStatus.planned,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=now,
                ),
                execution_options={"synchronize_session": False},
            )
            count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            log.warning("%d nudge(s) found with an expired lease; they will be reconciled", count)
        return count

    # -- the SQLite sender lock ------------------------------------------------------------

    def hold_lock(self) -> None:
        """On SQLite only one process may send; refuse clearly when another does."""
        if not self._sqlite:
            return
        now = self.services.clock.now()
        until = now + timedelta(seconds=SQLITE_LOCK_SECONDS)
        with self.services.session() as session:
            lock = session.get(SenderLock, SQLITE_LOCK)
            if lock is None:
                session.add(SenderLock(name=SQLITE_LOCK, owner=self.owner, lease_until=until))
                try:
                    session.flush()
                except IntegrityError:
                    raise self._refused(None) from None
                return
            if lock.owner != self.owner and lock.lease_until > now and _alive(lock.owner):
                raise self._refused(lock)
            lock.owner, lock.lease_until = self.owner, until

    def release_lock(self) -> None:
        if not self._sqlite:
            return
        with self.services.session() as session:
            lock = session.get(SenderLock, SQLITE_LOCK)
            if lock is not None and lock.owner == self.owner:
                session.delete(lock)

    def _refused(self, lock: SenderLock | None) -> SenderRefused:
        who = lock.owner.rsplit(":", 1)[0] if lock else "another process"
        return SenderRefused(
            f"another process ({who}) is already sending nudges from this SQLite database; "
            "SQLite allows one sender: stop it first, or use PostgreSQL (DATABASE_URL) to run "
            "several replicas"
        )

    # -- claiming -----------------------------------------------------------------------------

    def claim(self, limit: int) -> list[_Claimed]:
        now = self.services.clock.now()
        lease = now + timedelta(seconds=self.settings.send_lease_seconds)
        due = (
            select(Delivery.id)
            .where(Delivery.status == DeliveryStatus.planned, Delivery.due_at <= now)
            .order_by(Delivery.due_at)
            .limit(limit)
        )
        if not self._sqlite:
            due = due.with_for_update(skip_locked=True)
        with self.services.session() as session:
            ids = list(
                session.scalars(
                    update(Delivery)
                    .where(Delivery.id.in_(due.scalar_subquery()))
                    .values(
                        status=DeliveryStatus.sending,
                        lease_owner=self.owner,
                        lease_until=lease,
                        attempts=Delivery.attempts + 1,
                        updated_at=now,
                    )
                    .returning(Delivery.id),
                    execution_options={"synchronize_session": False},
                )
            )
            if not ids:
                return []
            rows = session.execute(
                select(Delivery, Person, Enrollment)
                .join(Person, Person.id == Delivery.person_id)
                .outerjoin(Enrollment, Enrollment.id == Delivery.enrollment_id)
                .where(Delivery.id.in_(ids))
                .order_by(Delivery.due_at, Delivery.id)
            )
            claimed = [_Claimed(r.Delivery, r.Person, r.Enrollment) for r in rows]
            # The language a person chose in the bot wins over Slack's (one query a batch).
            features = plugins.current()
            chosen = features.chosen_languages(session, {i.person.id for i in claimed})
            for item in claimed:
                item.locale = normalise_locale(chosen.get(item.person.id) or item.person.locale)
                if item.enrollment is None:
                    _render_other(session, item, features)
                    continue
                # A repetition stops once the step is settled (the answer-settled hook).
                item.extra["done"] = item.delivery.repetition > 0 and features.settled(
                    session, item.enrollment.id, item.delivery.step_id
                )
                version = item.enrollment.program_version_id
                if version not in self._programs:
                    self._programs[version] = load_program(session, version)
            session.expunge_all()
        return claimed

    # -- one delivery ---------------------------------------------------------------------------

    def _process(self, item: _Claimed) -> _Outcome:
        try:
            return self._try(item)
        except SlackFailure as failure:
            return self._after_failure(item, failure)

    def _try(self, item: _Claimed) -> _Outcome:
        d, person = item.delivery, item.person
        if self.services.stopping.is_set():
            # Shutting down: hand the claim back untouched (not an attempt) for the next sender.
            return _Outcome(DeliveryStatus.planned, due_at=d.due_at, counted=False, stat="deferred")
        reason = _not_wanted(item)
        if reason is not None:
            return reason
        now = self.services.clock.now()
        if person.paused_until and person.paused_until > now:
            return self._defer(item, person.paused_until, "deferred: paused by the person")
        if d.window_end is not None and now >= d.window_end:
            # Late (an outage, a long DnD): the next window, never the middle of the night.
            return self._defer(item, now, "deferred: the send window had closed")
        client = self._client_of(person)
        if client is None:
            return _Outcome(DeliveryStatus.cancelled, error="app uninstalled", stat="skipped")
        dnd_end = (
            self._dnd_until(person.slack_user_id, now, client=client, team=person.workspace_id)
            if self.settings.respect_dnd
            else None
        )
        if dnd_end is not None:
            return self._defer(item, dnd_end, "deferred: do not disturb")
        channel = self._open_dm(person.slack_user_id, client=client, team=person.workspace_id)
        if d.attempts > 1:
            found = self._answered(lambda: self._find_posted(channel, d.id, client=client))
            if found is not None:
                log.info("delivery %s was already posted; recorded without posting again", d.id)
                return _Outcome(DeliveryStatus.sent, channel=channel, ts=found, stat="reconciled")
        ANSWERING.quiet(YIELD_TO_ACKS)  # clicks being acked in this process go first
        message = self._render(item)
        # Wait for the budget, never longer than the lease allows (the post must start
        # while we hold the row); a longer wait hands the row back until then.
        turn = self.pacer.wait_turn(
            channel,
            key=self._budget_key(person),
            latest=self._post_deadline(d),
            stop=self.services.stopping,
        )
        if not turn.ok:
            due = max(d.due_at, self._from_pacer_time(turn.retry_at)) if turn.retry_at else None
            return _Outcome(
                DeliveryStatus.planned, due_at=due or d.due_at, counted=False, stat="deferred"
            )
        # Every wait is behind us: post only while the lease is still ours.
        if not self._hold_lease(d):
            log.warning("delivery %s: lease lapsed before the post; left to its new sender", d.id)
            return _Outcome(DeliveryStatus.sending, counted=False, stat="lost")
        try:
            response = self._answered(
                lambda: client.chat_postMessage(
                    channel=channel,
                    text=message["text"],
                    blocks=message["blocks"],
                    metadata={"event_type": METADATA_EVENT, "event_payload": {"delivery_id": d.id}},
                    unfurl_links=False,
                )
            )
        except SlackFailure as failure:
            failure.on_post = True
            raise
        finally:
            self.pacer.posted(channel)
        return _Outcome(DeliveryStatus.sent, channel=channel, ts=str(response.get("ts")))

    def _client_of(self, person: Person) -> WebClient | None:
        """The bot's one client in single mode. OAuth mode: a client with the bot
        token of the person's workspace (rotated before it expires); None once the
        app was uninstalled there, so nothing is posted to that workspace."""
        if self._tokens is None:
            return self.client
        token = self._tokens.token(person.workspace_id)
        if token is None:
            return None
        client = self._team_clients.get(token)
        if client is None:
            client = sender_client(self.settings, self.services.metrics, token=token)
            self._team_clients[token] = client
        return client

    def _answered(self, func: Callable[[], T]) -> T:
        """call_slack(func), remembering when Slack last answered this sender."""
        result = call_slack(func)
        self._last_answer = time.monotonic()
        return result

    def _slack_answering(self) -> bool:
        """Did Slack answer this sender lately? If not, failures are an outage."""
        return time.monotonic() - self._last_answer < SLACK_AWAY_AFTER

    def _budget_key(self, person: Person) -> str:
        """Whose posting budget a DM spends: the person's workspace in OAuth mode;
        in single-workspace mode the one workspace of the bot token."""
        return person.workspace_id if self._tokens is not None else ""

    def _lease_margin(self) -> float:
        """Seconds of lease a post needs: its own timeout, and some to spare."""
        return self.settings.slack_timeout_seconds + 5.0

    def _lease_left(self, d: Delivery) -> bool:
        now = self.services.clock.now()
        margin = timedelta(seconds=self._lease_margin())
        return d.lease_until is None or d.lease_until - now > margin

    def _post_deadline(self, d: Delivery) -> float:
        """The latest moment, on the pacer's clock, a post of `d` may start in its lease."""
        if d.lease_until is None:
            return float("inf")
        left = (d.lease_until - self.services.clock.now()).total_seconds()
        return self.pacer.now() + left - self._lease_margin()

    def _from_pacer_time(self, at: float) -> datetime:
        return self.services.clock.now() + timedelta(seconds=max(0.0, at - self.pacer.now()))

    def _hold_lease(self, d: Delivery) -> bool:
        """True while this claim still holds `d` with time for the post; renewed when
        short. False when the row was reaped (and maybe claimed by another sender
        since): then it is not ours to post. The claim's attempt number fences it, so
        a re-claim by this same process is told apart from ours."""
        if self._lease_left(d):
            return True
        now = self.services.clock.now()
        until = now + timedelta(
            seconds=max(self.settings.send_lease_seconds, 2 * self._lease_margin())
        )
        with self.services.session() as session:
            result = session.execute(
                update(Delivery)
                .where(
                    Delivery.id == d.id,
                    Delivery.status == DeliveryStatus.sending,
                    Delivery.lease_owner == self.owner,
                    Delivery.attempts == d.attempts,
                )
                .values(lease_until=until, updated_at=now),
                execution_options={"synchronize_session": False},
            )
            renewed = int(getattr(result, "rowcount", 0) or 0) == 1
        if renewed:
            d.lease_until = until
        return renewed

    def _render(self, item: _Claimed) -> dict[str, Any]:
        if item.enrollment is None:
            return cast(dict[str, Any], item.extra["message"])
        program = self._programs[item.enrollment.program_version_id]
        return step_message(
            program,
            item.delivery.step_id,
            locale=item.locale,
            delivery_id=item.delivery.id,
            arm=item.enrollment.arm,
        )

    def _after_failure(self, item: _Claimed, failure: SlackFailure) -> _Outcome:
        d = item.delivery
        now = self.services.clock.now()
        key = self._budget_key(item.person)
        if failure.kind == "rate_limited":
            # A 429 on a post: the workspace's posting budget waits (every replica, through
            # the shared budget). Other methods have budgets of their own: only this row
            # waits. Either way it is due again when the pause ends, so nobody claims it
            # in between.
            if failure.on_post:
                self.pacer.pause(failure.retry_after, key=key)
            due = max(d.due_at, now + timedelta(seconds=failure.retry_after))
            return _Outcome(DeliveryStatus.planned, due_at=due, counted=False, stat="deferred")
        if failure.kind == "auth":
            if self._tokens is not None:
                self._tokens.forget(item.person.workspace_id)  # read it again next time
            log.error("Slack refused the bot token (%s); sending paused", failure.error)
            self.pacer.pause(AUTH_PAUSE, key=key)
            return _Outcome(DeliveryStatus.planned, due_at=d.due_at, counted=False, stat="deferred")
        if failure.kind == "permanent":
            log.warning("delivery %s failed for good: %s", d.id, failure.error)
            return _Outcome(DeliveryStatus.failed, error=failure.error, stat="failed")
        if d.attempts >= self.settings.send_max_attempts and (
            not failure.unanswered or self._slack_answering()
        ):
            # Given up only on a nudge Slack keeps failing while it answers others;
            # while Slack itself is away, every nudge waits for it to come back.
            error = f"gave up after {d.attempts} attempts: {failure.error}"
            return _Outcome(DeliveryStatus.failed, error=error, stat="failed")
        base = self.settings.send_retry_seconds
        backoff = timedelta(seconds=min(2 ** (d.attempts - 1) * base, 900))
        return _Outcome(
            DeliveryStatus.planned,
            error=f"retrying: {failure.error}",
            due_at=now + backoff,
            stat="retried",
        )

    def _defer(self, item: _Claimed, after: datetime, why: str) -> _Outcome:
        """Later, inside a send window: the same day's if it is still open, else the next."""
        d = item.delivery
        if d.window_end is not None and after < d.window_end:
            return _Outcome(
                DeliveryStatus.planned,
                error=why,
                due_at=after,
                window_end=d.window_end,
                counted=False,
                stat="deferred",
            )
        start, end = self._calendar(item).next_open(after)
        return _Outcome(
            DeliveryStatus.planned,
            error=why,
            due_at=start,
            window_end=end,
            counted=False,
            stat="deferred",
        )

    def _calendar(self, item: _Claimed) -> Calendar:
        if item.enrollment is None:
            return person_calendar(item.person, self.settings)
        program = self._programs[item.enrollment.program_version_id]
        return program_calendar(person_calendar(item.person, self.settings), program)

    # -- Slack reads (cached) -------------------------------------------------------------------

    def _open_dm(self, user_id: str, *, client: WebClient | None = None, team: str = "") -> str:
        # Keyed by workspace too: the same user id can be someone else in another one.
        key = f"{team}/{user_id}"
        channel = self._dm.get(key)
        if channel is None:
            api = client or self.client
            response = call_slack(lambda: api.conversations_open(users=user_id))
            channel = str((response.get("channel") or {}).get("id"))
            self._dm[key] = channel
        return channel

    def _dnd_until(
        self, user_id: str, now: datetime, *, client: WebClient | None = None, team: str = ""
    ) -> datetime | None:
        """When the person's Do Not Disturb ends, or None when they may be nudged now."""
        key = f"{team}/{user_id}"
        cached = self._dnd.get(key)
        if cached is None or time.monotonic() - cached[0] > DND_CACHE_SECONDS:
            api = client or self.client
            info = call_slack(lambda: api.dnd_info(user=user_id))
            enabled = bool(info.get("dnd_enabled"))
            start, end = (
                float(info.get("next_dnd_start_ts") or 0),
                float(info.get("next_dnd_end_ts") or 0),
            )
            snooze = float(info.get("snooze_endtime") or 0) if info.get("snooze_enabled") else 0
            in_dnd = enabled and start <= now.timestamp() < end
            until = max(end if in_dnd else 0.0, snooze)
            cached = (time.monotonic(), until > now.timestamp(), until)
            self._dnd[key] = cached
        _, busy, until = cached
        if not busy or until <= now.timestamp():
            return None
        return datetime.fromtimestamp(until, now.tzinfo)

    def _find_posted(
        self, channel: str, delivery_id: int, *, client: WebClient | None = None
    ) -> str | None:
        """The ts of the DM that carries this delivery id in its metadata, if any."""
        api = client or self.client

        def search() -> str | None:
            first = api.conversations_history(channel=channel, include_all_metadata=True, limit=200)
            # Iterating a SlackResponse fetches the following pages (next_cursor).
            for number, page in enumerate(first):
                if number >= HISTORY_PAGES:
                    break
                for message in page.get("messages") or []:
                    meta = message.get("metadata") or {}
                    payload = meta.get("event_payload") or {}
                    if meta.get("event_type") == METADATA_EVENT and _same_id(payload, delivery_id):
                        return str(message.get("ts"))
            return None

        return call_slack(search)

    # -- recording -------------------------------------------------------------------------------

    def _record(self, outcomes: list[tuple[int, _Outcome]]) -> None:
        if not outcomes:
            return
        now = self.services.clock.now()
        sent = [(i, o) for i, o in outcomes if o.status == DeliveryStatus.sent]
        other = [(i, o) for i, o in outcomes if o.status != DeliveryStatus.sent]
        with self.services.session() as session:
            if sent:
                # The common case in one executemany (psycopg pipelines it).
                session.connection().execute(
                    _RECORD_SENT,
                    [
                        {
                            "b_id": i,
                            "b_owner": self.owner,
                            "b_fence": o.fence,
                            "b_channel": o.channel,
                            "b_ts": o.ts,
                            "b_now": now,
                        }
                        for i, o in sent
                    ],
                )
            for delivery_id, outcome in other:
                # Only while our lease stands: a reaped and re-claimed row is not ours.
                session.execute(
                    update(Delivery)
                    .where(
                        Delivery.id == delivery_id,
                        Delivery.status == DeliveryStatus.sending,
                        Delivery.lease_owner == self.owner,
                        Delivery.attempts == outcome.fence,
                    )
                    .values(**_values(outcome, now)),
                    execution_options={"synchronize_session": False},
                )


_TABLE = cast(Table, Delivery.__table__)
# Only while our claim stands: a reaped and re-claimed row is not ours to record (the
# attempt number tells our claim from a later one by this same sender).
_RECORD_SENT = (
    update(_TABLE)
    .where(
        _TABLE.c.id == bindparam("b_id"),
        _TABLE.c.status == DeliveryStatus.sending.value,
        _TABLE.c.lease_owner == bindparam("b_owner"),
        _TABLE.c.attempts == bindparam("b_fence"),
    )
    .values(
        status=DeliveryStatus.sent.value,
        channel_id=bindparam("b_channel"),
        message_ts=bindparam("b_ts"),
        sent_at=bindparam("b_now"),
        updated_at=bindparam("b_now"),
        lease_owner=None,
        lease_until=None,
        last_error=None,
    )
)


def _values(outcome: _Outcome, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": outcome.status,
        "lease_owner": None,
        "lease_until": None,
        "updated_at": now,
    }
    if outcome.status == DeliveryStatus.sent:
        values.update(
            channel_id=outcome.channel, message_ts=outcome.ts, sent_at=now, last_error=None
        )
    else:
        values["last_error"] = (outcome.error or "")[:255] or None
    if outcome.due_at is not None:
        values["due_at"] = outcome.due_at
    if outcome.window_end is not None:
        values["window_end"] = outcome.window_end
    if not outcome.counted:
        values["attempts"] = Delivery.attempts - 1
    return values


def _same_id(payload: dict[str, Any], delivery_id: int) -> bool:
    try:
        return int(payload.get("delivery_id", -1)) == delivery_id
    except (TypeError, ValueError):
        return False


def _not_wanted(item: _Claimed) -> _Outcome | None:
    person, enrollment = item.person, item.enrollment
    if person.is_deleted:
        return _Outcome(DeliveryStatus.cancelled, error="account deactivated", stat="skipped")
    if person.is_bot:
        return _Outcome(DeliveryStatus.skipped, error="a bot", stat="skipped")
    if enrollment is None:
        unwanted = item.extra.get("unwanted")
        if unwanted:
            return _Outcome(DeliveryStatus.cancelled, error=unwanted, stat="skipped")
        return None
    if enrollment.status != EnrollmentStatus.active:
        return _Outcome(
            DeliveryStatus.cancelled, error=f"enrollment {enrollment.status}", stat="skipped"
        )
    if item.extra.get("done"):
        return _Outcome(
            DeliveryStatus.skipped,
            error="repetitions settled (confirmed or not relevant)",
            stat="skipped",
        )
    return None


def _render_other(session: Session, item: _Claimed, features: plugins.DeliveryPlugins) -> None:
    """A delivery that is not a step: its feature renders it now, from the current state,
    or says why it is no longer wanted (the prevention was closed meanwhile)."""
    d = item.delivery
    render = features.renderers.get(d.kind)
    if render is None:
        item.extra["unwanted"] = f"no sender for deliveries of kind {d.kind}"
        return
    try:
        item.extra["message"] = render(session, d)
    except plugins.NotWanted as exc:
        item.extra["unwanted"] = str(exc)


def _alive(owner: str) -> bool:
    """False when the owner ran on this host and its process is gone (kill -9)."""
    parts = owner.split(":")
    if len(parts) < 3 or parts[0] != socket.gethostname()[:60]:
        return True
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True
