"""Fatigue controls through the fake Slack: the fatigue pause and its one-click
Resume, /nudges, a vacation range and a vacation status. Nothing planned is lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from bot.delivery.models import Delivery, DeliveryStatus, Enrollment, EnrollmentStatus
from bot.people.models import Person
from bot.proof.models import Pause, PauseReason
from bot.proof.pauses import OPEN_ENDED
from tests.conftest import T0, RunningBot
from tests.proof.conftest import World, wait_for

USER = "U0ALICE01"


def planned(world: World, user: str, step_id: str, due_at: datetime, repetition: int = 0) -> int:
    enrollment_id = world.enrollment(user)
    with world.services.session() as session:
        person_id = session.scalar(select(Person.id).where(Person.slack_user_id == user))
        row = Delivery(
            enrollment_id=enrollment_id,
            person_id=person_id,
            step_id=step_id,
            repetition=repetition,
            due_at=due_at,
        )
        session.add(row)
        session.flush()
        return row.id


def upkeep(bot: RunningBot) -> None:
    tick = next(t for t in bot.services.ticks if t.name == "proof-upkeep")
    tick.func()


def pauses_of(world: World, user: str) -> list[Pause]:
    with world.services.session() as session:
        return list(
            session.scalars(
                select(Pause)
                .join(Person, Person.id == Pause.person_id)
                .where(Person.slack_user_id == user)
                .order_by(Pause.id)
            )
        )


def paused_until(world: World, user: str) -> datetime | None:
    with world.services.session() as session:
        return session.scalar(select(Person.paused_until).where(Person.slack_user_id == user))


def nudges(bot: RunningBot, text: str, user: str = USER) -> str:
    before = len(bot.fake.response_url_posts)
    response = bot.driver.slash_command("/nudges", text, user_id=user)
    assert response.status == 200 and response.acked_in_time
    posts = wait_for(lambda: bot.fake.response_url_posts[before:])
    return str(posts[0]["payload"]["text"])


def test_three_unanswered_nudges_pause_and_one_click_resumes(bot: RunningBot, world: World) -> None:
    for hours, step in ((75, "ask-three"), (50, "call-checklist"), (26, "tip")):
        world.send(USER, step, sent_at=T0 - timedelta(hours=hours))
    coming = planned(world, USER, "shift-reflection", T0 + timedelta(days=1))

    upkeep(bot)
    upkeep(bot)  # a second tick neither pauses again nor sends a second DM

    assert [p.reason for p in pauses_of(world, USER)] == [PauseReason.fatigue]
    assert paused_until(world, USER) == OPEN_ENDED
    held = world.delivery(coming)
    assert held.status == DeliveryStatus.skipped and held.last_error.startswith("paused")
    dms = [m for m in bot.fake.dm_messages(USER) if "paused" in m.get("text", "")]
    assert len(dms) == 1 and "Resume" in str(dms[0]["blocks"])

    response = bot.driver.block_actions(
        user_id=USER,
        actions=[{"action_id": "nudges_resume"}],
        message=dms[0],
        channel_id=bot.fake.dm_channel_id(USER),
    )
    assert response.status == 200 and response.acked_in_time
    wait_for(lambda: world.delivery(coming).status == DeliveryStatus.planned)
    assert world.delivery(coming).due_at == T0 + timedelta(days=1)  # its own time, still ahead
    assert paused_until(world, USER) is None
    assert pauses_of(world, USER)[0].ended_at == T0
    dm_channel = bot.fake.dm_channel_id(USER)
    wait_for(
        lambda: "back on" in (bot.fake.message(dm_channel, dms[0]["ts"]) or {}).get("text", "")
    )
    # The three old misses do not count again after the Resume.
    upkeep(bot)
    assert len(pauses_of(world, USER)) == 1


def test_an_answered_nudge_breaks_the_streak(bot: RunningBot, world: World) -> None:
    nudges_sent = [
        world.send(USER, step, sent_at=T0 - timedelta(hours=h))
        for h, step in ((75, "ask-three"), (50, "call-checklist"), (26, "tip"))
    ]
    bot.driver.block_actions(
        user_id=USER,
        actions=[{"action_id": "nudge_done"}],
        message=nudges_sent[1].message(bot.fake),
        channel_id=nudges_sent[1].channel,
    )
    wait_for(lambda: world.events())
    upkeep(bot)
    assert pauses_of(world, USER) == []


def test_pause_until_a_date_holds_nudges_and_resume_brings_them_back(
    bot: RunningBot, world: World
) -> None:
    world.person(USER)
    soon = planned(world, USER, "tip", T0 + timedelta(days=5))
    after = planned(world, USER, "shift-reflection", T0 + timedelta(days=30))

    reply = nudges(bot, "pause until 2026-12-14")
    assert "paused until Mon 14 Dec, 00:00" in reply
    assert world.delivery(soon).status == DeliveryStatus.skipped
    assert world.delivery(after).status == DeliveryStatus.planned  # after the pause: untouched
    status = nudges(bot, "status")
    assert "paused until Mon 14 Dec" in status and "Open calls well" in status

    assert "back on" in nudges(bot, "resume")
    row = world.delivery(soon)
    assert (row.status, row.due_at) == (DeliveryStatus.planned, T0 + timedelta(days=5))
    assert "not paused" in nudges(bot, "resume")


def test_a_pause_that_runs_out_releases_overdue_nudges_one_a_day(
    bot: RunningBot, world: World
) -> None:
    world.person(USER)
    first = planned(world, USER, "tip", T0 + timedelta(hours=2))
    second = planned(world, USER, "shift-reflection", T0 + timedelta(days=1))
    nudges(bot, "pause until 2026-11-30")  # Monday
    assert world.delivery(first).status == DeliveryStatus.skipped

    bot.services.clock.set(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    upkeep(bot)
    rows = [world.delivery(first), world.delivery(second)]
    assert [r.status for r in rows] == [DeliveryStatus.planned] * 2
    # Both were due during the pause: they come back one per working day, from 09:00.
    assert [r.due_at for r in rows] == [
        datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
        datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
    ]
    assert paused_until(world, USER) is None


def test_vacation_range_holds_only_the_days_away(bot: RunningBot, world: World) -> None:
    world.person(USER)
    before = planned(world, USER, "tip", datetime(2026, 12, 18, 10, tzinfo=UTC))
    during = planned(world, USER, "shift-reflection", datetime(2026, 12, 22, 10, tzinfo=UTC))
    reply = nudges(bot, "vacation 2026-12-21 2027-01-04")
    assert "2026-12-21" in reply and "2027-01-04" in reply
    assert world.delivery(before).status == DeliveryStatus.planned
    assert world.delivery(during).status == DeliveryStatus.skipped
    assert "Vacation planned" in nudges(bot, "status")

    bot.services.clock.set(datetime(2027, 1, 5, 10, tzinfo=UTC))  # type: ignore[attr-defined]
    upkeep(bot)
    row = world.delivery(during)
    assert (row.status, row.due_at) == (
        DeliveryStatus.planned,
        datetime(2027, 1, 5, 10, tzinfo=UTC),
    )


def test_stop_leaves_a_program_and_cancels_what_was_planned(bot: RunningBot, world: World) -> None:
    world.person(USER)
    row = planned(world, USER, "tip", T0 + timedelta(days=2))
    assert "left `call-opener`" in nudges(bot, "stop call-opener")
    assert world.delivery(row).status == DeliveryStatus.cancelled
    with world.services.session() as session:
        status = session.scalar(select(Enrollment.status))
    assert status == EnrollmentStatus.stopped
    assert "not in a program" in nudges(bot, "stop call-opener")


def test_bad_input_gets_a_clear_reply_and_changes_nothing(bot: RunningBot, world: World) -> None:
    world.person(USER)
    assert "don't know `snore`" in nudges(bot, "snore")
    assert "not a date" in nudges(bot, "pause until someday")
    assert "not in the future" in nudges(bot, "pause until 2020-01-01")
    assert "before the first" in nudges(bot, "vacation 2027-01-04 2026-12-21")
    assert "/nudges pause" in nudges(bot, "help")
    assert pauses_of(world, USER) == []


def _status_event(emoji: str, text: str, expiration: int = 0) -> dict[str, Any]:
    return {
        "type": "user_change",
        "user": {
            "id": USER,
            "team_id": "T0TEAM001",
            "name": "alice",
            "tz": "UTC",
            "profile": {
                "real_name": "Alice",
                "status_emoji": emoji,
                "status_text": text,
                "status_expiration": expiration,
            },
        },
    }


def test_a_vacation_status_pauses_while_it_lasts(bot: RunningBot, world: World) -> None:
    world.person(USER)
    row = planned(world, USER, "tip", T0 + timedelta(days=1))
    bot.driver.event(_status_event(":palm_tree:", "Back on the 7th"))
    wait_for(lambda: pauses_of(world, USER))
    assert pauses_of(world, USER)[0].reason == PauseReason.status
    assert world.delivery(row).status == DeliveryStatus.skipped

    bot.driver.event(_status_event(":speech_balloon:", "In a meeting"))
    wait_for(lambda: world.delivery(row).status == DeliveryStatus.planned)
    assert paused_until(world, USER) is None


def test_an_out_of_office_text_with_an_expiry_pauses_until_then(
    bot: RunningBot, world: World
) -> None:
    world.person(USER)
    ends = int((T0 + timedelta(days=3)).timestamp())
    bot.driver.event(_status_event("", "OOO until Monday", expiration=ends))
    wait_for(lambda: paused_until(world, USER))
    assert paused_until(world, USER) == T0 + timedelta(days=3)


def test_digest_shows_a_manager_the_team_digest_without_names(
    bot: RunningBot, world: World
) -> None:
    world.person("U0MANAGER")
    world.person(USER)
    with world.services.session() as session:
        session.execute(
            update(Person)
            .where(Person.slack_user_id == USER)
            .values(manager_slack_user_id="U0MANAGER")
        )
    before = len(bot.fake.response_url_posts)
    bot.driver.slash_command("/nudges", "digest", user_id="U0MANAGER")
    post = wait_for(lambda: bot.fake.response_url_posts[before:])[0]["payload"]
    assert post["response_type"] == "ephemeral"
    text = str(post["blocks"])
    assert "Your team's behaviors this week" in text and "Too few people" in text


def test_digest_from_someone_with_no_reports_says_so_instead_of_a_team_digest(
    bot: RunningBot, world: World
) -> None:
    world.person(USER)
    before = len(bot.fake.response_url_posts)
    bot.driver.slash_command("/nudges", "digest", user_id=USER)
    post = wait_for(lambda: bot.fake.response_url_posts[before:])[0]["payload"]
    assert post["response_type"] == "ephemeral"
    assert post["text"].startswith("Nobody reports to you") and "org CSV" in post["text"]
    assert "Your team's behaviors" not in str(post)


def test_a_subcommand_that_does_not_exist_is_named_in_one_plain_sentence(
    bot: RunningBot, world: World
) -> None:
    world.person(USER)
    reply = nudges(bot, "enroll call-opener")
    assert reply == "Nothing was changed: I don't know `enroll`. Try `/nudges help`."
