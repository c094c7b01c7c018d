"""Signed inbound webhooks (/hooks/trigger, /hooks/metric): one scheme for all.

The sender names itself in `X-Nudgebot-Source`, stamps `X-Nudgebot-Timestamp`
(Unix seconds) and signs with `X-Nudgebot-Signature: v0=` + hex
HMAC-SHA256(secret, "v0:{timestamp}:{raw body}"): Slack's own scheme with a
secret per source, so a CRM's signing code is a few lines. Requests more than
five minutes off are refused, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

from pydantic import SecretStr

MAX_SKEW_SECONDS = 300


class BadSignature(Exception):
    """Not from a known source, not signed by it, or too old. The message says which."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify(
    secrets: Mapping[str, SecretStr],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    setting: str,
) -> str:
    """The source's name when the request is signed by it and fresh; `setting`
    names where its secrets are configured, for the refusal message."""
    source = headers.get("x-nudgebot-source", "")
    secret = secrets.get(source)
    timestamp = headers.get("x-nudgebot-timestamp", "")
    given = headers.get("x-nudgebot-signature", "")
    if secret is None:
        raise BadSignature(f"unknown source; set {setting}")
    if not re.fullmatch(r"\d{1,12}", timestamp):
        raise BadSignature("missing or malformed X-Nudgebot-Timestamp")
    if abs(now - int(timestamp)) > MAX_SKEW_SECONDS:
        raise BadSignature("timestamp more than 5 minutes off; check the sender's clock")
    expected = signature(secret.get_secret_value(), timestamp, body).encode()
    # Bytes, not str: compare_digest refuses non-ASCII text, and a header can hold any.
    if not hmac.compare_digest(expected, given.encode("utf-8", "surrogateescape")):
        raise BadSignature("signature does not match")
    return source
