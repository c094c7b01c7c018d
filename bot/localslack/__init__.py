"""The local Slack: a faithful emulator of the Slack an app talks to.

``LocalSlack`` is a real HTTP server of the Slack Web API on 127.0.0.1 (users,
channels, DMs, messages with metadata, views, response_urls, file uploads,
several teams and OAuth), answering with Slack's documented shapes and errors
and checking Block Kit as Slack does. ``SlackDriver`` sends an app the signed
requests Slack sends: slash commands, interactivity payloads and events.

It speaks to the bot only over HTTP, as Slack does, and imports nothing else
of ``bot`` (an import-linter contract holds it to that). The test suite's fake
Slack (``tests/fakeslack/``) is built on it, adding fault injection through
:meth:`LocalSlack._respond`; ``nudgebot sandbox`` is next.
"""

from .driver import SlackDriver
from .server import LocalSlack
from .signed import USER_AGENT, DriverResponse, slack_signature
from .state import RecordedCall

__all__ = [
    "USER_AGENT",
    "DriverResponse",
    "LocalSlack",
    "RecordedCall",
    "SlackDriver",
    "slack_signature",
]
