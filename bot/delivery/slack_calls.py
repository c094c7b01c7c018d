"""The sender's Slack calls: one client that never retries by itself, failures
sorted by what to do about them, and the reads a post needs (cached).

Every call the sender makes goes through `call_slack`, which turns Slack's answer
(or its silence) into a `SlackFailure` of one of four kinds: permanent (recorded
once, never retried), temporary (retried with backoff), rate_limited (due again
after Retry-After) and auth (the app is misconfigured: sending pauses).
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.errors import ConfigError
from bot.metrics import Metrics
from bot.settings import Settings

T = TypeVar("T")

# The metadata event type every nudge DM carries, with its delivery id.
METADATA_EVENT = "nudge_delivery"
# Slack's answers that will not change by trying again: recorded once, never retried.
PERMANENT_ERRORS = frozenset(
    {
        "user_not_found",
        "account_inactive",
        "channel_not_found",
        "cannot_dm_bot",
        "user_disabled",
        "is_archived",
        "not_in_channel",
        "user_is_restricted",
        "restricted_action",
        "messages_tab_disabled",
        "user_not_visible",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
        "too_many_attachments",
        "channel_is_archived",
    }
)
# The app itself is misconfigured: pause, keep the nudges, tell the operator.
AUTH_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "not_allowed_token_type",
        "team_access_not_granted",
        "ekm_access_denied",
    }
)
HISTORY_PAGES = 5
DND_CACHE_SECONDS = 60.0


def sender_client(
    settings: Settings, metrics: Metrics | None = None, *, token: str | None = None
) -> WebClient:
    """A WebClient that never retries by itself: a retried post after a lost
    answer would be a duplicate. The sender decides, after checking history.
    (The metrics observer only counts errors by method; it retries nothing.)
    `token`: a workspace's bot token (OAuth mode); SLACK_BOT_TOKEN otherwise."""
    if token is None:
        if settings.slack_bot_token is None:
            raise ConfigError("SLACK_BOT_TOKEN is not set; the sender cannot post")
        token = settings.slack_bot_token.get_secret_value()
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=settings.slack_timeout_seconds,
        retry_handlers=[metrics.slack_observer()] if metrics is not None else [],
    )


class SlackFailure(Exception):
    """A call that did not succeed, sorted by what to do about it."""

    def __init__(
        self, kind: str, error: str, retry_after: float = 0.0, *, unanswered: bool = False
    ) -> None:
        super().__init__(f"{kind}: {error}")
        self.kind = kind  # permanent | temporary | rate_limited | auth
        self.error = error
        self.retry_after = retry_after
        # No answer from Slack itself (timeout, refused or dropped connection, a 5xx
        # page): what Slack being away looks like, as opposed to an error it answered.
        self.unanswered = unanswered
        self.on_post = False  # chat.postMessage's own answer (its budget is the one paced)


def call_slack(func: Callable[[], T]) -> T:
    try:
        return func()
    except SlackApiError as exc:
        raise _classify(exc) from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        # Timeouts, refused and dropped connections: the call may or may not
        # have taken effect; the next attempt checks history first.
        raise SlackFailure("temporary", type(exc).__name__, unanswered=True) from None


def _classify(exc: SlackApiError) -> SlackFailure:
    response = exc.response
    status = getattr(response, "status_code", 200)
    error = str(response.get("error") or f"http_{status}") if response is not None else "unknown"
    if status == 429 or error == "ratelimited":
        headers = getattr(response, "headers", {}) or {}
        retry = headers.get("Retry-After") or headers.get("retry-after") or "1"
        return SlackFailure("rate_limited", "ratelimited", float(retry))
    if status >= 500:
        return SlackFailure("temporary", f"http_{status}", unanswered=True)
    if error in PERMANENT_ERRORS:
        return SlackFailure("permanent", error)
    if error in AUTH_ERRORS:
        return SlackFailure("auth", error)
    return SlackFailure("temporary", error)


class SlackReads:
    """Reads a post needs, cached per sender: the person's DM channel (it never
    changes), their Do Not Disturb (a minute), and a search of the DM history for a
    delivery already posted (never cached: it is what prevents a second post)."""

    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._dm: dict[str, str] = {}
        self._dnd: dict[str, tuple[float, bool, float]] = {}

    def open_dm(self, user_id: str, *, client: WebClient | None = None, team: str = "") -> str:
        # Keyed by workspace too: the same user id can be someone else in another one.
        key = f"{team}/{user_id}"
        channel = self._dm.get(key)
        if channel is None:
            api = client or self.client
            response = call_slack(lambda: api.conversations_open(users=user_id))
            channel = str((response.get("channel") or {}).get("id"))
            self._dm[key] = channel
        return channel

    def do_not_disturb_until(
        self, user_id: str, now: datetime, *, client: WebClient | None = None, team: str = ""
    ) -> datetime | None:
        """When the person's Do Not Disturb ends, or None when they may be nudged now."""
        key = f"{team}/{user_id}"
        cached = self._dnd.get(key)
        if cached is None or time.monotonic() - cached[0] > DND_CACHE_SECONDS:
            api = client or self.client
            info = call_slack(lambda: api.dnd_info(user=user_id))
            enabled = bool(info.get("dnd_enabled"))
            start, end = (
                float(info.get("next_dnd_start_ts") or 0),
                float(info.get("next_dnd_end_ts") or 0),
            )
            snooze = float(info.get("snooze_endtime") or 0) if info.get("snooze_enabled") else 0
            in_dnd = enabled and start <= now.timestamp() < end
            until = max(end if in_dnd else 0.0, snooze)
            cached = (time.monotonic(), until > now.timestamp(), until)
            self._dnd[key] = cached
        _, busy, until = cached
        if not busy or until <= now.timestamp():
            return None
        return datetime.fromtimestamp(until, now.tzinfo)

    def find_posted(
        self, channel: str, delivery_id: int, *, client: WebClient | None = None
    ) -> str | None:
        """The ts of the DM that carries this delivery id in its metadata, if any."""
        api = client or self.client

        def search() -> str | None:
            first = api.conversations_history(channel=channel, include_all_metadata=True, limit=200)
            # Iterating a SlackResponse fetches the following pages (next_cursor).
            for number, page in enumerate(first):
                if number >= HISTORY_PAGES:
                    break
                for message in page.get("messages") or []:
                    meta = message.get("metadata") or {}
                    payload = meta.get("event_payload") or {}
                    if meta.get("event_type") == METADATA_EVENT and _same_id(payload, delivery_id):
                        return str(message.get("ts"))
            return None

        return call_slack(search)


def _same_id(payload: dict[str, Any], delivery_id: int) -> bool:
    try:
        return int(payload.get("delivery_id", -1)) == delivery_id
    except (TypeError, ValueError):
        return False
