"""Tokens, several teams and OAuth of the local Slack.

A token names its team; ``add_team`` makes another workspace and ``team``
returns the handle that sets it up and reads it back. ``oauth.v2.access``
trades a code (from ``authorize``, what the consent page does) or a refresh
token for a bot token, rotating ones expiring as Slack's do.
"""

from __future__ import annotations

import base64
import copy
import secrets
from typing import Self

from .records import JSON, SlackError
from .state import SlackState, _Grant, _OAuthApp, _TokenInfo
from .transport import header
from .webapi import Auth, WebApi
from .workspace import Workspace


class Teams(SlackState):
    """Token, team and OAuth set-up, and the server's token checks."""

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
        """The team a token belongs to (None: this local Slack does not know it)."""
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
    ) -> Self:
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

    def team(self, team_id: str) -> Self:
        """The handle of one team: set-up and read-back methods act on that team,
        and a SlackDriver given it signs requests as that team. It shares this
        local Slack's server, lock, tokens, recorded calls and faults."""
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

    # -- serving (called from handler threads, with the lock held) ----------

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
