"""The delivery engine's periodic work: plan, send, reap (APScheduler calls these)."""

from __future__ import annotations

import logging
import time

from bot.delivery.planner import plan
from bot.delivery.sender import Sender, SenderRefused
from bot.services import Services

log = logging.getLogger(__name__)
PLAN_SECONDS = 60
SEND_SECONDS = 1
REAP_SECONDS = 15


class DeliveryJobs:
    """The periodic work of one process; APScheduler calls these (max one at a time each)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._sender: Sender | None = None
        self._refused_at = 0.0

    @property
    def sender(self) -> Sender:
        if self._sender is None:
            self._sender = Sender(self.services)
            # Rows a send tick left in hand (a slow answer) are recorded on the way out.
            self.services.closers.append(lambda: self._sender and self._sender.close(timeout=5))
        return self._sender

    def plan(self) -> None:
        with self.services.session() as session:
            result = plan(session, settings=self.services.settings, now=self.services.clock.now())
        if result.inserted or result.moved:
            log.info("planned %d new nudge(s), moved %d", result.inserted, result.moved)

    def send(self) -> None:
        try:
            stats = self.sender.send_due(max_seconds=20.0)
        except SenderRefused as exc:
            if time.monotonic() - self._refused_at > 60:
                log.error("not sending: %s", exc)
                self._refused_at = time.monotonic()
            return
        if stats.claimed:
            log.info(
                "sent %d, reconciled %d, failed %d, deferred %d, retrying %d, skipped %d",
                stats.sent,
                stats.reconciled,
                stats.failed,
                stats.deferred,
                stats.retried,
                stats.skipped,
            )

    def reap(self) -> None:
        self.sender.reap()
