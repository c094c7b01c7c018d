"""Block Kit of calendar connections (no I/O): the App Home section, the modal that
takes the address, and the DM that says a feed broke."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.calendars.models import CalendarFeed, FeedStatus
from bot.delivery.models import Delivery
from bot.delivery.plugins import NotWanted
from bot.slack import blocks as kit

CONNECT_ACTION = "calendar_connect"
DISCONNECT_ACTION = "calendar_disconnect"
RECONNECT_ACTION = "calendar_reconnect"
CONNECT_CALLBACK = "calendar_connect_modal"
ADDRESS_BLOCK = "address"
ADDRESS_INPUT = "address_input"

HOW = (
    "Paste the private iCalendar address of your calendar: Google Calendar's "
    '"Secret address in iCal format", Outlook\'s published ICS link, or your CalDAV '
    "server's feed. It is stored encrypted and never shown again; only times of events "
    "your programs match are kept, never titles or attendees."
)


def home_section(status: str, *, connected: bool) -> list[dict[str, Any]]:
    """App Home's calendar section: its status and one button."""
    button = (
        kit.button("Disconnect", DISCONNECT_ACTION, "off", style="danger")
        if connected
        else kit.button("Connect", CONNECT_ACTION, "on")
    )
    return [
        {
            "type": "section",
            "text": kit.mrkdwn(f"*Calendar*\n{status}"),
            "accessory": button,
        }
    ]


def connect_modal() -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": CONNECT_CALLBACK,
        "title": kit.plain("Connect your calendar"),
        "submit": kit.plain("Connect"),
        "close": kit.plain("Cancel"),
        "blocks": [
            {"type": "section", "text": kit.mrkdwn(HOW)},
            {
                "type": "input",
                "block_id": ADDRESS_BLOCK,
                "label": kit.plain("Calendar address"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ADDRESS_INPUT,
                    "placeholder": kit.plain("https://…/basic.ics"),
                },
            },
        ],
    }


def render_broken(session: Session, delivery: Delivery) -> dict[str, Any]:
    """The one DM of a broken feed (a renderer of the outbox, bot.plugins)."""
    feed = session.get(CalendarFeed, delivery.ref_id)
    if feed is None or feed.status != FeedStatus.broken:
        raise NotWanted("the calendar was reconnected or disconnected meanwhile")
    text = (
        "I could not read your calendar for a while "
        f"({feed.last_error or 'the server did not answer'}), so calendar nudges are off "
        "until you connect it again. The address may have been reset in your calendar's "
        "settings."
    )
    return {
        "text": text,
        "blocks": [
            {
                "type": "section",
                "text": kit.mrkdwn(text),
                "accessory": kit.button(
                    "Reconnect", RECONNECT_ACTION, str(feed.id), style="primary"
                ),
            }
        ],
    }
