"""Exactly once under kill -9, several processes and injected faults (slow, bounded)."""

from __future__ import annotations

import random
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.clock import SystemClock
from bot.delivery.models import Delivery, DeliveryStatus
from bot.people.models import Person
from bot.services import Services
from tests.delivery.reliability import (
    all_done,
    counts,
    nudges_per_user,
    seed,
    start_worker,
    wait_for,
    worker_env,
)
from tests.fakeslack import FakeSlack

pytestmark = pytest.mark.slow


@pytest.fixture
def real_time(services: Services) -> Services:
    services.clock = SystemClock()  # the workers run on real time; so does the set-up
    return services


def _sent_rows_match_slack(services: Services, fake: FakeSlack) -> None:
    with services.session() as session:
        rows = session.execute(
            select(Person.slack_user_id, Delivery.message_ts, Delivery.status).join(
                Person, Person.id == Delivery.person_id
            )
        ).all()
    for user, ts, status in rows:
        if status == DeliveryStatus.sent:
            (message,) = [m for m in fake.dm_messages(user) if m.get("metadata")]
            assert message["ts"] == ts


def test_kill_9_at_random_moments_during_a_2000_nudge_fan_out_still_delivers_each_once(
    real_time: Services, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    services = real_time
    total = 2000
    users = seed(services, fake_slack, total, now=datetime.now(UTC))
    env = worker_env(services, fake_slack)
    rng = random.Random(4)
    kills = 0
    while kills < 10:
        before = counts(services)[DeliveryStatus.sent]
        worker = start_worker(env, tmp_path / "worker.log")
        # Kill it while it is sending: after it has sent something, at a random moment.
        started = wait_for(lambda b=before: counts(services)[DeliveryStatus.sent] > b, 60)
        assert started, (counts(services), (tmp_path / "worker.log").read_text()[-2000:])
        wait_for(lambda: False, rng.uniform(0.0, 0.4))
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        kills += 1
    assert counts(services)[DeliveryStatus.sent] < total, "killed too late to prove anything"

    last = start_worker(env, tmp_path / "worker.log")
    assert wait_for(lambda: all_done(services, total), 120), counts(services)
    last.terminate()
    assert last.wait(timeout=30) == 0

    per_user = nudges_per_user(fake_slack, users)
    assert set(per_user.values()) == {1} and len(per_user) == total
    assert counts(services)[DeliveryStatus.sent] == total
    _sent_rows_match_slack(services, fake_slack)
    assert fake_slack.calls_to("conversations.history"), "no killed send was ever reconciled"


def test_three_processes_on_one_database_send_5000_nudges_without_a_duplicate(
    real_time: Services, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    services = real_time
    sqlite = services.engine.dialect.name == "sqlite"
    users = seed(services, fake_slack, 1000 if sqlite else 5000, now=datetime.now(UTC))
    env = worker_env(services, fake_slack)
    workers = [start_worker(env, tmp_path / f"worker{i}.log") for i in range(3)]
    assert wait_for(lambda: all_done(services, len(users)), 120), counts(services)
    codes = []
    for worker in workers:
        if worker.poll() is None:
            worker.terminate()
        codes.append(worker.wait(timeout=30))

    per_user = nudges_per_user(fake_slack, users)
    assert len(per_user) == len(users) and set(per_user.values()) == {1}
    _sent_rows_match_slack(services, fake_slack)
    if sqlite:
        # SQLite: exactly one sender; the other two refused with the reason and exited.
        assert sorted(codes) == [0, 2, 2]
        logs = " ".join(p.read_text() for p in tmp_path.glob("worker*.log"))
        assert logs.count("SQLite allows one sender") == 2
    else:
        assert codes == [0, 0, 0]


def test_twenty_percent_faults_deliver_everything_deliverable_once_and_fail_the_rest_once(
    real_time: Services, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    services = real_time
    users = seed(services, fake_slack, 200, now=datetime.now(UTC))
    gone = users[::20]  # 10 people deactivated in Slack since the last sync
    for user in gone:
        fake_slack.update_user(user, deleted=True)
    # About 20% of every call fails: 429s, 5xx pages, Slack errors, timeouts and
    # dropped connections, half of those after the message was posted.
    fake_slack.inject_random(
        None,
        share=0.1,
        seed=11,
        retry_after=1,
        commit=False,
        kinds=["rate_limited", "server_error", "ok_false", "drop"],
    )
    fake_slack.inject_random(
        None, share=0.11, seed=12, seconds=1.5, commit=True, kinds=["slow", "drop"]
    )
    env = worker_env(
        services,
        fake_slack,
        NUDGEBOT_SLACK_TIMEOUT_SECONDS="1",
        NUDGEBOT_SEND_RETRY_SECONDS="0.2",
        NUDGEBOT_SEND_MAX_ATTEMPTS="25",
    )
    processes = 1 if services.engine.dialect.name == "sqlite" else 2
    workers = [start_worker(env, tmp_path / f"w{i}.log") for i in range(processes)]
    assert wait_for(lambda: all_done(services, 200), 150), counts(services)
    for worker in workers:
        worker.terminate()
        worker.wait(timeout=30)

    assert fake_slack.faults_served > 40
    per_user = nudges_per_user(fake_slack, users)
    assert {u for u in users if per_user[u] == 1} == set(users) - set(gone)
    assert max(per_user.values()) == 1
    with services.session() as session:
        failed = session.execute(
            select(Person.slack_user_id, Delivery.last_error, Delivery.attempts)
            .join(Person, Person.id == Delivery.person_id)
            .where(Delivery.status == DeliveryStatus.failed)
        ).all()
    assert sorted(u for u, _, _ in failed) == sorted(gone)
    assert {e for _, e, _ in failed} == {"user_disabled"}
    opens = [c for c in fake_slack.calls_to("conversations.open") if c.params.get("users") in gone]
    # Recorded once: once Slack's permanent answer reached a sender, nobody asked again,
    # so each person's last call is that answer. (An answer lost to a drop or to the
    # client's timeout, injected or on a slow machine, never reached it: it asked again.)
    for user in gone:
        theirs = [c for c in opens if c.params.get("users") == user]
        last = theirs[-1]
        assert last.fault is None and last.response, (user, theirs)
        assert last.response.get("error") == "user_disabled", (user, theirs)


def test_a_retry_after_longer_than_the_lease_doubles_no_nudge(
    real_time: Services, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """Slack answers one post 429 with a Retry-After longer than a claim's lease. Every
    sender of the workspace waits it out; none may post a row after its lease lapsed
    (another sender may have reclaimed it by then), and none is left unsent."""
    services = real_time
    users = seed(services, fake_slack, 300, now=datetime.now(UTC))
    lease = 15  # the shortest lease the settings allow
    fake_slack.inject_random(
        "chat.postMessage",
        share=0.05,
        seed=3,
        times=1,
        kinds=["rate_limited"],
        retry_after=lease + 5,
    )
    env = worker_env(
        services,
        fake_slack,
        NUDGEBOT_SEND_LEASE_SECONDS=str(lease),
        NUDGEBOT_SLACK_TIMEOUT_SECONDS="2",
        NUDGEBOT_SEND_RATE_PER_MINUTE="6000",
    )
    processes = 1 if services.engine.dialect.name == "sqlite" else 2
    workers = [start_worker(env, tmp_path / f"w{i}.log") for i in range(processes)]
    assert wait_for(lambda: all_done(services, len(users)), 120), counts(services)
    limited = [c for c in fake_slack.calls_to("chat.postMessage") if c.status == 429]
    assert len(limited) == 1
    # Keep the senders running until the pause is over, so a sender that slept through
    # it with rows in hand gets its chance to post them a second time.
    resumed = limited[0].time + lease + 5 + 2
    assert wait_for(lambda: time.time() > resumed, 60)
    for worker in workers:
        worker.terminate()
        assert worker.wait(timeout=30) == 0

    per_user = nudges_per_user(fake_slack, users)
    assert len(per_user) == len(users) and set(per_user.values()) == {1}
    _sent_rows_match_slack(services, fake_slack)
    # Both senders waited out Retry-After: past the posts already on their way when the
    # 429 came back, nothing was posted until it had passed.
    at = limited[0].time
    posts = [c.time for c in fake_slack.calls_to("chat.postMessage")]
    assert not [t for t in posts if at + 1.0 < t < at + lease + 5 - 0.5]
    assert [t for t in posts if t >= at + lease + 5 - 0.5]
