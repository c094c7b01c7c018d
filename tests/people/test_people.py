"""People: Slack sync (paginated), live updates from events, the org CSV."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery.models import Delivery, DeliveryStatus, Enrollment, EnrollmentStatus
from bot.delivery.planner import enroll_and_plan
from bot.people.models import Person, Role
from bot.people.service import effective_tz, find_person
from bot.services import Services
from bot.settings import Settings
from tests.conftest import RunningBot
from tests.delivery.clihelp import run_cli, wait_until
from tests.delivery.conftest import step, store_program
from tests.fakeslack import FakeSlack

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "org.example.csv"


def _people(services: Services) -> dict[str, Person]:
    with services.session() as session:
        return {p.slack_user_id: p for p in session.scalars(select(Person))}


def test_people_sync_reads_every_page_with_time_zone_locale_and_flags(
    fake_slack: FakeSlack, settings: Settings, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(230):
        fake_slack.add_user(f"U{i:05d}", name=f"user{i}", tz="Asia/Tokyo", locale="ja-JP")
    fake_slack.add_user("UGONE", name="gone", deleted=True)
    fake_slack.add_user("UROBOT", name="robot", is_bot=True)
    fake_slack.add_user(
        "UBG",
        name="ana",
        real_name="Ana Petrova",
        tz="Europe/Sofia",
        locale="bg-BG",
        email="ana@example.com",
    )

    result = run_cli(monkeypatch, settings, "people", "sync")

    assert result.code == 0, result.err
    assert "synced 234 people (234 new, 0 deactivated)" in result.out
    assert len(fake_slack.calls_to("users.list")) >= 2  # more than one page
    people = _people(services)
    assert "USLACKBOT" not in people  # Slack's system user; the app's own bot user is kept, flagged
    assert people["U0BOT"].is_bot
    ana = people["UBG"]
    assert (ana.name, ana.tz, ana.locale, ana.email) == (
        "Ana Petrova",
        "Europe/Sofia",
        "bg-BG",
        "ana@example.com",
    )
    assert people["UGONE"].is_deleted and people["UROBOT"].is_bot
    assert people["U00042"].tz == "Asia/Tokyo"

    fake_slack.update_user("U00001", deleted=True)
    again = run_cli(monkeypatch, settings, "people", "sync")
    assert "synced 234 people (0 new, 1 deactivated)" in again.out


@pytest.fixture
def enrolled(services: Services) -> Iterator[None]:
    with services.session() as session:
        store_program(session, "ramp", [step("one", day=1), step("two", day=2)])
        session.add(Person(slack_user_id="ULEAVER", workspace_id="T0TEST", name="leaver", tz="UTC"))
        session.flush()
        enroll_and_plan(
            session,
            settings=services.settings,
            now=services.clock.now(),
            program_id="ramp",
            user_ids=["ULEAVER"],
            starts_at=services.clock.now(),
            enrolled_by="t",
            source="t",
        )
    yield


def test_a_deactivated_account_stops_its_nudges_and_team_join_adds_a_person(
    bot: RunningBot, services: Services, enrolled: None
) -> None:
    user = {
        "id": "ULEAVER",
        "team_id": "T0TEST",
        "name": "leaver",
        "deleted": True,
        "tz": "UTC",
        "profile": {"real_name": "Leaver"},
    }
    assert bot.driver.event({"type": "user_change", "user": user}).status == 200
    newbie = {
        "id": "UNEW",
        "team_id": "T0TEST",
        "name": "newbie",
        "deleted": False,
        "tz": "America/Chicago",
        "locale": "en-US",
        "profile": {"real_name": "New Bie"},
    }
    assert bot.driver.event({"type": "team_join", "user": newbie}).status == 200

    def both_applied() -> bool:
        with services.session() as session:
            leaver, new = find_person(session, "ULEAVER"), find_person(session, "UNEW")
            return bool(leaver and leaver.is_deleted and new)

    assert wait_until(both_applied)
    with services.session() as session:
        leaver = find_person(session, "ULEAVER")
        assert leaver is not None and leaver.is_deleted
        statuses = set(session.scalars(select(Delivery.status)))
        assert statuses == {DeliveryStatus.cancelled}
        assert session.scalar(select(Enrollment.status)) == EnrollmentStatus.stopped
        new = find_person(session, "UNEW")
        assert new is not None and new.tz == "America/Chicago" and new.name == "New Bie"


def test_org_import_keeps_good_rows_and_reports_bad_ones_by_line(
    settings: Settings, services: Services, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with services.session() as session:
        session.add(
            Person(
                slack_user_id="U0SLACK1",
                workspace_id="T0TEST",
                name="s",
                tz="UTC",
                email="sam@example.com",
            )
        )
    org = tmp_path / "org.csv"
    org.write_text(
        "slack_user_id,email,name,manager_slack_user_id,team,country,timezone,start_date,role\n"
        "U0GOOD01,good@example.com,Good One,U0BOSS01,Sales,BG,Europe/Sofia,2025-01-06,employee\n"
        "U0BAD001,bad@example.com,Bad Zone,,Sales,BG,Mars/Olympus,,employee\n"
        "U0BAD002,bad2@example.com,Bad Role,,Sales,BG,,,boss\n"
        "not-an-id,x@example.com,Bad Id,,,,,,\n"
        ",sam@example.com,Sam,,Support,DE,,31-12-2024,\n"
        ",sam@example.com,Sam Again,,Support,DE,,,\n"
        "U0BOSS01,boss@example.com,The Boss,,Sales,XX,,,manager\n",
        encoding="utf-8",
    )
    result = run_cli(monkeypatch, settings, "org", "import", str(org))

    assert result.code == 1
    assert f"{org}:3: timezone: not an IANA time zone" in result.err
    assert f"{org}:4: role: must be employee, manager or ld_lead" in result.err
    assert f"{org}:5: slack_user_id: not a Slack user id" in result.err
    assert f"{org}:6: start_date: not a date (YYYY-MM-DD)" in result.err
    assert f"{org}:8: country:" in result.err
    assert "imported 2 rows (1 new, 1 updated, 5 skipped)" in result.out
    people = _people(services)
    good = people["U0GOOD01"]
    assert (good.team, good.country, good.org_tz, good.start_date, good.manager_slack_user_id) == (
        "Sales",
        "BG",
        "Europe/Sofia",
        date(2025, 1, 6),
        "U0BOSS01",
    )
    assert people["U0SLACK1"].name == "Sam Again" and people["U0SLACK1"].team == "Support"
    assert "U0BAD001" not in people and "U0BOSS01" not in people


def test_org_import_names_every_problem_of_a_row_and_warns_about_managers(
    settings: Settings, services: Services, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    org = tmp_path / "org.csv"
    org.write_text(
        "slack_user_id,email,name,manager_slack_user_id,team,country,timezone,start_date,role\n"
        "U0MESS01,not-mail,Messy,boss,Sales,XX,Mars/Olympus,31-12-2024,boss\n"
        "U0SELF01,self@example.com,Self Made,U0SELF01,Sales,BG,,,manager\n"
        "U0LOST01,lost@example.com,Lost Report,U0GHOST1,Sales,BG,,,employee\n"
        "U0FINE01,fine@example.com,Fine Report,U0SELF01,Sales,BG,,,employee\n",
        encoding="utf-8",
    )
    result = run_cli(monkeypatch, settings, "org", "import", str(org))

    assert result.code == 1  # the messy row was skipped
    (messy,) = [line for line in result.err.splitlines() if line.startswith(f"{org}:2:")]
    for field_name in ("email", "manager_slack_user_id", "country", "timezone", "start_date"):
        assert f"{field_name}: " in messy, messy
    assert "role: must be employee, manager or ld_lead" in messy
    # Kept, but said: nobody manages themself, and a manager id nobody has gets no digest.
    assert f"{org}:3: manager_slack_user_id: U0SELF01 is this person's own id" in result.err
    assert f"{org}:4: manager_slack_user_id: nobody has the id U0GHOST1" in result.err
    assert f"{org}:5:" not in result.err  # U0SELF01 is in the file: a known manager
    assert "imported 3 rows (3 new, 0 updated, 1 skipped)" in result.out
    assert {"U0SELF01", "U0LOST01", "U0FINE01"} <= set(_people(services))


def test_time_zone_precedence_own_choice_then_org_csv_then_slack_then_default() -> None:
    person = Person(slack_user_id="U1", tz="Asia/Tokyo")
    assert effective_tz(person, "UTC") == "Asia/Tokyo"
    person.org_tz = "Europe/Sofia"
    assert effective_tz(person, "UTC") == "Europe/Sofia"
    person.tz_override = "America/Denver"
    assert effective_tz(person, "UTC") == "America/Denver"
    assert effective_tz(Person(slack_user_id="U2"), "Europe/Berlin") == "Europe/Berlin"


def test_the_example_org_file_imports_cleanly(
    settings: Settings, services: Services, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    session.add(
        Person(
            slack_user_id="U0NORA01", workspace_id="T0TEST", name="n", email="nora.lind@example.com"
        )
    )
    session.commit()
    result = run_cli(monkeypatch, settings, "org", "import", str(EXAMPLE))
    assert result.code == 0, result.err
    assert result.err == ""  # no warnings: every manager in it is someone in it
    assert "imported 5 rows (4 new, 1 updated, 0 skipped)" in result.out
    people = _people(services)
    assert people["U0NORA01"].role == Role.ld_lead
    assert people["U0MAYA001"].role == Role.manager
