"""Rules of a pre-mortem called directly: commands, follow-up times, records."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy.orm import Session

from bot.delivery.calendar import Calendar, calendar, zone
from bot.delivery.models import Delivery, DeliveryStatus
from bot.delivery.planner import person_calendar
from bot.errors import PermissionDenied, UserError
from bot.people.models import Person
from bot.premortem import followups, service
from bot.premortem.models import FollowupKind, Phase, PreventionStatus
from bot.settings import Settings, TimeWindow
from tests.conftest import make_settings

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # a Thursday


def _schedule(tz: str = "Europe/Sofia", country: str | None = None) -> Calendar:
    return calendar(zone(tz), TimeWindow(time(9, 0), time(17, 30)), (0, 1, 2, 3, 4), country)


def test_command_options_and_errors() -> None:
    settings = make_settings(premortem_template="stakeholders")
    cmd = service.parse_command("Launch OKRs  --horizon 3m", settings=settings)
    assert cmd.start == service.StartRequest("Launch OKRs", "stakeholders", 3)
    cmd = service.parse_command("--template risks Move to the cloud", settings=settings)
    assert cmd.start == service.StartRequest("Move to the cloud", "risks", 6)
    assert service.parse_command("list", settings=settings).kind == "list"
    assert service.parse_command("", settings=settings).kind == "help"
    with pytest.raises(UserError, match="use one of: why, risks, stakeholders"):
        service.parse_command("X --template blame", settings=settings)
    with pytest.raises(UserError, match="name the initiative"):
        service.parse_command("--template why", settings=settings)
    with pytest.raises(UserError, match="--horizon takes months"):
        service.parse_command("X --horizon forever", settings=settings)


def test_unknown_default_template_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="premortem_template"):
        make_settings(premortem_template="blame")


def test_nudge_lands_at_the_start_of_local_working_hours() -> None:
    # Due Monday 7 Dec; two working days before is Thursday 3 Dec, 09:00 in Sofia (UTC+2).
    target = service.working_days_before(date(2026, 12, 7), 2, _schedule())
    assert target == date(2026, 12, 3)
    due = service.followup_due_at(schedule=_schedule(), target=target, now=NOW)
    assert due == datetime(2026, 12, 3, 7, 0, tzinfo=UTC)


def test_public_holidays_of_the_owners_country_are_skipped() -> None:
    # Christmas week in Bulgaria: 24-26 Dec are public holidays.
    schedule = _schedule("Europe/Sofia", "BG")
    target = service.working_days_before(date(2026, 12, 28), 1, schedule)
    assert target == date(2026, 12, 23)
    due = service.followup_due_at(schedule=schedule, target=date(2026, 12, 25), now=NOW)
    assert due == datetime(2026, 12, 23, 7, 0, tzinfo=UTC)


def test_a_weekend_target_moves_back_to_friday() -> None:
    due = service.followup_due_at(schedule=_schedule("UTC"), target=date(2026, 12, 6), now=NOW)
    assert due == datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def test_a_target_in_the_past_goes_out_at_the_next_allowed_moment() -> None:
    # Thursday 19:00 in New York is after hours: Friday 09:00 there, 14:00 UTC.
    now = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)
    due = service.followup_due_at(
        schedule=_schedule("America/New_York"), target=date(2026, 11, 20), now=now
    )
    assert due == datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
    # Inside working hours it goes now.
    inside = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert (
        service.followup_due_at(
            schedule=_schedule("America/New_York"), target=date(2026, 11, 20), now=inside
        )
        == inside
    )


def test_recipient_comes_from_the_directory_then_slack_then_the_default(
    session: Session,
) -> None:
    settings = make_settings(default_timezone="Europe/Berlin")
    session.add(
        Person(
            slack_user_id="U0OVR",
            name="o",
            tz="Asia/Tokyo",
            tz_override="Europe/Lisbon",
            working_hours="10:00-16:00",
            working_days="mon,tue",
        )
    )
    session.flush()
    mine = followups.recipient(
        session, user_id="U0OVR", slack_user={"id": "U0OVR", "tz": "UTC"}, workspace_id=""
    )
    cal = person_calendar(mine, settings)
    assert (cal.tz.key, str(cal.window), cal.days) == ("Europe/Lisbon", "10:00-16:00", (0, 1))
    # An owner new to the directory is added from their Slack profile …
    slack = followups.recipient(
        session, user_id="U0NEW", slack_user={"id": "U0NEW", "tz": "Asia/Tokyo"}, workspace_id=""
    )
    assert person_calendar(slack, settings).tz.key == "Asia/Tokyo"
    assert followups.recipient(session, user_id="U0NEW", slack_user=None, workspace_id="") is slack
    # … or with the defaults when Slack could not be asked.
    unknown = followups.recipient(session, user_id="U0GONE", slack_user=None, workspace_id="")
    assert person_calendar(unknown, settings).tz.key == "Europe/Berlin"


def _finished(session: Session, settings: Settings) -> int:
    request = service.StartRequest("Launch | pilot", "why", 6)
    p = service.start(
        session, settings=settings, channel_id="C0X", user_id="U0FAC", request=request, now=NOW
    )
    service.add_thread_risk(session, premortem=p, user_id="U0A", text="Slow", message_ts="1.1")
    anon = service.add_anonymous_risk(session, premortem=p, text="Quiet fear")
    service.advance(session, premortem=p, settings=settings, now=NOW)
    assert service.cast_vote(session, premortem=p, risk_id=anon.id, voter_id="U0A").counted
    service.advance(session, premortem=p, settings=settings, now=NOW)
    service.record_prevention(
        session,
        premortem=p,
        risk_id=anon.id,
        action="Talk | early",
        owner_id="U0B",
        due=date(2026, 12, 10),
        decided_by="U0FAC",
    )
    service.advance(session, premortem=p, settings=settings, now=NOW)
    return p.id


def test_export_is_markdown_and_keeps_anonymous_risks_anonymous(
    session: Session, settings: Settings
) -> None:
    premortem_id = _finished(session, settings)
    text = service.export_markdown(session, premortem_id=premortem_id)
    assert text.startswith("# Pre-mortem: Launch | pilot\n")
    assert "1. **#2** (1 vote, anonymous) Quiet fear" in text
    assert "2. **#1** (0 votes, <@U0A>) Slow" in text
    assert "| #2 | Talk \\| early | U0B | 2026-12-10 | open |" in text


def test_export_of_an_unfinished_premortem_says_why_not(
    session: Session, settings: Settings
) -> None:
    request = service.StartRequest("Launch", "why", 6)
    p = service.start(
        session, settings=settings, channel_id="C0X", user_id="U0FAC", request=request, now=NOW
    )
    with pytest.raises(UserError, match="still in the collect phase"):
        service.export_markdown(session, premortem_id=p.id)
    with pytest.raises(UserError, match="no pre-mortem with id 999"):
        service.export_markdown(session, premortem_id=999)


def _owner(session: Session, user_id: str = "U0B", tz: str = "Europe/Sofia") -> Person:
    person = Person(slack_user_id=user_id, name=user_id.lower(), tz=tz)
    session.add(person)
    session.flush()
    return person


def test_only_owner_facilitator_or_lead_change_a_prevention(
    session: Session, settings: Settings
) -> None:
    premortem_id = _finished(session, settings)
    prevention = service.preventions(session, premortem_id)[0]
    reminder = service.plan_owner_nudge(
        session, prevention=prevention, person=_owner(session), settings=settings, now=NOW
    )
    assert reminder is not None and reminder.status == DeliveryStatus.planned
    with pytest.raises(PermissionDenied, match="Nothing was changed"):
        service.set_prevention_status(
            session,
            prevention_id=prevention.id,
            status=PreventionStatus.done,
            actor_id="U0X",
            is_lead=False,
        )
    assert prevention.status == PreventionStatus.open
    service.set_prevention_status(
        session,
        prevention_id=prevention.id,
        status=PreventionStatus.dropped,
        actor_id="U0B",
        is_lead=False,
        now=NOW,
    )
    session.refresh(reminder)
    # A dropped prevention needs no reminder.
    assert (reminder.status, reminder.last_error) == (
        DeliveryStatus.cancelled,
        "prevention dropped",
    )


def test_replanning_moves_an_untouched_reminder_and_replaces_one_already_sent(
    session: Session, settings: Settings
) -> None:
    prevention = service.preventions(session, _finished(session, settings))[0]
    owner, other = _owner(session), _owner(session, "U0C", "America/New_York")

    def plan(person: Person) -> Delivery:
        row = service.plan_owner_nudge(
            session, prevention=prevention, person=person, settings=settings, now=NOW
        )
        assert row is not None
        return row

    def rows() -> list[tuple[int, str, DeliveryStatus, datetime]]:
        found = service.followups(session, kind=FollowupKind.owner, ref_id=prevention.id)
        return [(r.repetition, r.step_id, r.status, r.due_at) for r in found]

    first = plan(owner)
    assert plan(owner) is first  # the same decision planned twice: one reminder
    # Due Thu 10 Dec: Tue 8 Dec, 09:00 in Sofia.
    assert rows() == [
        (0, "2026-12-10", DeliveryStatus.planned, datetime(2026, 12, 8, 7, 0, tzinfo=UTC))
    ]
    assert first.window_end == datetime(2026, 12, 8, 15, 30, tzinfo=UTC)
    # A new date before anything was sent: the same row moves.
    prevention.due_date = date(2026, 12, 15)
    assert plan(owner) is first
    assert rows() == [
        (0, "2026-12-15", DeliveryStatus.planned, datetime(2026, 12, 11, 7, 0, tzinfo=UTC))
    ]
    # Once sent, planning the same again adds nothing; a new owner gets a reminder of their own.
    first.status = DeliveryStatus.sent
    assert plan(owner) is first
    prevention.owner_id = "U0C"
    second = plan(other)
    assert (second.person_id, second.repetition) == (other.id, 1)
    assert rows()[1] == (
        1,
        "2026-12-15",
        DeliveryStatus.planned,
        datetime(2026, 12, 11, 14, 0, tzinfo=UTC),
    )
    assert [r[2] for r in rows()] == [DeliveryStatus.sent, DeliveryStatus.planned]


def test_a_tried_reminder_whose_date_changed_is_superseded_not_moved(
    session: Session, settings: Settings
) -> None:
    prevention = service.preventions(session, _finished(session, settings))[0]
    owner = _owner(session)
    first = service.plan_owner_nudge(
        session, prevention=prevention, person=owner, settings=settings, now=NOW
    )
    assert first is not None
    first.attempts = 1  # the sender tried it: it may be in the owner's DMs already
    prevention.due_date = date(2026, 12, 17)
    second = service.plan_owner_nudge(
        session, prevention=prevention, person=owner, settings=settings, now=NOW
    )
    assert second is not None and second is not first
    assert (first.status, first.last_error) == (DeliveryStatus.cancelled, "superseded: re-planned")
    assert (second.repetition, second.step_id) == (1, "2026-12-17")


def test_votes_respect_budget_and_per_risk_maximum(session: Session) -> None:
    settings = make_settings(premortem_vote_budget=2, premortem_votes_per_risk=2)
    request = service.StartRequest("Launch", "why", 6)
    p = service.start(
        session, settings=settings, channel_id="C0X", user_id="U0FAC", request=request, now=NOW
    )
    a = service.add_thread_risk(session, premortem=p, user_id="U0A", text="A", message_ts="1.1")
    b = service.add_thread_risk(session, premortem=p, user_id="U0A", text="B", message_ts="1.2")
    assert a and b
    service.advance(session, premortem=p, settings=settings, now=NOW)
    counted = [
        service.cast_vote(session, premortem=p, risk_id=r.id, voter_id="U0V").counted
        for r in (a, a, a, b)
    ]
    assert counted == [True, True, False, False]
    assert service.tallies(session, p.id) == {a.id: 2}
    assert p.phase == Phase.vote
