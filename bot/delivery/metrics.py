"""The outbox gauges of /metrics, read from the database at scrape time.

Every replica reports the same shared truth (the outbox is in the database), so
nothing has to keep the gauges in step. `watch_outbox(services)` adds them to the
process's registry; `nudgebot run` does it when it builds the app.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from bot.clock import Clock
from bot.delivery.models import Delivery, DeliveryStatus
from bot.metrics import GAUGE_CACHE_SECONDS, Outage, database_unreachable
from bot.services import Services


def watch_outbox(services: Services) -> None:
    """Serve the outbox gauges from this process's /metrics."""
    services.registry.register(
        OutboxCollector(services.engine, services.clock, database=services.metrics.database_outage)
    )


class OutboxCollector(Collector):
    """Outbox gauges read from the database at scrape time (cheap: the status
    counts and the due rows both use ix_deliveries_status_due)."""

    def __init__(self, engine: Engine, clock: Clock, *, database: Outage | None = None) -> None:
        self._engine = engine
        self._clock = clock
        self._database = database or Outage("database", now=clock.now)
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None
        self._outage = Outage("outbox metrics", now=clock.now, level=logging.WARNING)

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < GAUGE_CACHE_SECONDS:
                return list(self._cached[1])
            metrics = self._read()
            self._cached = (time.monotonic(), metrics)
            return list(metrics)

    def _read(self) -> list[Metric]:
        up = GaugeMetricFamily(
            "nudgebot_metrics_database_up", "1 when the outbox gauges could be read."
        )
        try:
            by_status, depth, oldest = self._query(self._clock.now())
        except SQLAlchemyError as exc:
            # A scrape must not fail (or 500) because the database is away; say so instead.
            if database_unreachable(exc):
                self._database.failed(exc, seen_by="a /metrics scrape")
            else:
                self._outage.failed(exc)
            up.add_metric([], 0)
            return [up]
        self._outage.succeeded()
        self._database.succeeded()
        up.add_metric([], 1)
        deliveries = GaugeMetricFamily(
            "nudgebot_deliveries", "Rows of the deliveries outbox, by status.", labels=["status"]
        )
        for status in DeliveryStatus:
            deliveries.add_metric([status.value], by_status.get(status.value, 0))
        return [
            up,
            deliveries,
            GaugeMetricFamily(
                "nudgebot_outbox_depth", "Nudges due now and not yet sent.", value=depth
            ),
            GaugeMetricFamily(
                "nudgebot_outbox_oldest_due_age_seconds",
                "Seconds since the oldest unsent due nudge was due (0 when none).",
                value=oldest,
            ),
        ]

    def _query(self, now: datetime) -> tuple[dict[str, int], int, float]:
        due = (Delivery.status == DeliveryStatus.planned) & (Delivery.due_at <= now)
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(Delivery.status, func.count()).group_by(Delivery.status)
            ).all()
            depth, oldest = conn.execute(
                select(func.count(), func.min(Delivery.due_at)).where(
                    due | (Delivery.status == DeliveryStatus.sending)
                )
            ).one()
        by_status = {str(getattr(status, "value", status)): int(count) for status, count in rows}
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        return by_status, int(depth or 0), max(0.0, age)
