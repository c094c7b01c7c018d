"""The workspace's posting budget, shared by replicas: on PostgreSQL every sender
reserves its send slots from one row per workspace; on SQLite (one sender) the
same schedule lives in memory. Time is a fake clock that only sleeping moves."""

from __future__ import annotations

from bot.delivery.pacing import BudgetStore, MemoryBudget, Pacer, SqlBudget
from bot.services import Services

PER_MINUTE = 600  # ten posts a second


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _replicas(services: Services, clock: FakeTime, count: int) -> list[Pacer]:
    """`count` senders as the sender builds them: each its own store on PostgreSQL
    (they meet in the database), one process's store on SQLite."""
    shared: BudgetStore = MemoryBudget()
    pacers = []
    for _ in range(count):
        store = SqlBudget(services.engine) if services.engine.dialect.name != "sqlite" else shared
        pacers.append(Pacer(PER_MINUTE, store=store, now=lambda: clock.now, sleep=clock.sleep))
    return pacers


def _post_times(pacers: list[Pacer], clock: FakeTime, posts: int, key: str = "") -> list[float]:
    times = []
    for i in range(posts):
        pacer = pacers[i % len(pacers)]
        assert pacer.wait_turn(f"D{i:05d}", key=key).ok
        times.append(clock.now)
    return times


def test_three_replicas_together_post_at_the_workspace_rate_not_three_times_it(
    services: Services,
) -> None:
    clock = FakeTime()
    pacers = _replicas(services, clock, 3)
    times = _post_times(pacers, clock, 300)
    # A burst of five after a quiet spell, then one post every 0.1 s, whoever sends:
    # never more than the budget in any second, and no slower than the budget either.
    for i, at in enumerate(times):
        assert sum(1 for t in times[i:] if t < at + 1.0) <= 10 + 5
    span = times[-1] - times[0]
    assert (300 - 5) / 10 - 1e-6 <= span <= 300 / 10 + 0.5


def test_a_429_seen_by_one_replica_holds_back_every_replica_of_that_workspace(
    services: Services,
) -> None:
    clock = FakeTime()
    first, second = _replicas(services, clock, 2)
    _post_times([first, second], clock, 10)
    first.pause(30.0)
    paused_at = clock.now
    # The other replica may still spend the few slots it reserved before the 429
    # (a quarter of a second of budget), then it is asked back after Retry-After.
    turns = [second.wait_turn(f"D{i}", latest=paused_at + 10) for i in range(10)]
    spent = [t for t in turns if t.ok]
    assert len(spent) <= 3 and clock.now < paused_at + 1
    assert all(not t.ok and t.retry_at >= paused_at + 30 for t in turns[len(spent) :])
    assert second.wait_turn("D1").ok  # with no bound on its wait, it waits the pause out
    assert clock.now >= paused_at + 30


def test_one_busy_workspace_does_not_slow_another(services: Services) -> None:
    clock = FakeTime()
    first, second = _replicas(services, clock, 2)
    first.pause(120.0, key="T0BUSY")
    started = clock.now
    _post_times([first, second], clock, 5, key="T0QUIET")
    assert clock.now == started  # a burst of five at once, no wait for T0BUSY's pause
    turn = second.wait_turn("D9", key="T0BUSY", latest=started + 60)
    assert not turn.ok and turn.retry_at >= started + 120


def test_a_wait_longer_than_the_caller_may_hold_takes_nothing_from_the_budget(
    services: Services,
) -> None:
    clock = FakeTime()
    (pacer,) = _replicas(services, clock, 1)
    pacer.pause(60.0)
    for _ in range(50):  # many claims asking during the pause
        assert not pacer.wait_turn("D1", latest=clock.now + 5).ok
    clock.sleep(60.0)
    # The pause over, posting resumes at once at the budget's pace (no burst right after
    # a 429): the 50 refused asks reserved no slots, or this would wait five seconds more.
    started = clock.now
    _post_times([pacer], clock, 5)
    assert abs(clock.now - started - 0.4) < 1e-6
