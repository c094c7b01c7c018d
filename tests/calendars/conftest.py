"""Calendar tests: feeds served over real HTTP (ETag and 304 honoured), a real
CalDAV server (Radicale), the suite's databases and fake Slack."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from bot.settings import Settings
from tests.conftest import make_settings
from tests.delivery.clihelp import wait_until
from tests.fakeslack import FakeSlack

KEY = Fernet.generate_key().decode()


class FeedServer:
    """ICS files by path over HTTP. Answers 304 to a matching If-None-Match; counts requests."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.status: dict[str, int] = {}  # a path forced to answer this status
        self.requests: list[tuple[str, str | None]] = []  # (path, If-None-Match)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                tag = self.headers.get("If-None-Match")
                server.requests.append((self.path, tag))
                forced = server.status.get(self.path)
                body = server.files.get(self.path)
                if forced is not None or body is None:
                    self.send_response(forced or 404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                etag = f'"{hash(body) & 0xFFFFFFFF:08x}"'
                if tag == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar; charset=utf-8")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        self.base = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture
def settings(db_url: str, fake_slack: FakeSlack) -> Settings:
    return make_settings(
        database_url=db_url,
        slack_api_url=fake_slack.base_url,
        calendar_key=KEY,
        calendar_allow_http=True,
        jitter_minutes=0,
        default_timezone="Europe/Berlin",
        company_domains="example.com",
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def radicale(tmp_path: Path) -> Iterator[str]:
    """A real CalDAV server (no auth, temp storage); yields its base URL."""
    port = _free_port()
    config = tmp_path / "radicale.conf"
    config.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = none\n"
        f"[storage]\nfilesystem_folder = {tmp_path / 'collections'}\n"
        "[rights]\ntype = authenticated\n[logging]\nlevel = warning\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"

    def answering() -> bool:
        try:
            with urllib.request.urlopen(base + "/.web/", timeout=1):
                return True
        except OSError:
            return process.poll() is not None

    try:
        assert wait_until(answering, timeout=30) and process.poll() is None, (
            process.stderr.read().decode() if process.stderr else "radicale did not start"
        )
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
