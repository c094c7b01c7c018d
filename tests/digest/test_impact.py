"""The impact brief: every number recomputed from the raw tables; the chart; the App Home
button that posts both to an L&D lead; experiments compared honestly."""

from __future__ import annotations

import io
import json
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PIL import Image
from sqlalchemy import select

from bot.cli import main
from bot.clock import FixedClock
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment
from bot.digest.blocks import IMPACT_ACTION
from bot.digest.chart import METRIC_COLOUR
from bot.digest.experiments import wilson
from bot.digest.models import MetricObservation
from bot.proof.models import ProofEvent
from bot.services import Services
from tests.conftest import RunningBot
from tests.digest.conftest import LEAD, World

PROGRAM = "call-opener"
ACTED = {"done", "checklist", "rating", "reflection"}
T = TypeVar("T")
STEPS = [
    {
        "id": "ask",
        "kind": "prompt",
        "text": "Ask three questions first.",
        "when": {"day": 0},
        "variants": [{"id": "short", "text": "Three questions. Then the fix."}],
    },
    {"id": "recap", "kind": "prompt", "text": "Sum up the need.", "when": {"day": 1}},
]


def eventually(check: Callable[[], T | None], timeout: float = 10.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            assert found, "gave up waiting"
            return found
        time.sleep(0.05)


def build_experiment(world: World) -> None:
    """40 people on the main wording, 40 on "short", 6 in the holdout; four weeks of
    nudges; the short wording is acted on more often; weekly KPI values."""
    world.program(PROGRAM, [], steps=STEPS, holdout=0.1)
    world.person("UMGR00001")
    for i in range(86):
        arm = "holdout" if i >= 80 else ("short" if i % 2 else "")
        person = world.person(f"UEMP{i:05d}", manager="UMGR00001")
        enrollment = world.enroll(person, PROGRAM, arm=arm)
        if arm == "holdout":
            continue
        for week in range(4):
            sent = datetime(2026, 11, 3, 9, tzinfo=UTC) + timedelta(days=7 * week, hours=i % 5)
            acted = (i + week) % (3 if arm == "short" else 2) != 0  # short: 2/3, main: 1/2
            answer = "done" if acted else ("not_relevant" if i % 4 == 0 else None)
            reason = ("not my role" if i % 8 == 0 else "no customer calls") if answer else None
            world.nudge(
                enrollment,
                "ask",
                sent,
                answer=answer,
                value=reason if answer == "not_relevant" else None,
            )
            world.nudge(
                enrollment,
                "recap",
                sent + timedelta(days=1),
                answer="reflection" if acted else None,
                text="private words",
            )
    for week, value in enumerate((17.6, 16.9, 16.1, 15.4)):
        world.session.add(
            MetricObservation(
                program_id=PROGRAM,
                observed_on=date(2026, 11, 3) + timedelta(days=7 * week),
                value=value,
                source="cli",
            )
        )
    # A second source on the newest day is averaged; a team's own value is not company-wide.
    world.session.add(
        MetricObservation(
            program_id=PROGRAM, observed_on=date(2026, 11, 25), value=15.0, source="cli"
        )
    )
    world.session.add(
        MetricObservation(
            program_id=PROGRAM, observed_on=date(2026, 11, 25), value=14.0, source="csv:x.csv"
        )
    )
    world.session.add(
        MetricObservation(
            program_id=PROGRAM,
            observed_on=date(2026, 11, 25),
            team="support",
            value=9.0,
            source="cli",
        )
    )
    world.commit()


def recompute(services: Services) -> dict[str, Any]:
    """The brief's figures straight from deliveries, proof events and observations."""
    with services.session() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.person_id, Delivery.sent_at, Enrollment.arm)
            .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
            .where(Enrollment.program_id == PROGRAM, Delivery.status == DeliveryStatus.sent)
        ).all()
        acted = {
            d
            for d, k in session.execute(select(ProofEvent.delivery_id, ProofEvent.kind))
            if k in ACTED
        }
        reasons: dict[str, int] = defaultdict(int)
        for value in session.scalars(
            select(ProofEvent.value).where(ProofEvent.kind == "not_relevant")
        ):
            reasons[value or "(no reason given)"] += 1
        newest = max(
            o.observed_on for o in session.scalars(select(MetricObservation)) if o.team == ""
        )
        today = [
            o.value
            for o in session.scalars(select(MetricObservation))
            if o.team == "" and o.observed_on == newest
        ]
    weeks: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    arms: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for delivery_id, _, sent_at, arm in rows:
        monday = (sent_at.date() - timedelta(days=sent_at.weekday())).isoformat()
        weeks[monday][0] += 1
        weeks[monday][1] += delivery_id in acted
        arms[arm or "main wording"][0] += 1
        arms[arm or "main wording"][1] += delivery_id in acted
    return {
        "current": sum(today) / len(today),
        "weeks": dict(weeks),
        "arms": dict(arms),
        "reasons": sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:3],
    }


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, db_url: str, clock: FixedClock) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", db_url)
    # The command reads "now" from its clock: the test's, so "the week still running"
    # is the world's week, whatever day the suite runs on.
    create = Services.create
    monkeypatch.setattr(
        Services, "create", lambda settings, **kw: create(settings, **{"clock": clock, **kw})
    )


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main(args)
    out = capsys.readouterr()
    assert exited.value.code == 0, out.err
    return out.out


def test_impact_brief_numbers_match_the_raw_tables(
    world: World,
    services: Services,
    cli_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    build_experiment(world)
    expected = recompute(services)
    png = tmp_path / "impact.png"
    brief = json.loads(run(["impact", PROGRAM, "--format", "json", "--png", str(png)], capsys))
    metric = brief["metric"]
    assert (metric["baseline"], metric["target"]) == (18, 12)
    assert metric["current"] == pytest.approx(expected["current"])  # 14.5: two sources that day
    assert metric["progress"] == pytest.approx((expected["current"] - 18) / (12 - 18))
    shown = {
        w["week"]: [w["nudges_sent"], w["acted_on"]] for w in brief["weeks"] if w["nudges_sent"]
    }
    # Full weeks only: the week still running (from Monday 23 Nov) is not in the brief.
    assert brief["weeks"][-1]["week"] == "2026-11-16" and len(brief["weeks"]) == 12
    assert shown == {w: v for w, v in expected["weeks"].items() if w < "2026-11-23"}
    for week in brief["weeks"]:
        if week["nudges_sent"]:
            assert week["adoption"] == pytest.approx(week["acted_on"] / week["nudges_sent"])
    arms = {a["arm"]: [a["nudges_sent"], a["acted_on"]] for a in brief["experiment"]["arms"]}
    assert arms == expected["arms"]
    for arm in brief["experiment"]["arms"]:
        low, high = wilson(arm["acted_on"], arm["nudges_sent"]) or (0, 0)
        assert arm["ci95"] == pytest.approx([low, high])
        assert low < arm["rate"] < high
    assert brief["experiment"]["holdout_people"] == 6
    [result] = brief["experiment"]["results"]
    assert result.startswith("short is acted on more often than main wording: +")
    assert [(r["reason"], r["count"]) for r in brief["not_relevant_reasons"]] == expected["reasons"]
    assert any("Roll out the variant “short”" in s for s in brief["next_steps"])
    assert "private words" not in json.dumps(brief)
    image = Image.open(io.BytesIO(png.read_bytes()))
    assert image.format == "PNG" and image.size == (900, 420)
    assert METRIC_COLOUR in {c for _, c in image.getcolors(100_000) or []}  # the KPI line is drawn
    markdown = run(["impact", PROGRAM], capsys)
    assert (
        "Baseline **18%** → current **14.5%** (on 2026-11-25) → target **12%** by 2027-06-30"
        in markdown
    )
    assert "## Business goal\nCustomers call back about the same issue." in markdown


def test_a_small_experiment_is_called_not_yet_meaningful(
    world: World, services: Services, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    world.program(PROGRAM, [], steps=STEPS)
    for i in range(12):
        person = world.person(f"UEMP{i:05d}")
        enrollment = world.enroll(person, PROGRAM, arm="short" if i % 2 else "")
        world.nudge(
            enrollment,
            "ask",
            datetime(2026, 11, 17, 9, tzinfo=UTC),
            answer="done" if i % 2 else None,
        )
    world.commit()
    brief = json.loads(run(["impact", PROGRAM, "--format", "json"], capsys))
    [result] = brief["experiment"]["results"]
    assert result.startswith("Not yet meaningful: short vs main wording needs at least 30 nudges")


def test_unknown_program_is_one_line(
    services: Services, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["impact", "nope"])
    assert exited.value.code == 1
    assert capsys.readouterr().err == "nudgebot: no program 'nope'; see `nudgebot content list`\n"


def test_app_home_button_posts_the_brief_and_chart_to_a_lead_only(
    world: World, bot: RunningBot
) -> None:
    build_experiment(world)
    bot.fake.add_user(LEAD, name="lead")
    bot.fake.add_user("UEMP00001", name="employee")
    response = bot.driver.block_actions(
        user_id="UEMP00001", actions=[{"action_id": IMPACT_ACTION, "value": PROGRAM}]
    )
    assert response.status == 200
    refusal = eventually(lambda: bot.fake.dm_messages("UEMP00001"))
    assert "for L&D leads" in refusal[0]["text"]
    assert bot.fake.uploaded_files == {}
    response = bot.driver.block_actions(
        user_id=LEAD, actions=[{"action_id": IMPACT_ACTION, "value": PROGRAM}]
    )
    assert response.status == 200
    messages = eventually(lambda: (m := bot.fake.dm_messages(LEAD)) and len(m) >= 2 and m)
    brief = json.dumps(messages[0]["blocks"], ensure_ascii=False)
    assert "Baseline *18%* → current *14.5%* → target *12%*" in brief
    assert messages[1]["files"][0]["mimetype"] == "image/png"
    [data] = bot.fake.uploaded_files.values()
    assert Image.open(io.BytesIO(data)).size == (900, 420)


def test_experiment_arms_with_fewer_than_k_people_are_hidden(
    world: World, services: Services, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    world.program(PROGRAM, [], steps=STEPS)
    for i in range(9):  # 5 on the main wording, 4 on "short"
        enrollment = world.enroll(
            world.person(f"UEMP{i:05d}"), PROGRAM, arm="short" if i % 2 else ""
        )
        world.nudge(enrollment, "ask", datetime(2026, 11, 17, 9, tzinfo=UTC), answer="done")
    world.commit()
    brief = json.loads(run(["impact", PROGRAM, "--format", "json"], capsys))
    assert [a["arm"] for a in brief["experiment"]["arms"]] == ["main wording"]
    assert brief["experiment"]["arms_with_too_few_people"] == ["short"]
    assert brief["experiment"]["results"] == []
    assert "short" not in json.dumps(brief["experiment"]["arms"])
