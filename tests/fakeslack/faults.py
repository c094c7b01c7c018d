"""Fault injection for the test suite's fake Slack.

A plain data structure without locking: ``FakeSlack`` consults it from the
local Slack's ``_respond`` hook, which runs with the state lock held, so one
lock orders every decision.
"""

from __future__ import annotations

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
