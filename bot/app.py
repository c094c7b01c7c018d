"""`build_app(settings)`: the Bolt App with every feature registered."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from slack_bolt import App, Args, BoltRequest, BoltResponse

from bot.delivery.metrics import watch_outbox
from bot.errors import ConfigError
from bot.log import log_context
from bot.plugins import plug_features
from bot.services import Services
from bot.settings import Settings
from bot.slack import dedupe, install

log = logging.getLogger(__name__)

# Vertical slices; each may have listeners.py with register(app, services).
FEATURES = (
    "bot.people",
    "bot.content",
    "bot.delivery",
    "bot.proof",
    "bot.intake",
    "bot.premortem",
    "bot.digest",
    "bot.audit",
    "bot.governance",
)


class ListenerPool(ThreadPoolExecutor):
    """Bolt's listener executor, knowing how much work is still running after its acks.

    `wait_idle` lets shutdown and tests wait for the work a request started (the
    Slack I/O after the state is saved) instead of guessing with sleeps.
    """

    def __init__(self, max_workers: int) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="listener")
        self._busy = 0
        self._changed = threading.Condition()

    @property
    def busy(self) -> int:
        with self._changed:
            return self._busy

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._changed:
            self._busy += 1

        def run() -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                self._done()

        try:
            return super().submit(run)
        except BaseException:
            self._done()
            raise

    def hold(self) -> Callable[[], None]:
        """Count work that will be submitted later (queued behind acks, see
        bot.slack.acks) as running now; call the returned function once it is submitted."""
        with self._changed:
            self._busy += 1
        return self._done

    def _done(self) -> None:
        with self._changed:
            self._busy -= 1
            self._changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """True once no listener is running or queued; False if `timeout` seconds pass first."""
        with self._changed:
            return self._changed.wait_for(lambda: self._busy == 0, timeout)


class NudgebotApp(App):
    """A Bolt App that (1) remembers which commands and events it listens to, so
    a test can hold config/manifest.yml to exactly that set, and (2) lets several
    features listen to the same event type.

    Bolt runs only the first listener that matches a request. Nudgebot's slices
    share events (a `message` can be a pre-mortem risk and a delivery trigger;
    `app_home_opened` renders Home and fires a trigger), so plain event
    registrations of one type are gathered behind a single Bolt listener that
    calls each in turn, and one failing slice does not starve the others.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.registered_commands: set[str] = set()
        self.registered_events: set[str] = set()
        self._fanout: dict[str, list[_Subscriber]] = {}

    def command(self, command: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(command, str):
            self.registered_commands.add(command)
        return super().command(command, *args, **kwargs)

    def event(self, event: Any, matchers: Any = None, middleware: Any = None, **kwargs: Any) -> Any:
        if not isinstance(event, str) or middleware or kwargs:
            if isinstance(event, dict) and isinstance(event.get("type"), str):
                self.registered_events.add(event["type"])
            return super().event(event, matchers, middleware, **kwargs)
        self.registered_events.add(event)
        conditions = tuple(matchers or ())

        def subscribe(*functions: Callable[..., Any]) -> Callable[..., Any] | None:
            handlers = self._fanout.setdefault(event, [])
            if not handlers:
                super(NudgebotApp, self).event(event)(_fan_out(event, handlers))
            handlers.extend(_Subscriber(f, conditions) for f in functions)
            return functions[0] if functions else None

        return subscribe

    def message(self, *args: Any, **kwargs: Any) -> Any:
        self.registered_events.add("message")
        return super().message(*args, **kwargs)


class _Subscriber:
    """One slice's listener for an event type, with its own matchers."""

    def __init__(self, handler: Callable[..., Any], matchers: tuple[Callable[..., bool], ...]):
        self.handler = handler
        self.matchers = matchers

    def __call__(self, args: Args) -> None:
        if all(_call_with(matcher, args) for matcher in self.matchers):
            _call_with(self.handler, args)


def _call_with(func: Callable[..., Any], args: Args) -> Any:
    # The same by-name injection Bolt does for listeners and matchers.
    return func(**{name: getattr(args, name) for name in inspect.signature(func).parameters})


def _fan_out(event_type: str, handlers: list[_Subscriber]) -> Callable[[Args], None]:
    def dispatch(args: Args) -> None:
        for subscriber in list(handlers):
            try:
                subscriber(args)
            except Exception:
                log.exception("%s listener %s failed", event_type, subscriber.handler.__qualname__)

    dispatch.__name__ = f"fan_out_{event_type}"
    return dispatch


def build_app(settings: Settings, *, services: Services | None = None) -> NudgebotApp:
    """A ready App. Needs SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN (ConfigError otherwise)."""
    if settings.slack_signing_secret is None:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is not set; copy it from the app's Basic Information page "
            "(create the app from config/manifest.yml)"
        )
    plug_features()
    services = services or Services.create(settings)
    watch_outbox(services)
    app = NudgebotApp(
        **install.app_kwargs(settings, services),
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        # `nudgebot run` checks the token itself, with a message a person can act on.
        token_verification_enabled=False,
        # Acks return at once; the work runs here, so a slow listener never holds an ack.
        listener_executor=ListenerPool(max_workers=32),
        logger=logging.getLogger("slack_bolt.App"),
    )
    app.use(_request_context)
    app.use(_dedupe_events(services))
    app.error(_on_error)
    for feature in FEATURES:
        _register(feature, app, services)
    install.register(app, services)
    services.add_tick("forget-seen-events", lambda: _forget_seen(services), 600)
    return app


def _register(feature: str, app: NudgebotApp, services: Services) -> None:
    name = f"{feature}.listeners"
    if importlib.util.find_spec(name) is None:
        return
    importlib.import_module(name).register(app, services)


def _request_context(req: BoltRequest, next: Callable[[], BoltResponse]) -> BoltResponse:
    body = req.body or {}
    request_id = body.get("event_id") or body.get("trigger_id") or body.get("type", "request")
    with log_context(request_id=str(request_id)):
        return next()


def _dedupe_events(services: Services) -> Callable[..., BoltResponse]:
    def middleware(req: BoltRequest, next: Callable[[], BoltResponse]) -> BoltResponse:
        event_id = (req.body or {}).get("event_id")
        if not event_id:
            return next()
        with services.session() as session:
            fresh = dedupe.first_sighting(session, event_id=str(event_id), now=services.clock.now())
        if not fresh:
            retry = _first(req.headers.get("x-slack-retry-num"))
            log.info("duplicate event dropped (retry %s)", retry or "?")
            return BoltResponse(status=200, body="")
        return next()

    return middleware


def _first(values: Sequence[str] | None) -> str | None:
    return values[0] if values else None


def _forget_seen(services: Services) -> None:
    with services.session() as session:
        dedupe.forget_old(session, now=services.clock.now())


def _on_error(error: Exception, body: dict[str, Any], respond: Any) -> None:
    # One place for what no listener handled: log the kind, never the payload
    # (it may hold someone's reflection), and tell the person instead of failing silently.
    log.exception("listener failed: %s", type(error).__name__)
    if body.get("response_url"):
        respond(
            text="Sorry, something went wrong on our side and nothing was changed. "
            "Please try again in a minute.",
            response_type="ephemeral",
            replace_original=False,
        )
