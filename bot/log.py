"""Structured logging: JSON lines off a terminal, the request or delivery id in context.

Two promises: tokens never reach a log line (a filter masks anything shaped like
one, whatever logged it), and people's free text is never logged (by discipline:
log ids and counts, not payloads; Slack's libraries are kept above DEBUG because
their DEBUG lines carry whole request bodies).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("log_context", default={})  # noqa: B039 - never mutated, only replaced
_SECRET = re.compile(r"\b(xox[abposr]-|xapp-|xoxe\.xox[bp]-)[A-Za-z0-9-]+")
_CHATTY = ("slack_bolt", "slack_sdk", "urllib3", "waitress", "apscheduler")


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add fields (request_id, delivery_id, …) to every log line inside the block."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def redact(text: str) -> str:
    return _SECRET.sub(lambda m: m.group(1) + "[redacted]", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        for key, value in _context.get().items():
            setattr(record, key, value)
        record.context_keys = tuple(_context.get())
        return True


# Library lines that ask nothing of an operator, by logger and the text they log.
_EXPECTED_NOISE = (
    # Ticks run one at a time on purpose: a send tick draining a large batch for a
    # minute would otherwise warn every second of it. Tick durations are in /metrics
    # (`nudgebot_tick_seconds`).
    ("apscheduler", "skipped: maximum number of running instances"),
    # Bolt reads SLACK_BOT_TOKEN from the environment itself and warns that the
    # client we hand it, made from the same setting, wins.
    ("slack_bolt", "`token` will be unused"),
    # slack_sdk logs each failed attempt to reach Slack at ERROR, and each retry: a
    # Slack outage would be several lines a second. The caller reports the failure
    # once (a command's one line, a tick's outage lines), and every attempt is
    # counted in nudgebot_slack_errors_total.
    ("slack_sdk", "Failed to send a request to Slack API server"),
    ("slack_sdk", "A retry handler found"),
    ("slack_sdk", "Going to retry the same request"),
)


class ExpectedNoiseFilter(logging.Filter):
    """Drops the library warnings in `_EXPECTED_NOISE`; everything else passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else ""
        return not any(
            record.name.startswith(logger) and text in message for logger, text in _EXPECTED_NOISE
        )


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in getattr(record, "context_keys", ()):
            entry[key] = getattr(record, key, None)
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ctx = " ".join(f"{k}={getattr(record, k, '')}" for k in getattr(record, "context_keys", ()))
        line = f"{record.levelname:<7} {record.name}: {record.getMessage()}"
        if ctx:
            line += f" [{ctx}]"
        if record.exc_info:
            line += "\n" + redact(self.formatException(record.exc_info))
        return line


def configure_logging(level: str = "INFO", fmt: str = "auto") -> None:
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ExpectedNoiseFilter())
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLevelName(level)))
    # APScheduler logs every job run at INFO; the ticks report what matters themselves.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
