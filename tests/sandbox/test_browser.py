"""The sandbox page in a real browser (issue #17, point 9).

Debian's headless Chromium, driven by Playwright, goes through the page as the three
kinds of people would: an employee answers a nudge, the L&D lead sends an /intake
request (first with a field missing) and approves it in #ld-triage, a team runs a
/premortem in a channel and adds risks, and the clock skips to Monday for the two
managers' digests. Every check is something the person sees on the page.

Skipped only when Chromium is missing and NUDGEBOT_TEST_REQUIRE_BROWSER is unset;
CI sets it (and installs Chromium), so there a missing browser fails the run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox import seed
from bot.sandbox.runner import Sandbox

CHROMIUM = Path("/usr/bin/chromium")
REQUIRED = bool(os.environ.get("NUDGEBOT_TEST_REQUIRE_BROWSER"))

if not CHROMIUM.exists() and not REQUIRED:
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)

if REQUIRED:
    from playwright.sync_api import expect, sync_playwright
else:
    sync_api = pytest.importorskip("playwright.sync_api")
    expect, sync_playwright = sync_api.expect, sync_api.sync_playwright

# A busy 2-core machine; a pass takes a fraction of it.
PATIENCE_MS = 60_000
expect.set_options(timeout=PATIENCE_MS)

SAM, LEAD, GEORGI, SARAH, JAMES = (
    "U0SAM",
    seed.LEAD_ID,
    seed.SUPPORT_MANAGER_ID,
    seed.SALES_MANAGER_ID,
    "U0JAMES",
)

INTAKE = {
    "goal": "Repeat calls 18% → 12% by Q3",
    "audience": "40 support agents: ask three clarifying questions before offering a fix",
    "context": "At the start of every inbound call, before the ticket is escalated",
    "cost_of_inaction": "Each repeat call costs €7; about 1,200 a month, €100k a year",
    "horizon": "By end of Q3; agents can spare 10 minutes a week, no budget for travel",
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def tab(browser: Any, sandbox: Sandbox) -> Iterator[Any]:
    """A fresh page on this test's sandbox; a script error on it fails the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(PATIENCE_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.base = sandbox.url  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"the page's script failed: {errors}"


def open_as(page: Any, user: str, conversation: str = "") -> None:
    """Open the page as ``user`` (the address keeps who and where, like a bookmark)."""
    page.goto(f"{page.base}#{user}/{conversation}")
    expect(page.locator("#you-are")).to_have_value(user)
    expect(page.locator("#clock-now")).to_contain_text(":")


def be(page: Any, user: str) -> None:
    """Switch people with the "You are" menu."""
    page.select_option("#you-are", user)
    expect(page.locator("#me-line")).to_contain_text(_title(user))


def _title(user: str) -> str:
    return seed.person(user).title


def go_to(page: Any, conversation: str) -> None:
    page.click(f'#sidebar [data-conversation-id="{conversation}"]')
    expect(
        page.locator(f'#sidebar .nav-item.active[data-conversation-id="{conversation}"]')
    ).to_be_visible()


def send(page: Any, text: str) -> None:
    page.fill("#composer", text)
    page.press("#composer", "Enter")
    expect(page.locator("#composer")).to_have_value("")


def field(page: Any, block_id: str) -> Any:
    return page.locator(f'#modal-body .bk-el[data-block-id="{block_id}"]')


def error_beside(page: Any, block_id: str) -> Any:
    return page.locator(f'#modal-body .bk-error[data-block-id="{block_id}"]')


# -- an employee ------------------------------------------------------------------


def test_an_employee_answers_a_nudge_and_sees_the_message_change(tab: Any) -> None:
    open_as(tab, SAM)
    expect(tab.locator("#conv-title")).to_have_text("Nudgebot")
    nudge = tab.locator("#messages .message.from-bot", has_text="Welcome to the team").first
    done = nudge.locator('button.bk-el[data-type="button"]', has_text=re.compile(r"^\s*Done\s*$"))
    expect(done).to_be_visible()

    done.click()

    # The bot updates the message in place: the answer is recorded, the buttons go.
    expect(nudge).to_contain_text("Done · ")
    expect(nudge.locator("button.bk-el")).to_have_count(0)
    expect(tab.locator("#messages .message", has_text="Welcome to the team")).to_have_count(1)


# -- the L&D lead -----------------------------------------------------------------


def test_the_lead_sends_an_intake_request_fixes_it_and_approves_it_in_triage(tab: Any) -> None:
    open_as(tab, LEAD)
    send(tab, "/intake")
    modal = tab.locator("#modal")
    expect(modal).to_be_visible()
    expect(tab.locator("#modal-title")).to_have_text("Training request")

    # A required field left empty: Slack's client says so beside it and sends nothing.
    for block_id, text in INTAKE.items():
        if block_id != "horizon":
            field(tab, block_id).fill(text)
    tab.click("#modal-submit")
    expect(error_beside(tab, "horizon")).to_have_text("Please complete this required field.")
    expect(error_beside(tab, "goal")).to_have_text("")
    expect(field(tab, "goal")).to_have_value(INTAKE["goal"])  # nothing typed is lost

    # An answer the bot finds too vague: its own error, beside the field.
    field(tab, "horizon").fill(INTAKE["horizon"])
    field(tab, "cost_of_inaction").fill("It costs us a lot of money")
    tab.click("#modal-submit")
    expect(error_beside(tab, "cost_of_inaction")).to_contain_text("Put a number on it")
    expect(error_beside(tab, "horizon")).to_have_text("")

    field(tab, "cost_of_inaction").fill(INTAKE["cost_of_inaction"])
    tab.click("#modal-submit")
    expect(modal).to_be_hidden()
    expect(tab.locator("#messages .message.from-bot").last).to_contain_text("training request #1")

    go_to(tab, seed.TRIAGE_CHANNEL_ID)
    expect(tab.locator("#conv-title")).to_have_text("# ld-triage")
    card = tab.locator("#messages .message.from-bot", has_text="Training request #1")
    expect(card).to_contain_text(INTAKE["goal"])
    card.locator("button.bk-el", has_text="Approve").click()
    expect(card).to_contain_text("approved by")
    expect(card.locator("button.bk-el", has_text="Approve")).to_have_count(0)


# -- a team in a channel --------------------------------------------------------------


def test_a_premortem_in_a_channel_collects_a_reply_and_an_anonymous_risk(tab: Any) -> None:
    open_as(tab, SARAH, seed.SALES_CHANNEL_ID)
    expect(tab.locator("#composer")).to_have_attribute("placeholder", "Message #sales")
    send(tab, "/premortem Q3 pipeline push")
    parent = tab.locator("#messages > .message.from-bot", has_text="Pre-mortem: Q3 pipeline push")
    expect(parent).to_contain_text("Collecting risks")

    # Someone else on the team, in the same channel: the switcher keeps #sales open.
    be(tab, JAMES)
    expect(tab.locator("#conv-title")).to_have_text("# sales")
    parent.hover()
    parent.locator(".reply-start").click()
    reply = parent.locator(".thread-composer")
    reply.fill("Two big deals slip into Q4 because legal review takes three weeks")
    reply.press("Enter")
    expect(
        parent.locator(".thread .message", has_text="legal review takes three weeks")
    ).to_have_count(1)

    parent.locator("button.bk-el", has_text="Add a risk anonymously").click()
    expect(tab.locator("#modal")).to_be_visible()
    field(tab, "risk").fill("Our biggest customer churns after the price change")
    tab.click("#modal-submit")
    expect(tab.locator("#modal")).to_be_hidden()
    anonymous = parent.locator(".thread .message", has_text="Anonymous risk")
    expect(anonymous).to_contain_text("Our biggest customer churns after the price change")
    expect(anonymous).not_to_contain_text("James")


# -- managers on Monday ------------------------------------------------------------------


def test_monday_digest_shows_figures_to_the_manager_of_six_and_none_to_the_manager_of_three(
    tab: Any,
) -> None:
    open_as(tab, GEORGI)
    expect(tab.locator("#clock-now")).to_contain_text("Mon 7 Dec")
    tab.click("#clock-monday")
    expect(tab.locator("#clock-now")).to_contain_text(re.compile(r"Mon 14 Dec, 09:0\d"))
    digest = tab.locator("#messages .message.from-bot", has_text="Your team's behaviors this week")
    expect(digest).to_have_count(1)
    expect(digest).to_contain_text(re.compile(r"\d+% acted on \(\d+ of \d+ nudges, 6 people\)"))

    be(tab, SARAH)
    tab.click("#clock-monday")
    digest = tab.locator(
        "#messages .message.from-bot", has_text="Your team's behaviors this week"
    ).last
    expect(digest).to_contain_text("Too few people for team figures")
    expect(digest).not_to_contain_text("acted on")
    expect(digest).not_to_contain_text("%")


# -- the page itself -----------------------------------------------------------------------


def test_the_developer_pane_lists_web_api_calls_and_requests_to_the_bot(tab: Any) -> None:
    open_as(tab, LEAD)
    expect(tab.locator("#dev-pane")).to_be_hidden()
    tab.click("#dev-toggle")
    expect(tab.locator("#dev-pane")).to_be_visible()
    send(tab, "/nudges help")
    expect(tab.locator("#dev-calls .dev-row .dev-method").first).to_be_visible()
    tab.click('.dev-tab[data-dev-tab="requests"]')
    command = tab.locator("#dev-requests .dev-row", has_text="/nudges help")
    expect(command).to_contain_text("slash_command")
    expect(command.locator(".dev-ack")).to_contain_text(re.compile(r"\d+(\.\d)? ms"))
    # The command's answer is only for the person who typed it.
    expect(tab.locator("#messages .message.ephemeral").last).to_contain_text("Only visible to you")


def test_a_long_conversation_renders_in_one_go_and_stays_at_the_bottom(
    tab: Any, sandbox: Sandbox
) -> None:
    for n in range(500):
        sandbox.slack.add_message(seed.GENERAL_CHANNEL_ID, user=JAMES, text=f"Note number {n}")
    open_as(tab, SAM, seed.GENERAL_CHANNEL_ID)
    expect(tab.locator("#messages > .message")).to_have_count(501)  # + the seeded welcome
    at_bottom = "(() => { const b = document.getElementById('messages');"
    at_bottom += " return b.scrollHeight - b.scrollTop - b.clientHeight < 48; })()"
    assert tab.evaluate(at_bottom)

    tab.fill("#composer", "Hello from the bottom")
    tab.press("#composer", "Enter")
    expect(tab.locator("#messages > .message").last).to_contain_text("Hello from the bottom")
    assert tab.evaluate(at_bottom)


def test_the_author_preview_shows_a_step_as_its_message_and_what_validate_says(tab: Any) -> None:
    tab.goto(f"{tab.base}preview")
    expect(tab.locator("#preview-program option").first).to_be_attached()
    tab.select_option("#preview-program", seed.AT_ONCE_PROGRAM)
    expect(tab.locator("#preview-message .bk-block").first).to_be_visible()
    expect(tab.locator("#preview-message")).to_contain_text("Welcome to the team")
    expect(tab.locator("#preview-problems li").first).to_be_visible()
    tab.click("#preview-reload")
    expect(tab.locator("#preview-message")).to_contain_text("Welcome to the team")
