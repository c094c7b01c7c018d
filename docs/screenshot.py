"""Make docs/sandbox.png: the sandbox page as a new hire sees it on their first morning.

Starts the sandbox in this process (a database in a temporary folder, the clock at a
fixed Monday 09:05 in Sofia so the picture is the same each time), opens the page in
Debian's headless Chromium with Playwright, ticks the first item of the welcome
nudge's checklist and saves a 1280x800 screenshot.

    .venv/bin/python docs/screenshot.py [--out docs/sandbox.png]

Needs /usr/bin/chromium (apt-get install chromium) and the dev extra (playwright);
no download, no internet.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from bot.sandbox import seed  # noqa: E402
from bot.sandbox.runner import Sandbox  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
# Monday 7 December 2026, 09:05 in Sofia: the seeded new hires' first morning.
START = datetime(2026, 12, 7, 7, 5, tzinfo=UTC)
WAIT_MS = 60_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "sandbox.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        box = Sandbox(
            database_path=Path(folder) / "sandbox.db",
            port=0,
            content_dir=ROOT / "nudges",
            start_at=START,
        ).start()
        try:
            shoot(box.url, args.out)
        finally:
            box.stop()
    print(f"wrote {args.out}")
    return 0


def shoot(url: str, out: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            expect.set_options(timeout=WAIT_MS)
            page.goto(f"{url}#{seed.DEFAULT_USER_ID}/")
            nudge = page.locator("#messages .message.from-bot", has_text="Welcome to the team")
            expect(nudge.first).to_be_visible()
            # One answer, as a new hire would give it: the bot redraws the checklist.
            first_item = nudge.first.locator('.bk-el[data-type="checkboxes"] input').first
            first_item.check()
            expect(page.locator("#clock-now")).to_contain_text("Mon 7 Dec")
            page.wait_for_timeout(1500)  # the bot's update has landed and been drawn
            page.mouse.move(0, 0)  # no hover menu in the picture
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
        finally:
            browser.close()


if __name__ == "__main__":
    raise SystemExit(main())
