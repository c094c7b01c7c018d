"""HTTP plumbing of the local Slack: request parsing, replies, the request handler."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, Protocol
from urllib.parse import parse_qsl

logger = logging.getLogger(__name__)
JSON_TYPE: Final = "application/json; charset=utf-8"

# What Slack's edge returns when the API tier is down: an HTML page, not JSON.
_EDGE_PAGE: Final = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{title} | Slack</title></head>
<body><div class="container"><h1>{title}</h1>
<p>Slack is having trouble right now. Please try again in a few moments.</p></div></body>
</html>
"""
_STATUS_TITLES: Final = {
    500: "Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Reply:
    """What the handler writes back (or, for faults, how it misbehaves)."""

    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    drop: bool = False  # close the connection without any answer

    def json(self) -> dict[str, Any] | None:
        if not self.content_type.startswith("application/json"):
            return None
        data = json.loads(self.body)
        return data if isinstance(data, dict) else None


def json_reply(
    data: Mapping[str, Any], *, status: int = 200, headers: dict[str, str] | None = None
) -> Reply:
    return Reply(status, json.dumps(data).encode(), JSON_TYPE, dict(headers or {}))


def text_reply(status: int, text: str, *, content_type: str = "text/plain; charset=utf-8") -> Reply:
    return Reply(status, text.encode(), content_type)


def edge_error_reply(status: int) -> Reply:
    title = _STATUS_TITLES.get(status, "Server Error")
    return Reply(status, _EDGE_PAGE.format(title=title).encode(), "text/html; charset=utf-8")


def header(headers: Mapping[str, str], name: str) -> str:
    """Case-insensitive header lookup (HTTP header names are)."""
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), "")


class BadRequest(Exception):
    """The body could not be parsed; carries Slack's error name."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def parse_params(query: str, body: bytes, content_type: str) -> dict[str, Any]:
    """Merge query-string and body arguments the way Slack accepts them:
    form-urlencoded, JSON, or multipart (what slack_sdk sends with files)."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return params
    if media_type == "application/json":
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BadRequest("invalid_json") from exc
        if not isinstance(data, dict):
            raise BadRequest("invalid_json")
        params.update(data)
    elif media_type == "multipart/form-data":
        params.update(_multipart(body, content_type))
    else:
        try:
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError as exc:
            raise BadRequest("invalid_charset") from exc
    return params


def _multipart(body: bytes, content_type: str) -> dict[str, Any]:
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        fields[name] = data if part.get_filename() else data.decode("utf-8", "replace")
    return fields


class Router(Protocol):
    """What the HTTP server needs from the local Slack."""

    def route(self, verb: str, path: str, headers: dict[str, str], body: bytes) -> Reply: ...

    def note_handler_error(self, exc: BaseException) -> None: ...

    def wait_or_stop(self, seconds: float) -> None: ...


class SlackHTTPServer(ThreadingHTTPServer):
    # Handler threads are daemons: a client that hangs up mid-request must not
    # keep pytest from exiting. stop() wakes any deliberately slow ones.
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # a bot's worker pool may connect in bursts

    def __init__(self, router: Router) -> None:
        self.router = router
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: SlackHTTPServer
    protocol_version = "HTTP/1.0"  # one request per connection: nothing idles at shutdown
    timeout = 10  # seconds a client may take to send its request

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the calls are recorded, not logged to stderr."""

    def _handle(self) -> None:
        router = self.server.router
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            reply = router.route(self.command, self.path, dict(self.headers.items()), body)
        except Exception as exc:  # a bug in the local Slack must answer, not hang the client
            logger.exception("local Slack failed on %s %s", self.command, self.path)
            router.note_handler_error(exc)
            reply = json_reply(
                {"ok": False, "error": "fake_internal_error", "detail": repr(exc)}, status=500
            )
        self._send(reply, router.wait_or_stop)

    def _send(self, reply: Reply, wait: Callable[[float], None]) -> None:
        if reply.delay > 0:
            wait(reply.delay)
        if reply.drop:
            self.close_connection = True
            return
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout fired during a slow fault)
