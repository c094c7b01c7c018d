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


def publish(name: str, title: str, body: str, *, doc: Path = DOC) -> None:
    """Print `body` and store it as section `name` of docs/benchmarks.md."""
    command = "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
    section = (
        f"<!-- bench:{name}:start -->\n## {title}\n\n"
        f"Command: `{command}` · Machine: {machine()}\n\n{body.strip()}\n"
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
