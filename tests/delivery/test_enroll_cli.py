"""`nudgebot enroll` and `nudgebot plan` from a shell, and the first DM of `--start now`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.clock import SystemClock
from bot.delivery.models import Delivery, Enrollment, EnrollmentStatus
from bot.people.models import Person
from bot.services import Services
from bot.settings import Settings
from tests.conftest import RunningBot
from tests.delivery.clihelp import run_cli
from tests.delivery.conftest import step, store_person, store_program
from tests.fakeslack import FakeSlack


def _zone_at_midday() -> str:
    """A fixed-offset zone where it is now between 11:00 and 14:59, so the window is open."""
    hour = datetime.now(UTC).hour
    offset = (12 - hour + 12) % 24 - 12  # local = UTC + offset, in -12..11
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/ signs are inverted


def _enrolled(services: Services, program: str) -> set[str]:
    with services.session() as session:
        return set(
            session.scalars(
                select(Person.slack_user_id)
                .join(Enrollment, Enrollment.person_id == Person.id)
                .where(
                    Enrollment.program_id == program, Enrollment.status == EnrollmentStatus.active
                )
            )
        )


@pytest.fixture
def world(services: Services, fake_slack: FakeSlack) -> None:
    with services.session() as session:
        store_program(session, "ramp-up", [step("hello", day=0), step("next", day=2, time="10:00")])
        for user, team in [
            ("U0ANA", "Sales"),
            ("U0BEN", "Sales"),
            ("U0CAL", "Support"),
            ("U0DEL", None),
        ]:
            store_person(session, user, team=team, email=f"{user.lower()}@example.com")
            fake_slack.add_user(user, name=user.lower())
        store_person(session, "U0GONE", is_deleted=True)
    fake_slack.add_user("U0NEW", name="newcomer", tz="Asia/Tokyo")  # in Slack, not yet synced
    fake_slack.add_usergroup("S0LEADS", handle="leads", users=["U0CAL"])
    fake_slack.add_channel("C0TEAM", name="team", members=["U0DEL", "U0ANA"])


def test_enroll_by_user_group_channel_csv_and_team_and_twice_is_harmless(
    world: None,
    settings: Settings,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    people = tmp_path / "people.csv"
    people.write_text("email\nu0ben@example.com\n", encoding="utf-8")

    first = run_cli(
        monkeypatch,
        settings,
        "enroll",
        "ramp-up",
        "--user",
        "U0NEW",
        "--user",
        "U0GONE",
        "--usergroup",
        "S0LEADS",
        "--channel",
        "C0TEAM",
        "--csv",
        str(people),
        "--start",
        "now",
    )
    assert first.code == 0, first.err
    assert "skipped U0GONE: account deactivated" in first.err
    assert "skipped U0BOT: a bot" in first.err  # the bot is a member of the channel
    assert _enrolled(services, "ramp-up") == {"U0NEW", "U0CAL", "U0DEL", "U0ANA", "U0BEN"}
    with services.session() as session:
        newcomer = session.scalar(select(Person).where(Person.slack_user_id == "U0NEW"))
        assert newcomer is not None and newcomer.tz == "Asia/Tokyo"  # read from Slack on the way
        planned = session.scalar(select(func.count()).select_from(Delivery))

    again = run_cli(
        monkeypatch, settings, "enroll", "ramp-up", "--team", "Sales", "--user", "U0NEW"
    )
    assert again.code == 0 and "enrolled 0 in ramp-up (3 already enrolled, 0 skipped)" in again.out
    with services.session() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == planned


def test_enroll_errors_are_one_clear_line(
    world: None, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    unknown = run_cli(monkeypatch, settings, "enroll", "no-such-program", "--user", "U0ANA")
    assert unknown.code == 1 and unknown.err.strip().startswith(
        "nudgebot: no program 'no-such-program'"
    )
    assert len(unknown.err.strip().splitlines()) == 1
    bad_date = run_cli(
        monkeypatch, settings, "enroll", "ramp-up", "--user", "U0ANA", "--start", "tomorrow"
    )
    assert bad_date.code == 1 and "--start: expected now or a date" in bad_date.err
    nobody = run_cli(monkeypatch, settings, "enroll", "ramp-up")
    assert nobody.code == 1 and "name who to enroll" in nobody.err
    team = run_cli(monkeypatch, settings, "enroll", "ramp-up", "--team", "Nobody")
    assert team.code == 1 and "nobody is in team 'Nobody'" in team.err


def test_start_now_in_an_open_window_sends_the_first_step_within_seconds_and_plan_shows_the_rest(
    bot: RunningBot,
    services: Services,
    settings: Settings,
    fake_slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with services.session() as session:
        store_program(session, "ramp-up", [step("hello", day=0), step("next", day=2, time="10:00")])
        store_person(
            session, "U0ANA", tz=_zone_at_midday(), working_days="mon,tue,wed,thu,fri,sat,sun"
        )
    fake_slack.add_user("U0ANA", name="ana")

    result = run_cli(
        monkeypatch, settings, "enroll", "ramp-up", "--user", "U0ANA", "--start", "now"
    )
    assert result.code == 0 and "enrolled 1 in ramp-up" in result.out
    # The real clock now: what `nudgebot run` does on its send tick, a second after start.
    send_tick = next(t for t in services.ticks if t.name == "delivery-send")
    services.clock = SystemClock()
    send_tick.func()
    (dm,) = fake_slack.dm_messages("U0ANA")
    assert dm["text"] == "Do hello now."

    shown = run_cli(monkeypatch, settings, "plan", "--days", "7", "--format", "json")
    assert shown.code == 0, shown.err
    (row,) = json.loads(shown.out)
    assert (row["person"], row["program"], row["step"]) == ("U0ANA", "ramp-up", "next")
    assert "10:00" <= row["local_time"][11:16] < "10:30"  # 10:00 plus this person's jitter
    assert row["utc_time"].endswith("Z")


def test_start_date_is_that_date_in_each_persons_own_zone_from_utc_minus_10_to_plus_14(
    services: Services,
    settings: Settings,
    fake_slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    zones = {"U0KIR": "Pacific/Kiritimati", "U0HNL": "Pacific/Honolulu", "U0TYO": "Asia/Tokyo"}
    with services.session() as session:
        store_program(session, "ramp-up", [step("hello", day=0, time="09:30")])
        for user, tz in zones.items():
            store_person(session, user, tz=tz)
            fake_slack.add_user(user, name=user.lower(), tz=tz)
    soon = datetime.now(UTC).date() + timedelta(days=3)
    start = soon + timedelta(days=(2 - soon.weekday()) % 7)  # a Wednesday, days ahead

    result = run_cli(
        monkeypatch,
        settings,
        "enroll",
        "ramp-up",
        "--start",
        start.isoformat(),
        *[a for u in zones for a in ("--user", u)],
    )
    assert result.code == 0 and "enrolled 3 in ramp-up" in result.out, result.err

    with services.session() as session:
        rows = session.execute(
            select(Person.slack_user_id, Delivery.due_at).join(
                Person, Person.id == Delivery.person_id
            )
        ).all()
    local = {user: due.astimezone(ZoneInfo(zones[user])) for user, due in rows}
    # Day 0 at 09:30 (plus each person's jitter) on the date asked, in every zone.
    assert {user: when.date() for user, when in local.items()} == {user: start for user in zones}
    assert all("09:30" <= when.strftime("%H:%M") < "10:00" for when in local.values())
