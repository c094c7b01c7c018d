"""Where delivery meets the other slices: works-council opt-in, chosen language, arms."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot import webhooks
from bot.content.service import load_program_version
from bot.delivery.arms import assign_arm
from bot.delivery.models import Delivery, DeliveryStatus, Enrollment
from bot.delivery.planner import enroll_and_plan
from bot.delivery.preview import schedule
from bot.delivery.sender import Sender, make_owner, release_process_leases
from bot.delivery.service import latest_version
from bot.digest.models import PrivacyChoice
from bot.people.models import Person
from bot.proof.models import NudgePreference
from bot.services import Services
from tests.conftest import RunningBot
from tests.delivery.conftest import step, store_person, store_program
from tests.fakeslack import FakeSlack


def _enroll(services: Services, users: list[str]) -> list[str]:
    with services.session() as session:
        result = enroll_and_plan(
            session,
            settings=services.settings,
            now=services.clock.now(),
            program_id="welcome",
            user_ids=users,
            starts_at=services.clock.now(),
            enrolled_by="t",
            source="t",
        )
        return result.enrolled


def test_works_council_mode_enrolls_only_people_who_opted_in(services: Services) -> None:
    services.settings = services.settings.model_copy(update={"works_council_mode": True})
    with services.session() as session:
        store_program(session, "welcome", [step("hello", day=0)])
        store_person(session, "U0YES")
        no = store_person(session, "U0NO")
        yes = session.scalar(select(Person).where(Person.slack_user_id == "U0YES"))
        assert yes is not None
        session.add(PrivacyChoice(person_id=yes.id, enrollment_opt_in=True))
        session.add(PrivacyChoice(person_id=no.id, enrollment_opt_in=False))
    assert _enroll(services, ["U0YES", "U0NO"]) == ["U0YES"]
    with services.session() as session:
        assert session.scalar(select(Enrollment.person_id)) == yes.id


def test_without_works_council_mode_nobody_needs_to_opt_in(services: Services) -> None:
    with services.session() as session:
        store_program(session, "welcome", [step("hello", day=0)])
        store_person(session, "U0ANY")
    assert _enroll(services, ["U0ANY"]) == ["U0ANY"]


def test_the_language_chosen_in_app_home_wins_over_slacks(
    services: Services, fake_slack: FakeSlack
) -> None:
    with services.session() as session:
        store_program(
            session,
            "welcome",
            [{**step("hello", day=0), "text": {"en": "Hello there", "bg": "Здравейте"}}],
            locales=["en", "bg"],
            title={"en": "Welcome", "bg": "Добре дошли"},
            summary={"en": "A program.", "bg": "Програма."},
            **{k: {"en": k, "bg": k} for k in ("problem", "behavior", "place", "prompt", "proof")},
        )
        fake_slack.add_user("U0IVA", name="iva", tz="UTC", locale="en-US")
        iva = store_person(session, "U0IVA", locale="en-US")
        session.add(NudgePreference(person_id=iva.id, language="bg"))
    _enroll(services, ["U0IVA"])
    Sender(services).send_due()
    [message] = [m for m in fake_slack.dm_messages("U0IVA") if m.get("metadata")]
    assert "Здравейте" in str(message["blocks"])
    assert "Hello there" not in str(message["blocks"])


def test_enrollment_arms_are_the_experiment_arms(services: Services) -> None:
    users = [f"U0P{i:04d}" for i in range(40)]
    with services.session() as session:
        store_program(
            session,
            "welcome",
            [{**step("hello", day=0), "variants": [{"id": "short", "text": "Short."}]}],
            holdout=0.25,
        )
        for user in users:
            store_person(session, user)
    _enroll(services, users)
    with services.session() as session:
        program = load_program_version(session, latest_version(session, "welcome").id)
        arms = dict(
            session.execute(
                select(Person.slack_user_id, Enrollment.arm).join(
                    Enrollment, Enrollment.person_id == Person.id
                )
            ).all()
        )
    assert arms == {user: assign_arm(program, user) for user in users}
    assert {"holdout", "", "short"} == set(arms.values())


def test_the_dry_run_calls_an_unchanged_planned_nudge_planned_not_moved(
    services: Services,
) -> None:

    with services.session() as session:
        store_program(session, "welcome", [step("hello", day=1, time="10:00")])
        store_person(session, "U0ANA", tz="Europe/Sofia")
    _enroll(services, ["U0ANA"])
    with services.session() as session:
        rows = schedule(session, settings=services.settings, now=services.clock.now(), days=7)
    assert [(r.step, r.status) for r in rows] == [("hello", "planned")]


@pytest.mark.parametrize(
    ("payload", "signature_header"),
    [
        ({"trigger": "deal-moved", "user": ""}, None),
        ({"trigger": "deal-moved", "user": "U0ANA"}, "v0=ünïcode-not-hex"),
    ],
)
def test_hostile_trigger_hooks_get_a_4xx_not_a_5xx(
    bot: RunningBot, payload: dict[str, str], signature_header: str | None
) -> None:
    settings = bot.services.settings.model_copy(
        update={"hook_secrets": {"crm": SecretStr("crm-secret")}}
    )
    bot.services.settings = settings
    raw = json.dumps(payload).encode()
    ts = str(int(bot.services.clock.now().timestamp()))
    headers = {
        "Content-Type": "application/json",
        "X-Nudgebot-Source": "crm",
        "X-Nudgebot-Timestamp": ts,
        "X-Nudgebot-Signature": signature_header or webhooks.signature("crm-secret", ts, raw),
    }
    request = urllib.request.Request(
        f"{bot.url}/hooks/trigger",
        data=raw,
        method="POST",
        headers={k: v.encode("utf-8").decode("latin-1") for k, v in headers.items()},
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert err.value.code in (400, 401)


def test_releasing_this_process_leases_leaves_other_replicas_claims_alone(
    services: Services, fake_slack: FakeSlack
) -> None:
    with services.session() as session:
        store_program(session, "welcome", [step("hello", day=0)])
        for user in ("U0ANA", "U0BEN"):
            store_person(session, user)
    _enroll(services, ["U0ANA", "U0BEN"])
    lease = services.clock.now() + timedelta(minutes=5)
    owners = [make_owner(), "other-host:1:abcd1234"]
    with services.session() as session:
        rows = list(session.scalars(select(Delivery).order_by(Delivery.id)))
        for row, owner in zip(rows, owners, strict=True):
            row.status, row.lease_owner, row.lease_until = DeliveryStatus.sending, owner, lease
    assert release_process_leases(services) == 1
    with services.session() as session:
        got = [
            (d.status, d.lease_owner)
            for d in session.scalars(select(Delivery).order_by(Delivery.id))
        ]
    assert got == [(DeliveryStatus.planned, None), (DeliveryStatus.sending, owners[1])]
