"""How fast `nudgebot sandbox` feels: ready time, a click's round trip, 500 messages.

    python bench/sandbox_speed.py [--runs 5] [--clicks 100] [--messages 500] [--posts 50]
                                  [--no-publish] [--doc PATH]

Issue #17, point 10: ready within 3 s of the command; a click, from the page to the
bot and back to the page showing the change, p95 under 300 ms; the page stays
responsive with 500 messages in a conversation. Three parts:

1. Ready time. `--runs` times, the real command, `python -m bot sandbox --port 0
   --db <tmp>/sandbox.db`, in an empty temporary folder and an environment without
   NUDGEBOT_*, SLACK_* or DATABASE_URL: from the spawn to the "ready at" line, and
   to GET / and GET /sandbox/api/state?user=U0SAM both answering 200; then SIGINT,
   and the time it takes to exit (it must exit 0, saying "sandbox stopped").
2. A click in the browser. A sandbox in this process (as tests/sandbox/conftest.py
   starts it: the same runner the command uses) and Debian's headless Chromium
   (Playwright) on Sam's DM with the bot. `--clicks` times, a real mouse click ticks
   or unticks the first box of the welcome checklist: the page sends block_actions
   through the local Slack to the bot, the bot acks and rewrites the message with
   chat.update, the page's long-poll brings the new state and the page replaces the
   message. Timed inside the page, from the click event to the moment a *new*
   message element is in the DOM whose box carries the `checked` attribute (or has
   lost it) as the bot rendered it: the browser's own toggle of the box changes only
   its property, never the attribute, and never replaces the element. "Next frame"
   is one requestAnimationFrame later, when Chromium has painted it.
3. 500 messages. `--messages` human messages (mrkdwn, mentions, links) added to
   #general through the local Slack; then, `--runs` times, the page loaded straight
   on #general (from navigation start to every message in the DOM) and a switch to
   #general from the sidebar (click to every message in the DOM); `--posts` times,
   Sam types a message in #composer and presses Enter (keydown to the message in the
   DOM, the conversation re-sent whole by the server each time); and the main-thread
   tasks over 50 ms Chromium reported (Long Tasks API) while opening and while posting.

Besides each latency, the page's own share of it: from the arrival of the state
answer that brought the change (Resource Timing) to the change in the DOM.

Prints a table and writes it to docs/benchmarks.md (section sandbox_speed; --doc:
another file; --no-publish: print only).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import queue
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from report import DOC, markdown_table, publish

from bot.sandbox import seed
from bot.sandbox.runner import Sandbox

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
SAM = seed.DEFAULT_USER_ID
CHANNEL = "C0GENERAL"
READY_TARGET_S = 3.0
CLICK_TARGET_MS = 300.0
PATIENCE_S = 60.0
PATIENCE_MS = int(PATIENCE_S * 1000)
READY_LINE = re.compile(r"ready at (http://\S+) in ([0-9.]+) s")

# Runs in the page before its own script: the click and Enter times (capture phase,
# so before the page's handlers), a MutationObserver that notes when the condition
# armed by Python first holds (and the next frame), and the Long Tasks observer.
PAGE_PROBE = """
(() => {
  performance.setResourceTimingBufferSize(100000);
  const B = (window.__bench = {
    t0: null, t1: null, t2: null, tr: null, cond: null, maxTask: 0, tasks: 0,
    arm(cond) {
      this.t0 = this.t1 = this.t2 = this.tr = null;
      this.cond = cond;
      performance.clearResourceTimings();
    },
    check() {
      if (!this.cond || this.t1 !== null) return;
      let ok = false;
      try { ok = this.cond(); } catch (e) { ok = false; }
      if (!ok) return;
      this.t1 = performance.now();
      // When the answer that brought it arrived: the newest state answer before now.
      for (const r of performance.getEntriesByType("resource")) {
        if (r.name.includes("/sandbox/api/state") && r.responseEnd > 0 && r.responseEnd <= this.t1)
          this.tr = Math.max(this.tr || 0, r.responseEnd);
      }
      requestAnimationFrame(() => { this.t2 = performance.now(); });
    },
  });
  const start = () => { if (B.cond && B.t0 === null) B.t0 = performance.now(); };
  document.addEventListener("click", (e) => {
    if (e.target.closest && e.target.closest("input[type=checkbox], #sidebar a")) start();
  }, true);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && e.target.id === "composer") start();
  }, true);
  new MutationObserver(() => B.check()).observe(document, { childList: true, subtree: true });
  try {
    new PerformanceObserver((list) => {
      for (const t of list.getEntries()) {
        B.tasks += 1;
        B.maxTask = Math.max(B.maxTask, t.duration);
      }
    }).observe({ type: "longtask", buffered: true });
  } catch (e) { B.maxTask = -1; }
})();
"""


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


# -- 1. ready time of the real command ------------------------------------------------


@dataclass
class Start:
    ready_line: float  # spawn -> "ready at" printed
    answering: float  # spawn -> GET / and the state API answered
    own: float  # the time the command itself printed
    stop: float  # SIGINT -> exit


def clean_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NUDGEBOT_", "SLACK_")) and k != "DATABASE_URL"
    }
    env["PYTHONUNBUFFERED"] = "1"  # the line as soon as it is printed, as on a terminal
    env["PYTHONPATH"] = str(REPO)  # the checkout's code, whatever is installed
    return env


def http_ok(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=PATIENCE_S) as response:
        if response.status != 200:
            raise RuntimeError(f"{url}: HTTP {response.status}")
        return bytes(response.read())


def one_start(work: Path) -> Start:
    lines: queue.Queue[tuple[float, str]] = queue.Queue()
    output: list[str] = []
    command = [sys.executable, "-m", "bot", "sandbox", "--port", "0"]
    command += ["--db", str(work / "sandbox.db")]
    spawned = time.perf_counter()
    proc = subprocess.Popen(
        command,
        cwd=work,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put((time.perf_counter(), line))
            output.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = spawned + PATIENCE_S
        while True:
            try:
                at, line = lines.get(timeout=max(0.01, deadline - time.perf_counter()))
            except queue.Empty:
                raise RuntimeError("no 'ready at' line:\n" + "".join(output)) from None
            found = READY_LINE.search(line)
            if found:
                break
        url = found.group(1).rstrip("/")
        page = http_ok(url + "/")
        state = json.loads(http_ok(f"{url}/sandbox/api/state?user={SAM}"))
        answered = time.perf_counter()
        if b"<html" not in page.lower() or state.get("me", {}).get("id") != SAM:
            raise RuntimeError(f"unexpected answers from {url}")
        signalled = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=PATIENCE_S)
        stopped = time.perf_counter()
        reader.join(timeout=5)
        if code != 0 or not any("sandbox stopped" in x for x in output):
            raise RuntimeError(f"exit {code} after SIGINT:\n" + "".join(output))
        return Start(at - spawned, answered - spawned, float(found.group(2)), stopped - signalled)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def ready_times(runs: int) -> list[Start]:
    starts = []
    for n in range(runs):
        with tempfile.TemporaryDirectory(prefix="sandbox-speed-") as folder:
            start = one_start(Path(folder))
        starts.append(start)
        print(
            f"start {n + 1}: ready line {start.ready_line:.2f} s, answering "
            f"{start.answering:.2f} s (it said {start.own:.1f} s), stop {start.stop:.2f} s",
            flush=True,
        )
    return starts


# -- 2. and 3. the page in Chromium ---------------------------------------------------


@dataclass
class Timing:
    dom: list[float]  # the click or Enter -> in the DOM
    frame: list[float]  # ... -> the next frame
    page: list[float]  # the state answer arrived -> in the DOM: the page's own work

    @classmethod
    def empty(cls) -> Timing:
        return cls([], [], [])


def timed(page: Any, action: Any, into: Timing) -> float:
    """Run ``action`` (a click or a key press) after arming; wait for the condition.
    Adds the times in seconds, measured by the page's own clock; returns the DOM one."""
    action()
    page.wait_for_function("window.__bench.t2 !== null", timeout=PATIENCE_MS)
    t0, t1, t2, tr = page.evaluate(
        "[window.__bench.t0, window.__bench.t1, window.__bench.t2, window.__bench.tr]"
    )
    if t0 is None or tr is None:
        raise RuntimeError("the page never saw the click or key press, or the state answer")
    into.dom.append((t1 - t0) / 1000)
    into.frame.append((t2 - t0) / 1000)
    into.page.append((t1 - tr) / 1000)
    return (t1 - t0) / 1000


def clicks(page: Any, base: str, dm: str, count: int) -> Timing:
    page.goto(f"{base}#{SAM}/{dm}")
    nudge = page.locator("#messages > .message.from-bot", has_text="Welcome to the team").first
    nudge.wait_for(timeout=PATIENCE_MS)  # the welcome nudge arrives by the send tick
    ts = nudge.get_attribute("data-ts")
    box_selector = (
        f'#messages > .message[data-ts="{ts}"] .bk-el[data-action-id="nudge_check"] '
        "input[type=checkbox] >> nth=0"
    )
    timing = Timing.empty()
    for n in range(count):
        page.wait_for_function("!document.querySelector('.bk-busy')", timeout=PATIENCE_MS)
        checked = page.locator(box_selector).get_attribute("checked") is not None
        # Done when a new element for this message shows the box as the bot rendered it.
        page.evaluate(
            """([ts, want]) => {
              const sel = `#messages > .message[data-ts="${ts}"]`;
              document.querySelector(sel).__old = true;
              window.__bench.arm(() => {
                const m = document.querySelector(sel);
                if (!m || m.__old) return false;
                const box = m.querySelector(
                  '.bk-el[data-action-id="nudge_check"] input[type=checkbox]');
                return !!box && box.hasAttribute("checked") === want;
              });
            }""",
            [ts, not checked],
        )
        timed(page, lambda: page.click(box_selector), timing)
        if (n + 1) % 25 == 0:
            dom = timing.dom
            print(
                f"click {n + 1}: p50 {ms(statistics.median(dom))}, max {ms(max(dom))}", flush=True
            )
    return timing


def add_messages(box: Sandbox, count: int) -> tuple[str, str]:
    """`count` messages by the seeded people in #general; the first and last ts."""
    people = [p.id for p in seed.PEOPLE if p.id != SAM]
    first = last = ""
    for n in range(count):
        author, other = people[n % len(people)], people[(n + 3) % len(people)]
        text = (
            f"Update {n + 1}: *ticket {4000 + n}* is _waiting on_ <@{other}>, "
            f"see <https://example.com/tickets/{4000 + n}|the ticket>. "
            f"`status={n % 7}` :white_check_mark:"
        )
        last = box.parts.slack.add_message(CHANNEL, user=author, text=text)
        first = first or last
    return first, last


@dataclass
class Conversation:
    load: Timing  # navigation start -> all in the DOM (page: the state answer -> DOM)
    switch: Timing
    post: Timing
    state_api: list[float]
    shown: int
    opening_tasks: tuple[int, float]  # long tasks while loading and switching: count, longest
    posting_tasks: tuple[int, float]  # ... while posting


ALL_SHOWN = """([first, last, at_least]) => {
  const box = document.getElementById("messages");
  return !!box.querySelector(`:scope > .message[data-ts="${first}"]`)
    && !!box.querySelector(`:scope > .message[data-ts="${last}"]`)
    && box.querySelectorAll(":scope > .message").length >= at_least;
}"""


def long_tasks(page: Any, *, reset: bool = False) -> tuple[int, float]:
    count, longest = page.evaluate("[window.__bench.tasks, window.__bench.maxTask]")
    if reset:
        page.evaluate("window.__bench.tasks = 0; window.__bench.maxTask = 0")
    return int(count), float(longest)


def conversation_of_500(
    context: Any, box: Sandbox, *, messages: int, runs: int, posts: int
) -> Conversation:
    first, last = add_messages(box, messages)
    base = box.url.rstrip("/") + "/"
    state_url = f"{base}sandbox/api/state?user={SAM}&conversation={CHANNEL}"
    state_api = []
    for _ in range(max(runs, 5)):
        started = time.perf_counter()
        state = json.loads(http_ok(state_url))
        state_api.append(time.perf_counter() - started)
    at_least = len(state["conversation"]["messages"])
    print(f"#general holds {at_least} messages", flush=True)

    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    load, switch, post = Timing.empty(), Timing.empty(), Timing.empty()
    opening = (0, 0.0)
    args = json.dumps([first, last, at_least])
    # Each document of this page starts armed: its load is timed from navigation start.
    page.add_init_script(f"window.__bench.arm(() => ({ALL_SHOWN})({args}));")
    dm = box.parts.slack.dm_channel_id(SAM)
    for n in range(runs):
        # Straight onto the channel: navigation start to all messages in the DOM.
        page.goto("about:blank")
        page.goto(f"{base}#{SAM}/{CHANNEL}")
        page.wait_for_function("window.__bench.t2 !== null", timeout=PATIENCE_MS)
        t1, t2, tr = page.evaluate("[window.__bench.t1, window.__bench.t2, window.__bench.tr]")
        load.dom.append(t1 / 1000)
        load.frame.append(t2 / 1000)
        load.page.append((t1 - tr) / 1000)
        # Away to the DM and back from the sidebar: click to all messages in the DOM.
        page.click(f'#sidebar [data-conversation-id="{dm}"]')
        page.locator("#messages > .message", has_text="Welcome to the team").first.wait_for(
            timeout=PATIENCE_MS
        )
        page.evaluate(f"() => window.__bench.arm(() => ({ALL_SHOWN})({args}))")
        to_dom = timed(
            page, lambda: page.click(f'#sidebar [data-conversation-id="{CHANNEL}"]'), switch
        )
        count, longest = long_tasks(page)
        opening = (opening[0] + count, max(opening[1], longest))
        print(
            f"{messages} messages, run {n + 1}: load {ms(load.dom[-1])}, switch {ms(to_dom)}",
            flush=True,
        )

    long_tasks(page, reset=True)
    for n in range(posts):
        token = f"bench-post-{n}-{time.monotonic_ns()}"
        page.fill("#composer", f"Round trip {n + 1} ({token}) with the whole channel loaded")
        page.evaluate(
            """(token) => window.__bench.arm(() => {
              const last = document.querySelector("#messages > .message:last-of-type");
              return !!last && last.textContent.includes(token);
            })""",
            token,
        )
        timed(page, lambda: page.press("#composer", "Enter"), post)
        page.wait_for_function(
            "document.getElementById('composer').value === ''", timeout=PATIENCE_MS
        )
    posting = long_tasks(page)
    shown = page.evaluate("document.querySelectorAll('#messages > .message').length")
    page.close()
    if errors:
        raise RuntimeError(f"the page's script failed: {errors}")
    return Conversation(load, switch, post, state_api, int(shown), opening, posting)


def in_the_browser(
    *, clicks_n: int, messages: int, runs: int, posts: int
) -> tuple[Timing, Conversation]:
    from playwright.sync_api import sync_playwright

    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="sandbox-speed-") as folder:
        box = Sandbox(database_path=Path(folder) / "sandbox.db", port=0)
        box.start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM)
                try:
                    context = browser.new_context(
                        viewport={"width": 1280, "height": 800},
                        bypass_csp=True,  # the measuring predicates are evaluated strings
                    )
                    context.set_default_timeout(PATIENCE_MS)
                    context.add_init_script(PAGE_PROBE)
                    page = context.new_page()
                    errors: list[str] = []
                    page.on("pageerror", lambda exc: errors.append(str(exc)))
                    dm = box.parts.slack.dm_channel_id(SAM)
                    click = clicks(page, box.url.rstrip("/") + "/", dm, clicks_n)
                    page.close()
                    if errors:
                        raise RuntimeError(f"the page's script failed: {errors}")
                    big = conversation_of_500(
                        context, box, messages=messages, runs=runs, posts=posts
                    )
                finally:
                    browser.close()
        finally:
            box.stop()
    return click, big


# -- the table --------------------------------------------------------------------------


def row(
    what: str,
    values: list[float],
    own: list[float] | None = None,
    target: str = "",
    met: bool | None = None,
) -> list[str]:
    cells = [
        what,
        str(len(values)),
        ms(statistics.median(values)),
        ms(percentile(values, 95)),
        ms(max(values)),
        f"{ms(statistics.median(own))} / {ms(percentile(own, 95))}" if own else "",
    ]
    return [*cells, target, "" if met is None else ("yes" if met else "**no**")]


def tasks_text(tasks: tuple[int, float]) -> str:
    count, longest = tasks
    if longest < 0:
        return "not reported by this Chromium"
    if not count:
        return "none over 50 ms"
    return f"{count} over 50 ms, the longest {longest:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="starts, and page loads (default 5)")
    parser.add_argument("--clicks", type=int, default=100, help="checkbox clicks (default 100)")
    parser.add_argument("--messages", type=int, default=500, help="messages in #general")
    parser.add_argument("--posts", type=int, default=50, help="messages posted in #general")
    parser.add_argument("--doc", default=str(DOC), help="where to write the figures")
    parser.add_argument("--no-publish", action="store_true", help="Print only.")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"sandbox_speed.py: needs {CHROMIUM} (apt-get install chromium)")
    load_at_start = os.getloadavg()[0]
    began = time.perf_counter()

    starts = ready_times(args.runs)
    click, big = in_the_browser(
        clicks_n=args.clicks, messages=args.messages, runs=args.runs, posts=args.posts
    )

    ready = [s.answering for s in starts]
    n = args.messages
    target = f"p95 < {CLICK_TARGET_MS:.0f} ms"
    rows = [
        row("Start: spawn → “ready at” line", [s.ready_line for s in starts]),
        row("… the time the line itself states", [s.own for s in starts]),
        row(
            "Start: spawn → page and state API answer",
            ready,
            target=f"within {READY_TARGET_S:.0f} s",
            met=max(ready) <= READY_TARGET_S,
        ),
        row("Stop: SIGINT → exit 0", [s.stop for s in starts]),
        row(
            "DM: click a checklist box → the bot's update in the DOM",
            click.dom,
            click.page,
            target,
            percentile(click.dom, 95) * 1000 < CLICK_TARGET_MS,
        ),
        row("… → the next frame painted", click.frame),
        row(f"{n} messages: state API answer (the server renders all)", big.state_api),
        row(f"{n} messages: page load → all in the DOM", big.load.dom, big.load.page),
        row(f"{n} messages: sidebar click → all in the DOM", big.switch.dom, big.switch.page),
        row(
            f"{n} messages: post (Enter) → the message in the DOM",
            big.post.dom,
            big.post.page,
            target,
            percentile(big.post.dom, 95) * 1000 < CLICK_TARGET_MS,
        ),
        row("… → the next frame painted", big.post.frame),
    ]
    headers = ["Measure", "n", "p50", "p95", "max", "Page's own work p50 / p95", "Target", "Met"]
    body = (
        "`nudgebot sandbox` on this machine. Start: the real command (`python -m bot "
        "sandbox --port 0 --db <tmp>`) in an empty folder, without `NUDGEBOT_*`, `SLACK_*` "
        "or `DATABASE_URL`, timed from the spawn. Clicks and posts: the same runner in the "
        "bench's process, and headless Chromium (Playwright) as Sam; each is timed by the "
        "page's own clock, from the click or Enter to a new message element in the DOM, "
        "rendered by the server after the bot's chat.update or with the posted message "
        "(the browser's own toggle of a box does not count). The page's own work: from "
        "the arrival of the state answer that brought the change to the change in the "
        f"DOM. {n} messages: #general, {big.shown} messages at the end (the posts add to "
        f"them); Chromium's long tasks (Long Tasks API) while loading and switching: "
        f"{tasks_text(big.opening_tasks)}; while posting: {tasks_text(big.posting_tasks)}. "
        f"Load average at the start: {load_at_start:.2f}; the run took "
        f"{time.perf_counter() - began:.0f} s.\n\n" + markdown_table(headers, rows)
    )
    if args.no_publish:
        print(body)
    else:
        publish(
            "sandbox_speed",
            "Sandbox: ready time, click latency, 500 messages",
            body,
            database=None,
            doc=Path(args.doc),
        )


if __name__ == "__main__":
    main()
