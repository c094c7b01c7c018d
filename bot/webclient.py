"""The Slack Web API client every part of Nudgebot uses."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.errors import ConfigError
from bot.metrics import Metrics
from bot.settings import Settings

MANIFEST_HINT = "create the Slack app from config/manifest.yml (README: Create the Slack app)"


def make_web_client(
    settings: Settings,
    *,
    token: str | None = None,
    rate_limit_retries: int = 2,
    timeout: int = 10,
    metrics: Metrics | None = None,
) -> WebClient:
    """A WebClient on SLACK_API_URL that retries what is worth retrying.

    429s wait for Retry-After, 5xx pages and dropped connections are tried again
    a couple of times. The sender passes `rate_limit_retries=0` because it paces
    itself and pauses its whole budget on a 429 instead of blocking one thread.
    """
    if token is None:
        if settings.slack_bot_token is None:
            raise ConfigError(f"SLACK_BOT_TOKEN is not set; {MANIFEST_HINT}")
        token = settings.slack_bot_token.get_secret_value()
    handlers: list[RetryHandler] = [
        ServerErrorRetryHandler(max_retry_count=2),
        ConnectionErrorRetryHandler(max_retry_count=2),
    ]
    if rate_limit_retries:
        handlers.append(RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries))
    if metrics is not None:
        # First, so it sees (and counts) every failed attempt before a retry.
        handlers.insert(0, metrics.slack_observer())
    return WebClient(
        token=token, base_url=settings.slack_api_url, timeout=timeout, retry_handlers=handlers
    )
