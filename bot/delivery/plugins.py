"""What the delivery core asks of the features built on it, without importing them.

Delivery sits below the features (proof, intake, pre-mortem, digest, governance):
it must not import them, yet some of its decisions depend on them. Each such
question is a slot of `DeliveryPlugins`, with a default that is right when no
feature answers; the features' answers are put in once per process by
`bot.plugins.plug_features()` (the top layer), before anything sends or enrolls.

- `renderers[kind]`: a DM the outbox carries for a feature (not a program step),
  rendered when the sender claims it, from the state of that moment. Raising
  `NotWanted` says the DM has nothing left to say; the row is skipped with the reason.
- `settled(session, enrollment_id, step_id)`: whether a step's repetitions are over
  (the answer-settled hook: proof's spaced repetition). Default: never.
- `chosen_languages(session, person_ids)`: languages people picked in the bot, which
  win over Slack's locale. Default: none chosen.
- `opted_in(session, person_id)`: whether a person opted in to enrollment (checked
  only when enrollment is opt-in, works-council mode). Default: nobody did.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from bot.delivery.models import Delivery

Renderer = Callable[[Session, Delivery], dict[str, Any]]


class NotWanted(Exception):
    """A feature's DM that has nothing left to say; the message says why."""


def _never_settled(_session: Session, _enrollment_id: int, _step_id: str) -> bool:
    return False


def _no_languages(_session: Session, _person_ids: Collection[int]) -> Mapping[int, str]:
    return {}


def _nobody_opted_in(_session: Session, _person_id: int) -> bool:
    return False


@dataclass
class DeliveryPlugins:
    renderers: dict[str, Renderer] = field(default_factory=dict)
    settled: Callable[[Session, int, str], bool] = _never_settled
    chosen_languages: Callable[[Session, Collection[int]], Mapping[int, str]] = _no_languages
    opted_in: Callable[[Session, int], bool] = _nobody_opted_in


_plugged: DeliveryPlugins | None = None


def plug(plugins: DeliveryPlugins) -> None:
    """Install the features' answers for this process (bot.plugins does it)."""
    global _plugged
    _plugged = plugins


def current() -> DeliveryPlugins:
    """The installed answers. Raises when nothing was plugged in: delivery working
    without its features would send what proof settled and skip every follow-up."""
    if _plugged is None:
        raise RuntimeError(
            "delivery plugins are not installed; call bot.plugins.plug_features() at start-up"
        )
    return _plugged
