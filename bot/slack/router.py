"""Routes: what Slack sends, and the function that handles it; `mount` puts them on an App.

bot/surface.py declares every route of Nudgebot with these constructors; this
module only knows how to mount them, with public Bolt API:

- One Bolt listener per route. Handlers take Bolt's arguments by name (`ack`,
  `body`, `client`, `respond`, ...), as Bolt listeners do.
- Fan-out: Bolt runs only the first listener that matches a request, but one
  event type may matter to several slices (`message`, `app_home_opened`). All
  subscribers of an event type sit behind one Bolt listener that calls each in
  turn (with its own matcher); one failing does not starve the others.
- Verbs: a command's first word may pick another handler (`/nudges digest`),
  so a slice answers its verb without the command's owner importing it.
- One error handler. A person-facing error (bot.errors.UserError and its kin,
  PermissionDenied) raised by a handler becomes the answer to the person who
  acted: for a view submission not yet acked, `ack(response_action="errors")`
  on the route's `error_block` (or on each block of a FieldErrors); otherwise an
  ephemeral reply through response_url, else chat.postEphemeral, else a DM.
  Each route words the reply (`explain`; a `Refusal` is shown as it is).
  Any other exception goes on to Bolt's error handler (app.error): logged by
  kind, a generic apology.
- Custom steps (Workflow Builder functions, `app.function`): the error ends the
  step with functions.completeError, worded for the workflow's author; an
  unexpected error or a handler that returned without ending the step ends it
  too, so a workflow never waits on Nudgebot.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from slack_bolt import App, Args
from slack_sdk.errors import SlackApiError

from bot.errors import FieldErrors, PermissionDenied, Refusal, UserError
from bot.slack.acks import ACKS_FIRST_MARK

log = logging.getLogger(__name__)

Handler = Callable[..., Any]
Explain = Callable[[UserError | PermissionDenied], str]
Kind = Literal[
    "command", "action", "view_submission", "view_closed", "shortcut", "event", "function"
]
Key = str | re.Pattern[str]
PERSON_FACING = (UserError, PermissionDenied)


def plain(exc: UserError | PermissionDenied) -> str:
    return str(exc)


@dataclass(frozen=True)
class Subscriber:
    """One handler of an event type, run when `when` (by-name arguments) says so."""

    handler: Handler
    when: Handler | None = None


@dataclass(frozen=True)
class Route:
    kind: Kind
    key: Key
    handlers: tuple[Subscriber, ...]
    explain: Explain = plain
    error_block: str | None = None
    verbs: Mapping[str, Handler] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.key.pattern if isinstance(self.key, re.Pattern) else self.key


def command(
    name: str,
    handler: Handler,
    *,
    verbs: Mapping[str, Handler] | None = None,
    explain: Explain = plain,
) -> Route:
    """A slash command; `verbs` maps a first word of its text to another handler."""
    return Route("command", name, (Subscriber(handler),), explain, verbs=dict(verbs or {}))


def action(key: Key, handler: Handler, *, explain: Explain = plain) -> Route:
    return Route("action", key, (Subscriber(handler),), explain)


def view_submission(
    callback: str, handler: Handler, *, error_block: str | None = None, explain: Explain = plain
) -> Route:
    return Route("view_submission", callback, (Subscriber(handler),), explain, error_block)


def view_closed(callback: str, handler: Handler) -> Route:
    return Route("view_closed", callback, (Subscriber(handler),))


def shortcut(callback: str, handler: Handler, *, explain: Explain = plain) -> Route:
    return Route("shortcut", callback, (Subscriber(handler),), explain)


def function(callback_id: str, handler: Handler, *, explain: Explain = plain) -> Route:
    """A custom step for Workflow Builder (a function of the app manifest), mounted
    with Bolt's `app.function` (acked at once). The handler ends the step with
    `complete(outputs=...)`; a person-facing error ends it with `fail(error=...)`
    worded by `explain`, any other error with a generic `fail`, so no step is left
    running (see `_finish_step`)."""
    return Route("function", callback_id, (Subscriber(handler),), explain)


def event(event_type: str, *handlers: Handler | Subscriber) -> Route:
    """An event type and every handler of it, in the order they run."""
    subscribers = tuple(h if isinstance(h, Subscriber) else Subscriber(h) for h in handlers)
    return Route("event", event_type, subscribers)


def when(matcher: Handler, handler: Handler) -> Subscriber:
    """`handler` runs only for events `matcher` accepts."""
    return Subscriber(handler, matcher)


# -- mounting --------------------------------------------------------------------------------------


def mount(app: App, routes: Iterable[Route]) -> None:
    """Register every route on `app`, events of one type behind one listener."""
    by_event: dict[str, list[Subscriber]] = {}
    for route in routes:
        if route.kind == "event":
            assert isinstance(route.key, str), "event types are plain strings"
            by_event.setdefault(route.key, []).extend(route.handlers)
            continue
        register = getattr(app, route.kind)
        register(route.key)(_guarded(route))
    for event_type, subscribers in by_event.items():
        app.event(event_type)(_fan_out(event_type, subscribers))


def _guarded(route: Route) -> Handler:
    handler = route.handlers[0].handler
    chosen = _by_verb(handler, route.verbs) if route.verbs else None

    def listener(args: Args) -> None:
        target = chosen(args) if chosen else handler
        try:
            call_with(target, args)
        except PERSON_FACING as exc:
            answer_error(route, exc, args)
        except Exception:
            if route.kind == "function":  # even after a complete() Slack refused
                _finish_step(args, UNEXPECTED_STEP_ERROR, unless_ended=False)
            raise
        if route.kind == "function":
            _finish_step(args, UNFINISHED_STEP)

    listener.__name__ = listener_name(route)
    if all(_acks_first(h) for h in (handler, *route.verbs.values())):
        setattr(listener, ACKS_FIRST_MARK, True)
    return listener


def listener_name(route: Route) -> str:
    """The name of the Bolt listener `mount` makes for `route` (events: one per type)."""
    if route.kind == "event":
        return f"fan_out_{route.name}"
    return f"{route.kind}_{_safe(route.name)}"


def _by_verb(default: Handler, verbs: Mapping[str, Handler]) -> Callable[[Args], Handler]:
    def choose(args: Args) -> Handler:
        words = str((args.command or {}).get("text") or "").split()
        return verbs.get(words[0].lower(), default) if words else default

    return choose


def _acks_first(handler: Handler) -> bool:
    return bool(getattr(handler, ACKS_FIRST_MARK, False))


def _safe(name: str) -> str:
    return re.sub(r"\W+", "_", name).strip("_") or "route"


def call_with(func: Handler, args: Args) -> Any:
    """Call `func` with the arguments it names, as Bolt injects them into listeners."""
    names = inspect.signature(func).parameters
    return func(**{name: _arg(args, name) for name in names})


def _arg(args: Args, name: str) -> Any:
    if hasattr(args, name):
        return getattr(args, name)
    return args.context.get(name)


def _fan_out(event_type: str, subscribers: Sequence[Subscriber]) -> Handler:
    def dispatch(args: Args) -> None:
        for subscriber in subscribers:
            try:
                if subscriber.when is None or call_with(subscriber.when, args):
                    call_with(subscriber.handler, args)
            except Exception:
                log.exception("%s listener %s failed", event_type, subscriber.handler.__qualname__)

    dispatch.__name__ = f"fan_out_{event_type}"
    return dispatch


# -- the one error handler -------------------------------------------------------------------------


def answer_error(route: Route, exc: UserError | PermissionDenied, args: Args) -> None:
    """Tell the person who acted why nothing happened (see the module's docstring)."""
    log.info("%s %s refused: %s", route.kind, route.name, type(exc).__name__)
    text = str(exc) if isinstance(exc, Refusal) else route.explain(exc)
    if route.kind == "function":
        _finish_step(args, text)  # the workflow's author reads it (Slackbot tells them)
        return
    if route.kind == "view_submission" and not _acked(args):
        if isinstance(exc, FieldErrors) and exc.errors:
            args.ack(response_action="errors", errors=exc.errors)
            return
        if route.error_block:
            args.ack(response_action="errors", errors={route.error_block: text})
            return
    if not _acked(args):
        args.ack()
    tell(args, text)


UNEXPECTED_STEP_ERROR = (
    "Nudgebot could not finish this step because of an error on its side (it is logged). "
    "Run the workflow again in a few minutes; if it keeps failing, tell your Nudgebot admin."
)
UNFINISHED_STEP = "Nudgebot did not finish this step (no outcome was recorded)."


def _finish_step(args: Args, error: str, *, unless_ended: bool = True) -> None:
    """End a custom step with `error` unless (`unless_ended`) its handler already
    completed or failed it: a workflow must never wait on a step Nudgebot dropped.
    A step that did end makes Slack answer execution_not_in_running_state: logged."""
    if unless_ended and (args.complete.has_been_called() or args.fail.has_been_called()):
        return
    try:
        args.fail(error=error)
    except (SlackApiError, OSError) as exc:
        log.warning("could not end the workflow step: %s", _slack_error(exc))


def _acked(args: Args) -> bool:
    return getattr(args.ack, "response", None) is not None


def tell(args: Args, text: str) -> None:
    """An ephemeral answer only the person who acted sees: through response_url when
    there is one (works even outside the channel), else chat.postEphemeral, else a DM."""
    body = args.body or {}
    user = _id(body.get("user")) or body.get("user_id")
    channel = _id(body.get("channel")) or body.get("channel_id")
    if body.get("response_url"):
        try:
            args.respond(text=text, response_type="ephemeral", replace_original=False)
            return
        except Exception as exc:  # any failure here falls back to chat.postEphemeral or a DM
            log.warning("response_url failed (%s); trying another way", type(exc).__name__)
    if not user:
        return
    try:
        if channel:
            try:
                args.client.chat_postEphemeral(channel=channel, user=user, text=text)
                return
            except (SlackApiError, OSError) as exc:
                log.warning("ephemeral failed (%s); sending a DM", _slack_error(exc))
        args.client.chat_postMessage(channel=user, text=text)
    except (SlackApiError, OSError) as exc:
        log.warning("could not tell the person why nothing happened: %s", _slack_error(exc))


def _id(value: Any) -> str | None:
    found = value.get("id") if isinstance(value, dict) else None
    return str(found) if found else None


def _slack_error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError) and exc.response is not None:
        return str(exc.response.get("error"))
    return type(exc).__name__
