"""A sending process: `nudgebot send` (or `python -m bot send`).

`nudgebot run` already sends from its scheduler ticks; this loop is for a
process that only sends (a dedicated worker, the reliability tests). Every
durable fact is in the database, so it can be killed at any moment and started
again: rows it held are reaped when their lease expires and reconciled.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from types import FrameType

from bot.delivery.planner import plan
from bot.delivery.sender import Sender, SenderRefused, SendStats
from bot.metrics import Outage
from bot.services import Services

log = logging.getLogger(__name__)
REAP_EVERY = 5.0
PLAN_EVERY = 60.0
IDLE_SLEEP = 0.2
OUTAGE_RETRY = 1.0


def run_sender(
    services: Services, *, once: bool = False, stop: threading.Event | None = None
) -> SendStats:
    """Send until stopped (SIGTERM/SIGINT), or until nothing is due with `once`.

    The database or Slack going away does not stop the loop: it is reported as
    an outage (a line when it starts, a line a minute, a line when it ends) and
    the loop tries again every OUTAGE_RETRY seconds."""
    stop = stop or threading.Event()
    sender = Sender(services)
    sender.hold_lock()  # on SQLite a second sender stops here, with the reason
    total = SendStats()
    outage = Outage("sender", now=services.clock.now)
    # Reap at once (a killed predecessor's rows); plan on the tick's rhythm, since
    # enrolling already planned the first days and a restart should start sending fast.
    last_reap, last_plan = 0.0, time.monotonic()
    try:
        while not stop.is_set():
            try:
                if time.monotonic() - last_reap >= REAP_EVERY:
                    sender.reap()
                    last_reap = time.monotonic()
                if not once and time.monotonic() - last_plan >= PLAN_EVERY:
                    _plan(services)
                    last_plan = time.monotonic()
                stats = sender.send_due(max_seconds=5.0)
            except SenderRefused:
                raise
            except Exception as exc:  # the database or Slack is away: reported, retried
                if once:
                    raise
                outage.failed(exc)
                stop.wait(OUTAGE_RETRY)
                continue
            outage.succeeded()
            total.add(stats)
            if stats.claimed == 0:
                if once:
                    break
                stop.wait(IDLE_SLEEP)
    finally:
        with contextlib.suppress(Exception):  # unrecorded rows are reconciled later
            total.add(sender.close())
        with contextlib.suppress(Exception):  # the lock's lease runs out by itself
            sender.release_lock()
    return total


def _plan(services: Services) -> None:
    with services.session() as session:
        plan(session, settings=services.settings, now=services.clock.now())


def stop_on_signals(stop: threading.Event | None = None) -> threading.Event:
    """SIGTERM/SIGINT set `stop` (and only that: the loop returns at its next check)."""
    stop = stop or threading.Event()

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop
