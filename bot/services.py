"""What every listener, command and job shares: settings, database, clock, Slack.

Built once per process by `Services.create` and handed around explicitly; there
is no module-level App, engine or session anywhere in `bot/`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry
from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, SystemClock
from bot.db import make_engine, make_session_factory, session_scope
from bot.metrics import Metrics
from bot.settings import Settings
from bot.webclient import make_web_client


@dataclass(frozen=True)
class HookResponse:
    status: int
    body: dict[str, Any]


# A signed inbound webhook (/hooks/NAME): raw body and lower-cased headers in,
# status and JSON out. Each handler verifies its own signature.
HookHandler = Callable[[bytes, dict[str, str]], HookResponse]


@dataclass(frozen=True)
class Tick:
    """A periodic job of this process (APScheduler drives it; the database holds state)."""

    name: str
    func: Callable[[], object]
    seconds: float


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    registry: CollectorRegistry
    metrics: Metrics
    _client: WebClient | None = None
    hooks: dict[str, HookHandler] = field(default_factory=dict)
    # Set on SIGTERM: long-running work (the sender) checks it and hands its claims back.
    stopping: threading.Event = field(default_factory=threading.Event)
    ticks: list[Tick] = field(default_factory=list)
    # Run by close(), before the engine goes: work a component still holds is finished.
    closers: list[Callable[[], object]] = field(default_factory=list)
    # What a slice keeps for the life of the process, by name (e.g. the L&D-lead
    # directory of bot.people.roles): the kernel holds it without knowing it.
    extensions: dict[str, object] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        client: WebClient | None = None,
        engine: Engine | None = None,
    ) -> Services:
        engine = engine or make_engine(settings.database_url)
        clock = clock or SystemClock()
        registry = CollectorRegistry()
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_session_factory(engine),
            clock=clock,
            registry=registry,
            metrics=Metrics(registry, clock=clock),
            _client=client,
        )

    @property
    def client(self) -> WebClient:
        """The bot's WebClient, built on first use (commands that need no Slack never do)."""
        if self._client is None:
            self._client = make_web_client(self.settings, metrics=self.metrics)
        return self._client

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.sessions) as session:
            yield session

    def add_hook(self, name: str, handler: HookHandler) -> None:
        self.hooks[name] = handler

    def add_tick(self, name: str, func: Callable[[], object], seconds: float) -> None:
        self.ticks.append(Tick(name, func, seconds))

    def close(self) -> None:
        for closer in self.closers:
            try:
                closer()
            except Exception:  # the database may be gone; what it held is reconciled later
                logging.getLogger(__name__).warning("could not finish %r on close", closer)
        self.engine.dispose()
