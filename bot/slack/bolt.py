"""Every use of a private (undocumented) slack-bolt API, in one place.

The rest of `bot/` uses only Bolt's public API (App, its decorators and
middleware, BoltRequest/BoltResponse, Args, the WSGI adapter's handler) and
this module. `tests/foundation/test_bolt_contract.py` fails, naming the Bolt
attribute or behavior, when an upgrade changes anything relied on here;
pyproject.toml pins slack-bolt to the range that test passed on.

What Bolt does that we need different, and why:

1. Early acks (`replace_listener_runner`, `EarlyAckRunner`, `listener_function`;
   `listener_functions` reads `App._listeners` so tests can hold the App to the surface).
   Bolt answers Slack only once a listener, started on its executor thread,
   has called ack(); it polls for that every 10 ms. Under load that cost tens
   of milliseconds before a word of our code ran. Listeners marked
   `@acks_first` (bot.slack.acks) are acked in the request's own thread
   instead. Bolt has no setter for its listener runner (`App._listener_runner`)
   and the runner's `run` is an internal class (`ThreadListenerRunner`).

2. The workspace of a request in the listener's thread
   (`on_listener_start`). Bolt's `ListenerStartHandler` hook runs in the
   listener's thread before it starts; it is reachable only through the
   runner (`listener_runner.listener_start_handler`), not through App.

3. A form read as a form (`FormAwareHandler`). Bolt's WSGI handler takes any
   form body containing the word "payload" for an interactivity payload and,
   finding no `payload=` field, reads it as empty: `/intake payload team`
   went unanswered. We rebuild the body and the context with Bolt's own
   parser (`slack_bolt.request.internals`), so the context matches.

4. `parse_body`: web.py checks a body's shape on exactly what Bolt will read
   (Bolt takes any body starting with "{" as JSON whatever its Content-Type).

5. Acks that stay given (`KeptAck`, `keep_acks`). Bolt's thread runner, when
   a listener raises after calling ack(), writes None over the ack it has not
   yet sent; the request then waits out the 3 s timeout and Slack gets a 404
   for a click that was acknowledged. Bolt reads `context["ack"].response`.

6. Token refresh through SLACK_API_URL (`set_token_rotator`). Bolt's OAuth
   authorize builds its own TokenRotator against slack.com; the attribute
   `oauth_settings.authorize.token_rotator` is replaced.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.context import BoltContext
from slack_bolt.context.ack import Ack
from slack_bolt.listener import Listener
from slack_bolt.listener.listener_start_handler import ListenerStartHandler
from slack_bolt.listener.thread_runner import ThreadListenerRunner
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.request.internals import build_context
from slack_bolt.request.internals import parse_body as _bolt_parse_body
from slack_sdk.oauth.token_rotation import TokenRotator

# The keyword arguments Bolt's ThreadListenerRunner takes; a runner is rebuilt from them.
RUNNER_FIELDS = (
    "logger",
    "process_before_response",
    "listener_error_handler",
    "listener_start_handler",
    "listener_completion_handler",
    "listener_executor",
    "lazy_listener_runner",
)


# -- 1. early acks -------------------------------------------------------------------------------


def listener_function(listener: Listener) -> Any:
    """The function a listener was registered with (Bolt's `Listener.ack_function`)."""
    return getattr(listener, "ack_function", None)


class EarlyAckRunner(ThreadListenerRunner):
    """Bolt's thread runner, but listeners `acks_early` accepts are acked in the
    request's thread, then run on the executor `defer(listener_executor)` gives."""

    def __init__(
        self,
        *,
        acks_early: Callable[[Listener], bool],
        defer: Callable[[Executor], Executor],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.acks_early = acks_early
        self._deferred = defer(self.listener_executor)

    def run(
        self,
        request: BoltRequest,
        response: BoltResponse,
        listener_name: str,
        listener: Listener,
        starting_time: float | None = None,
    ) -> BoltResponse | None:
        if not self.acks_early(listener) or self.process_before_response:
            return super().run(request, response, listener_name, listener, starting_time)
        request.context.ack()
        # This request's answer is ready: its listener runs after the answers in flight.
        runner = copy.copy(self)
        runner.listener_executor = self._deferred
        result: BoltResponse | None = ThreadListenerRunner.run(
            runner, request, response, listener_name, listener, starting_time
        )
        return result


def replace_listener_runner(
    app: App, *, acks_early: Callable[[Listener], bool], defer: Callable[[Executor], Executor]
) -> None:
    """Install EarlyAckRunner in `app` (idempotent), keeping everything the current
    runner holds (executor, error/start/completion handlers set so far)."""
    current = app.listener_runner
    if isinstance(current, EarlyAckRunner):
        return
    fields = {name: getattr(current, name) for name in RUNNER_FIELDS}
    app._listener_runner = EarlyAckRunner(acks_early=acks_early, defer=defer, **fields)


def listener_functions(app: App) -> list[Any]:
    """The function of every listener registered on `app`, in matching order
    (Bolt's `App._listeners`): tests hold them to bot/surface.py."""
    return [listener_function(listener) for listener in app._listeners]


def listener_executor(app: App) -> Executor:
    """The executor Bolt runs listeners on (the one passed as `listener_executor`)."""
    executor: Executor = app.listener_runner.listener_executor
    return executor


# -- 2. before a listener starts, in its thread --------------------------------------------------


class _BeforeListener(ListenerStartHandler):
    def __init__(self, inner: ListenerStartHandler, hook: Callable[[BoltRequest], None]) -> None:
        self.inner = inner
        self.hook = hook

    def handle(self, request: BoltRequest, response: BoltResponse | None) -> None:
        self.hook(request)
        self.inner.handle(request=request, response=response)


def on_listener_start(app: App, hook: Callable[[BoltRequest], None]) -> None:
    """Run `hook(request)` in the listener's own thread just before each listener
    starts, then the start handler that was in place. Call it after app.error()
    and before replace_listener_runner (which keeps the handler it finds)."""
    runner = app.listener_runner
    runner.listener_start_handler = _BeforeListener(runner.listener_start_handler, hook)


# -- 3. and 4. reading bodies as Bolt does ---------------------------------------------------------


def parse_body(text: str, content_type: str) -> dict[str, Any]:
    """The body exactly as Bolt will read it."""
    parsed: dict[str, Any] = _bolt_parse_body(text, content_type)
    return parsed


class FormAwareHandler(SlackRequestHandler):
    """Bolt's WSGI handler, but a form is read as a form (see 3. above)."""

    def dispatch(self, request: WsgiHttpRequest) -> BoltResponse:
        req = BoltRequest(
            body=request.get_body(), query=request.query_string, headers=request.get_headers()
        )
        raw = req.raw_body
        if not req.body and raw and not raw.startswith("{") and "payload" in raw:
            form = dict(parse_qsl(raw, keep_blank_values=True))
            if "payload" not in form:
                req.body = form
                req.context = build_context(BoltContext(), form)
        response: BoltResponse = self.app.dispatch(req)
        return response


# -- 5. acks that stay given -----------------------------------------------------------------------


class KeptAck(Ack):
    """An ack that stays given (see 5. above)."""

    def __init__(self) -> None:
        self._given: BoltResponse | None = None

    @property
    def response(self) -> BoltResponse | None:
        return self._given

    @response.setter
    def response(self, value: BoltResponse | None) -> None:
        if value is not None or self._given is None:
            self._given = value


def keep_acks(app: App) -> None:
    """Give every request a KeptAck before its listener runs (idempotent)."""
    if getattr(app, "_nudgebot_keeps_acks", False):
        return

    def keep_ack(req: BoltRequest, next: Callable[[], BoltResponse]) -> BoltResponse:
        given = req.context.get("ack")
        if not isinstance(given, KeptAck) and (given is None or given.response is None):
            req.context["ack"] = KeptAck()
        return next()

    app.use(keep_ack)
    app._nudgebot_keeps_acks = True  # type: ignore[attr-defined]


# -- 6. token refresh ------------------------------------------------------------------------------


def set_token_rotator(oauth: OAuthSettings, rotator: TokenRotator) -> None:
    """Refresh expiring tokens with `rotator` (through SLACK_API_URL) in Bolt's authorize."""
    oauth.authorize.token_rotator = rotator  # type: ignore[attr-defined]
