"""Slack's posting limits: token buckets per channel and per workspace.

Off until ``LocalSlack.set_rate_limit`` turns them on. Plain data structures
without locking: the server calls them while holding its state lock.
"""

from __future__ import annotations

import math


class TokenBucket:
    """Classic token bucket: ``capacity`` tokens, refilled at ``rate`` per second."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = now

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = now

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0 when one is available now)."""
        self._refill(now)
        if self.tokens >= 1.0:
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1.0


class RateLimiter:
    """Slack's posting limits: about one message per second per channel with a
    small burst, plus an optional workspace-wide budget per minute."""

    def __init__(
        self,
        per_channel_per_second: float | None,
        workspace_per_minute: float | None,
        *,
        channel_burst: int,
        workspace_burst: int | None,
    ) -> None:
        if per_channel_per_second is not None and per_channel_per_second <= 0:
            raise ValueError("per_channel_per_second must be positive")
        if workspace_per_minute is not None and workspace_per_minute <= 0:
            raise ValueError("workspace_per_minute must be positive")
        self.per_channel_per_second = per_channel_per_second
        self.workspace_per_minute = workspace_per_minute
        self.channel_burst = max(1, channel_burst)
        # Default workspace burst: ten seconds' worth, at least one.
        self.workspace_burst = workspace_burst or max(1, math.ceil((workspace_per_minute or 0) / 6))
        self._channels: dict[str, TokenBucket] = {}
        self._workspace: TokenBucket | None = None

    def _buckets(self, channel: str, now: float) -> list[TokenBucket]:
        buckets: list[TokenBucket] = []
        if self.per_channel_per_second is not None:
            bucket = self._channels.get(channel)
            if bucket is None:
                bucket = TokenBucket(self.per_channel_per_second, self.channel_burst, now)
                self._channels[channel] = bucket
            buckets.append(bucket)
        if self.workspace_per_minute is not None:
            if self._workspace is None:
                self._workspace = TokenBucket(
                    self.workspace_per_minute / 60.0, self.workspace_burst, now
                )
            buckets.append(self._workspace)
        return buckets

    def check(self, channel: str, now: float) -> int | None:
        """Admit one message (returns None) or return the Retry-After seconds.

        A token is only taken when every bucket has one, so a refused call does
        not eat into the channel's budget.
        """
        buckets = self._buckets(channel, now)
        wait = max((bucket.wait_time(now) for bucket in buckets), default=0.0)
        if wait > 0.0:
            # Slack sends whole seconds; never tell a client to retry at once.
            return max(1, math.ceil(wait))
        for bucket in buckets:
            bucket.take()
        return None
