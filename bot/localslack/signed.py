"""Signing and sending: how the local Slack's driver reaches the app.

Every request carries ``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` =
``v0=hex(HMAC-SHA256(signing_secret, "v0:{timestamp}:{raw body}"))``, and
Slack's User-Agent; :class:`SignedSender` also hands out the identities,
trigger_ids and response_urls a payload names (from an attached
:class:`LocalSlack` when there is one).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.error import HTTPError
from urllib.parse import urlencode

if TYPE_CHECKING:
    from .server import LocalSlack

JSON = dict[str, Any]
FORM_TYPE: Final = "application/x-www-form-urlencoded"
JSON_TYPE: Final = "application/json"
USER_AGENT: Final = "Slackbot 1.0 (+https://api.slack.com/robots)"
#: Slack gives up on an app that has not answered within this many seconds.
SLACK_ACK_TIMEOUT: Final = 3.0


@dataclass
class DriverResponse:
    """The app's answer to one request, plus what was sent."""

    status: int
    headers: dict[str, str]
    body: str
    elapsed: float
    sent_body: bytes = b""
    sent_headers: dict[str, str] = field(default_factory=dict)
    trigger_id: str | None = None
    response_url: str | None = None
    function_execution_id: str | None = None  # a function_executed event's

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def acked_in_time(self) -> bool:
        """Whether Slack would have accepted the answer (within 3 s, HTTP 200)."""
        return self.status == 200 and self.elapsed < SLACK_ACK_TIMEOUT


def slack_signature(secret: str, body: bytes, timestamp: int) -> str:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class SignedSender:
    """Signs and posts requests to the app as Slack does; the base of SlackDriver."""

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        fake: LocalSlack | None = None,
        *,
        team_id: str | None = None,
        team_domain: str = "nudgebot-test",
        api_app_id: str | None = None,
        bot_user_id: str | None = None,
        verification_token: str = "vErIfIcAtIoNtOkEnFoRtEsTs",
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app_url = app_url
        self.signing_secret = signing_secret
        self.fake = fake
        self.team_id = team_id or (fake.team_id if fake else "T0TEST")
        self.team_domain = team_domain
        self.api_app_id = api_app_id or (fake.app_id if fake else "A0TEST")
        self.bot_user_id = bot_user_id or (fake.bot_user_id if fake else "U0BOT")
        self.verification_token = verification_token
        self.timeout = timeout
        self.clock = clock
        self._serial = itertools.count(1)

    # -- signing and transport -----------------------------------------------

    def sign(self, body: bytes, timestamp: int) -> str:
        """The X-Slack-Signature value Slack would send for this body."""
        return slack_signature(self.signing_secret, body, timestamp)

    def raw(
        self,
        body: bytes,
        *,
        headers: Mapping[str, str | None] | None = None,
        sign: bool = True,
        timestamp: int | None = None,
        secret: str | None = None,
        content_type: str = FORM_TYPE,
    ) -> DriverResponse:
        """Send any body. For hostile tests: ``sign=False`` (no signature),
        ``secret=`` (signed with the wrong secret), ``timestamp=`` (stale or
        future), ``headers={"X-Slack-Signature": None}`` removes a header."""
        stamp = int(self.clock()) if timestamp is None else timestamp
        sent: dict[str, str] = {
            "Content-Type": content_type,
            "User-Agent": USER_AGENT,
            "Accept": "application/json,*/*",
            "X-Slack-Request-Timestamp": str(stamp),
        }
        if sign:
            sent["X-Slack-Signature"] = slack_signature(secret or self.signing_secret, body, stamp)
        for name, value in (headers or {}).items():
            sent.pop(name, None)
            if value is not None:
                sent[name] = value
        return self._send(body, sent)

    def _send(self, body: bytes, headers: dict[str, str]) -> DriverResponse:
        request = urllib.request.Request(self.app_url, data=body, headers=headers, method="POST")
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, answer_headers, raw_answer = (
                    response.status,
                    dict(response.headers.items()),
                    response.read(),
                )
        except HTTPError as exc:  # 4xx/5xx from the app are answers too
            status, answer_headers, raw_answer = exc.code, dict(exc.headers.items()), exc.read()
        return DriverResponse(
            status,
            answer_headers,
            raw_answer.decode("utf-8", "replace"),
            time.monotonic() - started,
            body,
            headers,
        )

    def _form(self, fields: Sequence[tuple[str, str]], **extra: str | None) -> DriverResponse:
        body = urlencode(list(fields)).encode()
        response = self.raw(body, content_type=FORM_TYPE)
        response.trigger_id = extra.get("trigger_id")
        response.response_url = extra.get("response_url")
        return response

    def _interaction(self, payload: JSON) -> DriverResponse:
        # Slack sends interactivity as one form field holding compact JSON.
        encoded = json.dumps(payload, separators=(",", ":"))
        return self._form(
            [("payload", encoded)],
            trigger_id=payload.get("trigger_id"),
            response_url=payload.get("response_url"),
        )

    # -- identities and tokens handed to the app -----------------------------

    def _user(self, user_id: str) -> JSON:
        name = (self.fake.user_name(user_id) if self.fake else None) or user_id.lower()
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    def _team(self) -> JSON:
        return {"id": self.team_id, "domain": self.team_domain}

    def _channel_name(self, channel_id: str) -> str:
        known = self.fake.channel_name(channel_id) if self.fake else None
        if channel_id.startswith("D"):
            return "directmessage"
        return known or channel_id.lower()

    def _trigger(self, user_id: str, view_id: str | None = None) -> str:
        if self.fake is not None:
            return self.fake.issue_trigger_id(user_id, view_id=view_id)
        return f"{int(self.clock() * 1000)}.{next(self._serial)}.{secrets.token_hex(16)}"

    def _response_url(
        self, *, channel_id: str | None, user_id: str, message_ts: str | None = None
    ) -> str:
        if self.fake is not None:
            return self.fake.new_response_url(
                channel_id=channel_id, message_ts=message_ts, user_id=user_id
            )
        return f"https://hooks.slack.com/actions/{self.team_id}/{next(self._serial)}/{secrets.token_urlsafe(18)}"

    def _action_ts(self) -> str:
        return f"{self.clock():.6f}"
