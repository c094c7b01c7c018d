"""Bot tokens per workspace for work outside a Slack request (OAuth mode).

With `token_rotation_enabled: true` in the app's manifest Slack issues expiring
bot tokens with a refresh token; Bolt refreshes them per request and
`WorkspaceTokens` does the same for background work (the sender, digests,
ticks), through SLACK_API_URL in both cases. bot.slack.install holds one per
process (`workspace_tokens`)."""

from __future__ import annotations

import threading
import time

from slack_sdk import WebClient
from slack_sdk.oauth.installation_store import Bot, InstallationStore
from slack_sdk.oauth.token_rotation import TokenRotator

from bot.errors import ConfigError
from bot.settings import Settings
from bot.webclient import make_web_client

# How long a workspace's bot token is reused before the store is read again.
TOKEN_CACHE_SECONDS = 300


def credentials(settings: Settings) -> tuple[str, str]:
    if not settings.slack_client_id or settings.slack_client_secret is None:
        raise ConfigError(
            "NUDGEBOT_INSTALL_MODE=oauth needs SLACK_CLIENT_ID and SLACK_CLIENT_SECRET "
            "(the app's Basic Information page)"
        )
    return settings.slack_client_id, settings.slack_client_secret.get_secret_value()


def current_bot(
    settings: Settings,
    store: InstallationStore,
    *,
    team_id: str,
    enterprise_id: str | None,
    rotation_minutes: int,
) -> Bot | None:
    """The workspace's bot, its token refreshed first when it expires within
    `rotation_minutes` (the refreshed bot is saved); None when not installed."""
    bot = store.find_bot(enterprise_id=enterprise_id, team_id=team_id)
    if bot is None or not bot.bot_token:
        return None
    if bot.bot_refresh_token:
        rotated = rotator(settings).perform_bot_token_rotation(
            bot=bot, minutes_before_expiration=rotation_minutes
        )
        if rotated is not None:
            store.save_bot(rotated)
            bot = rotated
    return bot


def rotator(settings: Settings) -> TokenRotator:
    client_id, client_secret = credentials(settings)
    return TokenRotator(
        client_id=client_id,
        client_secret=client_secret,
        client=WebClient(base_url=settings.slack_api_url, timeout=settings.slack_timeout_seconds),
    )


def workspace_client(
    settings: Settings,
    store: InstallationStore,
    *,
    team_id: str,
    enterprise_id: str | None = None,
    rotation_minutes: int = 120,
) -> WebClient | None:
    """A bot client for background work in one workspace, or None when the app is
    not (or no longer) installed there: the sender skips that workspace then."""
    bot = current_bot(
        settings,
        store,
        team_id=team_id,
        enterprise_id=enterprise_id,
        rotation_minutes=rotation_minutes,
    )
    return None if bot is None else make_web_client(settings, token=bot.bot_token)


class WorkspaceTokens:
    """Bot tokens per workspace for work outside a Slack request (the sender, ticks).

    A token is read from the installation store (and rotated there when it is about
    to expire) once, then reused until it comes within `rotation_minutes` of its
    expiry or TOKEN_CACHE_SECONDS passed, so the store is not read per message.
    `forget` drops a workspace at once (uninstall, a revoked token)."""

    def __init__(
        self,
        settings: Settings,
        store: InstallationStore | None,
        *,
        rotation_minutes: int = 120,
    ) -> None:
        self.settings = settings
        self.store = store
        self.rotation_minutes = rotation_minutes
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def token(self, team_id: str) -> str | None:
        """The bot token for the workspace; None when the app is not installed there.
        Single mode: SLACK_BOT_TOKEN, whatever the team."""
        if self.store is None:
            secret = self.settings.slack_bot_token
            return secret.get_secret_value() if secret is not None else None
        with self._lock:
            hit = self._cache.get(team_id)
            if hit is not None and time.time() < hit[1]:
                return hit[0]
            bot = current_bot(
                self.settings,
                self.store,
                team_id=team_id,
                enterprise_id=None,
                rotation_minutes=self.rotation_minutes,
            )
            if bot is None or not bot.bot_token:
                self._cache.pop(team_id, None)
                return None
            until = time.time() + TOKEN_CACHE_SECONDS
            if bot.bot_token_expires_at:
                until = min(until, bot.bot_token_expires_at - self.rotation_minutes * 60)
            self._cache[team_id] = (bot.bot_token, until)
            return bot.bot_token

    def forget(self, team_id: str) -> None:
        with self._lock:
            self._cache.pop(team_id, None)
