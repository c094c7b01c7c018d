"""`build_app(settings)`: the Bolt App with the whole surface (bot/surface.py) mounted."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse

from bot.delivery.metrics import watch_outbox
from bot.errors import ConfigError
from bot.log import log_context
from bot.people.roles import lead_directory
from bot.plugins import plug_features
from bot.services import Services
from bot.settings import Settings
from bot.slack import bolt, dedupe, install, oauth, router
from bot.surface import surface

log = logging.getLogger(__name__)


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
    """A Bolt App that remembers which commands, events and custom steps (functions)
    it listens to (from the surface it mounted), so a test can hold
    config/manifest.yml to exactly that set."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.registered_commands: set[str] = set()
        self.registered_events: set[str] = set()
        self.registered_functions: set[str] = set()


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
        **oauth.app_kwargs(settings, services),
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
    install.track_workspace(app)
    bolt.on_listener_start(app, _leads_before_sessions(services))
    found = surface(services, store=install.installation_store(app, services))
    router.mount(app, found.slack_routes)
    app.registered_commands |= {r.name for r in found.slack_routes if r.kind == "command"}
    app.registered_events |= {r.name for r in found.slack_routes if r.kind == "event"}
    app.registered_functions |= {r.name for r in found.slack_routes if r.kind == "function"}
    if app.registered_functions:  # app.function listens to this event type
        app.registered_events.add("function_executed")
    services.ticks.extend(found.ticks)
    services.hooks.update(found.hooks)
    return app


def _leads_before_sessions(services: Services) -> Callable[[BoltRequest], None]:
    """NUDGEBOT_LD_LEADS may name user groups, read from Slack (usergroups.users.list,
    cached a few minutes). Listeners check leads inside a database session; reading
    the groups as each listener starts, before it opens one, means no transaction
    waits on that Web API call."""

    def refresh(request: BoltRequest) -> None:
        try:
            lead_directory(services).configured_leads()
        except Exception as exc:  # the check itself reads them again (and says why not)
            log.warning("could not read the L&D lead groups: %s", type(exc).__name__)

    return refresh


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
