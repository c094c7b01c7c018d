"""Fault injection and Slack-like rate limiting for the fake Slack server.

Both pieces are plain data structures without locking: the server calls them
while holding its own state lock, so one lock orders every decision.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

#: Fault kinds the server knows how to serve.
FAULT_KINDS: Final = frozenset({"rate_limited", "server_error", "ok_false", "slow", "drop"})

#: Matches every method (and the response_url / upload pseudo-methods).
ANY_METHOD: Final = "*"


@dataclass(frozen=True)
class Fault:
    """One fault to serve instead of (or on top of) a normal answer.

    kind:
        ``rate_limited``: HTTP 429 with ``Retry-After: retry_after`` and
            ``{"ok": false, "error": "ratelimited"}``.
        ``server_error``: HTTP ``status`` (500 or 503) with an HTML page, as Slack's edge answers.
        ``ok_false``: HTTP 200 ``{"ok": false, "error": error}``.
        ``slow``: the call is carried out at once but the answer waits ``seconds``;
            this is the "it was posted, the client timed out" case.
        ``drop``: the connection is closed without an answer. With ``commit=True``
            the call is carried out first (delivered, but the answer was lost).
    """

    kind: str
    retry_after: int = 1
    status: int = 503
    error: str = "internal_error"
    seconds: float = 2.0
    commit: bool = False

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(
                f"unknown fault kind {self.kind!r}; expected one of {sorted(FAULT_KINDS)}"
            )
        if self.kind == "server_error" and self.status not in (500, 502, 503, 504):
            raise ValueError("server_error status must be 500, 502, 503 or 504")


@dataclass
class _Rule:
    method: str
    kinds: tuple[Fault, ...]
    remaining: int | None
    share: float
    rng: random.Random

    def matches(self, method: str) -> bool:
        return self.remaining != 0 and self.method in (ANY_METHOD, method)

    def fire(self) -> Fault | None:
        # Random rules draw first so the sequence of outcomes for a seed does not
        # depend on how many calls other rules consumed.
        if self.share < 1.0 and self.rng.random() >= self.share:
            return None
        fault = self.kinds[0] if len(self.kinds) == 1 else self.rng.choice(self.kinds)
        if self.remaining is not None:
            self.remaining -= 1
        return fault


@dataclass
class FaultPlan:
    """The faults a test asked for, consulted once per incoming call."""

    _rules: list[_Rule] = field(default_factory=list)
    served: list[tuple[str, str]] = field(default_factory=list)

    def add(
        self,
        method: str | None,
        faults: Sequence[Fault],
        *,
        times: int | None,
        share: float,
        seed: int,
    ) -> None:
        if not faults:
            raise ValueError("at least one fault kind is needed")
        if not 0.0 < share <= 1.0:
            raise ValueError("share must be in (0, 1]")
        if times is not None and times < 1:
            raise ValueError("times must be positive (or None for every call)")
        self._rules.append(
            _Rule(method or ANY_METHOD, tuple(faults), times, share, random.Random(seed))
        )

    def pick(self, method: str) -> Fault | None:
        """Return the fault to serve for this call, if any, and count it."""
        for rule in self._rules:
            if rule.matches(method):
                fault = rule.fire()
                if fault is not None:
                    self.served.append((method, fault.kind))
                    return fault
        return None

    def clear(self) -> None:
        self._rules.clear()


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
