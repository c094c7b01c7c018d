"""The privacy rules of docs/privacy.md that the manager-digest tests do not already cover:
people's own choices, works-council mode, the L&D digest's limits, and the logs."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.clock import FixedClock
from bot.digest import service
from bot.digest.blocks import OPT_IN_ACTION, SHARE_ACTION, ld_digest_blocks
from bot.digest.hooks import metric_hook
from bot.digest.jobs import send_due_digests
from bot.digest.models import PrivacyChoice
from bot.digest.programs import ld_digest
from bot.digest.weeks import weeks_before
from bot.intake.models import IntakeRequest
from bot.premortem.models import Premortem, Prevention, Risk
from bot.services import Services
from tests.conftest import RunningBot, make_settings
from tests.digest.conftest import LEAD, World
from tests.digest.test_manager_digest import MANAGER, SECRET_REFLECTION, build_team

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def wait_for(check: object, timeout: float = 10.0) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


def choice_of(services: Services, user_id: str) -> tuple[bool, bool]:
    with services.session() as session:
        person = service.person_by_user(session, user_id)
        assert person is not None
        choice = service.privacy_choice(session, person_id=person.id)
        return choice.share_with_manager, choice.enrollment_opt_in


def test_only_the_person_themselves_can_turn_sharing_on(world: World, bot: RunningBot) -> None:
    users = build_team(world, 6)
    for user in (*users, MANAGER):
        bot.fake.add_user(user, name=user)
    assert choice_of(bot.services, users[0]) == (False, False)  # private by default
    # The manager clicks a (forged) "share" button: it changes the manager's own row only.
    bot.driver.block_actions(user_id=MANAGER, actions=[{"action_id": SHARE_ACTION, "value": "on"}])
    wait_for(lambda: bot.fake.dm_messages(MANAGER))
    assert choice_of(bot.services, users[0]) == (False, False)
    bot.driver.block_actions(user_id=users[0], actions=[{"action_id": SHARE_ACTION, "value": "on"}])
    wait_for(lambda: bot.fake.dm_messages(users[0]))
    assert choice_of(bot.services, users[0]) == (True, False)
    assert "Done: your manager's digest now shows" in bot.fake.dm_messages(users[0])[0]["text"]
    with bot.services.session() as session:
        shown = json.dumps(
            service.manager_digest_blocks(
                session,
                manager_user_id=MANAGER,
                now=bot.services.clock.now(),
                settings=bot.services.settings,
            )
        )
    assert f"Name-{users[0]}: acted on" in shown and f"Name-{users[1]}" not in shown
    bot.driver.block_actions(
        user_id=users[0], actions=[{"action_id": SHARE_ACTION, "value": "off"}]
    )
    wait_for(lambda: len(bot.fake.dm_messages(users[0])) == 2)
    assert choice_of(bot.services, users[0]) == (False, False)


def test_works_council_mode_makes_enrollment_opt_in(world: World, bot: RunningBot) -> None:
    person = world.person("UEMP00001")
    world.commit()
    bot.fake.add_user("UEMP00001", name="emp")
    council = make_settings(works_council_mode=True)
    with bot.services.session() as session:
        assert service.may_enroll(session, person_id=person.id, settings=bot.services.settings)
        assert not service.may_enroll(session, person_id=person.id, settings=council)
    bot.driver.block_actions(
        user_id="UEMP00001", actions=[{"action_id": OPT_IN_ACTION, "value": "on"}]
    )
    wait_for(lambda: bot.fake.dm_messages("UEMP00001"))
    with bot.services.session() as session:
        assert service.may_enroll(session, person_id=person.id, settings=council)
        row = session.get(PrivacyChoice, person.id)
        assert row is not None and row.enrollment_opt_in and not row.share_with_manager


def _intake_and_preventions(world: World) -> None:
    session = world.session
    for goal, audience in (("Cut repeat contacts in support", "120"), ("Faster proposals", "8")):
        session.add(
            IntakeRequest(
                requester_slack_user_id="UREQ00001",
                goal=goal,
                audience=audience,
                context="Calls reviewed",
                cost_of_inaction="EUR 20,000 a month",
                horizon="3 months",
            )
        )
    premortem = Premortem(
        channel_id="C0PM00001",
        initiative="Support launch",
        template="why",
        facilitator_id=LEAD,
        started_by=LEAD,
        horizon=date(2027, 5, 1),
        vote_budget=3,
        votes_per_risk=1,
        top_risks=3,
    )
    session.add(premortem)
    session.flush()
    risk = Risk(premortem_id=premortem.id, number=1, text="Agents skip the questions")
    session.add(risk)
    session.flush()
    session.add(
        Prevention(
            premortem_id=premortem.id,
            risk_id=risk.id,
            action="Coach team leads on the opener",
            owner_id="UOWN00001",
            due_date=date(2026, 11, 20),
            decided_by=LEAD,
        )
    )


def test_ld_digest_shows_program_figures_and_reasons_but_no_people(
    world: World, services: Services
) -> None:
    users = build_team(world, 6)
    world.program("tiny", ["only"])
    for i in range(3):  # a program with 3 people: no figures at all
        enrollment = world.enroll(world.person(f"UTINY{i:04d}"), "tiny")
        world.nudge(
            enrollment,
            "only",
            datetime(2026, 11, 17, 9, tzinfo=UTC),
            answer="not_relevant",
            value="too busy",
        )
    _intake_and_preventions(world)
    world.commit()
    with services.session() as session:
        week = weeks_before(date(2026, 11, 23), 1, zone=ZoneInfo("UTC"))[0]
        text = json.dumps(
            ld_digest_blocks(ld_digest(session, week=week, now=MONDAY, settings=services.settings)),
            ensure_ascii=False,
        )
    # 6 enrolled; last week all 6 were nudged and 5 acted on something: 83%.
    assert "*Program call-opener*: 6 enrolled · adoption last week *83%* (5 of 6 people" in text
    assert "Step ask: do ask today.: reached 6, acted 5" in text  # one of 6 never acted on it
    assert "Step recap: do recap today.: reached 6, acted 3" in text
    assert "Top “not relevant” reasons: not my role (1)" in text
    assert "*Program tiny*: too few people enrolled for figures (fewer than 5)" in text
    assert "too busy" not in text
    assert "Cut repeat contacts in support" in text.split("Faster proposals")[0]  # top by impact
    assert "Coach team leads on the opener (<@UOWN00001>, due 2026-11-20" in text
    assert SECRET_REFLECTION not in text and all(u not in text for u in users)


def test_logs_never_carry_reflections_or_webhook_bodies(
    world: World, services: Services, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    build_team(world, 6)
    world.commit()
    clock.set(MONDAY)
    caplog.set_level(logging.DEBUG)
    send_due_digests(services)
    body = json.dumps({"program": "call-opener", "value": 1, "note": "confidential"}).encode()
    metric_hook(services, body, {"x-nudgebot-source": "crm", "x-nudgebot-timestamp": "1"})
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert SECRET_REFLECTION not in logged and "confidential" not in logged
