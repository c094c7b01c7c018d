"""Periodic work of pre-mortems: deadlines move them on; failed posts are tried again."""

from __future__ import annotations

from bot.premortem.posting import Poster

PHASES_SECONDS = 60


def tick_phases(poster: Poster) -> None:
    """Deadlines move pre-mortems on; channels that failed are tried again."""
    poster.tick_phases()
