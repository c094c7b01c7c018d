"""The test suite, again and again, while other processes keep every core busy.

    python bench/suite_under_load.py [--runs 10] [--busy N] [-- PYTEST ARGS]

A test that passes only on a quiet machine is a test that waits on time instead
of on the bot. This runs the README's test command (`pytest`, with the
environment as it is: set NUDGEBOT_TEST_POSTGRES_URL for the PostgreSQL half)
`--runs` times in a row while `--busy` busy-loop processes (default: one per
core) compete for the CPU, stops at the first failing run, and reports how
many runs passed, how long each took and the load average.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import markdown_table, publish

REPO = Path(__file__).resolve().parents[1]


def _spin(stop: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x = (x * 31 + 7) % 1_000_003


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--busy", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--no-publish", action="store_true", help="print only")
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args()
    stop = multiprocessing.Event()
    spinners = [multiprocessing.Process(target=_spin, args=(stop,)) for _ in range(args.busy)]
    for spinner in spinners:
        spinner.start()
    rows = []
    passed = 0
    try:
        for run in range(1, args.runs + 1):
            started = time.monotonic()
            result = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", *args.pytest_args],
                cwd=REPO,
                capture_output=True,
                text=True,
            )
            seconds = time.monotonic() - started
            tail = [line for line in result.stdout.splitlines() if line.strip()][-1:]
            summary = re.sub(r"=+", "", tail[0]).strip() if tail else "no output"
            rows.append(
                [
                    run,
                    "passed" if result.returncode == 0 else "FAILED",
                    summary,
                    f"{seconds:.0f}",
                    f"{os.getloadavg()[0]:.1f}",
                ]
            )
            print(f"run {run}: {rows[-1][1]} in {seconds:.0f} s ({summary})", flush=True)
            if result.returncode != 0:
                failed = [ln for ln in result.stdout.splitlines() if ln.startswith("FAILED")]
                print("\n".join(failed[:20]) or result.stdout[-3000:], flush=True)
                # What failed and why (the assertion and its values), not only which test.
                start = result.stdout.find("= FAILURES =")
                if start != -1:
                    print(result.stdout[start : start + 6000], flush=True)
                break
            passed += 1
    finally:
        stop.set()
        for spinner in spinners:
            spinner.join()
    postgres = os.environ.get("NUDGEBOT_TEST_POSTGRES_URL")
    body = (
        f"The README's test command run {args.runs} times in a row while {args.busy} busy-loop "
        f"process(es) kept the cores busy; it stops at the first failure. Passed {passed} of "
        f"{args.runs}. PostgreSQL half: {'on' if postgres else 'off (SQLite only)'}.\n\n"
        + markdown_table(["run", "result", "pytest summary", "seconds", "load average"], rows)
    )
    if args.no_publish:
        print(body)
    else:
        publish(
            "suite_under_load",
            "The test suite on a busy machine",
            body,
            database=[None, postgres] if postgres else None,
        )
    if passed < args.runs:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
