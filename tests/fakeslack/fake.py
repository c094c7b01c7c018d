"""FakeSlack: the local Slack of ``bot.localslack`` plus fault injection.

    with FakeSlack() as fake:
        fake.add_user("U0ALICE", name="alice", tz="Europe/Sofia")
        fake.inject("chat.postMessage", "rate_limited", retry_after=2)
        client = WebClient(base_url=fake.base_url, token=fake.bot_token)

Everything Slack does lives in :class:`bot.localslack.LocalSlack`; this class
only overrides its ``_respond`` hook to serve the faults a test asked for, and
counts them. Team handles (``fake.team(...)``) share the fault plan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from bot.localslack import LocalSlack
from bot.localslack.transport import Reply, edge_error_reply, json_reply, text_reply

from .faults import Fault, FaultPlan


class FakeSlack(LocalSlack):
    """A local Slack Web API on 127.0.0.1 whose answers a test can break."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._faults = FaultPlan()

    @property
    def faults_served(self) -> int:
        with self._lock:
            return len(self._faults.served)

    @property
    def faults_log(self) -> list[tuple[str, str]]:
        """(method, fault kind) for every fault served, in order."""
        with self._lock:
            return list(self._faults.served)

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

    def _respond(self, name: str, produce: Callable[[], Reply]) -> tuple[Reply, str | None]:
        """Answer normally, or serve an injected fault instead of / on top of it."""
        fault = self._faults.pick(name)
        if fault is None:
            return produce(), None
        if fault.kind == "slow":
            return replace(produce(), delay=fault.seconds), fault.kind
        if fault.kind == "drop":
            reply = produce() if fault.commit else text_reply(200, "")
            return replace(reply, drop=True), fault.kind
        if fault.kind == "rate_limited":
            return json_reply(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(fault.retry_after)},
            ), fault.kind
        if fault.kind == "server_error":
            return edge_error_reply(fault.status), fault.kind
        return json_reply({"ok": False, "error": fault.error}), fault.kind
