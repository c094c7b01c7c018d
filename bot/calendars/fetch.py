"""Reading a feed over HTTP: conditional requests, timeouts, a bounded pool.

One `Fetcher` per process holds a urllib3 pool (at most `threads` connections per
host, never more in flight than the poller's threads). Errors are described without
the address: it is a secret, and exception texts of HTTP libraries quote it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import urllib3
from urllib3.exceptions import (
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    SSLError,
    TimeoutError,
)

# urllib3 logs each request line ("GET /private-…/basic.ics") at DEBUG: the path of a
# calendar address is its secret, so that logger never goes below WARNING.
logging.getLogger("urllib3.connectionpool").setLevel(logging.WARNING)

MAX_BYTES = 8 * 1024 * 1024  # a year of a busy calendar is well below this
USER_AGENT = "Nudgebot calendar reader (+https://github.com/nudgebot)"


class FetchFailed(Exception):
    """A read that failed; the message is safe to store and show (no address)."""


@dataclass(frozen=True)
class Fetched:
    status: int  # 200 (body read) or 304 (not modified)
    body: bytes | None
    etag: str | None
    last_modified: str | None


def normalise(address: str) -> str:
    """webcal:// (Apple, Outlook) is https://."""
    text = address.strip()
    if text.lower().startswith("webcal://"):
        return "https://" + text[len("webcal://") :]
    return text


def address_problem(address: str, *, allow_http: bool) -> str | None:
    text = normalise(address)
    lower = text.lower()
    if lower.startswith("https://") and len(text) > len("https://"):
        return None
    if lower.startswith("http://") and len(text) > len("http://"):
        if allow_http:
            return None
        return "only https:// addresses are accepted (the address is a secret in transit too)"
    return "that is not a calendar address; paste the https://… (or webcal://…) address"


class Fetcher:
    def __init__(self, *, threads: int, timeout: float) -> None:
        self._pool = urllib3.PoolManager(
            num_pools=max(10, threads * 4),
            maxsize=threads,
            block=False,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            retries=urllib3.Retry(total=3, connect=0, read=0, status=0, other=0, redirect=3),
            headers={"User-Agent": USER_AGENT, "Accept": "text/calendar, */*;q=0.5"},
        )

    def get(
        self, address: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> Fetched:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            response = self._pool.request(
                "GET", normalise(address), headers=headers, preload_content=False
            )
        except MaxRetryError as exc:
            raise FetchFailed(_why(exc.reason)) from None
        except HTTPError as exc:
            raise FetchFailed(_why(exc)) from None
        except ValueError:
            raise FetchFailed("not a usable address") from None
        try:
            if response.status == 304:
                return Fetched(304, None, etag, last_modified)
            if response.status != 200:
                raise FetchFailed(f"the calendar server answered HTTP {response.status}")
            body = response.read(MAX_BYTES + 1)
            if len(body) > MAX_BYTES:
                raise FetchFailed("the feed is larger than 8 MB")
        except HTTPError as exc:
            raise FetchFailed(_why(exc)) from None
        finally:
            response.release_conn()
        return Fetched(
            200, body, response.headers.get("ETag"), response.headers.get("Last-Modified")
        )

    def close(self) -> None:
        self._pool.clear()


def _why(exc: BaseException | None) -> str:
    if isinstance(exc, TimeoutError):
        return "the calendar server did not answer in time"
    if isinstance(exc, SSLError):
        return "the secure connection to the calendar server failed"
    if isinstance(exc, NewConnectionError):
        return "could not connect to the calendar server"
    return f"network error ({type(exc).__name__})"
