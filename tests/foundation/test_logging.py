"""Logs: JSON lines off a terminal, ids in context, tokens never printed."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading

import pytest

from bot.log import configure_logging, log_context


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("DEBUG", "json")
    yield stream
    logging.getLogger().handlers.clear()


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_request_and_delivery_ids(captured: io.StringIO) -> None:
    with log_context(request_id="Ev123"), log_context(delivery_id=42):
        logging.getLogger("bot.delivery").info("sent %d nudge", 1)
    logging.getLogger("bot.delivery").info("outside")
    first, second = _lines(captured)
    assert first["message"] == "sent 1 nudge"
    assert first["request_id"] == "Ev123" and first["delivery_id"] == 42
    assert "request_id" not in second


def test_tokens_are_masked_whoever_logs_them(captured: io.StringIO) -> None:
    logging.getLogger("slack_sdk.web").warning("auth with xoxb-1234-5678-abcdefSECRET failed")
    logging.getLogger("bot").error("app token %s", "xapp-1-A0-1234-deadbeefSECRET")
    try:
        raise RuntimeError("bad token xoxp-9999-SECRET")
    except RuntimeError:
        logging.getLogger("bot").exception("boom")
    output = captured.getvalue()
    assert "SECRET" not in output
    lines = _lines(captured)
    assert [line["message"] for line in lines[:2]] == [
        "auth with xoxb-[redacted] failed",
        "app token xapp-[redacted]",
    ]
    assert "bad token xoxp-[redacted]" in str(lines[2]["error"])


def test_slack_libraries_stay_above_debug(captured: io.StringIO) -> None:
    # Their DEBUG lines carry whole request bodies, people's words included.
    logging.getLogger("slack_bolt.App").debug("payload: my private reflection")
    logging.getLogger("slack_sdk.web.base_client").debug("body: my private reflection")
    assert "reflection" not in captured.getvalue()


def test_text_format_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    stream.isatty = lambda: True  # type: ignore[method-assign]
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("INFO", "auto")
    with log_context(request_id="Ev9"):
        logging.getLogger("bot").info("hello")
    logging.getLogger().handlers.clear()
    assert stream.getvalue().strip() == "INFO    bot: hello [request_id=Ev9]"


def test_a_tick_still_running_is_not_a_warning_every_second(captured: io.StringIO) -> None:
    """A send tick draining a big batch outlasts its interval; APScheduler skips the
    overlapping runs (one at a time, on purpose) and would warn about each one."""
    from apscheduler.events import EVENT_JOB_MAX_INSTANCES
    from apscheduler.schedulers.background import BackgroundScheduler

    release, skipped = threading.Event(), threading.Event()
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"max_instances": 1})
    scheduler.add_listener(lambda _event: skipped.set(), EVENT_JOB_MAX_INSTANCES)
    scheduler.add_job(release.wait, "interval", seconds=0.05, id="delivery-send")
    scheduler.start()
    try:
        assert skipped.wait(timeout=10), "the scheduler never overlapped the tick"
    finally:
        release.set()
        scheduler.shutdown(wait=True)
    logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed")
    messages = [line["message"] for line in _lines(captured)]
    assert not any("skipped" in str(m) for m in messages), messages
    assert "Run time of job was missed" in messages, "other scheduler warnings still show"
