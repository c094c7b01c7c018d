"""`/nudges calendar …`, App Home's calendar buttons, the connect modal and the
broken feed's Reconnect button (all listed in bot/surface.py).

Connecting reads the feed at once and answers with what it found. The address is
never echoed, logged or put into an error message."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.calendars import blocks, feeds, secret
from bot.calendars.fetch import Fetcher, address_problem
from bot.calendars.service import HORIZON_DAYS
from bot.errors import FieldErrors, UserError
from bot.people.service import find_person
from bot.services import Services
from bot.slack import install
from bot.slack.acks import acks_first

log = logging.getLogger(__name__)

FETCHER = "calendar_fetcher"
USAGE = (
    "`/nudges calendar https://…` connects your calendar (its private iCalendar address); "
    "`/nudges calendar off` disconnects it; `/nudges calendar` shows its status."
)
UNKNOWN = "I don't know you yet; try again in a minute (the directory syncs hourly)."


def fetcher_of(services: Services) -> Fetcher:
    """The process's one pool of feed connections (closed with the services)."""
    found = services.extensions.get(FETCHER)
    if isinstance(found, Fetcher):
        return found
    reader = Fetcher(
        threads=services.settings.calendar_threads,
        timeout=services.settings.calendar_timeout_seconds,
    )
    services.extensions[FETCHER] = reader
    services.closers.append(reader.close)
    return reader


class CalendarListeners:
    def __init__(
        self, services: Services, *, home_changed: Callable[[WebClient, str], None] | None = None
    ) -> None:
        self.services = services
        self._home_changed = home_changed

    # -- /nudges calendar --------------------------------------------------------------------

    @acks_first  # reading the feed may take seconds: the answer goes to response_url
    def nudges_calendar(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        ack()
        words = (command.get("text") or "").split()
        argument = words[1] if len(words) > 1 else ""
        user = command["user_id"]
        if not argument:
            reply = self.status(user)
        elif argument.lower() in ("off", "disconnect"):
            reply = self.disconnect(user)
        else:
            reply = self.connect(user, argument)
        respond(text=reply, response_type="ephemeral")

    # -- App Home and the DM's button ----------------------------------------------------------

    @acks_first
    def connect_click(self, ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        why = secret.available(self.services.settings)
        if why:
            raise UserError(why)
        trigger = body.get("trigger_id")
        if not trigger:
            return
        try:
            client.views_open(trigger_id=trigger, view=blocks.connect_modal())
        except SlackApiError as exc:
            log.warning("could not open the calendar modal: %s", exc.response.get("error"))

    @acks_first
    def disconnect_click(self, ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        user = body["user"]["id"]
        self.disconnect(user)
        if self._home_changed is not None:
            self._home_changed(client, user)

    def submit_connect(
        self, ack: Any, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        values = view.get("state", {}).get("values", {})
        address = str(
            values.get(blocks.ADDRESS_BLOCK, {}).get(blocks.ADDRESS_INPUT, {}).get("value") or ""
        ).strip()
        settings = self.services.settings
        problem = secret.available(settings) or address_problem(
            address, allow_http=settings.calendar_allow_http
        )
        if problem:
            raise FieldErrors({blocks.ADDRESS_BLOCK: problem})
        ack()
        user = body["user"]["id"]
        reply = self.connect(user, address)
        try:
            channel = client.conversations_open(users=user)["channel"]["id"]
            client.chat_postMessage(channel=channel, text=reply)
        except SlackApiError as exc:
            log.warning("could not answer a calendar connection: %s", exc.response.get("error"))
        if self._home_changed is not None:
            self._home_changed(client, user)

    # -- the work, shared by the command and the buttons ---------------------------------------

    def connect(self, user: str, address: str) -> str:
        services, now = self.services, self.services.clock.now()
        with services.session() as session:
            person = find_person(session, user, workspace_id=install.current_scope(services))
            if person is None:
                return UNKNOWN
            feed_id = feeds.connect(
                session, settings=services.settings, person=person, address=address, now=now
            ).id
        result = feeds.read_feed(
            services.session,
            settings=services.settings,
            fetcher=fetcher_of(services),
            feed_id=feed_id,
            now=now,
            force_full=True,
        )
        if not result.ok:
            return (
                f"Saved, but I could not read it just now: {result.error}. I'll keep trying; "
                "check that you pasted the private (secret) address."
            )
        found = f"{result.events_ahead} event{'s' if result.events_ahead != 1 else ''}"
        matched = (
            f"{len(result.upcoming)} of them will get a nudge from your programs"
            if result.upcoming
            else "none of them match your programs' calendar moments right now"
        )
        return f"Connected. I found {found} in the next {HORIZON_DAYS} days; {matched}."

    def disconnect(self, user: str) -> str:
        services = self.services
        with services.session() as session:
            person = find_person(session, user, workspace_id=install.current_scope(services))
            if person is None:
                return UNKNOWN
            gone = feeds.disconnect(session, person_id=person.id, now=services.clock.now())
        return (
            "Disconnected: the address is deleted and no calendar nudges will come."
            if gone
            else "Your calendar was not connected."
        )

    def status(self, user: str) -> str:
        services = self.services
        why = secret.available(services.settings)
        if why:
            return why
        with services.session() as session:
            person = find_person(session, user, workspace_id=install.current_scope(services))
            if person is None:
                return UNKNOWN
            line = feeds.status_line(feeds.feed_of(session, person.id), services.clock.now())
        return f"{line}\n{USAGE}"


PARSER = "calendar_parser"


def parser_of(services: Services) -> feeds.Parser:
    """The process's feed parsers (worker processes, started on the first poll)."""
    found = services.extensions.get(PARSER)
    if isinstance(found, feeds.Parser):
        return found
    parser = feeds.Parser(services.settings.calendar_parse_processes)
    services.extensions[PARSER] = parser
    services.closers.append(parser.close)
    return parser


def poll_tick(services: Services) -> feeds.PollStats:
    """The `calendar-poll` tick: read the feeds that are due."""
    if not services.settings.calendar_enabled:
        return feeds.PollStats()
    return feeds.poll(
        services.session,
        settings=services.settings,
        fetcher=fetcher_of(services),
        now=services.clock.now,
        parser=parser_of(services),
    )
