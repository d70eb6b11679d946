"""pipelines.workbook's sheet writer on real XLSX files read back by openpyxl: each Python type
becomes its cell type, text is never turned into a formula or a link, and a value a cell
cannot hold stops the workbook with an error naming the cell."""

from __future__ import annotations

import math
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from xlsxwriter.worksheet import Worksheet

from pipelines import workbook
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


def test_the_fast_cell_writer_writes_the_bytes_xlsxwriter_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pipelines.workbook writes text, number and date cells itself (XlsxWriter's own writer
    took ~2 s a build): the file must be XlsxWriter's, byte for byte, for any value."""
    stamp = datetime(2026, 3, 4, 5, 6, 7, 891011)
    texts = [
        "plain", "", " lead", "trail ", "\ttab", "line\nbreak", "a & b < c > d \"q\" 'a'",
        "ctl\x01\x1f", "_x0041_ literal escape", "\ufffe\uffff", "<r>a</r> not both ends",
        "Česko 😀", "=1+1", "https://example.org/?a=1&b=2", "0012", "x" * 20_000,
    ]  # fmt: skip
    numbers = [0, -1, 7, 10**15, 2**53 + 1, 0.1, -2.5e-300, 1e300, 1 / 3, math.nan, math.inf]
    numbers += [-math.inf]
    rows: list[list[object]] = [[t, t, None, t] for t in texts * 2]  # repeats use the cache
    rows += [[n, None, str(n), n] for n in numbers]
    rows += [[stamp, True, False, stamp], [], [None, None, "after empty cells"]]

    def book(name: str) -> dict[str, bytes]:
        target = tmp_path / name
        wb = Workbook(target, str(tmp_path))
        wb.book.set_properties({"created": stamp})  # the only part that holds the time
        for sheet_name in ("One", "Two"):
            sheet = wb.sheet(sheet_name, ["Name", "Value", "Note", "Other"])
            sheet.header(["Name", "Value", "Note", "Other"])
            for row in rows:
                sheet.append(row)
        wb.close()
        with zipfile.ZipFile(target) as z:
            return {n: z.read(n) for n in z.namelist()}

    monkeypatch.setattr(workbook._Worksheet, "CACHED", 5)  # full cache: texts written uncached
    fast = book("fast.xlsx")
    monkeypatch.setattr(workbook._Worksheet, "_write_cell", Worksheet._write_cell)
    slow = book("xlsxwriter.xlsx")
    assert fast.keys() == slow.keys()
    assert b'xml:space="preserve"' in fast["xl/worksheets/sheet1.xml"]  # the values got there
    for name in slow:
        assert fast[name] == slow[name], name


def test_a_text_shaped_like_rich_text_xml_is_written_as_text(tmp_path: Path) -> None:
    """XlsxWriter writes such a text as raw XML (a publisher's text could break the sheet or
    inject markup); the workbook escapes it like any other text."""
    shaped = ["<r><t>x</t></r>", '<r><rPr><b/></rPr><t>bold</t></r><r><t a="1">', "<r></r>"]
    target = write(tmp_path, [[text, "after"] for text in shaped])
    ws = openpyxl.load_workbook(target)["Data"]
    assert [[c.value for c in row] for row in ws.iter_rows(min_row=2)] == [
        [text, "after"] for text in shaped
    ]
