"""LocalSlack: a real HTTP server speaking the Slack Web API on 127.0.0.1.

    with LocalSlack() as slack:
        slack.add_user("U0ALICE", name="alice", tz="Europe/Sofia")
        client = WebClient(base_url=slack.base_url, token=slack.bot_token)
        client.chat_postMessage(channel="U0ALICE", text="hi")
        assert slack.dm_messages("U0ALICE")[0]["text"] == "hi"

Extension point: every answer (Web API methods and the ``response_url`` and
``file_upload`` pseudo-methods) goes through :meth:`LocalSlack._respond`, which
answers normally. A subclass may override it to serve something else instead
(the test suite's fault injection does); it is called with the state lock held.
"""

from __future__ import annotations

import copy
import json
import threading
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from .client import SCREEN_METHODS, ClientSide
from .ratelimit import RateLimiter
from .records import (
    JSON,
    RESPONSE_URL_TTL,
    RESPONSE_URL_USES,
    ResponseUrl,
    SlackError,
    with_block_ids,
)
from .state import RecordedCall
from .transport import (
    BadRequest,
    Reply,
    SlackHTTPServer,
    header,
    json_reply,
    parse_params,
    text_reply,
)
from .webapi import POSTING_METHODS, Call, known_method
from .workspace import Workspace


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


class LocalSlack(ClientSide):
    """A local Slack Web API on 127.0.0.1 with a scriptable workspace."""

    _server: SlackHTTPServer | None = None
    _thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = SlackHTTPServer(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="localslack",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in a "slow" fault
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        root = self._root
        server = root._server if isinstance(root, LocalSlack) else None
        if server is None:
            raise RuntimeError(
                "LocalSlack is not running; call start() or use it as a context manager"
            )
        return int(server.server_address[1])

    @property
    def url(self) -> str:
        """Root of the server, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What to give ``WebClient(base_url=...)``: ``http://127.0.0.1:PORT/api/``."""
        return f"{self.url}/api/"

    def set_rate_limit(
        self,
        per_channel_per_second: float | None = 1.0,
        workspace_per_minute: float | None = None,
        *,
        channel_burst: int = 2,
        workspace_burst: int | None = None,
    ) -> None:
        """Token-bucket limits on chat.postMessage/update/postEphemeral.
        ``set_rate_limit(None)`` (with no workspace limit) turns them off."""
        with self._lock:
            if per_channel_per_second is None and workspace_per_minute is None:
                self._limiter = None
            else:
                self._limiter = RateLimiter(
                    per_channel_per_second,
                    workspace_per_minute,
                    channel_burst=channel_burst,
                    workspace_burst=workspace_burst,
                )

    # -- serving (called from handler threads) -------------------------------

    def route(self, verb: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        parts = urlsplit(path)
        if parts.path.startswith("/api/"):
            return self._serve_api(parts.path[len("/api/") :], parts.query, headers, body)
        if parts.path.startswith("/response/"):
            return self._serve_response_url(parts.path[len("/response/") :], headers, body)
        if parts.path.startswith("/upload/v1/"):
            return self._serve_upload(parts.path[len("/upload/v1/") :], body)
        return text_reply(404, "Not Found")

    def note_handler_error(self, exc: BaseException) -> None:
        with self._lock:
            self._counters.handler_errors.append("".join(traceback.format_exception(exc)))

    def wait_or_stop(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _respond(self, name: str, produce: Callable[[], Reply]) -> tuple[Reply, str | None]:
        """The extension point: answer a call to ``name`` (a Web API method,
        ``response_url`` or ``file_upload``). ``produce()`` carries the call out
        and returns the normal answer; an override may skip it, delay it or
        replace its reply, and returns a label of what it served instead (kept
        in :attr:`RecordedCall.fault`), or None. Called with the lock held."""
        return produce(), None

    def _serve_api(self, method: str, query: str, headers: dict[str, str], body: bytes) -> Reply:
        with self._lock:
            try:
                params = parse_params(query, body, header(headers, "Content-Type"))
                parse_error = None
            except BadRequest as exc:
                params, parse_error = dict(parse_qsl(query)), exc.error
            record = RecordedCall(method, params, headers, self._clock())
            self._calls.append(record)
            reply, served = self._respond(
                method, lambda: self._answer(method, params, headers, parse_error)
            )
            # A dropped connection answered nothing (status 0), even if the call took effect.
            record.status = 0 if reply.drop else reply.status
            record.fault = served
            record.response = reply.json()
        if method.startswith(SCREEN_METHODS) and reply.status == 200:
            self.note_change()
        return reply

    def _answer(
        self, method: str, params: JSON, headers: dict[str, str], parse_error: str | None
    ) -> Reply:
        if method == "oauth.v2.access" and not parse_error:
            try:
                return json_reply({"ok": True, **self._oauth_access(params, headers)})
            except SlackError as exc:
                return json_reply({"ok": False, "error": exc.error})
        if not known_method(method):
            return json_reply({"ok": False, "error": "unknown_method"})
        if parse_error:
            return json_reply({"ok": False, "error": parse_error})
        try:
            auth = self._authenticate(params, headers)
        except SlackError as exc:
            return json_reply({"ok": False, "error": exc.error})
        ws, api = self._teams[self._tokens[auth.token].team_id or self._root.team_id]
        if method in POSTING_METHODS and self._limiter is not None:
            key = ws.channel_key(str(params.get("channel", "")))
            retry_after = self._limiter.check(key, self._clock())
            if retry_after is not None:
                self._counters.rate_limited += 1
                return json_reply(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(retry_after)},
                )
        return json_reply(api.dispatch(Call(method, params, auth)))

    def _serve_response_url(self, url_id: str, headers: dict[str, str], body: bytes) -> Reply:
        with self._lock:
            reply = self._respond(
                "response_url", lambda: self._accept_response(url_id, headers, body)
            )[0]
        self.note_change()
        return reply

    def _accept_response(self, url_id: str, headers: dict[str, str], body: bytes) -> Reply:
        ws, _ = self._teams.get(url_id.split("/", 1)[0], (self._ws, self._api))
        entry = ws.response_urls.get(url_id)
        if entry is None:
            return text_reply(404, "no_service")
        if self._clock() - entry.created > RESPONSE_URL_TTL:
            return text_reply(404, "expired_url")
        if entry.uses >= RESPONSE_URL_USES:
            return text_reply(404, "used_url")
        try:
            payload = json.loads(body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            payload = None
        if not isinstance(payload, dict):
            return text_reply(400, "invalid_payload")
        if not (
            payload.get("text") or payload.get("blocks") or _truthy(payload.get("delete_original"))
        ):
            return text_reply(400, "no_text")
        entry.uses += 1
        ws.response_url_posts.append(
            {
                "url": f"{self.url}/response/{url_id}",
                "time": self._clock(),
                "payload": copy.deepcopy(payload),
            }
        )
        self._apply_response(ws, entry, payload)
        return text_reply(200, "ok", content_type="text/html")

    def _apply_response(self, ws: Workspace, entry: ResponseUrl, payload: JSON) -> None:
        """What Slack does with a response_url post."""
        channel = ws.channels.get(entry.channel_id or "")
        original = channel.find(entry.message_ts) if channel and entry.message_ts else None
        if channel is not None and original is not None and _truthy(payload.get("delete_original")):
            channel.messages.remove(original)
        elif original is not None and _truthy(payload.get("replace_original")):
            original["text"] = payload.get("text", "")
            original.pop("blocks", None)
            if payload.get("blocks"):
                original["blocks"] = with_block_ids(payload["blocks"])
        elif channel is not None and payload.get("response_type") == "in_channel":
            message = {**ws.bot_message_base(), "text": payload.get("text", "")}
            if payload.get("blocks"):
                message["blocks"] = with_block_ids(payload["blocks"])
            if payload.get("thread_ts"):
                message["thread_ts"] = payload["thread_ts"]
            ws.append_message(channel, message)
        elif not _truthy(payload.get("delete_original")):
            ws.ephemerals.append(
                {
                    "source": "response_url",
                    "channel": entry.channel_id,
                    "user": entry.user_id,
                    "message_ts": ws.next_ts(),
                    "text": payload.get("text", ""),
                    "blocks": payload.get("blocks"),
                }
            )

    def _serve_upload(self, file_id: str, body: bytes) -> Reply:
        with self._lock:
            return self._respond("file_upload", lambda: self._accept_upload(file_id, body))[0]

    def _accept_upload(self, file_id: str, body: bytes) -> Reply:
        upload = next(
            (w.files[file_id] for w, _ in self._teams.values() if file_id in w.files), None
        )
        if upload is None or upload.completed:
            return text_reply(404, "file_not_found")
        upload.data = bytes(body)
        return text_reply(200, f"OK - {len(body)}")
