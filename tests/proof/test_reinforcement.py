"""Spaced reinforcement (Leitner boxes) and the proof export, on the service level:
Done lengthens the wait, "not yet" and silence shorten it, Done in the top box
confirms the habit, and the planner never brings a parked repetition back."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.cli import main
from bot.delivery.models import DeliveryStatus
from bot.delivery.planner import plan
from bot.errors import PermissionDenied
from bot.proof import service
from bot.proof.models import BoxStatus, ReinforcementBox
from bot.services import Services
from tests.conftest import T0
from tests.proof.conftest import World

USER = "U0ALICE01"


def answer(
    services: Services, delivery_id: int, kind: str, **kwargs: object
) -> service.AnswerResult:
    with services.session() as session:
        return service.answer(
            session,
            delivery_id=delivery_id,
            user_id=USER,
            kind=kind,
            now=services.clock.now(),
            settings=services.settings,
            **kwargs,  # type: ignore[arg-type]
        )


def box_of(services: Services, enrollment_id: int) -> tuple[int, BoxStatus]:
    with services.session() as session:
        row = session.query(ReinforcementBox).filter_by(enrollment_id=enrollment_id).one()
        return row.box, row.status


def test_done_three_times_climbs_the_boxes_and_confirms_the_habit(
    services: Services, world: World
) -> None:
    # intervals_days [2, 5, 12]: box 1 waits 2 days, box 2 five, box 3 twelve.
    nudge = world.send(USER, "ask-three")
    result = answer(services, nudge.delivery_id, "done")
    assert result.next_repetition == T0 + timedelta(days=5)
    assert box_of(services, nudge.enrollment_id) == (2, BoxStatus.active)

    services.clock.set(T0 + timedelta(days=5))  # type: ignore[attr-defined]
    second = world.send(USER, "ask-three", repetition=1)
    # Twelve days later is Sunday 13 December: it waits for Monday's working window.
    monday = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)
    assert answer(services, second.delivery_id, "done").next_repetition == monday

    services.clock.set(monday)  # type: ignore[attr-defined]
    third = world.send(USER, "ask-three", repetition=2)
    assert answer(services, third.delivery_id, "done").next_repetition is None
    assert box_of(services, nudge.enrollment_id) == (4, BoxStatus.confirmed)
    rows = world.deliveries(nudge.enrollment_id, "ask-three")
    assert [(r.repetition, r.status) for r in rows] == [
        (0, DeliveryStatus.sent),
        (1, DeliveryStatus.sent),
        (2, DeliveryStatus.sent),
        (3, DeliveryStatus.cancelled),
    ]
    # The planner, run again, neither re-inserts nor moves the parked repetition.
    with services.session() as session:
        plan(session, settings=services.settings, now=services.clock.now(), horizon_days=60)
    assert world.deliveries(nudge.enrollment_id, "ask-three")[3].status == DeliveryStatus.cancelled


def test_not_yet_moves_down_and_the_next_done_waits_less(services: Services, world: World) -> None:
    nudge = world.send(USER, "ask-three")
    answer(services, nudge.delivery_id, "done")  # box 2
    services.clock.set(T0 + timedelta(days=5))  # type: ignore[attr-defined]
    second = world.send(USER, "ask-three", repetition=1)
    snoozed = answer(services, second.delivery_id, "snooze", value="tomorrow")
    assert snoozed.snoozed_until == T0 + timedelta(days=6)
    assert box_of(services, nudge.enrollment_id) == (1, BoxStatus.active)
    # It comes back tomorrow (the same row); Done then moves to box 2: five days, not twelve.
    services.clock.set(T0 + timedelta(days=6))  # type: ignore[attr-defined]
    again = world.send(USER, "ask-three", repetition=1)
    assert again.delivery_id == second.delivery_id
    assert answer(services, again.delivery_id, "done").next_repetition == T0 + timedelta(days=11)


def test_silence_shortens_the_wait(services: Services, world: World) -> None:
    nudge = world.send(USER, "ask-three")
    answer(services, nudge.delivery_id, "done")  # box 2, next in 5 days
    services.clock.set(T0 + timedelta(days=5))  # type: ignore[attr-defined]
    world.send(USER, "ask-three", repetition=1)
    services.clock.set(T0 + timedelta(days=6, hours=1))  # type: ignore[attr-defined]  # unanswered
    with services.session() as session:
        moved = service.apply_silence(session, now=services.clock.now(), settings=services.settings)
        again = service.apply_silence(session, now=services.clock.now(), settings=services.settings)
    assert (moved, again) == (1, 0)  # applied once per delivery
    assert box_of(services, nudge.enrollment_id) == (1, BoxStatus.active)
    third = world.deliveries(nudge.enrollment_id, "ask-three")[2]
    assert third.status == DeliveryStatus.planned
    assert third.due_at == T0 + timedelta(days=8, hours=1)  # box 1: two days


def test_only_the_addressee_may_answer(services: Services, world: World) -> None:
    nudge = world.send(USER, "tip")
    with services.session() as session, pytest.raises(PermissionDenied):
        service.answer(
            session,
            delivery_id=nudge.delivery_id,
            user_id="U0MALLORY",
            kind="done",
            now=services.clock.now(),
            settings=services.settings,
        )
    assert world.events() == []


def test_export_writes_the_log_without_anyones_own_words(
    services: Services,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = world.send(USER, "shift-reflection", sent_at=T0 - timedelta(minutes=1))
    answer(services, first.delivery_id, "reflection", text="My private thoughts")
    world.send(USER, "tip", program_id="other-program")
    other = world.deliveries(world.enrollment(USER, "other-program"), "tip")[0]
    answer(services, other.id, "done")
    monkeypatch.setenv("DATABASE_URL", services.settings.database_url)

    code, out, err = run(capsys, ["proof", "export", "--program", "call-opener"])
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [
        (r["person"], r["program"], r["step"], r["kind"], r["seconds_since_delivery"]) for r in rows
    ] == [(USER, "call-opener", "shift-reflection", "reflection", "60")]
    assert "private" not in out

    code, out, _ = run(capsys, ["proof", "export", "--format", "json", "--since", "2026-11-27"])
    assert code == 0 and json.loads(out) == []
    code, out, err = run(capsys, ["proof", "export", "--since", "yesterday"])
    assert code != 0 and err.startswith("nudgebot: --since") and "Traceback" not in err


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err
