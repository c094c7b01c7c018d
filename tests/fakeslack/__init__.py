"""The test suite's fake Slack: the local Slack of ``bot.localslack`` plus faults.

``FakeSlack`` is a real HTTP server of the Slack Web API on 127.0.0.1 (point
``WebClient(base_url=fake.base_url)`` at it) with fault injection on top;
``SlackDriver`` sends an app the signed requests Slack sends (slash commands,
interactivity, events). Everything faithful to Slack lives in
``bot/localslack/``; only what tests need to break it lives here.
"""

from bot.localslack import DriverResponse, RecordedCall, SlackDriver, slack_signature

from .fake import FakeSlack
from .faults import FAULT_KINDS, Fault

__all__ = [
    "FAULT_KINDS",
    "DriverResponse",
    "FakeSlack",
    "Fault",
    "RecordedCall",
    "SlackDriver",
    "slack_signature",
]
