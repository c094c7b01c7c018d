"""An iCalendar feed as the timed events a person attends, within a window.

`icalendar` parses, `x-wr-timezone` applies Google's calendar-wide X-WR-TIMEZONE,
and `recurring-ical-events` expands recurrences with their exceptions (EXDATE,
moved occurrences by RECURRENCE-ID, RDATE) in each event's own time zone, so a
weekly 10:00 stays 10:00 local across a daylight-saving change. Left out: all-day
events (not meetings), cancelled events and occurrences, and events the person
declined (their ATTENDEE line, found by email, says PARTSTAT=DECLINED).
"""

from __future__ import annotations

import hashlib
import resource
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
import x_wr_timezone


class FeedError(Exception):
    """The feed could not be read as iCalendar; the message says why (never the address)."""


@dataclass(frozen=True)
class Event:
    """One occurrence, for matching. Only `key`, `start` and `end` are ever stored."""

    key: str  # hash of UID and RECURRENCE-ID: stable when the occurrence moves
    start: datetime  # aware UTC
    end: datetime
    title: str
    emails: frozenset[str]  # attendees and organizer, lower case
    recurring: bool


def read_events_measured(
    data: bytes, *, start: datetime, end: datetime, email: str | None, floating_tz: ZoneInfo
) -> tuple[list[Event], float, int]:
    """read_events in a parse worker, with the CPU seconds it took and the worker's peak
    memory (KiB), so the poller can account for work done outside its own process."""
    before = time.process_time()
    events = read_events(data, start=start, end=end, email=email, floating_tz=floating_tz)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return events, time.process_time() - before, int(peak)


def event_key(uid: str, recurrence_id: str) -> str:
    return hashlib.sha256(f"{uid}\x00{recurrence_id}".encode()).hexdigest()[:40]


def read_events(
    data: bytes,
    *,
    start: datetime,
    end: datetime,
    email: str | None,
    floating_tz: ZoneInfo,
) -> list[Event]:
    """The person's timed, not cancelled, not declined events overlapping [start, end)."""
    try:
        calendar = icalendar.Calendar.from_ical(trim(data, start, end, email or ""))
        calendar = x_wr_timezone.to_standard(calendar)
        # The expansion gives every occurrence a RECURRENCE-ID (a one-off's is its start)
        # and drops RRULE: which UIDs recur is read from the file itself.
        series = {
            str(c.get("UID", ""))
            for c in calendar.walk("VEVENT")
            if c.get("RRULE") is not None
            or c.get("RDATE") is not None
            or c.get("RECURRENCE-ID") is not None
        }
        components = recurring_ical_events.of(calendar).between(start, end)
        events: list[Event] = []
        for component in components:
            if component.name != "VEVENT":
                continue
            event = _event(component, floating_tz, series)
            if event is not None:
                events.append(event)
    except Exception as exc:  # the libraries raise many kinds for a broken file
        raise FeedError(f"not a readable iCalendar file ({type(exc).__name__})") from None
    events.sort(key=lambda e: (e.start, e.key))
    return events


# What matching needs of a VEVENT; everything else (descriptions, attachments, vendor
# X- properties) is dropped before parsing, which is most of the cost of a feed.
# Attendees and organizer are read here, line by line (their address and the person's
# own PARTSTAT), and handed on as two properties of our own: parsing every ATTENDEE
# line with its parameters is the slowest part of icalendar's work.
_KEEP = frozenset(
    b"BEGIN END UID DTSTART DTEND DURATION SUMMARY STATUS TRANSP "
    b"RRULE RDATE EXDATE EXRULE RECURRENCE-ID".split()
)
_SERIES = frozenset(b"RRULE RDATE EXRULE RECURRENCE-ID".split())
PEOPLE = "X-NUDGEBOT-PEOPLE"  # the invitation's addresses, space-separated
DECLINED = "X-NUDGEBOT-DECLINED"  # TRUE when the person declined
_SLACK = timedelta(days=2)  # time zones and long events: keep a little either side


def trim(data: bytes, start: datetime, end: datetime, me: str = "") -> bytes:
    """The feed without what cannot matter: one-off events far outside [start, end)
    (a Google feed carries years of past meetings) and the properties matching never
    reads. Series, their exceptions and everything outside VEVENTs stay as they are."""
    text = data.replace(b"\r\n", b"\n").replace(b"\n ", b"").replace(b"\n\t", b"")
    low = (start - _SLACK).strftime("%Y%m%d").encode()
    high = (end + _SLACK).strftime("%Y%m%d").encode()
    mine = me.lower().encode()
    out: list[bytes] = []
    block: list[bytes] | None = None
    people: set[bytes] = set()
    declined = series = False
    day = b""
    for line in text.split(b"\n"):
        if block is None:
            if line.rstrip() == b"BEGIN:VEVENT":
                block, people, declined, series, day = [line], set(), False, False, b""
            else:
                out.append(line)
            continue
        name = _name(line)
        if name == b"END" and line.rstrip() == b"END:VEVENT":
            if series or not day.isdigit() or low <= day <= high:
                if people:
                    block.append(PEOPLE.encode() + b":" + b" ".join(sorted(people)))
                if declined:
                    block.append(DECLINED.encode() + b":TRUE")
                block.append(line)
                out.extend(block)
            block = None
        elif name == b"ATTENDEE" or name == b"ORGANIZER":
            params, address = _split_address(line[len(name) :])
            if address:
                people.add(address)
                if (
                    name == b"ATTENDEE"
                    and address == mine
                    and b"PARTSTAT=DECLINED" in params.upper()
                ):
                    declined = True
        elif name in _KEEP:
            block.append(line)
            if name in _SERIES:
                series = True
            elif name == b"DTSTART":
                day = line.rsplit(b":", 1)[-1].strip()[:8]
    return b"\r\n".join(out)


def _name(line: bytes) -> bytes:
    cut = len(line)
    for mark in (b";", b":"):
        at = line.find(mark, 0, cut)
        if at >= 0:
            cut = at
    return line[:cut].upper()


def _split_address(rest: bytes) -> tuple[bytes, bytes]:
    """(parameters, lower-case email) of an ATTENDEE or ORGANIZER line after its name."""
    params, value = b"", rest
    if b'"' in rest:
        quoted = False
        for i, char in enumerate(rest):
            if char == 0x22:  # a double quote
                quoted = not quoted
            elif char == 0x3A and not quoted:  # the colon that starts the value
                params, value = rest[:i], rest[i + 1 :]
                break
    else:
        at = rest.find(b":")
        params, value = (rest[:at], rest[at + 1 :]) if at >= 0 else (b"", rest)
    value = value.strip().lower()
    if value.startswith(b"mailto:"):
        value = value[7:]
    return params, (value if b"@" in value and b" " not in value else b"")


def _event(component: Any, floating_tz: ZoneInfo, series: set[str]) -> Event | None:
    if str(component.get("STATUS", "")).upper() == "CANCELLED":
        return None
    emails = frozenset(str(component.get(PEOPLE, "")).split())
    if str(component.get("TRANSP", "")).upper() == "TRANSPARENT" and not emails:
        return None  # a free-time block of one's own, not a meeting
    dtstart = component.get("DTSTART")
    if dtstart is None or not isinstance(dtstart.dt, datetime):
        return None  # all-day (a date): never a meeting
    start = _utc(dtstart.dt, floating_tz)
    dtend = component.get("DTEND")
    if dtend is not None and isinstance(dtend.dt, datetime):
        end = _utc(dtend.dt, floating_tz)
    elif component.get("DURATION") is not None:
        end = start + component.get("DURATION").dt
    else:
        end = start
    if str(component.get(DECLINED, "")).upper() == "TRUE":
        return None  # the person's own ATTENDEE line says PARTSTAT=DECLINED (read in trim)
    uid = str(component.get("UID", "")) or f"no-uid:{start.isoformat()}"
    recurring = uid in series
    rid = component.get("RECURRENCE-ID")
    # A one-off is its UID (moving it keeps the key); an occurrence is UID + its original start.
    rid_text = _moment_text(rid.dt) if recurring and rid is not None else ""
    return Event(
        key=event_key(uid, rid_text),
        start=start,
        end=max(end, start),
        title=str(component.get("SUMMARY", "")),
        emails=emails,
        recurring=recurring,
    )


def _utc(moment: datetime, floating_tz: ZoneInfo) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=floating_tz)  # "floating" time: the person's own zone
    return moment.astimezone(UTC)


def _moment_text(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    return value.isoformat()


def window(now: datetime, tz: ZoneInfo, days: int) -> tuple[datetime, datetime]:
    """From the start of the person's local day (for "first meeting of the day") to `days` on."""
    local = now.astimezone(tz)
    start = datetime.combine(local.date(), datetime.min.time(), tzinfo=tz).astimezone(UTC)
    return start, now + timedelta(days=days)
