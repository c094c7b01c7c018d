"""The sandbox's one port: the page, its JSON API, and the bot's own routes.

Requests for /slack/…, /healthz, /metrics and /hooks/… go to the bot's WSGI app
untouched (that is where the local Slack posts its signed requests); the rest
is the page (``static/``) and ``/sandbox/api/…``, which the page's script calls.
Bad input is a 4xx with a message the page shows; the sandbox binds 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import mimetypes
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from bot.sandbox import actions, preview, screen
from bot.sandbox.parts import CLOCK_MOVES, SandboxParts
from bot.web import WSGIApp

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
BOT_PREFIXES = ("/slack/", "/hooks/")
BOT_PATHS = ("/healthz", "/metrics")
LONG_POLL_SECONDS = 20.0
MAX_BODY = 256 * 1024
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
# The page's own files only; what the bot posts is drawn as escaped HTML, and no
# script of a message could run even if something slipped through.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; connect-src 'self'; "
    "img-src 'self' https: data:; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
JSON_BODY = dict[str, Any]
StartResponse = Callable[..., Any]


class BadInput(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def make_page_app(sandbox: SandboxParts, bot: WSGIApp) -> WSGIApp:
    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        if path.startswith(BOT_PREFIXES) or path in BOT_PATHS:
            return bot(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            _check_origin(environ)
            if path.startswith("/sandbox/api/"):
                return _reply(start_response, 200, _api(sandbox, method, path, environ))
            if method != "GET":
                raise BadInput(405, "method not allowed")
            if path in ("/", "/index.html"):
                return _file(start_response, STATIC / "index.html")
            if path == "/preview":
                return _file(start_response, STATIC / "preview.html")
            if path.startswith("/static/"):
                return _file(start_response, _static(path[len("/static/") :]))
            raise BadInput(404, f"nothing at {path}")
        except BadInput as exc:
            return _reply(start_response, exc.status, {"ok": False, "error": str(exc)})
        except actions.Refused as exc:
            return _reply(start_response, 200, {"ok": False, "error": str(exc)})

    return wsgi


def _api(sandbox: SandboxParts, method: str, path: str, environ: dict[str, Any]) -> JSON_BODY:
    name = path[len("/sandbox/api/") :]
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if method == "GET":
        if name == "people":
            return screen.people(sandbox)
        if name == "state":
            user = _known_user(sandbox, query.get("user"))
            since = _int(query.get("since"), -1)
            if since >= sandbox.slack.version:
                sandbox.slack.wait_for_change(since, LONG_POLL_SECONDS)
            return screen.screen(sandbox, user, query.get("conversation") or None)
        if name == "dev":
            return _dev(sandbox, _int(query.get("since"), 0), _int(query.get("requests_since"), 0))
        if name == "preview":
            return preview.preview_catalog(sandbox.services.settings)
        if name == "preview/step":
            return preview.preview_step(
                sandbox.services.settings,
                program=_required(query, "program"),
                step=_required(query, "step"),
                locale=query.get("locale") or "en",
                arm=query.get("arm") or None,
            )
        raise BadInput(404, f"no such API: GET {name}")
    if method != "POST":
        raise BadInput(405, "method not allowed")
    body = _json_body(environ)
    user = _known_user(sandbox, body.get("user"))
    if name == "compose":
        ms = actions.compose(
            sandbox,
            user=user,
            conversation=_text(body, "conversation"),
            text=_text(body, "text"),
            thread_ts=body.get("thread_ts") or None,
        )
        return {"ok": True, "ack_ms": ms}
    if name == "action":
        ms = actions.act(
            sandbox,
            user=user,
            block_id=_text(body, "block_id"),
            action_id=_text(body, "action_id"),
            kind=str(body.get("type") or "button"),
            value=body.get("value"),
            values=body.get("values"),
            conversation=body.get("conversation") or None,
            ts=body.get("ts") or None,
            view_id=body.get("view_id") or None,
        )
        return {"ok": True, "ack_ms": ms}
    if name == "submit":
        fields = body.get("fields") or []
        if not isinstance(fields, list) or not all(isinstance(f, dict) for f in fields):
            raise BadInput(400, "fields must be a list of objects")
        errors = actions.submit(sandbox, user=user, view_id=_text(body, "view_id"), fields=fields)
        return {"ok": not errors, "errors": errors} if errors else {"ok": True}
    if name == "close":
        actions.close(
            sandbox, user=user, view_id=_text(body, "view_id"), all_views=bool(body.get("all"))
        )
        return {"ok": True}
    if name == "home":
        return {"ok": True, "ack_ms": actions.open_home(sandbox, user=user)}
    if name == "clock":
        to = str(body.get("to", ""))
        if to not in CLOCK_MOVES:
            raise BadInput(400, "to must be one of " + ", ".join(CLOCK_MOVES))
        tz = screen.person_json(sandbox, user)["tz"]
        if not sandbox.start_clock_move(to, tz=tz):
            return {"ok": False, "error": "The clock is already moving; wait a moment."}
        return {"ok": True, "moving": True}
    raise BadInput(404, f"no such API: POST {name}")


def _dev(sandbox: SandboxParts, since: int, requests_since: int) -> JSON_BODY:
    calls = []
    for n, call in enumerate(sandbox.slack.calls, start=1):
        if n <= since:
            continue
        response = call.response if isinstance(call.response, dict) else {}
        calls.append(
            {
                "n": n,
                "time": call.time,
                "method": call.method,
                "args": {k: v for k, v in call.params.items() if k != "token"},
                "ok": bool(response.get("ok")),
                "error": response.get("error"),
            }
        )
    requests = [
        {
            "n": r.n,
            "time": r.time,
            "kind": r.kind,
            "summary": r.summary,
            "status": r.status,
            "ack_ms": r.ack_ms,
        }
        for r in sandbox.driver.sent_since(requests_since)
    ]
    return {"calls": calls[-300:], "requests": requests}


# -- input ---------------------------------------------------------------------


def _check_origin(environ: dict[str, Any]) -> None:
    """Only this machine's own pages may drive the sandbox: the Host must be a
    loopback name (a rebound DNS name pointing here is refused), and a POST must
    be JSON, which a page of another site cannot send here without a CORS
    preflight this server never grants."""
    host = str(environ.get("HTTP_HOST", "")).rsplit(":", 1)[0].strip("[]").lower()
    if host not in LOOPBACK_NAMES:
        raise BadInput(403, "the sandbox answers only at 127.0.0.1 or localhost")
    if environ.get("REQUEST_METHOD") == "POST":
        kind = str(environ.get("CONTENT_TYPE", "")).split(";", 1)[0].strip().lower()
        if kind != "application/json":
            raise BadInput(415, "send JSON (Content-Type: application/json)")


def _json_body(environ: dict[str, Any]) -> JSON_BODY:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BadInput(400, "bad Content-Length") from None
    if length > MAX_BODY:
        raise BadInput(413, "request body too large")
    raw = environ["wsgi.input"].read(length) if length else b""
    try:
        body = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadInput(400, "the body must be JSON") from None
    if not isinstance(body, dict):
        raise BadInput(400, "the body must be a JSON object")
    return body


def _known_user(sandbox: SandboxParts, user: Any) -> str:
    users, _ = sandbox.slack.directory()
    if not isinstance(user, str) or user not in users:
        raise BadInput(400, f"unknown user {user!r}")
    return user


def _text(body: JSON_BODY, key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise BadInput(400, f"{key} is required")
    return value


def _required(query: dict[str, str], key: str) -> str:
    if not query.get(key):
        raise BadInput(400, f"{key} is required")
    return query[key]


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        raise BadInput(400, f"not a number: {value!r}") from None


# -- output ----------------------------------------------------------------------


def _static(name: str) -> Path:
    path = (STATIC / name).resolve()
    if path.parent != STATIC or not path.is_file():
        raise BadInput(404, f"no file {name}")
    return path


def _file(start_response: StartResponse, path: Path) -> Iterable[bytes]:
    if not path.is_file():
        raise BadInput(404, f"no file {path.name}")
    data = path.read_bytes()
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind == "application/javascript":
        kind += "; charset=utf-8"
    start_response(
        "200 OK",
        [
            ("Content-Type", kind),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-cache"),
            ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
            ("X-Content-Type-Options", "nosniff"),
        ],
    )
    return [data]


def _reply(start_response: StartResponse, status: int, body: JSON_BODY) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    reason = {
        200: "OK",
        400: "Bad Request",
        403: "Forbidden",
        404: "Not Found",
        405: "Method Not Allowed",
        413: "Content Too Large",
        415: "Unsupported Media Type",
    }
    start_response(
        f"{status} {reason.get(status, 'Error')}",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [data]
