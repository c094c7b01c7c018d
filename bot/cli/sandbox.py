"""`nudgebot sandbox`: try the whole bot in a browser, with no Slack workspace."""

from __future__ import annotations

import time
import webbrowser
from pathlib import Path

import click

from bot.log import configure_logging
from bot.runtime import Runtime, pass_runtime
from bot.server import StopRequest


@click.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="Port of the page (default 3000, or the next free one).",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a browser.")
@click.option(
    "--db",
    "database",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("sandbox.db"),
    show_default=True,
    help="The sandbox's own SQLite file, started afresh each run.",
)
@click.option("--empty", is_flag=True, help="Start with no people or enrollments.")
@pass_runtime
def sandbox(
    runtime: Runtime, port: int | None, open_browser: bool, database: Path, empty: bool
) -> None:
    """Run the real bot on a built-in local Slack, with a page to use it (no tokens needed)."""
    from bot.sandbox.runner import Sandbox

    configure_logging("WARNING", "text")
    started = time.monotonic()
    stop = StopRequest()
    stop.install()  # Ctrl+C during start-up still stops cleanly
    box = Sandbox(database_path=database, port=port, empty=empty)
    box.start(serve_in_thread=False)
    stop.requested = box.stop_event
    stop.server = box.http_server
    click.echo(
        f"Nudgebot sandbox ready at {box.url} in {time.monotonic() - started:.1f} s "
        f"({box.seed_summary}; database {database}; Ctrl+C stops)"
    )
    if open_browser:
        webbrowser.open(box.url)
    try:
        box.serve_forever()
    finally:
        box.stop()
    click.echo("sandbox stopped")


commands = [sandbox]
