"""FakeSlack: a real HTTP server speaking the Slack Web API, for tests.

    with FakeSlack() as fake:
        fake.add_user("U0ALICE", name="alice", tz="Europe/Sofia")
        client = WebClient(base_url=fake.base_url, token=fake.bot_token)
        client.chat_postMessage(channel="U0ALICE", text="hi")
        assert fake.dm_messages("U0ALICE")[0]["text"] == "hi"

Everything a test sets up or reads back goes through plain methods guarded by
one lock; the HTTP handler threads take the same lock, so a test may inspect
state while the app under test is calling the fake.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from .faults import Fault, FaultPlan, RateLimiter
from .transport import (
    BadRequest,
    FakeHTTPServer,
    Reply,
    edge_error_reply,
    header,
    json_reply,
    parse_params,
    text_reply,
)
from .webapi import POSTING_METHODS, Auth, Call, WebApi, known_method
from .workspace import (
    JSON,
    RESPONSE_URL_TTL,
    RESPONSE_URL_USES,
    Channel,
    Dnd,
    ResponseUrl,
    SlackError,
    User,
    Usergroup,
    Workspace,
    with_block_ids,
)


@dataclass
class RecordedCall:
    """One Web API call as the fake received and answered it."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    time: float
    status: int = 200
    response: dict[str, Any] | None = None
    fault: str | None = None  # the injected fault kind served, if any

    @property
    def ok(self) -> bool:
        return bool(self.response and self.response.get("ok"))


@dataclass
class _TokenInfo:
    user_id: str
    bot_id: str | None
    revoked: bool = False
    team_id: str = ""  # "" = the fake's first team
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


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


class FakeSlack:
    """A local Slack Web API on 127.0.0.1 with a scriptable workspace."""

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
        # Every team of the fake: tokens name theirs; the first is this object's own.
        self._teams: dict[str, tuple[Workspace, WebApi]] = {team_id: (self._ws, self._api)}
        self._tokens: dict[str, _TokenInfo] = {
            bot_token: _TokenInfo(bot_user_id, bot_id, team_id=team_id)
        }
        self._oauth: list[_OAuthApp] = []  # a list so that team views share it
        self._codes: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}
        self._root = self
        self._calls: list[RecordedCall] = []
        self._faults = FaultPlan()
        self._limiter: RateLimiter | None = None
        self._counters = _Counters()
        self._server: FakeHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.bot_token = bot_token
        self.team_id = team_id
        self.app_id = app_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = FakeHTTPServer(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fakeslack",
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
        server = self._root._server
        if server is None:
            raise RuntimeError(
                "FakeSlack is not running; call start() or use it as a context manager"
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

    def add_token(self, token: str, *, user_id: str, bot_id: str | None = None) -> None:
        """Another accepted token (e.g. a user token ``xoxp-…`` for ``user_id``),
        of this object's team."""
        with self._lock:
            self._tokens[token] = _TokenInfo(user_id, bot_id, team_id=self.team_id)

    def expire_token(self, token: str) -> None:
        """Later calls with this token answer ``token_expired`` (a rotating token's end)."""
        with self._lock:
            self._tokens[token].expired = True

    def token_team(self, token: str) -> str | None:
        """The team a token belongs to (None: the fake does not know it)."""
        with self._lock:
            info = self._tokens.get(token)
            return (info.team_id or self._root.team_id) if info else None

    # -- several teams and OAuth ---------------------------------------------

    def add_team(
        self,
        team_id: str,
        *,
        team_name: str | None = None,
        team_domain: str | None = None,
        bot_user_id: str | None = None,
        bot_id: str | None = None,
    ) -> FakeSlack:
        """Another workspace with users, channels and messages of its own; returns
        the handle to set it up and read it back (same methods as this object).
        Its tokens come from the OAuth flow (``authorize`` and oauth.v2.access) or
        from ``add_token`` on the handle."""
        with self._lock:
            if team_id in self._teams:
                raise ValueError(f"team {team_id} exists already")
            ws = Workspace(
                team_id=team_id,
                team_name=team_name or f"Team {team_id}",
                team_domain=team_domain or team_id.lower(),
                app_id=self.app_id,
                bot_user_id=bot_user_id or self._root.bot_user_id,
                bot_id=bot_id or f"B{team_id}",
                bot_name=self._ws.bot_name,
                clock=self._clock,
                include_system_users=self._include_system_users,
            )
            api = WebApi(ws, lambda: self.url, expose_others_snooze=self._expose_others_snooze)
            self._teams[team_id] = (ws, api)
        return self.team(team_id)

    def team(self, team_id: str) -> FakeSlack:
        """The handle of one team: set-up and read-back methods act on that team,
        and a SlackDriver given it signs requests as that team. It shares this
        fake's server, lock, tokens, recorded calls and faults."""
        with self._lock:
            ws, api = self._teams[team_id]
        view = copy.copy(self)
        view._ws, view._api = ws, api
        view.team_id, view.bot_user_id, view.bot_id = team_id, ws.bot_user_id, ws.bot_id
        view.bot_token = next(
            (t for t, i in self._tokens.items() if i.team_id == team_id and i.bot_id), ""
        )
        return view

    @property
    def team_ids(self) -> list[str]:
        with self._lock:
            return list(self._teams)

    def set_oauth_app(
        self,
        client_id: str,
        client_secret: str,
        *,
        token_rotation: bool = True,
        expires_in: int = 12 * 3600,
        scopes: str = "chat:write,im:write,users:read",
    ) -> None:
        """The app's credentials for oauth.v2.access. With ``token_rotation`` bot
        tokens expire after ``expires_in`` seconds and come with a refresh token."""
        with self._lock:
            self._oauth[:] = [
                _OAuthApp(client_id, client_secret, token_rotation, expires_in, scopes)
            ]

    def authorize(self, team_id: str, *, user_id: str) -> str:
        """What Slack's consent page does when ``user_id`` of ``team_id`` clicks
        Allow: a one-time code (10 minutes) for the app's redirect URL."""
        with self._lock:
            if not self._oauth:
                raise RuntimeError("call set_oauth_app() first")
            if team_id not in self._teams:
                raise KeyError(f"no team {team_id}; add_team() first")
            code = f"{team_id}.{secrets.token_hex(12)}"
            self._codes[code] = _Grant(team_id, user_id, self._oauth[0].scopes, self._clock())
            return code

    def tokens_of(self, team_id: str) -> list[str]:
        """Bot tokens issued for a team, oldest first (rotation adds one each time)."""
        with self._lock:
            return [t for t, i in self._tokens.items() if i.team_id == team_id and i.bot_id]

    def revoke_token(self, token: str) -> None:
        """Later calls with this token answer ``token_revoked``."""
        with self._lock:
            self._tokens[token].revoked = True

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
    def faults_served(self) -> int:
        with self._lock:
            return len(self._faults.served)

    @property
    def faults_log(self) -> list[tuple[str, str]]:
        """(method, fault kind) for every fault served, in order."""
        with self._lock:
            return list(self._faults.served)

    @property
    def rate_limited_count(self) -> int:
        """429s answered by the rate limiter (injected ones are faults_served)."""
        with self._lock:
            return self._counters.rate_limited

    @property
    def handler_errors(self) -> list[str]:
        """Tracebacks of exceptions inside the fake (answered as HTTP 500)."""
        with self._lock:
            return list(self._counters.handler_errors)

    # -- faults and limits ---------------------------------------------------

    def inject(
        self,
        method: str | None,
        kind: str,
        *,
        times: int | None = 1,
        retry_after: int = 1,
        status: int = 503,
        error: str = "internal_error",
        seconds: float = 2.0,
        commit: bool = False,
    ) -> None:
        """Serve ``kind`` for the next ``times`` calls to ``method`` (None or
        "*" = any method; ``times=None`` = every call until clear_faults()).
        Pseudo-methods ``response_url`` and ``file_upload`` cover those URLs."""
        fault = Fault(
            kind,
            retry_after=retry_after,
            status=status,
            error=error,
            seconds=seconds,
            commit=commit,
        )
        with self._lock:
            self._faults.add(method, [fault], times=times, share=1.0, seed=0)

    def inject_random(
        self,
        method: str | None,
        *,
        share: float,
        kinds: Sequence[str],
        seed: int = 0,
        times: int | None = None,
        **options: Any,
    ) -> None:
        """Serve one of ``kinds`` (seeded choice) on a ``share`` of calls.
        ``options`` are inject()'s (retry_after, status, error, seconds, commit)."""
        faults = [Fault(kind, **options) for kind in kinds]
        with self._lock:
            self._faults.add(method, faults, times=times, share=share, seed=seed)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

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

    def _with_faults(self, name: str, produce: Callable[[], Reply]) -> tuple[Reply, Fault | None]:
        """Answer normally, or serve an injected fault instead of / on top of it."""
        fault = self._faults.pick(name)
        if fault is None:
            return produce(), None
        if fault.kind == "slow":
            return replace(produce(), delay=fault.seconds), fault
        if fault.kind == "drop":
            reply = produce() if fault.commit else text_reply(200, "")
            return replace(reply, drop=True), fault
        if fault.kind == "rate_limited":
            return json_reply(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(fault.retry_after)},
            ), fault
        if fault.kind == "server_error":
            return edge_error_reply(fault.status), fault
        return json_reply({"ok": False, "error": fault.error}), fault

    def _serve_api(self, method: str, query: str, headers: dict[str, str], body: bytes) -> Reply:
        with self._lock:
            try:
                params = parse_params(query, body, header(headers, "Content-Type"))
                parse_error = None
            except BadRequest as exc:
                params, parse_error = dict(parse_qsl(query)), exc.error
            record = RecordedCall(method, params, headers, self._clock())
            self._calls.append(record)
            reply, fault = self._with_faults(
                method, lambda: self._answer(method, params, headers, parse_error)
            )
            # A dropped connection answered nothing (status 0), even if the call took effect.
            record.status = 0 if reply.drop else reply.status
            record.fault = fault.kind if fault else None
            record.response = reply.json()
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

    def _oauth_access(self, params: JSON, headers: dict[str, str]) -> JSON:
        """oauth.v2.access: a code for a bot token, or (grant_type=refresh_token)
        a refresh token for a new one. The app authenticates with HTTP Basic
        (client_id:client_secret) or with those two as parameters."""
        if not self._oauth:
            raise SlackError("invalid_client_id")
        app = self._oauth[0]
        client_id, client_secret = params.get("client_id"), params.get("client_secret")
        authorization = header(headers, "Authorization")
        if authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip()).decode()
            except (ValueError, UnicodeDecodeError):
                raise SlackError("invalid_client_id") from None
            client_id, _, client_secret = decoded.partition(":")
        if client_id != app.client_id:
            raise SlackError("invalid_client_id")
        if client_secret != app.client_secret:
            raise SlackError("bad_client_secret")
        grant_type = str(params.get("grant_type") or "authorization_code")
        if grant_type == "refresh_token":
            grant = self._refresh.pop(str(params.get("refresh_token") or ""), None)
            if grant is None:
                raise SlackError("invalid_refresh_token")
            return self._issue(app, grant, refreshed=True)
        if grant_type != "authorization_code":
            raise SlackError("invalid_grant_type")
        grant = self._codes.pop(str(params.get("code") or ""), None)
        if grant is None or self._clock() - grant.created > 600:
            raise SlackError("invalid_code")
        return self._issue(app, grant, refreshed=False)

    def _issue(self, app: _OAuthApp, grant: _Grant, *, refreshed: bool) -> JSON:
        ws, _ = self._teams[grant.team_id]
        serial = sum(1 for i in self._tokens.values() if i.team_id == grant.team_id) + 1
        prefix = "xoxe.xoxb" if app.token_rotation else "xoxb"
        token = f"{prefix}-{grant.team_id}-{serial}-{secrets.token_hex(8)}"
        expires_at = self._clock() + app.expires_in if app.token_rotation else None
        self._tokens[token] = _TokenInfo(
            ws.bot_user_id, ws.bot_id, team_id=grant.team_id, expires_at=expires_at
        )
        answer: JSON = {
            "app_id": self.app_id,
            "access_token": token,
            "token_type": "bot",
            "scope": grant.scopes,
            "bot_user_id": ws.bot_user_id,
            "team": {"id": ws.team_id, "name": ws.team_name},
            "enterprise": None,
            "is_enterprise_install": False,
        }
        if not refreshed:
            answer["authed_user"] = {"id": grant.installer}
        if app.token_rotation:
            refresh = f"xoxe-1-{secrets.token_hex(12)}"
            self._refresh[refresh] = grant
            answer.update(refresh_token=refresh, expires_in=app.expires_in)
        return answer

    def _authenticate(self, params: JSON, headers: dict[str, str]) -> Auth:
        authorization = header(headers, "Authorization")
        token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
        if not token and isinstance(params.get("token"), str):
            token = params["token"]
        if not token:
            raise SlackError("not_authed")
        info = self._tokens.get(token)
        if info is None:
            raise SlackError("invalid_auth")
        if info.revoked:
            raise SlackError("token_revoked")
        if info.expired or (info.expires_at is not None and self._clock() >= info.expires_at):
            raise SlackError("token_expired")
        return Auth(token, info.user_id, info.bot_id)

    # -- response_url and upload URLs ----------------------------------------

    def _serve_response_url(self, url_id: str, headers: dict[str, str], body: bytes) -> Reply:
        with self._lock:
            return self._with_faults(
                "response_url", lambda: self._accept_response(url_id, headers, body)
            )[0]

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
            return self._with_faults("file_upload", lambda: self._accept_upload(file_id, body))[0]

    def _accept_upload(self, file_id: str, body: bytes) -> Reply:
        upload = next(
            (w.files[file_id] for w, _ in self._teams.values() if file_id in w.files), None
        )
        if upload is None or upload.completed:
            return text_reply(404, "file_not_found")
        upload.data = bytes(body)
        return text_reply(200, f"OK - {len(body)}")
