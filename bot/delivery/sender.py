"""The sender: due rows of the outbox become DMs, each exactly once.

A claim moves due rows to `sending` under a lease (FOR UPDATE SKIP LOCKED on
PostgreSQL, so replicas never claim the same row; on SQLite one process holds
the sender lock). Each DM carries message metadata naming its delivery id. A
row tried before (its lease expired, or the answer was lost) is first looked
up in the DM's history by that metadata and only posted when it is not there:
that is what makes "exactly once" hold across crashes, timeouts and replicas.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from slack_sdk import WebClient

from bot.content.blocks import step_message
from bot.content.schema import Program
from bot.delivery.calendar import Calendar
from bot.delivery.claims import Claimed, claim_due, not_wanted
from bot.delivery.leases import (
    Outcome,
    SenderRefused,
    SqliteSenderLock,
    make_owner,
    reap_expired,
    record_outcomes,
    release_process_leases,
    renew_lease,
)
from bot.delivery.models import Delivery, DeliveryStatus
from bot.delivery.pacing import MemoryBudget, Pacer, SqlBudget
from bot.delivery.placement import person_calendar, program_calendar
from bot.delivery.slack_calls import (
    METADATA_EVENT,
    SlackFailure,
    SlackReads,
    T,
    call_slack,
    sender_client,
)
from bot.log import log_context
from bot.people.models import Person
from bot.services import Services
from bot.slack import install
from bot.slack.acks import ANSWERING

log = logging.getLogger(__name__)

# Re-exported: what callers of the sender use by these names.
__all__ = ["SendStats", "Sender", "SenderRefused", "make_owner", "release_process_leases"]
AUTH_PAUSE = 60.0
RECORD_GROUP = 25  # outcomes written per transaction
RECORD_EVERY = 0.25  # seconds: never hold a result longer than this
SLACK_AWAY_AFTER = 120.0  # seconds without any answer from Slack: it is away, not the nudge
YIELD_TO_ACKS = 0.05  # seconds a post waits at most while `nudgebot run` answers Slack


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
        self._in_hand: set[Future[tuple[int, Outcome]]] = set()
        self._reads = SlackReads(self.client)
        self._programs: dict[int, Program] = {}
        self._lock = SqliteSenderLock(services, self.owner)

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
        pending: list[tuple[int, Outcome]] = []
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
        self, done: set[Future[tuple[int, Outcome]]], stats: SendStats
    ) -> list[tuple[int, Outcome]]:
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

    def _process_logged(self, item: Claimed) -> tuple[int, Outcome]:
        with log_context(delivery_id=item.delivery.id):
            outcome = self._process(item)
        outcome.fence = item.delivery.attempts
        return item.delivery.id, outcome

    def reap(self) -> int:
        """Rows whose sender vanished mid-send go back to planned (see leases)."""
        return reap_expired(self.services, owner=self.owner)

    def hold_lock(self) -> None:
        """On SQLite only one process may send; refuse clearly when another does."""
        self._lock.hold()

    def release_lock(self) -> None:
        self._lock.release()

    # -- claiming -----------------------------------------------------------------------------

    def claim(self, limit: int) -> list[Claimed]:
        return claim_due(self.services, owner=self.owner, limit=limit, programs=self._programs)

    # -- one delivery ---------------------------------------------------------------------------

    def _process(self, item: Claimed) -> Outcome:
        try:
            return self._try(item)
        except SlackFailure as failure:
            return self._after_failure(item, failure)

    def _try(self, item: Claimed) -> Outcome:
        d, person = item.delivery, item.person
        if self.services.stopping.is_set():
            # Shutting down: hand the claim back untouched (not an attempt) for the next sender.
            return Outcome(DeliveryStatus.planned, due_at=d.due_at, counted=False, stat="deferred")
        reason = not_wanted(item)
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
            return Outcome(DeliveryStatus.cancelled, error="app uninstalled", stat="skipped")
        team = person.workspace_id
        dnd_end = (
            self._reads.do_not_disturb_until(person.slack_user_id, now, client=client, team=team)
            if self.settings.respect_dnd
            else None
        )
        if dnd_end is not None:
            return self._defer(item, dnd_end, "deferred: do not disturb")
        channel = self._reads.open_dm(person.slack_user_id, client=client, team=person.workspace_id)
        if d.attempts > 1:
            found = self._answered(lambda: self._reads.find_posted(channel, d.id, client=client))
            if found is not None:
                log.info("delivery %s was already posted; recorded without posting again", d.id)
                return Outcome(DeliveryStatus.sent, channel=channel, ts=found, stat="reconciled")
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
            return Outcome(
                DeliveryStatus.planned, due_at=due or d.due_at, counted=False, stat="deferred"
            )
        # Every wait is behind us: post only while the lease is still ours.
        if not self._hold_lease(d):
            log.warning("delivery %s: lease lapsed before the post; left to its new sender", d.id)
            return Outcome(DeliveryStatus.sending, counted=False, stat="lost")
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
        return Outcome(DeliveryStatus.sent, channel=channel, ts=str(response.get("ts")))

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
        seconds = max(self.settings.send_lease_seconds, 2 * self._lease_margin())
        return renew_lease(self.services, d, owner=self.owner, seconds=seconds)

    def _render(self, item: Claimed) -> dict[str, Any]:
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

    def _after_failure(self, item: Claimed, failure: SlackFailure) -> Outcome:
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
            return Outcome(DeliveryStatus.planned, due_at=due, counted=False, stat="deferred")
        if failure.kind == "auth":
            if self._tokens is not None:
                self._tokens.forget(item.person.workspace_id)  # read it again next time
            log.error("Slack refused the bot token (%s); sending paused", failure.error)
            self.pacer.pause(AUTH_PAUSE, key=key)
            return Outcome(DeliveryStatus.planned, due_at=d.due_at, counted=False, stat="deferred")
        if failure.kind == "permanent":
            log.warning("delivery %s failed for good: %s", d.id, failure.error)
            return Outcome(DeliveryStatus.failed, error=failure.error, stat="failed")
        if d.attempts >= self.settings.send_max_attempts and (
            not failure.unanswered or self._slack_answering()
        ):
            # Given up only on a nudge Slack keeps failing while it answers others;
            # while Slack itself is away, every nudge waits for it to come back.
            error = f"gave up after {d.attempts} attempts: {failure.error}"
            return Outcome(DeliveryStatus.failed, error=error, stat="failed")
        base = self.settings.send_retry_seconds
        backoff = timedelta(seconds=min(2 ** (d.attempts - 1) * base, 900))
        return Outcome(
            DeliveryStatus.planned,
            error=f"retrying: {failure.error}",
            due_at=now + backoff,
            stat="retried",
        )

    def _defer(self, item: Claimed, after: datetime, why: str) -> Outcome:
        """Later, inside a send window: the same day's if it is still open, else the next.
        A nudge timed to a calendar event is never moved past its window (which ends
        when the event makes it moot, bot.calendars): it is skipped instead."""
        d = item.delivery
        if d.window_end is not None and after < d.window_end:
            return Outcome(
                DeliveryStatus.planned,
                error=why,
                due_at=after,
                window_end=d.window_end,
                counted=False,
                stat="deferred",
            )
        if self._at_calendar_event(item):
            return Outcome(
                DeliveryStatus.skipped,
                error=f"{why.removeprefix('deferred: ')}; its calendar event's moment passed",
                stat="skipped",
            )
        start, end = self._calendar(item).next_open(after)
        return Outcome(
            DeliveryStatus.planned,
            error=why,
            due_at=start,
            window_end=end,
            counted=False,
            stat="deferred",
        )

    def _at_calendar_event(self, item: Claimed) -> bool:
        if item.enrollment is None:
            return False
        program = self._programs[item.enrollment.program_version_id]
        when = program.step(item.delivery.step_id).when_for(item.enrollment.arm)
        return any(t.id == when.trigger and t.source == "calendar" for t in program.triggers)

    def _calendar(self, item: Claimed) -> Calendar:
        if item.enrollment is None:
            return person_calendar(item.person, self.settings)
        program = self._programs[item.enrollment.program_version_id]
        return program_calendar(person_calendar(item.person, self.settings), program)

    def _record(self, outcomes: list[tuple[int, Outcome]]) -> None:
        record_outcomes(self.services, self.owner, outcomes)
