"""Reading the CSV files people hand us (org charts, enrollment lists, KPI values).

One reader, one error format: every problem names the file, the line and the
field, `people.csv:7: manager: ...`, the way a person would fix it in a text
editor. A spreadsheet's BOM is dropped, header names are trimmed, cells are
trimmed, and rows with nothing in them are skipped (spreadsheets leave them).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.errors import UserError


def read_text(path: Path) -> str:
    """The file's text, or one line that says why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{path}: cannot read it as UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read it ({exc.strerror or type(exc).__name__})") from None


@dataclass(frozen=True)
class CsvRow:
    """One non-blank row: its cells by header name, and where it is in the file."""

    source: str
    line: int  # the line the row ends on (a quoted cell may span lines)
    cells: dict[str, str]

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"

    def get(self, field: str) -> str:
        return self.cells.get(field, "")

    def error(self, field: str, why: str) -> UserError:
        """`source:line: field: why`, ready to raise or to collect."""
        return UserError(f"{self.where}: {field}: {why}")


class CsvTable:
    """A CSV's header and its rows, read lazily from text."""

    def __init__(self, text: str, *, source: str, lower_header: bool = False) -> None:
        self.source = source
        self._reader = csv.DictReader(io.StringIO(text))
        header = [h.strip() for h in self._reader.fieldnames or []]
        self.header = [h.lower() for h in header] if lower_header else header
        self._reader.fieldnames = self.header

    def header_error(self, why: str) -> UserError:
        """A problem with the header, which is line 1."""
        return UserError(f"{self.source}:1: {why}")

    def __iter__(self) -> Iterator[CsvRow]:
        for record in self._reader:
            cells = {k: (v or "").strip() for k, v in record.items() if k is not None}
            if any(cells.values()):
                yield CsvRow(self.source, self._reader.line_num, cells)


def read_csv(path: Path, *, lower_header: bool = False) -> CsvTable:
    """The table in the file at `path`, named by its path in every error."""
    return CsvTable(read_text(path), source=str(path), lower_header=lower_header)
