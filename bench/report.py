"""Shared by the benchmarks: print a table and write it to docs/benchmarks.md.

Each benchmark owns one section of the file, between
`<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->`, so several scripts
share the file and each run replaces only its own figures.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Figures measured by the scripts in `bench/` (`python bench/NAME.py`), on the
machine named in each section. They are not tests and do not run in CI.
"""


def peak_mb(pid: int | str = "self") -> float:
    """A process's peak resident memory, from the kernel (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status (Linux only)")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    return (
        f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d}"
    )


def database_label(url: str | list[str | None] | None) -> str:
    """The database a run used, for its Command line: the kind, and the URL without
    its password (None or a sqlite URL: SQLite; None is a temporary file of the run's).
    A list: a run that measured on each of them."""
    if isinstance(url, list):
        return " and ".join(database_label(u) for u in url)
    if not url:
        return "SQLite (a temporary file)"
    from sqlalchemy.engine import make_url

    shown = make_url(url).render_as_string(hide_password=True)
    kind = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
    return f"{kind} (`{shown}`)"


def require_postgres(url: str | None, *, how: str) -> str:
    """`url` if it names a PostgreSQL server; otherwise leave with one line and
    a non-zero status, never run quietly on SQLite a benchmark measured for PostgreSQL."""
    if url and url.startswith(("postgresql", "postgres:")):
        return url
    script = Path(sys.argv[0]).name
    given = f"got {url!r}" if url else "none given"
    raise SystemExit(f"{script}: needs PostgreSQL ({given}); {how}")


class _Unstated:
    """publish()'s `database` when the script did not pass one."""


UNSTATED = _Unstated()


def publish(
    name: str,
    title: str,
    body: str,
    *,
    database: str | list[str | None] | _Unstated | None = UNSTATED,
    doc: Path = DOC,
) -> None:
    """Print `body` and store it as section `name` of docs/benchmarks.md.

    `database`: the URL the run used (None: a temporary SQLite file of its own; a
    list: each database it measured on). The
    Command line names it, so no figure is read without its database. A script
    that does not pass it gets "not stated" there, never a guess."""
    command = "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
    if isinstance(database, _Unstated):
        where = "not stated by the script"
        print(f"{Path(sys.argv[0]).name}: publish() was not told the database", file=sys.stderr)
    else:
        where = database_label(database)
    section = (
        f"<!-- bench:{name}:start -->\n## {title}\n\n"
        f"Command: `{command}` · Database: {where} · Machine: {machine()}\n\n{body.strip()}\n"
        f"<!-- bench:{name}:end -->"
    )
    print(section)
    text = doc.read_text() if doc.exists() else HEADER
    pattern = re.compile(
        rf"<!-- bench:{re.escape(name)}:start -->.*?<!-- bench:{re.escape(name)}:end -->", re.S
    )
    text = (
        pattern.sub(lambda _m: section, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + section + "\n"
    )
    doc.write_text(text)
