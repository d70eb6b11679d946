"""pipelines.workbook's sheet writer on real XLSX files read back by openpyxl: each Python type
becomes its cell type, text is never turned into a formula or a link, and a value a cell
cannot hold stops the workbook with an error naming the cell."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from pipelines.workbook import Workbook


def write(tmp_path: Path, rows: list[list[object]]) -> Path:
    target = tmp_path / "book.xlsx"
    book = Workbook(target, str(tmp_path))
    sheet = book.sheet("Data", ["Name", "Value"])
    sheet.header(["Name", "Value"])
    for row in rows:
        sheet.append(row)
    book.close()
    return target


def test_each_python_type_becomes_its_cell_type(tmp_path: Path) -> None:
    stamp = datetime(2026, 3, 4, 5, 6, 7)
    target = write(
        tmp_path,
        [
            ["=1+1", "https://example.org/x", "0012", " padded "],
            [7, 2.5, True, stamp],
            [None, "after an empty cell", math.nan, math.inf],
        ],
    )

    ws = openpyxl.load_workbook(target)["Data"]
    cells = [[(c.value, c.data_type) for c in row] for row in ws.iter_rows(min_row=2)]
    assert cells[0] == [
        ("=1+1", "s"),
        ("https://example.org/x", "s"),
        ("0012", "s"),
        (" padded ", "s"),
    ]
    assert cells[1] == [(7, "n"), (2.5, "n"), (True, "b"), (stamp, "d")]
    # Excel has no NaN or infinity: XlsxWriter writes them as the errors #NUM! and #DIV/0!
    assert cells[2] == [(None, "n"), ("after an empty cell", "s"), ("=#NUM!", "f"), ("=1/0", "f")]
    assert ws["D3"].number_format == "yyyy-mm-dd h:mm:ss"
    assert not ws["A2"].hyperlink and not ws["B2"].hyperlink
    assert [c.font.b for c in ws[1]] == [True, True, False, False]
    assert ws.column_dimensions["A"].width > 40 and ws.column_dimensions["B"].width < 20


def test_a_value_no_cell_can_hold_names_the_cell(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"workbook cell Data!B3: no cell type for bytes"):
        write(tmp_path, [["fine"], ["x", b"raw"]])
    with pytest.raises(ValueError, match=r"workbook cell Data!A2: cannot be written"):
        write(tmp_path, [["x" * 40_000]])  # Excel holds at most 32,767 characters
