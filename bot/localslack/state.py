"""The local Slack's state and the plain methods to set it up and read it back.

Every method takes the one lock the HTTP handler threads take too, so a caller
may inspect state while an app is calling the server. :class:`SlackState`
holds every team's workspace, the tokens and the recorded calls;
:mod:`.teams` adds tokens, teams and OAuth, :mod:`.server` the HTTP side.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import (  # noqa: F401 (registers them)
    webapi_chat,
    webapi_conversations,
    webapi_functions,
    webapi_views,
)
from .ratelimit import RateLimiter
from .records import JSON, Channel, Dnd, FunctionExecution, User, Usergroup, with_block_ids
from .webapi import WebApi
from .workspace import Workspace


@dataclass
class RecordedCall:
    """One Web API call as the server received and answered it."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    time: float
    status: int = 200
    response: dict[str, Any] | None = None
    fault: str | None = None  # what a responder served instead of the answer, if any

    @property
    def ok(self) -> bool:
        return bool(self.response and self.response.get("ok"))


@dataclass
class _TokenInfo:
    user_id: str
    bot_id: str | None
    revoked: bool = False
    team_id: str = ""  # "" = the first team
    expires_at: float | None = None  # rotating tokens answer token_expired after this
    expired: bool = False


@dataclass
class _OAuthApp:
    """The app's credentials and how oauth.v2.access issues its bot tokens."""

    client_id: str
    client_secret: str
    token_rotation: bool
    expires_in: int
    scopes: str


@dataclass
class _Grant:
    """What a code or a refresh token stands for: the app installed in a team."""

    team_id: str
    installer: str
    scopes: str
    created: float


@dataclass
class _Counters:
    rate_limited: int = 0
    handler_errors: list[str] = field(default_factory=list)


class SlackState:
    """Workspaces, tokens and recorded calls of a local Slack, behind one lock."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-token",
        team_id: str = "T0TEST",
        team_name: str = "Nudgebot Test",
        team_domain: str = "nudgebot-test",
        app_id: str = "A0TEST",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        bot_name: str = "nudgebot",
        clock: Callable[[], float] | None = None,
        include_system_users: bool = True,
        expose_others_snooze: bool = False,
    ) -> None:
        """``clock`` drives trigger expiry, message ts, rate-limit buckets and
        response_url expiry (default ``time.time``). ``include_system_users``
        lists USLACKBOT and the bot user in users.list, as real Slack does.
        ``expose_others_snooze`` shows snooze_* of other users in dnd.info,
        which real Slack does not."""
        self._clock = clock or time.time
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._ws = Workspace(
            team_id=team_id,
            team_name=team_name,
            team_domain=team_domain,
            app_id=app_id,
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            bot_name=bot_name,
            clock=self._clock,
            include_system_users=include_system_users,
        )
        self._api = WebApi(self._ws, lambda: self.url, expose_others_snooze=expose_others_snooze)
        self._expose_others_snooze = expose_others_snooze
        self._include_system_users = include_system_users
        # Every team: tokens name theirs; the first is this object's own.
        self._teams: dict[str, tuple[Workspace, WebApi]] = {team_id: (self._ws, self._api)}
        self._tokens: dict[str, _TokenInfo] = {
            bot_token: _TokenInfo(bot_user_id, bot_id, team_id=team_id)
        }
        self._oauth: list[_OAuthApp] = []  # a list so that team views share it
        self._codes: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}
        self._root = self
        self._calls: list[RecordedCall] = []
        self._limiter: RateLimiter | None = None
        self._counters = _Counters()
        self.bot_token = bot_token
        self.team_id = team_id
        self.app_id = app_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id

    # -- lifecycle -----------------------------------------------------------

    @property
    def url(self) -> str:
        """Root of the HTTP server, e.g. ``http://127.0.0.1:PORT`` (see :mod:`.server`)."""
        raise NotImplementedError

    # -- workspace set-up ----------------------------------------------------

    def add_user(
        self,
        user_id: str,
        *,
        name: str,
        real_name: str | None = None,
        display_name: str = "",
        tz: str = "UTC",
        locale: str = "en-US",
        email: str | None = None,
        deleted: bool = False,
        is_bot: bool = False,
        is_admin: bool = False,
        status_emoji: str = "",
        status_text: str = "",
        status_expiration: int = 0,
    ) -> None:
        with self._lock:
            self._ws.users[user_id] = User(
                user_id,
                name,
                self.team_id,
                real_name=real_name if real_name is not None else name,
                display_name=display_name,
                tz=tz,
                locale=locale,
                email=email,
                deleted=deleted,
                is_bot=is_bot,
                is_admin=is_admin,
                status_emoji=status_emoji,
                status_text=status_text,
                status_expiration=status_expiration,
                updated=int(self._clock()),
            )

    def update_user(self, user_id: str, **changes: Any) -> None:
        """Change fields of an existing user, e.g. ``deleted=True`` or ``tz=...``."""
        with self._lock:
            user = self._ws.user(user_id)
            for key, value in changes.items():
                if not hasattr(user, key) or key == "id":
                    raise AttributeError(f"User has no settable field {key!r}")
                setattr(user, key, value)
            user.updated = int(self._clock())

    def add_channel(
        self,
        channel_id: str,
        *,
        name: str,
        members: Iterable[str] = (),
        is_private: bool = False,
        bot_member: bool = True,
        is_archived: bool = False,
    ) -> None:
        """A public (``C…``) or private channel. The bot is a member unless
        ``bot_member=False``, in which case posting answers ``not_in_channel``."""
        with self._lock:
            member_list = list(dict.fromkeys(members))
            if bot_member and self.bot_user_id not in member_list:
                member_list.append(self.bot_user_id)
            self._ws.channels[channel_id] = Channel(
                channel_id,
                name,
                "private" if is_private else "public",
                int(self._clock()),
                members=member_list,
                is_archived=is_archived,
            )

    def add_members(self, channel_id: str, *user_ids: str) -> None:
        with self._lock:
            channel = self._ws.channel(channel_id)
            channel.members.extend(u for u in user_ids if u not in channel.members)

    def add_usergroup(self, usergroup_id: str, *, handle: str, users: Iterable[str]) -> None:
        with self._lock:
            self._ws.usergroups[usergroup_id] = Usergroup(usergroup_id, handle, list(users))

    def set_dnd(
        self,
        user_id: str,
        *,
        enabled: bool = True,
        next_start_ts: int = 1,
        next_end_ts: int = 1,
        snooze_endtime: int | None = None,
    ) -> None:
        """A user's DnD schedule (``enabled`` with next start/end) and snooze."""
        with self._lock:
            self._ws.dnd[user_id] = Dnd(enabled, next_start_ts, next_end_ts, snooze_endtime)

    def add_message(
        self,
        channel: str,
        *,
        user: str,
        text: str = "",
        thread_ts: str | None = None,
        blocks: list[JSON] | None = None,
        metadata: JSON | None = None,
    ) -> str:
        """A message written by a person (not the bot); returns its ts.
        ``channel`` may be a user id, meaning the bot's DM with that user."""
        with self._lock:
            target = self._ws.channel(channel, allow_user=True)
            message: JSON = {"type": "message", "user": user, "text": text, "team": self.team_id}
            if blocks is not None:
                message["blocks"] = with_block_ids(blocks)
            if metadata is not None:
                message["metadata"] = copy.deepcopy(metadata)
            if thread_ts:
                message["thread_ts"] = thread_ts
            return str(self._ws.append_message(target, message)["ts"])

    def start_function(
        self, callback_id: str, inputs: JSON, *, output_parameters: JSON | None = None
    ) -> FunctionExecution:
        """A workflow reaches the app's custom step ``callback_id``: Slack makes a
        function execution (``Fx…``) and a workflow token (``xwfp-…``) for it, both
        sent in the function_executed event; the execution stays running until
        functions.completeSuccess/completeError. ``output_parameters`` (the
        manifest's, name -> definition) makes completeSuccess check the outputs."""
        with self._lock:
            token = f"xwfp-{secrets.token_hex(12)}"
            self._tokens[token] = _TokenInfo(self.bot_user_id, self.bot_id, team_id=self.team_id)
            execution = FunctionExecution(
                id=self._ws.new_id("Fx"),
                callback_id=callback_id,
                inputs=copy.deepcopy(inputs),
                bot_access_token=token,
                workflow_execution_id=self._ws.new_id("Wx"),
                created=self._clock(),
                output_parameters=copy.deepcopy(output_parameters),
            )
            self._ws.function_executions[execution.id] = execution
            return copy.deepcopy(execution)

    def function_execution(self, execution_id: str) -> FunctionExecution | None:
        """A function execution as it stands: running, completed (with its outputs)
        or failed (with its error)."""
        with self._lock:
            found = self._ws.function_executions.get(execution_id)
            return copy.deepcopy(found) if found else None

    def issue_trigger_id(self, user_id: str, *, view_id: str | None = None) -> str:
        """A trigger_id views.open/push accept once, within 3 s of the clock.
        ``view_id``: the modal the interaction happened in (for views.push)."""
        with self._lock:
            return self._ws.new_trigger(user_id, view_id)

    def new_response_url(
        self,
        *,
        channel_id: str | None = None,
        message_ts: str | None = None,
        user_id: str | None = None,
    ) -> str:
        """A response_url served by the fake. Bound to a message, it honours
        replace_original/delete_original; otherwise a post becomes an ephemeral
        for ``user_id`` or, with ``response_type: in_channel``, a bot message."""
        with self._lock:
            return (
                f"{self.url}/response/{self._ws.new_response_url(channel_id, message_ts, user_id)}"
            )

    # -- reading state back --------------------------------------------------

    @property
    def calls(self) -> list[RecordedCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[RecordedCall]:
        with self._lock:
            return [c for c in self._calls if c.method == method]

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def messages(self, channel: str) -> list[JSON]:
        """Every message of a conversation (thread replies included), oldest
        first, metadata included. A user id means the bot's DM with them."""
        with self._lock:
            if channel[:1] in ("U", "W") and channel in self._ws.users:
                channel = self._ws.dm_id(channel)
            found = self._ws.channels.get(channel)
            return copy.deepcopy(found.messages) if found else []

    def dm_messages(self, user_id: str) -> list[JSON]:
        with self._lock:
            found = self._ws.channels.get(self._ws.dm_id(user_id))
            return copy.deepcopy(found.messages) if found else []

    def dm_channel_id(self, user_id: str) -> str:
        """The D… id conversations.open returns for this user."""
        return self._ws.dm_id(user_id)

    def message(self, channel: str, ts: str) -> JSON | None:
        with self._lock:
            found = self._ws.channels.get(channel)
            message = found.find(ts) if found else None
            return copy.deepcopy(message) if message else None

    def channel_name(self, channel_id: str) -> str | None:
        with self._lock:
            found = self._ws.channels.get(channel_id)
            return found.name if found else None

    def channel_members(self, channel_id: str) -> list[str]:
        with self._lock:
            found = self._ws.channels.get(channel_id)
            return list(found.members) if found else []

    def user_name(self, user_id: str) -> str | None:
        with self._lock:
            found = self._ws.users.get(user_id)
            return found.name if found else None

    def home_view(self, user_id: str) -> JSON | None:
        with self._lock:
            record = self._ws.views.get(self._ws.home_views.get(user_id, ""))
            return copy.deepcopy(record.view) if record else None

    @property
    def views(self) -> dict[str, JSON]:
        """Every modal and Home view by id, as last opened/updated/published."""
        with self._lock:
            return {view_id: copy.deepcopy(r.view) for view_id, r in self._ws.views.items()}

    def view(self, view_id: str) -> JSON | None:
        with self._lock:
            record = self._ws.views.get(view_id)
            return copy.deepcopy(record.view) if record else None

    @property
    def ephemerals(self) -> list[JSON]:
        with self._lock:
            return copy.deepcopy(self._ws.ephemerals)

    @property
    def response_url_posts(self) -> list[JSON]:
        """Each accepted response_url post: {url, time, payload}."""
        with self._lock:
            return copy.deepcopy(self._ws.response_url_posts)

    @property
    def uploaded_files(self) -> dict[str, bytes]:
        """Bytes received at upload URLs, by file id."""
        with self._lock:
            return {f.id: f.data for f in self._ws.files.values() if f.data is not None}

    @property
    def rate_limited_count(self) -> int:
        """429s answered by the rate limiter (injected ones are faults_served)."""
        with self._lock:
            return self._counters.rate_limited

    @property
    def handler_errors(self) -> list[str]:
        """Tracebacks of exceptions inside the local Slack (answered as HTTP 500)."""
        with self._lock:
            return list(self._counters.handler_errors)
