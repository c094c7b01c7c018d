"""The features' answers to the delivery core's questions, put in once per process.

The delivery core (bot/delivery) sits below the features and never imports them;
it asks its questions through `bot.delivery.plugins`. This module, at the top
layer beside `app` and `cli`, is the one place that says which feature answers
which question. `build_app` and every command call `plug_features()` before
anything enrolls or sends; so do the tests (tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery import plugins
from bot.delivery.models import Delivery
from bot.digest.models import PrivacyChoice
from bot.premortem import followups
from bot.proof.models import NudgePreference
from bot.proof.reinforcement import is_settled


def plug_features() -> None:
    """Install the answers (idempotent: the same answers every call)."""
    plugins.plug(
        plugins.DeliveryPlugins(
            # Pre-mortem follow-ups ride the outbox like nudges (bot.premortem.followups).
            renderers={kind: _premortem_followup for kind in followups.KINDS},
            # Spaced repetition stops once proof says the step is settled.
            settled=lambda session, enrollment_id, step_id: is_settled(
                session, enrollment_id=enrollment_id, step_id=step_id
            ),
            chosen_languages=_chosen_languages,
            opted_in=_opted_in,
        )
    )


def _premortem_followup(session: Session, delivery: Delivery) -> dict[str, Any]:
    try:
        return followups.render(session, delivery)
    except followups.NotWanted as exc:
        raise plugins.NotWanted(str(exc)) from None


def _chosen_languages(session: Session, person_ids: Collection[int]) -> Mapping[int, str]:
    """The language picked in App Home (proof's preferences), where one was picked."""
    rows = session.execute(
        select(NudgePreference.person_id, NudgePreference.language).where(
            NudgePreference.person_id.in_(list(person_ids)), NudgePreference.language.is_not(None)
        )
    )
    return {person_id: language for person_id, language in rows if language}


def _opted_in(session: Session, person_id: int) -> bool:
    """Works-council mode: the person agreed to be enrolled (digest's privacy choices)."""
    choice = session.get(PrivacyChoice, person_id)
    return choice is not None and choice.enrollment_opt_in
