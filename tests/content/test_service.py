"""The library in the database: versions by content, and who follows which version."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import FixedClock
from bot.content import models
from bot.content.loader import Library, load_library, parse_program
from bot.content.schema import Program
from bot.content.service import (
    SyncReport,
    current_version,
    load_and_sync,
    load_program_version,
    steps_line_up,
    sync_library,
)
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment
from bot.delivery.service import resolve_version_for_enrollment
from bot.errors import ConfigError
from bot.people.models import Person
from bot.services import Services
from tests.conftest import make_settings
from tests.content.conftest import DEMO, STARTER_DIR, edit

Writer = Callable[..., Path]


def _sync(session: Session, folder: Path, clock: FixedClock) -> tuple[Library, SyncReport]:
    library = load_library(folder)
    assert library.ok, library.error_lines()
    clock.advance(timedelta(minutes=1))
    return library, sync_library(session, library=library, now=clock.now())


def _versions(session: Session, program_id: str = "demo") -> list[int]:
    return list(
        session.scalars(
            select(models.ProgramVersion.number)
            .where(models.ProgramVersion.program_id == program_id)
            .order_by(models.ProgramVersion.number)
        )
    )


def test_sync_stores_every_starter_program_once(session: Session, clock: FixedClock) -> None:
    library = load_library(STARTER_DIR)
    report = sync_library(session, library=library, now=clock.now())
    assert sorted(report.created) == sorted(library.programs)
    again = sync_library(session, library=library, now=clock.now())
    assert again.created == [] and again.new_versions == []
    assert sorted(again.unchanged) == sorted(library.programs)
    rows = session.scalars(select(models.ProgramVersion)).all()
    assert len(rows) == len(library.programs)
    stored = load_program_version(session, rows[0].id)
    assert stored == library.get(rows[0].program_id)  # renders as the file said
    title = session.get(models.Program, "customer-call-opener")
    assert title is not None and title.title == "Open customer calls with clarifying questions"


def test_an_edit_makes_a_new_version_and_a_revert_brings_the_old_back(
    session: Session, clock: FixedClock, write_program: Writer
) -> None:
    folder = write_program(DEMO)
    _sync(session, folder, clock)
    # Reformatting or reordering keys is not an edit: the hash is of the validated content.
    write_program(DEMO.replace('  unit: "%"\n', "").replace("  name:", '  unit: "%"\n  name:'))
    _, report = _sync(session, folder, clock)
    assert _versions(session) == [1]
    write_program(edit(DEMO, "One change?", "Just one change?"))
    _, report = _sync(session, folder, clock)
    assert report.new_versions == [("demo", 2)]
    assert _versions(session) == [1, 2]
    current = current_version(session, "demo")
    assert current is not None and current.number == 2
    write_program(DEMO)
    _, report = _sync(session, folder, clock)
    assert report.reverted == [("demo", 1)]
    current = current_version(session, "demo")
    assert current is not None and current.number == 1
    assert _versions(session) == [1, 2]


def test_a_removed_file_deactivates_the_program_but_keeps_its_versions(
    session: Session, clock: FixedClock, write_program: Writer, tmp_path: Path
) -> None:
    folder = write_program(DEMO)
    _sync(session, folder, clock)
    other = tmp_path / "other"
    other.mkdir()
    (other / "second.yaml").write_text(edit(DEMO, "id: demo\n", "id: second\n"), "utf-8")
    _, report = _sync(session, other, clock)
    assert report.deactivated == ["demo"]
    row = session.get(models.Program, "demo")
    assert row is not None and row.active is False
    assert _versions(session) == [1]


def _enroll(session: Session, clock: FixedClock, *, arm: str = "") -> Enrollment:
    person = Person(slack_user_id="U0ALICE", name="Alice", locale="bg-BG")
    session.add(person)
    session.flush()
    version = current_version(session, "demo")
    assert version is not None
    enrollment = Enrollment(
        person_id=person.id,
        program_id="demo",
        program_version_id=version.id,
        starts_at=clock.now(),
        arm=arm,
    )
    session.add(enrollment)
    session.flush()
    return enrollment


def _received(session: Session, enrollment: Enrollment, step_id: str, clock: FixedClock) -> None:
    session.add(
        Delivery(
            enrollment_id=enrollment.id,
            person_id=enrollment.person_id,
            step_id=step_id,
            status=DeliveryStatus.sent,
            due_at=clock.now(),
            sent_at=clock.now(),
        )
    )
    session.flush()


def test_enrolled_people_move_when_the_remaining_steps_line_up(
    session: Session, clock: FixedClock, write_program: Writer
) -> None:
    folder = write_program(DEMO)
    _sync(session, folder, clock)
    enrollment = _enroll(session, clock)
    started = enrollment.program_version_id
    _received(session, enrollment, "ask", clock)
    # Wording of a coming step changes, and the step already received disappears: move.
    edited = edit(DEMO, "Before you escalate:", "Before you hand it over:")
    start, end = edited.index("  - id: ask"), edited.index("  - id: check")
    write_program(edited[:start] + edited[end:])
    _sync(session, folder, clock)
    resolved = resolve_version_for_enrollment(session, enrollment=enrollment)
    assert resolved.number == 2
    assert load_program_version(session, resolved.id).step("check").text["en"] == (
        "Before you hand it over:"
    )
    assert enrollment.program_version_id == started  # resolving changes nothing by itself


def test_enrolled_people_keep_their_version_when_steps_are_reordered(
    session: Session, clock: FixedClock, write_program: Writer
) -> None:
    folder = write_program(DEMO)
    _sync(session, folder, clock)
    enrollment = _enroll(session, clock)
    _received(session, enrollment, "ask", clock)
    guide_start, reflect_start = DEMO.index("  - id: guide"), DEMO.index("  - id: reflect")
    swapped = (
        DEMO[: DEMO.index("  - id: check")]
        + DEMO[guide_start:reflect_start]
        + DEMO[DEMO.index("  - id: check") : guide_start]
        + DEMO[reflect_start:]
    )
    write_program(swapped)
    _sync(session, folder, clock)
    resolved = resolve_version_for_enrollment(session, enrollment=enrollment)
    assert resolved.number == 1
    # ...and someone who has not started yet gets the newest version.
    newest = current_version(session, "demo")
    assert newest is not None and newest.number == 2


def test_a_kind_change_or_a_lost_variant_keeps_people_on_their_version() -> None:
    def program(text: str) -> Program:
        parsed, errors = parse_program(text, file="demo.yaml", expected_id="demo")
        assert errors == []
        return parsed

    old = program(DEMO)
    tip = program(
        edit(DEMO, "    kind: prompt\n    when: {day: 0", "    kind: tip\n    when: {day: 0")
    )
    assert not steps_line_up(old, tip, reached_step_ids=set())
    assert steps_line_up(old, tip, reached_step_ids={"ask"})
    no_variant = program(DEMO[: DEMO.index("    variants:")])
    assert steps_line_up(old, no_variant, reached_step_ids=set(), arm="")
    assert not steps_line_up(old, no_variant, reached_step_ids=set(), arm="short")


def test_load_and_sync_refuses_an_invalid_library_with_every_line(
    db_url: str, clock: FixedClock, write_program: Writer
) -> None:
    folder = write_program(edit(DEMO, "  target: 12", "  target: 20"))
    services = Services.create(make_settings(database_url=db_url, content_dir=folder), clock=clock)
    try:
        with pytest.raises(ConfigError) as caught:
            load_and_sync(services)
        assert str(caught.value) == (
            f"{folder / 'demo.yaml'}:18: metric.target: 20 is not below the baseline 18 "
            "although direction is down; fix the target or the direction"
        )
        with services.session() as session:
            assert session.scalars(select(models.Program)).all() == []
        write_program(DEMO)
        library = load_and_sync(services)
        assert list(library.programs) == ["demo"]
        with services.session() as session:
            assert _versions(session) == [1]
    finally:
        services.close()
