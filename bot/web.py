"""The HTTP surface as one WSGI app: Slack at /slack/events, health, metrics, hooks.

Routes are few and fixed, so a small router beats a web framework here. Every
failure to understand a request is a 4xx; a 5xx means a bug or an outage.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier

from bot.db import ping
from bot.services import HookResponse, Services
from bot.slack.acks import ANSWERING, use_early_acks
from bot.slack.bolt import FormAwareHandler, keep_acks, parse_body

log = logging.getLogger(__name__)

OAUTH_PATHS = ("/slack/install", "/slack/oauth_redirect")  # Bolt's OAuth flow, OAuth mode only
MAX_BODY = 1024 * 1024  # Slack's payloads are far smaller; refuse before reading more
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def make_wsgi_app(app: App | None, services: Services) -> WSGIApp:
    """The WSGI app; it installs early acks in `app` (bot.slack.acks)."""
    if app is not None:
        use_early_acks(app)
        keep_acks(app)
    slack = FormAwareHandler(app) if app is not None else None
    secret = services.settings.slack_signing_secret
    verifier = SignatureVerifier(secret.get_secret_value()) if secret else None
    oauth = services.settings.install_mode == "oauth"

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _json(start_response, 400, {"error": "bad Content-Length"})
        if length > MAX_BODY:
            return _json(start_response, 413, {"error": "request body too large"})
        if path == "/healthz":
            return _health(services, start_response)
        if path == "/metrics":
            body = generate_latest(services.registry)
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [body]
        if path.startswith("/hooks/"):
            if method != "POST":
                return _json(start_response, 405, {"error": "use POST"})
            return _hook(services, path.removeprefix("/hooks/"), environ, length, start_response)
        if path == "/slack/events" and method == "POST" and slack and verifier:
            arrived = time.perf_counter()
            try:
                with ANSWERING:  # background work waits for this answer (bot.slack.acks)
                    return _slack(slack, verifier, environ, length, start_response)
            finally:
                # Request in to answer ready: what Slack waits for (3 s at most).
                services.metrics.observe_ack(time.perf_counter() - arrived)
        if path in OAUTH_PATHS and method == "GET" and slack and oauth:
            result: Iterable[bytes] = slack(environ, start_response)
            return result
        return _json(start_response, 404, {"error": "not found"})

    return wsgi


def _health(services: Services, start_response: StartResponse) -> Iterable[bytes]:
    if ping(services.engine):
        return _json(start_response, 200, {"status": "ok", "database": "ok"})
    return _json(start_response, 503, {"status": "unavailable", "database": "unreachable"})


def _hook(
    services: Services, name: str, environ: dict[str, Any], length: int, start: StartResponse
) -> Iterable[bytes]:
    handler = services.hooks.get(name)
    if handler is None:
        return _json(start, 404, {"error": f"no hook named {name!r}"})
    body = environ["wsgi.input"].read(length) if length else b""
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    try:
        response = handler(body, headers)
    except Exception:
        log.exception("hook %s failed", name)
        response = HookResponse(500, {"error": "internal error"})
    return _json(start, response.status, response.body)


def _slack(
    handler: SlackRequestHandler,
    verifier: SignatureVerifier,
    environ: dict[str, Any],
    length: int,
    start: StartResponse,
) -> Iterable[bytes]:
    # Verified and parsed here before Bolt sees it: Bolt parses the body before
    # it checks the signature and fails with a 500 on bodies it cannot read.
    body = environ["wsgi.input"].read(length) if length else b""
    headers = {
        "x-slack-signature": environ.get("HTTP_X_SLACK_SIGNATURE", ""),
        "x-slack-request-timestamp": environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", ""),
    }
    try:
        signed = verifier.is_valid_request(body.decode("utf-8"), headers)
    except UnicodeDecodeError:
        return _json(start, 400, {"error": "request body is not UTF-8"})
    except (ValueError, TypeError):
        # slack_sdk raises on a timestamp that is not a number and on a
        # non-ASCII signature: both are unsigned requests, not our failures.
        signed = False
    if not signed:
        return _json(start, 401, {"error": "invalid or stale Slack signature"})
    if not _readable(body, environ.get("CONTENT_TYPE", "")):
        return _json(start, 400, {"error": "malformed request body"})
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        result: Iterable[bytes] = handler(environ, start)
    except (AttributeError, TypeError, ValueError, KeyError, IndexError) as exc:
        # Bolt reads ids out of the body (team, user, channel, enterprise) before any
        # listener runs and assumes Slack's shapes; a signed body with other shapes
        # fails there, before a response was started.
        log.warning("malformed Slack payload refused (%s)", type(exc).__name__)
        return _json(start, 400, {"error": "malformed request body"})
    return result


def _readable(body: bytes, content_type: str) -> bool:
    """True when the body is what Slack sends: a JSON object, or a form whose
    `payload` (when present) is a JSON object. Judged on what Bolt will read:
    Bolt takes any body starting with "{" as JSON whatever its Content-Type, and
    the last of several `payload` fields."""
    try:
        text = body.decode("utf-8")
        if content_type == "application/json" or text.startswith("{"):
            return _slack_shaped(json.loads(text))
        parse_qs(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
        return _slack_shaped(parse_body(text, content_type))
    except (UnicodeDecodeError, ValueError):
        return False


# Fields Bolt reads ids from before any listener runs, assuming Slack's shapes.
# Present means an object: Bolt calls .get() on them (a JSON null included).
_OBJECTS = (
    "view",
    "container",
    "message",
    "event",
    "state",
    "item",
    "previous_message",
    "tokens",
)
_IDS = ("team", "user", "channel", "enterprise")
_LISTS = ("actions", "authorizations")


def _slack_shaped(data: object, depth: int = 0) -> bool:
    """A JSON object whose id-bearing fields have the types Slack sends."""
    if not isinstance(data, dict):
        return False
    for key in _OBJECTS:
        value = data.get(key)
        if key in data and not (isinstance(value, dict) and _nested_ok(value, depth)):
            return False
    url = data.get("response_url")
    if url is not None and not (isinstance(url, str) and _web_address(url)):
        return False  # the error handler answers there; a bad one made it fail too
    for key in _IDS:
        value = data.get(key)
        if value is not None and not isinstance(value, str | dict):
            return False
        if isinstance(value, dict) and not all(
            isinstance(v, str | bool | None) for k, v in value.items() if k in ("id", "team_id")
        ):
            return False
    for key in _LISTS:
        value = data.get(key)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(i, dict) and _texts(i) for i in value)
        ):
            return False
    return _texts(data)


# Fields Bolt matches listeners on (with re.search when a pattern was registered).
_TEXTS = ("type", "callback_id", "event_id", "action_id", "block_id")


def _texts(data: dict[str, Any]) -> bool:
    return all(isinstance(data.get(key), str | None) for key in _TEXTS)


def _web_address(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _nested_ok(value: dict[str, Any], depth: int) -> bool:
    return depth >= 2 or _slack_shaped(value, depth + 1)


_REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _json(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        f"{status} {_REASONS.get(status, 'Status')}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]
