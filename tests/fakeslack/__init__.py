"""A faithful local fake of Slack for the test suite.

``FakeSlack`` is a real HTTP server of the Slack Web API on 127.0.0.1 (point
``WebClient(base_url=fake.base_url)`` at it); ``SlackDriver`` sends an app the
signed requests Slack sends (slash commands, interactivity, events).
"""

from .driver import DriverResponse, SlackDriver, slack_signature
from .faults import FAULT_KINDS, Fault
from .server import FakeSlack, RecordedCall

__all__ = [
    "FAULT_KINDS",
    "DriverResponse",
    "FakeSlack",
    "Fault",
    "RecordedCall",
    "SlackDriver",
    "slack_signature",
]
