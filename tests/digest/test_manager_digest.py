"""The weekly manager digest: figures that match the proof log, sent once per week at the
manager's local digest time, and nothing finer than the privacy threshold allows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.clock import FixedClock
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment
from bot.digest import service
from bot.digest.jobs import send_due_digests
from bot.digest.models import DigestKind, DigestSend
from bot.proof.models import ProofEvent
from bot.services import Services
from tests.digest.conftest import World
from tests.fakeslack import FakeSlack

MANAGER = "UMGR00001"
PROGRAM = "call-opener"
SECRET_REFLECTION = "my manager ignores me and I am quitting"
# The digest day before the test clock (Thu 26 Nov 2026): Monday 23 Nov; last week is 16-22 Nov.
DIGEST_MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PREV_WEEK = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
LAST_WEEK = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)
ACTED = ("done", "checklist", "rating", "reflection")


def build_team(world: World, size: int, *, manager: str = MANAGER, tz: str = "UTC") -> list[str]:
    """A team of `size` in one program with a known answer pattern over two weeks."""
    world.program(PROGRAM, ["ask", "recap"])
    world.person(manager, tz=tz)
    users = []
    for i in range(size):
        person = world.person(f"UEMP{i:05d}", manager=manager)
        enrollment = world.enroll(person, PROGRAM)
        users.append(person.slack_user_id)
        world.nudge(enrollment, "ask", PREV_WEEK, answer="done" if i < 3 else None)
        world.nudge(enrollment, "ask", LAST_WEEK, answer="done" if i < size - 1 else "snooze")
        if i == 0:
            world.nudge(
                enrollment,
                "recap",
                LAST_WEEK + timedelta(days=1),
                answer="reflection",
                text=SECRET_REFLECTION,
            )
        elif i == 1:
            world.nudge(
                enrollment,
                "recap",
                LAST_WEEK + timedelta(days=1),
                answer="not_relevant",
                value="not my role",
            )
        else:
            world.nudge(
                enrollment,
                "recap",
                LAST_WEEK + timedelta(days=1),
                answer="done" if i in (2, 3) else None,
            )
    world.commit()
    return users


def figures_from_log(services: Services, step_id: str, start: datetime) -> tuple[int, int, int]:
    """(sent, acted, people) for one step and week, straight from deliveries and proof."""
    end = start + timedelta(days=7)
    with services.session() as session:
        sent = session.execute(
            select(Delivery.id, Delivery.person_id)
            .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
            .where(
                Enrollment.program_id == PROGRAM,
                Delivery.step_id == step_id,
                Delivery.status == DeliveryStatus.sent,
                Delivery.sent_at >= start,
                Delivery.sent_at < end,
            )
        ).all()
        acted = session.scalar(
            select(func.count(func.distinct(ProofEvent.delivery_id))).where(
                ProofEvent.delivery_id.in_([d for d, _ in sent]), ProofEvent.kind.in_(ACTED)
            )
        )
    return len(sent), int(acted or 0), len({p for _, p in sent})


def digest_text(services: Services, manager: str = MANAGER) -> str:
    with services.session() as session:
        found = service.manager_digest_blocks(
            session, manager_user_id=manager, now=services.clock.now(), settings=services.settings
        )
    return json.dumps(found, ensure_ascii=False)


def test_team_of_six_digest_matches_the_proof_log(world: World, services: Services) -> None:
    build_team(world, 6)
    text = digest_text(services)
    last_week = datetime(2026, 11, 16, tzinfo=UTC)
    sent, acted, people = figures_from_log(services, "ask", last_week)
    prev_sent, prev_acted, _ = figures_from_log(services, "ask", last_week - timedelta(days=7))
    share, prev_share = round(100 * acted / sent), round(100 * prev_acted / prev_sent)
    assert (sent, acted, people) == (6, 5, 6)  # the scenario, as the log has it
    assert f"*{share}%* acted on ({acted} of {sent} nudges, {people} people)" in text
    assert f"▲ {share - prev_share} pts vs last week" in text
    r_sent, r_acted, _ = figures_from_log(services, "recap", last_week)
    assert f"*{round(100 * r_acted / r_sent)}%* acted on ({r_acted} of {r_sent} nudges" in text
    # 8-week sparkline: six weeks nobody was nudged (·), then 50%, then 83%.
    assert "`······▅▇`" in text
    assert "Step ask: do ask today." in text  # behaviors by their own words, not ids
    assert "Suggested coaching conversation" in text and "Step recap" in text  # the weakest one


def test_reflection_texts_and_not_relevant_choosers_never_reach_the_manager(
    world: World, services: Services
) -> None:
    users = build_team(world, 6)
    text = digest_text(services)
    assert SECRET_REFLECTION not in text
    assert "not my role" not in text and "not relevant" not in text.replace("“not relevant”", "")
    for user in users:  # nobody opted in: no names, no ids
        assert user not in text and f"Name-{user}" not in text


def test_team_of_three_shows_nothing_finer_than_the_threshold(
    world: World, services: Services
) -> None:
    build_team(world, 3)
    text = digest_text(services)
    assert "Too few people for team figures" in text and "(now 3)" in text
    assert "%" not in text and "Step ask" not in text and "coaching" not in text
    assert "Name-" not in text


def test_a_behavior_with_fewer_than_k_people_in_a_week_shows_no_figure(
    world: World, services: Services
) -> None:
    build_team(world, 6)
    with services.session() as session:  # a third step only 2 people got last week
        for enrollment in session.scalars(select(Enrollment).limit(2)):
            session.add(
                Delivery(
                    enrollment_id=enrollment.id,
                    person_id=enrollment.person_id,
                    step_id="extra",
                    status=DeliveryStatus.sent,
                    due_at=LAST_WEEK,
                    sent_at=LAST_WEEK,
                )
            )
    text = digest_text(services)
    assert "extra\\n`········`  too few people last week for a figure (fewer than 5)" in text


def test_opted_in_people_and_only_they_appear_by_name(world: World, services: Services) -> None:
    users = build_team(world, 6)
    with services.session() as session:
        person = service.person_by_user(session, users[4])
        assert person is not None
        service.set_privacy_choice(
            session, person_id=person.id, now=services.clock.now(), share_with_manager=True
        )
    text = digest_text(services)
    assert f"Name-{users[4]}: acted on 1 of 2 nudges" in text
    assert all(f"Name-{u}" not in text for u in users if u != users[4])


def test_weekly_digest_goes_out_at_the_managers_local_monday_nine_once(
    world: World, services: Services, clock: FixedClock, fake_slack: FakeSlack
) -> None:
    build_team(world, 6, tz="Asia/Tokyo")
    fake_slack.add_user(MANAGER, name="manager", tz="Asia/Tokyo")
    # Monday 09:00 in Tokyo is Monday 00:00 UTC.
    clock.set(datetime(2026, 11, 22, 23, 59, tzinfo=UTC))
    assert [s for s in send_due_digests(services) if s.recipient == MANAGER] == []
    assert fake_slack.dm_messages(MANAGER) == []
    clock.set(datetime(2026, 11, 23, 0, 0, tzinfo=UTC))
    sent = send_due_digests(services)
    assert [(s.kind, s.recipient) for s in sent if s.kind == DigestKind.manager] == [
        (DigestKind.manager, MANAGER)
    ]
    # `nudgebot digest send` prints the week the digest covers, worded as the DM words it.
    (item,) = [s for s in sent if s.recipient == MANAGER]
    assert item.week == "week of 16 Nov 2026"
    assert fake_slack.dm_messages(MANAGER)[0]["text"].endswith(item.week)
    clock.advance(timedelta(minutes=5))
    # The next tick, or another replica: no repeat.
    assert [s for s in send_due_digests(services) if s.recipient == MANAGER] == []
    messages = fake_slack.dm_messages(MANAGER)
    assert len(messages) == 1
    body = json.dumps(messages[0]["blocks"], ensure_ascii=False)
    assert "*83%* acted on (5 of 6 nudges, 6 people)" in body
    assert SECRET_REFLECTION not in body
    with services.session() as session:
        row = session.scalar(select(DigestSend).where(DigestSend.recipient_user_id == MANAGER))
        assert row is not None and row.status == "sent" and row.message_ts
    clock.set(datetime(2026, 11, 30, 0, 1, tzinfo=UTC))  # a week later: the next one
    assert MANAGER in [s.recipient for s in send_due_digests(services)]
    assert len(fake_slack.dm_messages(MANAGER)) == 2


def test_a_failed_send_is_retried_later_not_lost(
    world: World, services: Services, clock: FixedClock, fake_slack: FakeSlack
) -> None:
    build_team(world, 6)
    fake_slack.add_user(MANAGER, name="manager")
    clock.set(DIGEST_MONDAY)
    fake_slack.inject("chat.postMessage", "ok_false", error="fatal_error", times=1)
    assert [s for s in send_due_digests(services) if s.recipient == MANAGER] == []
    assert fake_slack.dm_messages(MANAGER) == []
    clock.advance(timedelta(minutes=20))
    assert MANAGER in [s.recipient for s in send_due_digests(services)]
    assert len(fake_slack.dm_messages(MANAGER)) == 1
