"""Early acks: a click or a slash command is acknowledged before its listener starts.

Bolt runs a listener on its executor and answers Slack once the listener has
called ack(), checking for that every 10 ms. Under load that costs the hop to
an executor thread (it needs the GIL while the sender and other listeners hold
it) plus the polling: tens of milliseconds at p99 before a word of our code ran.

A listener marked with `@acks_first` promises that its first act is a plain
`ack()` with nothing in it. For those, the runner installed by
`use_early_acks(app)` acks in the request's own thread before handing the
listener to the executor, so the answer leaves at once; the listener's own
ack() afterwards changes nothing. The answer buttons of nudges and the slash
commands (/nudges, /intake, /premortem: they reply through response_url or a
modal, never in the ack) are marked. Every other listener (a view submission
that answers with errors, a command that answers with text) runs exactly as
Bolt runs it.

Acks also go before other work of the process: `ANSWERING` counts the Slack
requests being answered, and background work (an early-acked listener's body,
each post of the in-process sender) first waits, briefly and boundedly, until
none is. Both share one GIL with the ack path; a few milliseconds of their
time buy the ack its answer. Early-acked bodies also start only a few at a
time (LISTENER_SLOTS): a body started in a quiet moment keeps running when the
next burst arrives, and twenty of them at once took the lock from its acks.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from functools import partial
from types import TracebackType
from typing import Any, TypeVar

from slack_bolt import App
from slack_bolt.listener import Listener

from bot.slack import bolt

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
ACKS_FIRST_MARK = "_nudgebot_acks_first"
# How long an early-acked listener's body waits for the process to finish answering.
LISTENER_YIELD_SECONDS = 0.1
# No Slack request for this long: the burst is over and background work may go on.
SETTLE_SECONDS = 0.025
# Early-acked listener bodies started at once. Each holds the interpreter lock in
# turns with the acks of the next burst; a burst's twenty bodies all at once made
# those acks wait for a turn behind every one of them.
LISTENER_SLOTS = 3
# ... but no body waits for a slot longer than this after its ack: a few slow
# Slack calls never hold up the rest (a modal's trigger_id lives 3 s).
HOLD_AT_MOST_SECONDS = 1.0


class InFlight:
    """The Slack requests this process is answering right now, and when the last
    one ended. Clicks come in bursts (a nudge to many people at once) and reach
    the WSGI app a few milliseconds apart, so "quiet" means none in flight for
    SETTLE_SECONDS, not merely none at this instant."""

    def __init__(self) -> None:
        self._count = 0
        self._last_end = 0.0
        self._idle = threading.Condition()

    def __enter__(self) -> InFlight:
        with self._idle:
            self._count += 1
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with self._idle:
            self._count -= 1
            self._last_end = time.monotonic()
            if self._count == 0:
                self._idle.notify_all()

    def quiet(self, timeout: float) -> bool:
        """Wait until no request has been answered for SETTLE_SECONDS, at most `timeout`."""
        now = time.monotonic()
        if self._count == 0 and now - self._last_end >= SETTLE_SECONDS:
            return True  # the common case, without the lock
        deadline = now + timeout
        with self._idle:
            while True:
                now = time.monotonic()
                if now >= deadline:
                    return False
                if self._count == 0:
                    calm = self._last_end + SETTLE_SECONDS - now
                    if calm <= 0:
                        return True
                    self._idle.wait(min(calm, deadline - now))
                else:
                    self._idle.wait(deadline - now)


ANSWERING = InFlight()


Work = tuple[Executor, Callable[[], Any], Future[Any], Callable[[], None], float]


class _Slots:
    """How many early-acked bodies run now; `take` waits for fewer than
    LISTENER_SLOTS, or until `deadline` (monotonic), whichever comes first."""

    def __init__(self) -> None:
        self._running = 0
        self._freed = threading.Condition()

    def take(self, deadline: float) -> None:
        with self._freed:
            while self._running >= LISTENER_SLOTS:
                left = deadline - time.monotonic()
                if left <= 0:
                    break  # held long enough: run beside the slow ones
                self._freed.wait(left)
            self._running += 1

    def give(self) -> None:
        with self._freed:
            self._running -= 1
            self._freed.notify()


_SLOTS = _Slots()


def _nothing() -> None:
    return None


class _AfterAcks(Executor):
    """Hands work to `inner` once the process has no Slack request left to answer,
    a few at a time.

    `submit` only queues (the ack path never waits for a thread to start); one
    daemon thread per process passes each piece on once the process is quiet (or
    LISTENER_YIELD_SECONDS after it was queued) and one of LISTENER_SLOTS is free
    (or HOLD_AT_MOST_SECONDS after it was queued)."""

    _queue: queue.SimpleQueue[Work] = queue.SimpleQueue()
    _started = threading.Lock()
    _thread: threading.Thread | None = None

    def __init__(self, inner: Executor) -> None:
        self.inner = inner

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        # A pool that counts its running work (bot.app.ListenerPool) counts this from now.
        hold = getattr(self.inner, "hold", None)
        release = hold() if callable(hold) else _nothing
        work = partial(fn, *args, **kwargs)
        self._queue.put((self.inner, work, future, release, time.monotonic()))
        self.start()
        return future

    @staticmethod
    def start() -> None:
        if _AfterAcks._thread is None:
            with _AfterAcks._started:
                if _AfterAcks._thread is None:
                    thread = threading.Thread(target=_pass_on, name="after-acks", daemon=True)
                    thread.start()
                    _AfterAcks._thread = thread


def _pass_on() -> None:
    while True:
        inner, work, future, release, queued = _AfterAcks._queue.get()
        # Both waits count from the ack, so a queue of work never adds them up.
        ANSWERING.quiet(max(0.0, queued + LISTENER_YIELD_SECONDS - time.monotonic()))
        slots = _SLOTS
        slots.take(deadline=queued + HOLD_AT_MOST_SECONDS)
        try:
            started = inner.submit(work)
        except RuntimeError as exc:  # that app's executor was shut down
            slots.give()
            future.set_exception(exc)
            continue
        finally:
            release()
        started.add_done_callback(partial(_finished, slots=slots, mine=future))


def _finished(done: Future[Any], slots: _Slots, mine: Future[Any]) -> None:
    slots.give()
    _copy_result(done, mine)


def _copy_result(done: Future[Any], mine: Future[Any]) -> None:
    if done.cancelled():
        mine.cancel()
    elif done.exception() is not None:
        mine.set_exception(done.exception())
    else:
        mine.set_result(done.result())


def acks_first(func: F) -> F:
    """Mark a listener whose first statement is `ack()` (no text, no errors)."""
    setattr(func, ACKS_FIRST_MARK, True)
    return func


def acks_early(listener: Listener) -> bool:
    # A bound method reads the attribute of its function.
    return bool(getattr(bolt.listener_function(listener), ACKS_FIRST_MARK, False))


def use_early_acks(app: App) -> None:
    """Ack `@acks_first` listeners before they run (idempotent), keeping Bolt's executor
    and the handlers set so far (bot.slack.bolt.replace_listener_runner)."""
    _AfterAcks.start()
    bolt.replace_listener_runner(app, acks_early=acks_early, defer=_AfterAcks)
