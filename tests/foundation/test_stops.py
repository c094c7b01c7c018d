"""SIGTERM and SIGINT stop `nudgebot send` mid-send: exit 0, no ERROR line, no
traceback, and nothing left behind a lease of the stopped process.
(`nudgebot run` is stopped the same ways in tests/trust/test_shutdown.py and,
50 times under load, by bench/clean_stops.py.)"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import func, select

from bot.clock import SystemClock
from bot.delivery.models import Delivery, DeliveryStatus
from bot.services import Services
from tests.conftest import make_settings
from tests.fakeslack import FakeSlack
from tests.foundation.test_run import REPO, _env
from tests.trust.test_shutdown import _seed


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_send_cleanly_mid_send(
    sig: signal.Signals, db_url: str, fake_slack: FakeSlack
) -> None:
    _seed(db_url, fake_slack)
    env = _env(fake_slack, db_url, NUDGEBOT_SEND_RATE_PER_MINUTE="120")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "send"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    assert proc.stderr is not None
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr or ()), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while len(fake_slack.calls_to("chat.postMessage")) < 3:
            assert proc.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "the sender never started sending"
            time.sleep(0.05)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=5)

    assert proc.returncode == 0, "".join(lines)
    assert "Traceback" not in "".join(lines)
    levels = [json.loads(line)["level"] for line in lines if line.startswith("{")]
    assert "error" not in levels and "critical" not in levels, "".join(lines)
    assert out.startswith("sent "), out
    services = Services.create(
        make_settings(database_url=db_url, slack_api_url=fake_slack.base_url), clock=SystemClock()
    )
    try:
        with services.session() as session:
            held = session.scalar(
                select(func.count(Delivery.id)).where(
                    Delivery.status == DeliveryStatus.sending,
                    Delivery.lease_owner.like(f"%:{proc.pid}:%"),
                )
            )
    finally:
        services.close()
    assert held == 0
