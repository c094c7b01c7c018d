"""Connecting a feed, reading it, and the polling tick.

Each feed is read every NUDGEBOT_CALENDAR_POLL_MINUTES, and again shortly before
its next event starts (a call booked an hour ago still gets its nudge). Reads are
conditional (ETag, Last-Modified) except one full read every FULL_READ_EVERY, so
events walking into the horizon are planned even when the feed does not change.
A failed read backs off (doubling, up to MAX_BACKOFF); BROKEN_AFTER failures in a
row mark the feed broken: no more reads, and one DM to its owner with a button
to paste the address again.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.calendars import secret
from bot.calendars.fetch import Fetched, Fetcher, FetchFailed, address_problem
from bot.calendars.ics import Event, FeedError, read_events, read_events_measured, window
from bot.calendars.models import CalendarFeed, FeedStatus
from bot.calendars.service import HORIZON_DAYS, SyncStats, apply_events, forget_matches
from bot.delivery.models import Delivery, DeliveryStatus
from bot.delivery.placement import person_calendar
from bot.errors import UserError
from bot.people.models import Person
from bot.settings import Settings

log = logging.getLogger(__name__)

BROKEN_KIND = "calendar_broken"  # the outbox kind of the "your calendar is broken" DM
BROKEN_AFTER = 6
MAX_BACKOFF = timedelta(hours=6)
FULL_READ_EVERY = timedelta(hours=6)
BEFORE_EVENT = timedelta(minutes=15)  # read again this long before the next event
MIN_GAP = timedelta(minutes=2)
CLAIM = timedelta(minutes=5)  # a claimed feed is not read by another replica meanwhile

SessionScope = Callable[[], AbstractContextManager[Session]]


@dataclass
class ReadResult:
    ok: bool
    changed: bool = False
    events_ahead: int = 0
    matched: int = 0
    upcoming: list[datetime] = field(default_factory=list)
    error: str | None = None
    sync: SyncStats | None = None


@dataclass
class PollStats:
    read: int = 0
    not_modified: int = 0
    failed: int = 0
    broken: int = 0
    planned: int = 0
    moved: int = 0
    cancelled: int = 0


# -- connect, disconnect, status --------------------------------------------------------------


def connect(
    session: Session, *, settings: Settings, person: Person, address: str, now: datetime
) -> CalendarFeed:
    """Store (encrypted) the person's address; replaces an earlier one. Read it next."""
    why = secret.available(settings)
    if why:
        raise UserError(why)
    problem = address_problem(address, allow_http=settings.calendar_allow_http)
    if problem:
        raise UserError(problem)
    feed = session.scalar(select(CalendarFeed).where(CalendarFeed.person_id == person.id))
    sealed = secret.seal(settings, address.strip())
    if feed is None:
        feed = CalendarFeed(person_id=person.id, address_secret=sealed, next_read_at=now)
        session.add(feed)
    else:
        feed.address_secret = sealed
    feed.status, feed.failures, feed.last_error = FeedStatus.ok, 0, None
    feed.etag = feed.last_modified = None
    feed.parsed_at = feed.last_read_at = None
    feed.next_read_at, feed.connected_at = now, now
    session.flush()
    return feed


def disconnect(session: Session, *, person_id: int, now: datetime) -> bool:
    """Forget the address and every calendar match; pending calendar nudges are cancelled."""
    feed = session.scalar(select(CalendarFeed).where(CalendarFeed.person_id == person_id))
    forget_matches(session, person_id, now)
    if feed is None:
        return False
    session.execute(
        update(Delivery)
        .where(
            Delivery.kind == BROKEN_KIND,
            Delivery.ref_id == feed.id,
            Delivery.status == DeliveryStatus.planned,
        )
        .values(status=DeliveryStatus.cancelled, last_error="calendar disconnected")
    )
    session.delete(feed)
    return True


def status_line(feed: CalendarFeed | None, now: datetime) -> str:
    """What a person sees of their connection (never the address)."""
    if feed is None:
        return "Not connected."
    if feed.status == FeedStatus.broken:
        return f"Connected, but the last reads failed ({feed.last_error}); reconnect it."
    if feed.last_read_at is None:
        return "Connected, not read yet."
    ahead = f"{feed.events_ahead} event{'s' if feed.events_ahead != 1 else ''} ahead"
    return f"Connected, last read {_ago(now - feed.last_read_at)}, {ahead}."


def _ago(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''} ago"
    return f"{minutes // 60} hours ago"


def feed_of(session: Session, person_id: int) -> CalendarFeed | None:
    return session.scalar(select(CalendarFeed).where(CalendarFeed.person_id == person_id))


# -- reading one feed ---------------------------------------------------------------------------


def read_feed(
    scope: SessionScope,
    *,
    settings: Settings,
    fetcher: Fetcher,
    feed_id: int,
    now: datetime,
    force_full: bool = False,
    parser: Parser | None = None,
) -> ReadResult:
    """Read one feed and plan what it says. Network I/O happens outside any transaction.
    `parser`: where to parse (None: in this thread)."""
    with scope() as session:
        feed = session.get(CalendarFeed, feed_id)
        if feed is None:
            return ReadResult(ok=False, error="not connected")
        address = secret.open_sealed(settings, feed.address_secret)
        full = force_full or feed.parsed_at is None or feed.parsed_at < now - FULL_READ_EVERY
        etag, modified = (None, None) if full else (feed.etag, feed.last_modified)
        person = session.get(Person, feed.person_id)
        email = person.email if person else None
        tz = person_calendar(person, settings).tz if person else None
    if address is None or tz is None:
        return _failed(
            scope,
            settings,
            feed_id,
            now,
            "the stored address cannot be decrypted (the key changed); reconnect the calendar",
            final=True,
        )
    try:
        fetched = fetcher.get(address, etag=etag, last_modified=modified)
        events = _events(fetched, now, email, tz, parser or IN_THREAD)
    except (FetchFailed, FeedError) as exc:
        return _failed(scope, settings, feed_id, now, str(exc))
    with scope() as session:
        feed = session.get(CalendarFeed, feed_id)
        person = session.get(Person, feed.person_id) if feed else None
        if feed is None or person is None:
            return ReadResult(ok=False, error="disconnected meanwhile")
        feed.status, feed.failures, feed.last_error = FeedStatus.ok, 0, None
        feed.last_read_at = now
        result = ReadResult(ok=True, changed=events is not None)
        if events is not None:
            ahead = [e for e in events if e.start >= now]
            feed.etag, feed.last_modified = fetched.etag, fetched.last_modified
            feed.parsed_at = now
            feed.events_ahead = len(ahead)
            feed.next_event_at = ahead[0].start if ahead else None
            stats: SyncStats = apply_events(
                session, settings=settings, now=now, person=person, events=events
            )
            result.matched, result.upcoming = stats.matched, sorted(stats.upcoming)
            result.events_ahead = len(ahead)
            result.sync = stats
        else:
            result.events_ahead = feed.events_ahead
        feed.next_read_at = _next_read(settings, feed, now)
    return result


class Parser:
    """Where feeds are parsed: in `processes` worker processes, so a polling pass uses
    every core (parsing is pure Python: in threads the GIL would hold it to one), or,
    with 0, in the reading thread itself."""

    def __init__(self, processes: int) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self.worker_cpu_seconds = 0.0  # parsing done in the workers, summed
        self.worker_peak_kib = 0  # the largest worker's peak resident memory
        if processes > 0:
            # forkserver: workers fork from a small server that imported only the parser,
            # never from this process (threads, database connections, the whole bot).
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["bot.calendars.ics"])
            self._pool = ProcessPoolExecutor(max_workers=processes, mp_context=context)

    def events(
        self, body: bytes, *, start: datetime, end: datetime, email: str | None, tz: ZoneInfo
    ) -> list[Event]:
        if self._pool is None:
            return read_events(body, start=start, end=end, email=email, floating_tz=tz)
        job = self._pool.submit(
            read_events_measured, body, start=start, end=end, email=email, floating_tz=tz
        )
        events, cpu, peak = job.result()
        with self._lock:
            self.worker_cpu_seconds += cpu
            self.worker_peak_kib = max(self.worker_peak_kib, peak)
        return events

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


IN_THREAD = Parser(0)


def _events(
    fetched: Fetched, now: datetime, email: str | None, tz: ZoneInfo, parser: Parser
) -> list[Event] | None:
    if fetched.status == 304 or fetched.body is None:
        return None
    start, end = window(now, tz, HORIZON_DAYS)
    return parser.events(fetched.body, start=start, end=end, email=email, tz=tz)


def _next_read(settings: Settings, feed: CalendarFeed, now: datetime) -> datetime:
    regular = now + timedelta(minutes=settings.calendar_poll_minutes)
    if feed.next_event_at is not None and feed.next_event_at > now:
        early = max(now + MIN_GAP, feed.next_event_at - BEFORE_EVENT)
        return min(regular, early) if early < regular else regular
    return regular


def _failed(
    scope: SessionScope,
    settings: Settings,
    feed_id: int,
    now: datetime,
    why: str,
    *,
    final: bool = False,
) -> ReadResult:
    log.info("calendar feed %s: read failed: %s", feed_id, why)  # the reason, never the address
    with scope() as session:
        feed = session.get(CalendarFeed, feed_id)
        if feed is None:
            return ReadResult(ok=False, error=why)
        feed.failures += 1
        feed.last_error = why[:255]
        if final or feed.failures >= BROKEN_AFTER:
            if feed.status != FeedStatus.broken:
                feed.status = FeedStatus.broken
                _tell_broken(session, feed, now)
            feed.next_read_at = now + MAX_BACKOFF
        else:
            feed.status = FeedStatus.failing
            backoff = timedelta(minutes=settings.calendar_poll_minutes) * (2**feed.failures)
            feed.next_read_at = now + min(backoff, MAX_BACKOFF)
    return ReadResult(ok=False, error=why)


def _tell_broken(session: Session, feed: CalendarFeed, now: datetime) -> None:
    """One DM per break, through the outbox (working hours, DND, exactly once)."""
    session.add(
        Delivery(
            kind=BROKEN_KIND,
            ref_id=feed.id,
            person_id=feed.person_id,
            step_id="calendar-reconnect",
            repetition=feed.told_broken,
            status=DeliveryStatus.planned,
            due_at=now,
            attempts=0,
            created_at=now,
            updated_at=now,
        )
    )
    feed.told_broken += 1


# -- the tick -------------------------------------------------------------------------------------


def due_feeds(scope: SessionScope, now: datetime, limit: int) -> list[int]:
    """Claim up to `limit` feeds due a read (moved CLAIM ahead so nobody else reads them)."""
    with scope() as session:
        query = (
            select(CalendarFeed.id)
            .where(CalendarFeed.status != FeedStatus.broken, CalendarFeed.next_read_at <= now)
            .order_by(CalendarFeed.next_read_at)
            .limit(limit)
        )
        if session.get_bind().dialect.name != "sqlite":
            query = query.with_for_update(skip_locked=True)
        ids = list(session.scalars(query))
        if ids:
            session.execute(
                update(CalendarFeed)
                .where(CalendarFeed.id.in_(ids))
                .values(next_read_at=now + CLAIM)
            )
    return ids


def poll(
    scope: SessionScope,
    *,
    settings: Settings,
    fetcher: Fetcher,
    now: Callable[[], datetime],
    batch: int = 500,
    parser: Parser = IN_THREAD,
) -> PollStats:
    """Read every feed that is due, `settings.calendar_threads` at a time."""
    stats = PollStats()
    if not settings.calendar_enabled:
        return stats
    with ThreadPoolExecutor(
        max_workers=settings.calendar_threads, thread_name_prefix="calendar-read"
    ) as pool:
        while True:
            ids = due_feeds(scope, now(), batch)
            if not ids:
                break
            for result in pool.map(
                lambda i: _read_guarded(scope, settings, fetcher, parser, i, now()), ids
            ):
                _tally(stats, result)
            if len(ids) < batch:
                break
    return stats


def _read_guarded(
    scope: SessionScope,
    settings: Settings,
    fetcher: Fetcher,
    parser: Parser,
    feed_id: int,
    now: datetime,
) -> ReadResult:
    """One feed's read; an unexpected error is logged (its kind, never the address) and
    leaves the feed to its claim's end instead of stopping the others of the tick."""
    try:
        return read_feed(
            scope, settings=settings, fetcher=fetcher, feed_id=feed_id, now=now, parser=parser
        )
    except Exception as exc:
        log.exception("calendar feed %s: unexpected %s", feed_id, type(exc).__name__)
        return ReadResult(ok=False, error=type(exc).__name__)


def _tally(stats: PollStats, result: ReadResult) -> None:
    if not result.ok:
        stats.failed += 1
        return
    if not result.changed:
        stats.not_modified += 1
        return
    stats.read += 1
    sync = result.sync
    if sync is not None:
        stats.planned += sync.planned
        stats.moved += sync.moved
        stats.cancelled += sync.cancelled


def iter_feeds(session: Session) -> Iterator[CalendarFeed]:
    yield from session.scalars(select(CalendarFeed))
