"""The one CSV reader (bot/csvfile.py): every problem names file, line and field, the
way a person fixes it in a text editor; spreadsheet leftovers (BOM, blank rows,
padded cells) never cause one."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.csvfile import CsvTable, read_csv, read_text
from bot.errors import UserError


def test_rows_carry_their_line_and_errors_name_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        "\ufeff slack_user_id , manager\n"
        "U1, U0\n"
        ",\n"  # a spreadsheet's empty row: skipped, but it still counts as a line
        'U2,"two\nlines"\n'
        "U3,  \n",
        encoding="utf-8",
    )
    table = read_csv(path)
    assert table.header == ["slack_user_id", "manager"]
    rows = list(table)
    assert [(r.line, r.cells) for r in rows] == [
        (2, {"slack_user_id": "U1", "manager": "U0"}),
        (5, {"slack_user_id": "U2", "manager": "two\nlines"}),
        (6, {"slack_user_id": "U3", "manager": ""}),
    ]
    assert str(rows[2].error("manager", "nobody has this id")) == (
        f"{path}:6: manager: nobody has this id"
    )
    assert str(table.header_error("header: needs an email column")) == (
        f"{path}:1: header: needs an email column"
    )


def test_header_names_may_be_folded_to_lower_case() -> None:
    table = CsvTable("Program,VALUE\nx,1\n", source="kpi.csv", lower_header=True)
    assert table.header == ["program", "value"]
    assert [r.where for r in table] == ["kpi.csv:2"]
    assert next(iter(CsvTable("Program\nx\n", source="k.csv"))).get("program") == ""


def test_a_file_that_cannot_be_read_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError) as missing:
        read_text(tmp_path / "missing.csv")
    assert str(missing.value) == f"{tmp_path / 'missing.csv'}: no such file"
    latin = tmp_path / "latin.csv"
    latin.write_bytes("email\nzoë@example.com\n".encode("latin-1"))
    with pytest.raises(UserError) as bad:
        read_text(latin)
    assert str(bad.value).startswith(f"{latin}: cannot read it as UTF-8 text (")
    with pytest.raises(UserError) as folder:
        read_text(tmp_path)
    assert str(folder.value).startswith(f"{tmp_path}: cannot read it (")
