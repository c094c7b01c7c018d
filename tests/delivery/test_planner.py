"""The planner: each person's own working day, holidays, weekends, DST, the weekly cap."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.delivery.models import Delivery, DeliveryStatus
from bot.delivery.planner import enroll_and_plan, plan
from bot.delivery.preview import schedule
from bot.people.models import Person
from bot.services import Services
from tests.conftest import make_settings
from tests.delivery.conftest import local, step

# T0 is Thursday 2026-11-26 10:00 UTC (Thanksgiving in the US).
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def _settings(services: Services, **overrides: object):  # type: ignore[no-untyped-def]
    return make_settings(database_url=services.settings.database_url, **overrides)


def _due(session: Session, user_id: str) -> list[tuple[str, int, datetime]]:
    rows = session.execute(
        select(Delivery.step_id, Delivery.repetition, Delivery.due_at)
        .join(Person, Person.id == Delivery.person_id)
        .where(Person.slack_user_id == user_id, Delivery.status == DeliveryStatus.planned)
        .order_by(Delivery.due_at)
    )
    return [(r.step_id, r.repetition, r.due_at) for r in rows]


def _enroll(
    session: Session,
    settings,
    program: str,
    *users: str,
    now: datetime = NOW,
    start: datetime | None = None,
) -> None:  # type: ignore[no-untyped-def]
    enroll_and_plan(
        session,
        settings=settings,
        now=now,
        program_id=program,
        user_ids=list(users),
        starts_at=start or now,
        enrolled_by="test",
        source="test",
    )


def test_each_person_gets_the_step_at_their_own_local_time_east_and_west(
    services: Services,
    session: Session,
    add_program: Callable[..., int],
    add_person: Callable[..., Person],
) -> None:
    settings = _settings(services, jitter_minutes=0)
    add_program("opener", [step("first", day=1, time="09:30")])
    add_person("UTOKYO", tz="Asia/Tokyo")
    add_person("USOFIA", tz="Europe/Sofia")
    add_person("ULA", tz="America/Los_Angeles")
    _enroll(session, settings, "opener", "UTOKYO", "USOFIA", "ULA")

    # Day 1 is Friday 27 November in each person's own calendar, 09:30 their time.
    assert [local(d, "Asia/Tokyo") for _, _, d in _due(session, "UTOKYO")] == [
        "Fri 2026-11-27 09:30"
    ]
    assert _due(session, "UTOKYO")[0][2] == datetime(2026, 11, 27, 0, 30, tzinfo=UTC)
    assert _due(session, "USOFIA")[0][2] == datetime(2026, 11, 27, 7, 30, tzinfo=UTC)
    assert _due(session, "ULA")[0][2] == datetime(2026, 11, 27, 17, 30, tzinfo=UTC)


def test_start_now_inside_the_window_is_due_at_once_and_outside_it_waits_for_the_morning(
    services: Services,
    session: Session,
    add_program: Callable[..., int],
    add_person: Callable[..., Person],
) -> None:
    settings = _settings(services)
    add_program("welcome", [step("hello", day=0)])
    add_person("USOFIA", tz="Europe/Sofia")  # 12:00 local: window open
    add_person("UTOKYO", tz="Asia/Tokyo")  # 19:00 local: window closed
    _enroll(session, settings, "welcome", "USOFIA", "UTOKYO")

    assert _due(session, "USOFIA")[0][2] <= NOW + timedelta(minutes=1)
    tokyo = _due(session, "UTOKYO")[0][2]
    assert local(tokyo, "Asia/Tokyo").startswith("Fri 2026-11-27")
    assert "09:00" <= local(tokyo, "Asia/Tokyo")[-5:] < "17:30"


def test_a_public_holiday_of_the_persons_country_and_the_weekend_are_skipped(
    services: Services,
    session: Session,
    add_program: Callable[..., int],
    add_person: Callable[..., Person],
) -> None:
    settings = _settings(services, jitter_minutes=0)
    add_program("pro", [step("s", day=0, time="09:30")])
    add_person("UUS", tz="America/New_York", country="US")
    add_person("UDE", tz="America/New_York", country="DE")
    # 05:00 in New York on Thanksgiving: the US person waits for Friday, the other does not.
    early = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    _enroll(session, settings, "pro", "UUS", "UDE", now=early)
    assert local(_due(session, "UUS")[0][2], "America/New_York") == "Fri 2026-11-27 09:30"
    assert local(_due(session, "UDE")[0][2], "America/New_York") == "Thu 2026-11-26 09:30"

    # Bulgaria: 24, 25, 26 and the observed 28 December are holidays; 27 is a Sunday.
    add_program("xmas", [step("s", day=0, time="10:00")])
    add_person("UBG", tz="Europe/Sofia", country="BG")
    start = datetime(2026, 12, 24, 6, 0, tzinfo=UTC)
    _enroll(session, settings, "xmas", "UBG", now=start)
    assert local(_due(session, "UBG")[0][2], "Europe/Sofia") == "Tue 2026-12-29 10:00"


def test_local_time_holds_across_a_daylight_saving_switch(
    services: Services,
    session: Session,
    add_program: Callable[..., int],
    add_person: Callable[..., Person],
) -> None:
    settings = _settings(services, jitter_minutes=0)
    # Europe springs forward on Sunday 28 March 2027; the steps straddle it.
    add_program("dst", [step("before", day=0, time="09:30"), step("after", day=4, time="09:30")])
    add_person("USOFIA", tz="Europe/Sofia")
    monday = datetime(2027, 3, 25, 5, 0, tzinfo=UTC)  # Thursday 07:00 in Sofia
    _enroll(session, settings, "dst", "USOFIA", now=monday)
    (_, _, before), (_, _, after) = _due(session, "USOFIA")
    assert before == datetime(2027, 3, 25, 7, 30, tzinfo=UTC)  # UTC+2
    assert after == datetime(2027, 3, 29, 6, 30, tzinfo=UTC)  # UTC+3
    assert local(after, "Europe/Sofia") == "Mon 2027-03-29 09:30"


def test_the_weekly_cap_counts_every_program_and_pushes_the_rest_to_next_week(
    services: Services,
    session: Session,
    add_program: Callable[..., int],
    add_person: Callable[..., Person],
) -> None:
    settings = _settings(services, weekly_cap=3, jitter_minutes=0)
    add_program("aaa", [step("a1", day=0, time="10:00"), step("a2", day=1, time="10:00")])
    add_program("bbb", [step("b1", day=0, time="11:00"), step("b2", day=1, time="11:00")])
    add_person("U1", tz="UTC")
    monday = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    _enroll(session, settings, "aaa", "U1", now=monday)
    _enroll(session, settings, "bbb", "U1", now=monday)

    due = _due(session, "U1")
    weeks = [d.isocalendar()[1] for _, _, d in due]
    assert len(due) == 4
    assert weeks.count(49) == 3 and weeks.count(50) == 1
    assert local(due[-1][2], "UTC") == "Mon 2026-12-07 11:00"


def test_jitter_spreads_a_company_wide_start_over_the_window_and_is_deterministic(
    services: Services,
    session: Session,
    add_program: Callable[..., int],
    add_person: Callable[..., Person],
) -> None:
    settings = _settings(services)
    add_program("all", [step("s", day=1)])
    users = [f"U{i:04d}" for i in range(60)]
    for user in users:
        add_person(user, tz="Europe/Berlin")
    _enroll(session, settings, "all", *users)
    first = {u: _due(session, u)[0][2] for u in users}
    times = sorted(local(d, "Europe/Berlin")[-5:] for d in first.values())

    assert all("09:00" <= t < "17:30" for t in times)
    assert len(set(times)) > 40  # not one burst at 09:00
    assert times[0] < "11:00" and times[-1] > "15:00"
    plan(session, settings=settings, now=NOW + timedelta(minutes=5))
    assert {u: _due(session, u)[0][2] for u in users} == first


def test_planning_again_never_duplicates_and_a_new_time_zone_moves_what_is_not_yet_due(
    services: Services,
    session: Session,
    add_program: Callable[..., int],
    add_person: Callable[..., Person],
) -> None:
    settings = _settings(services, jitter_minutes=0)
    add_program(
        "pro", [step("s1", day=1, time="09:30", extra={"repeat": {"intervals_days": [2, 5]}})]
    )
    person = add_person("U1", tz="Europe/Sofia")
    _enroll(session, settings, "pro", "U1")
    for _ in range(3):
        plan(session, settings=settings, now=NOW)
    assert session.scalar(select(func.count()).select_from(Delivery)) == 3
    assert [local(d, "Europe/Sofia") for _, _, d in _due(session, "U1")] == [
        "Fri 2026-11-27 09:30",
        "Mon 2026-11-30 09:30",
        "Wed 2026-12-02 09:30",
    ]

    person.tz = "America/New_York"  # moved (Slack sent user_change)
    session.flush()
    result = plan(session, settings=settings, now=NOW)
    assert result.moved == 3 and result.inserted == 0
    assert [local(d, "America/New_York") for _, _, d in _due(session, "U1")] == [
        "Fri 2026-11-27 09:30",
        "Mon 2026-11-30 09:30",
        "Wed 2026-12-02 09:30",
    ]


def test_working_hours_and_days_of_the_person_override_the_settings(
    services: Services,
    session: Session,
    add_program: Callable[..., int],
    add_person: Callable[..., Person],
) -> None:
    settings = _settings(services)
    add_program("pro", [step("s", day=1)])
    add_person("UPART", tz="UTC", working_hours="13:00-15:00", working_days="mon,tue")
    _enroll(session, settings, "pro", "UPART")
    ((_, _, due),) = _due(session, "UPART")
    assert local(due, "UTC").startswith("Mon 2026-11-30")
    assert "13:00" <= local(due, "UTC")[-5:] < "15:00"


def test_plan_dry_run_lists_person_program_step_and_both_times_without_writing(
    services: Services,
    session: Session,
    add_program: Callable[..., int],
    add_person: Callable[..., Person],
) -> None:
    settings = _settings(services, jitter_minutes=0)
    add_program("pro", [step("s1", day=0, time="09:30"), step("s2", day=2, time="09:30")])
    add_person("UTOKYO", tz="Asia/Tokyo")
    _enroll(session, settings, "pro", "UTOKYO", start=datetime(2026, 11, 20, 12, tzinfo=UTC))
    before = session.scalar(select(func.count()).select_from(Delivery))
    rows = schedule(session, settings=settings, now=NOW, days=7)
    assert session.scalar(select(func.count()).select_from(Delivery)) == before
    assert [(r.person, r.program, r.step) for r in rows][:1] == [("UTOKYO", "pro", "s1")]
    assert rows[0].local_time.startswith("2026-11-27 09:30") and "Asia/Tokyo" in rows[0].local_time
    assert rows[0].utc_time == "2026-11-27 00:30:00Z"


@pytest.mark.parametrize("arm_share", [0.5])
def test_holdout_people_get_no_nudges(
    services: Services,
    session: Session,
    add_program: Callable[..., int],
    add_person: Callable[..., Person],
    arm_share: float,
) -> None:
    settings = _settings(services)
    add_program("hhh", [step("s", day=1)], holdout=arm_share)
    users = [f"U{i:03d}" for i in range(40)]
    for user in users:
        add_person(user)
    _enroll(session, settings, "hhh", *users)
    planned = sum(1 for u in users if _due(session, u))
    assert 8 < planned < 32  # about half are the control group


# -- the plan tick is incremental -------------------------------------------------------


def _enroll_only(session: Session, program: str, *users: str, now: datetime = NOW) -> None:
    """Enroll without planning (as a bulk import would), so the tick does the planning."""
    from bot.delivery.service import enroll

    enroll(
        session,
        program_id=program,
        user_ids=list(users),
        starts_at=now,
        enrolled_by="test",
        source="test",
        now=now,
    )


def test_a_tick_where_nothing_changed_touches_nobody_and_a_change_replans_only_that_person(
    services: Services,
    session: Session,
    add_program: Callable[..., int],
    add_person: Callable[..., Person],
) -> None:
    settings = _settings(services, jitter_minutes=0, plan_horizon_days=7)
    add_program("pro", [step("s1", day=1, time="09:30"), step("s2", day=3, time="14:00")])
    ana = add_person("UANA", tz="Europe/Sofia")
    add_person("UBEN", tz="Europe/Sofia")
    _enroll_only(session, "pro", "UANA", "UBEN")

    first = plan(session, settings=settings, now=NOW)
    assert (first.people, first.inserted) == (2, 4)
    before = {u: _due(session, u) for u in ("UANA", "UBEN")}
    for minute in (1, 2, 60):
        again = plan(session, settings=settings, now=NOW + timedelta(minutes=minute))
        assert (again.people, again.inserted, again.moved) == (0, 0, 0)

    ana.tz_override = "America/New_York"  # her own choice in App Home
    session.flush()
    moved = plan(session, settings=settings, now=NOW + timedelta(minutes=61))
    assert (moved.people, moved.moved, moved.inserted) == (1, 2, 0)
    assert [local(d, "America/New_York") for _, _, d in _due(session, "UANA")] == [
        "Fri 2026-11-27 09:30",
        "Mon 2026-11-30 14:00",  # day 3 is Sunday: the next working day
    ]
    assert _due(session, "UBEN") == before["UBEN"]
    assert plan(session, settings=settings, now=NOW + timedelta(minutes=62)).people == 0

    add_person("UCAL", tz="Asia/Tokyo")
    _enroll_only(session, "pro", "UCAL", now=NOW + timedelta(minutes=63))
    joined = plan(session, settings=settings, now=NOW + timedelta(minutes=64))
    assert (joined.people, joined.inserted) == (1, 2)
    assert local(_due(session, "UCAL")[0][2], "Asia/Tokyo") == "Fri 2026-11-27 09:30"
    assert _due(session, "UBEN") == before["UBEN"]


def test_the_horizon_moving_past_a_new_day_plans_that_day_at_its_first_tick(
    services: Services,
    session: Session,
    add_program: Callable[..., int],
    add_person: Callable[..., Person],
) -> None:
    settings = _settings(services, jitter_minutes=0, plan_horizon_days=7)
    # Day 8 is Friday 4 December: beyond a 7-day horizon on Thursday 26 November.
    add_program("pro", [step("soon", day=1, time="09:30"), step("later", day=8, time="10:00")])
    add_person("UANA", tz="UTC")
    _enroll_only(session, "pro", "UANA")

    assert plan(session, settings=settings, now=NOW).inserted == 1
    assert [s for s, _, _ in _due(session, "UANA")] == ["soon"]
    # Until 4 December comes within seven days, ticks have nothing to do.
    just_before = datetime(2026, 11, 26, 23, 59, tzinfo=UTC)
    assert plan(session, settings=settings, now=just_before).people == 0
    assert [s for s, _, _ in _due(session, "UANA")] == ["soon"]
    # At midnight 27 November its day does: the tick looks, and finds its 10:00 still
    # seven days and ten hours away; it comes back exactly when that is seven days.
    midnight = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)
    assert (plan(session, settings=settings, now=midnight).people, len(_due(session, "UANA"))) == (
        1,
        1,
    )
    assert plan(session, settings=settings, now=midnight.replace(hour=9, minute=59)).people == 0
    result = plan(session, settings=settings, now=midnight.replace(hour=10))
    assert (result.people, result.inserted) == (1, 1)
    assert _due(session, "UANA")[-1][0] == "later"
    assert local(_due(session, "UANA")[-1][2], "UTC") == "Fri 2026-12-04 10:00"
    # Nothing is left to plan for her: later ticks skip her for good.
    assert plan(session, settings=settings, now=midnight + timedelta(days=3)).people == 0


def test_a_change_read_before_a_plan_finished_is_not_lost(
    services: Services,
    session: Session,
    add_program: Callable[..., int],
    add_person: Callable[..., Person],
) -> None:
    """Another process marks the person while this tick still plans from the old data:
    the tick's 'looked at' must not overwrite the mark, the next tick re-plans."""
    from bot.delivery import planner as planner_module
    from bot.delivery.models import Enrollment

    settings = _settings(services, jitter_minutes=0)
    add_program("pro", [step("s1", day=1, time="09:30")])
    ana = add_person("UANA", tz="Europe/Sofia")
    _enroll_only(session, "pro", "UANA")
    original = planner_module._read_chunk

    def chunk_then_change(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = original(*args, **kwargs)
        ana.tz = "America/New_York"  # the change lands after the read, before the write
        session.flush()
        return out

    planner_module._read_chunk = chunk_then_change  # type: ignore[assignment]
    try:
        assert plan(session, settings=settings, now=NOW).people == 1
    finally:
        planner_module._read_chunk = original  # type: ignore[assignment]
    assert session.scalar(select(Enrollment.replan_at)) is None  # still marked
    assert plan(session, settings=settings, now=NOW).people == 1
    assert session.scalar(select(Enrollment.replan_at)) is not None
    assert local(_due(session, "UANA")[0][2], "America/New_York") == "Fri 2026-11-27 09:30"


def test_new_working_hours_in_the_settings_replan_everyone_at_the_next_tick(
    services: Services,
    session: Session,
    add_program: Callable[..., int],
    add_person: Callable[..., Person],
) -> None:
    settings = _settings(services, jitter_minutes=0)
    add_program("pro", [step("s1", day=1)])
    add_person("UANA", tz="Europe/Sofia")
    add_person("UBEN", tz="Asia/Tokyo")
    _enroll_only(session, "pro", "UANA", "UBEN")
    assert plan(session, settings=settings, now=NOW).people == 2
    assert plan(session, settings=settings, now=NOW).people == 0

    later = _settings(services, jitter_minutes=0, working_hours="11:00-15:00")
    result = plan(session, settings=later, now=NOW)
    assert (result.people, result.moved) == (2, 2)
    for user, tz in (("UANA", "Europe/Sofia"), ("UBEN", "Asia/Tokyo")):
        when = local(_due(session, user)[0][2], tz)
        assert when.startswith("Fri 2026-11-27") and "11:00" <= when[-5:] < "15:00"
    assert plan(session, settings=later, now=NOW).people == 0


def test_people_sync_and_org_import_mark_exactly_the_people_they_change(
    services: Services,
    session: Session,
    add_program: Callable[..., int],
    add_person: Callable[..., Person],
) -> None:
    from bot.people.service import apply_slack_user, import_org_text

    settings = _settings(services, jitter_minutes=0)
    add_program("pro", [step("s1", day=1, time="09:30")])
    for user in ("UANA", "UBEN", "UCAL"):
        add_person(user, tz="Europe/Sofia")
    _enroll_only(session, "pro", "UANA", "UBEN", "UCAL")
    assert plan(session, settings=settings, now=NOW).people == 3

    # Slack's user_change with the same profile: nothing to do. A new zone: her.
    same = {"id": "UANA", "name": "uana", "tz": "Europe/Sofia"}
    apply_slack_user(session, user=same, workspace_id="T0TEST")
    assert plan(session, settings=settings, now=NOW).people == 0
    apply_slack_user(session, user={**same, "tz": "Asia/Tokyo"}, workspace_id="T0TEST")
    assert plan(session, settings=settings, now=NOW).people == 1
    assert local(_due(session, "UANA")[0][2], "Asia/Tokyo") == "Fri 2026-11-27 09:30"

    # The org CSV moves Ben to Germany (zone and holidays); Cal's team changes only.
    csv_text = (
        "slack_user_id,email,team,country,timezone\n"
        "UBEN,ben@example.com,Sales,DE,Europe/Berlin\nUCAL,cal@example.com,Support,,\n"
    )
    import_org_text(session, text=csv_text, source="org.csv", workspace_id="T0TEST")
    result = plan(session, settings=settings, now=NOW)
    assert (result.people, result.moved) == (1, 1)
    assert local(_due(session, "UBEN")[0][2], "Europe/Berlin") == "Fri 2026-11-27 09:30"


ORDERED_STEPS = [
    step("welcome", day=0),
    step("first-try", day=1),
    step("afternoon", day=1, time="15:00"),
    step("weekend-eve", day=2),
    step("late", day=3, time="16:45"),
    step("early-next", day=4, time="09:05"),
    step("recap", day=4, extra={"repeat": {"intervals_days": [1, 2]}}),
]


def test_one_persons_steps_arrive_in_program_order_whatever_the_enrollment_moment(
    services: Services,
    session: Session,
    add_program: Callable[..., int],
    add_person: Callable[..., Person],
) -> None:
    """A property over a week of enrollment instants (every 47 minutes, so each hour
    of each day is hit, late evenings and Friday afternoons too), jitter on: for one
    person and one program the due times never go back in step order."""
    settings = _settings(services, jitter_minutes=240, plan_horizon_days=30)
    add_program("ordered", ORDERED_STEPS)
    program_order = [
        (s["id"], rep)
        for s in ORDERED_STEPS
        for rep in range(1 + len(s.get("repeat", {}).get("intervals_days", [])))
    ]
    # Order: the step's day (plus its repetition offset), then its local time, then the file.
    natural = {("recap", 1): 5, ("recap", 2): 6}  # offsets count from the step's day
    expected = sorted(
        program_order,
        key=lambda k: (
            natural.get(k, next(s["when"]["day"] for s in ORDERED_STEPS if s["id"] == k[0])),
            next(s["when"].get("time", "00:00") for s in ORDERED_STEPS if s["id"] == k[0]),
        ),
    )
    monday = datetime(2026, 11, 30, 0, 7, tzinfo=UTC)
    instants = [monday + timedelta(minutes=47 * i) for i in range(7 * 24 * 60 // 47)]
    for i, instant in enumerate(instants):
        user = f"UORD{i:04d}"
        add_person(user, tz=("Europe/Berlin", "America/New_York", "Asia/Kolkata")[i % 3])
        _enroll(session, settings, "ordered", user, now=instant)
        due = _due(session, user)  # ordered by due time
        assert [(s, r) for s, r, _ in due] == expected, (user, instant, due)
        times = [d for _, _, d in due]
        assert times == sorted(times) and len(set(times)) == len(times), (user, instant)
