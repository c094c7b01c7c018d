"""Which events a calendar trigger matches. Pure: events in, decisions out.

"External" is defined by email domains: an event is external when someone on the
invitation has an address outside the company's domains (NUDGEBOT_COMPANY_DOMAINS,
or, when that is unset, the person's own email domain). The number of attendees
counts everyone on the invitation (attendees and organizer, the person included);
an event with nobody invited counts one, the person.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot.calendars.ics import Event
from bot.content.schema import Trigger, calendar_offset


@lru_cache(maxsize=256)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def company_domains(configured: Collection[str], email: str | None) -> frozenset[str]:
    if configured:
        return frozenset(d.lower().lstrip("@") for d in configured)
    if email and "@" in email:
        return frozenset({email.rsplit("@", 1)[1].lower()})
    return frozenset()


def is_external(event: Event, domains: frozenset[str]) -> bool:
    if not domains:
        return False  # nothing to compare with: nobody is known to be outside
    return any(e.rsplit("@", 1)[1] not in domains for e in event.emails)


def firsts_of_day(events: Sequence[Event], tz: ZoneInfo) -> set[str]:
    """Keys of the first event of each local day."""
    seen: dict[object, str] = {}
    for event in sorted(events, key=lambda e: (e.start, e.key)):
        seen.setdefault(event.start.astimezone(tz).date(), event.key)
    return set(seen.values())


def matches(trigger: Trigger, event: Event, *, domains: frozenset[str], first: bool) -> bool:
    if trigger.source != "calendar":
        return False
    if trigger.pattern and not _pattern(trigger.pattern).search(event.title):
        return False
    count = max(1, len(event.emails))
    if trigger.min_attendees is not None and count < trigger.min_attendees:
        return False
    if trigger.max_attendees is not None and count > trigger.max_attendees:
        return False
    if trigger.external is not None and is_external(event, domains) != trigger.external:
        return False
    if trigger.recurring is not None and event.recurring != trigger.recurring:
        return False
    return not (trigger.first_of_day is not None and first != trigger.first_of_day)


def moment(event: Event, at: str) -> datetime:
    """When a step timed `at` ("start-10m", "end+5m") is due for this event."""

    anchor, minutes = calendar_offset(at)
    base = event.start if anchor == "start" else event.end
    return base + timedelta(minutes=minutes)


def useful_until(event: Event, due: datetime) -> datetime:
    """After this a nudge about the event has nothing left to say: before the start
    until the start, during the event until its end, after it for an hour."""

    if due < event.start:
        return event.start
    if due < event.end:
        return event.end
    return due + timedelta(hours=1)
