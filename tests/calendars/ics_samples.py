"""iCalendar texts for the tests, built the way calendar servers write them."""

from __future__ import annotations


def calendar(*events: str, extra: str = "") -> bytes:
    body = "".join(events)
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Nudgebot tests//EN\r\n"
        f"{extra}{body}END:VCALENDAR\r\n"
    )
    return text.encode()


def event(
    uid: str,
    start: str,
    end: str,
    *,
    title: str = "Meeting",
    tzid: str | None = "Europe/Berlin",
    attendees: tuple[str, ...] = (),
    declined: tuple[str, ...] = (),
    organizer: str | None = None,
    rrule: str | None = None,
    exdate: str | None = None,
    recurrence_id: str | None = None,
    status: str | None = None,
    all_day: bool = False,
) -> str:
    def moment(name: str, value: str) -> str:
        if all_day:
            return f"{name};VALUE=DATE:{value}\r\n"
        if tzid and not value.endswith("Z"):
            return f"{name};TZID={tzid}:{value}\r\n"
        return f"{name}:{value}\r\n"

    lines = f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nSUMMARY:{title}\r\n"
    lines += moment("DTSTART", start) + moment("DTEND", end)
    if organizer:
        lines += f"ORGANIZER:mailto:{organizer}\r\n"
    for who in attendees:
        lines += f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{who}\r\n"
    for who in declined:
        lines += f"ATTENDEE;PARTSTAT=DECLINED:mailto:{who}\r\n"
    if rrule:
        lines += f"RRULE:{rrule}\r\n"
    if exdate:
        lines += moment("EXDATE", exdate)
    if recurrence_id:
        lines += moment("RECURRENCE-ID", recurrence_id)
    if status:
        lines += f"STATUS:{status}\r\n"
    return lines + "END:VEVENT\r\n"
