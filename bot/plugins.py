"""The features' answers to the delivery core's questions, put in once per process.

The delivery core (bot/delivery) sits below the features and never imports them;
it asks its questions through `bot.delivery.plugins`. This module, at the top
layer beside `app` and `cli`, is the one place that says which feature answers
which question. `build_app` and every command call `plug_features()` before
anything enrolls or sends; so do the tests (tests/conftest.py).
"""

from __future__ import annotations

from bot.calendars import blocks as calendar_blocks
from bot.calendars.feeds import BROKEN_KIND
from bot.delivery import plugins
from bot.digest.service import privacy_choice
from bot.premortem import followups
from bot.proof import controls
from bot.proof.reinforcement import is_settled


def plug_features() -> None:
    """Install the answers (idempotent: the same answers every call)."""
    plugins.plug(
        plugins.DeliveryPlugins(
            # Pre-mortem follow-ups ride the outbox like nudges (bot.premortem.followups).
            renderers={
                **{kind: followups.render for kind in followups.KINDS},
                # A broken calendar feed's one DM, with its Reconnect button.
                BROKEN_KIND: calendar_blocks.render_broken,
            },
            # Spaced repetition stops once proof says the step is settled.
            settled=lambda session, enrollment_id, step_id: is_settled(
                session, enrollment_id=enrollment_id, step_id=step_id
            ),
            # The language picked in App Home wins over Slack's locale.
            chosen_languages=controls.chosen_languages,
            # Works-council mode: only people who opted in (their privacy choices).
            opted_in=lambda session, person_id: (
                privacy_choice(session, person_id=person_id).enrollment_opt_in
            ),
        )
    )
