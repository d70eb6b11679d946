"""Unit tests of the curated-CSV parser (pipelines.parsers.curated_csv)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from pipelines.parsers.base import ROW_KEYS, ParseError
from pipelines.parsers.curated_csv import COLUMNS, DIMENSIONS, parse

DEATHS_2019 = {
    "indicator_id": "9",
    "measure": "drug-induced deaths",
    "geo": "EU27_2020",
    "period": "2019",
    "value": "5100",
    "unit": "NR",
    "substance": "",
    "sex": "",
    "age": "",
    "breakdown": "",
    "value_qualifier": ">",
    "question_wording": "",
    "document": "European Drug Report 2021 (EMCDDA FAQ on overdose deaths)",
    "edition": "2021",
    "table_or_page": "FAQ: drug overdose deaths in Europe",
    "url": "https://www.emcdda.europa.eu/publications/topic-overviews/drug-induced-deaths_en",
    "accessed": "2025-09-01",
    "confidence": "P",
    "note": "published as >5,100",
}
PERCEPTION_2021 = {
    **DEATHS_2019,
    "indicator_id": "06",
    "measure": "drug use or dealing is a serious local problem",
    "period": "2021",
    "value": "54",
    "unit": "PC",
    "value_qualifier": "",
    "question_wording": 'Q3. "How serious is ...?"\nAnswer: very or fairly serious',
    "document": "Flash Eurobarometer: Impact of drugs on communities",
    "edition": "fieldwork 30 Jun-10 Jul 2021",
    "table_or_page": "QB3, p. 12",
    "url": "http://example.org/fl-2021.pdf",
    "confidence": "S",
    "note": "",
}


def write(
    tmp_path: Path,
    records: list[dict[str, str]],
    columns: tuple[str, ...] | list[str] = COLUMNS,
    comments: str = "# Published EU headline figures\n# typed in by hand\n",
    name: str = "curated.csv",
) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([record.get(c, "") for c in columns])
    path = tmp_path / name
    path.write_text(comments + buf.getvalue(), encoding="utf-8")
    return path


def rows_of(path: Path, options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return list(parse(path, options or {}).rows)


def test_valid_file(tmp_path: Path) -> None:
    parsed = parse(write(tmp_path, [DEATHS_2019, PERCEPTION_2021]), {})
    assert parsed.dimensions == DIMENSIONS
    assert parsed.attributes["description"] == "Published EU headline figures\ntyped in by hand"
    deaths, perception = list(parsed.rows)
    assert deaths == {
        "indicator_id": "9",
        "measure": "drug-induced deaths",
        "geo": "EU27_2020",
        "unit": "NR",
        "substance": None,
        "sex": None,
        "age": None,
        "breakdown": None,
        "question_wording": None,
        "document": DEATHS_2019["document"],
        "edition": "2021",
        "table_or_page": "FAQ: drug overdose deaths in Europe",
        "url": DEATHS_2019["url"],
        "accessed": "2025-09-01",
        "confidence": "P",
        "value_qualifier": ">",
        "period": "2019",
        "value": 5100.0,
        "value_text": None,
        "flags": ">",
        "note": "published as >5,100",
        "line": 4,
    }
    assert list(deaths)[-len(ROW_KEYS) :] == list(ROW_KEYS)
    # the multi-line quoted question wording: the next record starts on its own line
    assert perception["indicator_id"] == "6"
    assert perception["question_wording"] == PERCEPTION_2021["question_wording"]
    assert perception["flags"] is None and perception["value_qualifier"] is None
    assert perception["note"] is None
    assert perception["line"] == 5


def test_column_order_is_free(tmp_path: Path) -> None:
    reordered = list(reversed(COLUMNS))
    a = rows_of(write(tmp_path, [DEATHS_2019], name="a.csv"))
    b = rows_of(write(tmp_path, [DEATHS_2019], columns=reordered, name="b.csv"))
    assert a == b


def test_comments_between_records_keep_line_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, [DEATHS_2019, DEATHS_2019 | {"period": "2021", "value": "6100"}])
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(4, "# the next row was checked again in 2025\n")
    lines.insert(4, "\n")
    path.write_text("".join(lines))
    rows = rows_of(path)
    assert [(r["period"], r["line"]) for r in rows] == [("2019", 4), ("2021", 7)]


@pytest.mark.parametrize("qualifier", [">", "~", "<", ">=", "<="])
def test_value_qualifiers(tmp_path: Path, qualifier: str) -> None:
    row = rows_of(write(tmp_path, [DEATHS_2019 | {"value_qualifier": qualifier}]))[0]
    assert row["flags"] == qualifier and row["value_qualifier"] == qualifier


@pytest.mark.parametrize("field", ["document", "edition", "table_or_page", "url", "accessed"])
def test_citation_required(tmp_path: Path, field: str) -> None:
    path = write(tmp_path, [DEATHS_2019, DEATHS_2019 | {field: "  "}])
    with pytest.raises(ParseError) as err:
        rows_of(path)
    message = str(err.value)
    assert err.value.rule == "citation required" and err.value.line == 5
    assert str(path) in message and "line 5" in message and repr(field) in message


def test_confidence_required(tmp_path: Path) -> None:
    with pytest.raises(ParseError) as err:
        rows_of(write(tmp_path, [DEATHS_2019 | {"confidence": ""}]))
    assert err.value.rule == "citation required"


@pytest.mark.parametrize("field", ["indicator_id", "measure", "geo", "period", "value", "unit"])
def test_required_fields(tmp_path: Path, field: str) -> None:
    with pytest.raises(ParseError) as err:
        rows_of(write(tmp_path, [DEATHS_2019 | {field: ""}]))
    assert err.value.rule == "required field" and err.value.line == 4
    assert repr(field) in str(err.value)


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"indicator_id": "13"}, "indicator_id"),
        ({"indicator_id": "0"}, "indicator_id"),
        ({"indicator_id": "9a"}, "indicator_id"),
        ({"value": ">5100"}, "non-numeric value"),
        ({"value": "5,100"}, "non-numeric value"),
        ({"value": "~6400"}, "non-numeric value"),
        ({"value_qualifier": "approx"}, "value qualifier"),
        ({"url": "www.emcdda.europa.eu"}, "citation url"),
        ({"url": "ftp://example.org/x"}, "citation url"),
        ({"accessed": "01/09/2025"}, "citation date"),
        ({"accessed": "2025-02-30"}, "citation date"),
        ({"accessed": "2025-9-1"}, "citation date"),
        ({"confidence": "X"}, "confidence"),
        ({"confidence": "p"}, "confidence"),
    ],
)
def test_invalid_values(tmp_path: Path, change: dict[str, str], rule: str) -> None:
    path = write(tmp_path, [DEATHS_2019 | change])
    with pytest.raises(ParseError) as err:
        rows_of(path)
    assert err.value.rule == rule and err.value.line == 4
    assert str(path) in str(err.value)


def test_missing_column_is_layout_drift(tmp_path: Path) -> None:
    columns = [c for c in COLUMNS if c != "accessed"]
    path = write(tmp_path, [DEATHS_2019], columns=columns)
    with pytest.raises(ParseError) as err:
        parse(path, {})
    assert err.value.rule == "layout drift" and err.value.line == 3
    assert "missing columns ['accessed']" in str(err.value)


def test_unknown_column_is_layout_drift(tmp_path: Path) -> None:
    path = write(tmp_path, [DEATHS_2019], columns=[*COLUMNS, "source_quality"])
    with pytest.raises(ParseError, match=r"unexpected columns \['source_quality'\]") as err:
        parse(path, {})
    assert err.value.rule == "layout drift"


def test_no_header(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("# only a comment\n")
    with pytest.raises(ParseError, match="no header line"):
        parse(path, {})


def test_cell_count(tmp_path: Path) -> None:
    path = write(tmp_path, [DEATHS_2019])
    path.write_text(path.read_text() + "9,too,few\n")
    with pytest.raises(ParseError) as err:
        rows_of(path)
    assert err.value.rule == "cell count" and err.value.line == 5


def test_blank_lines_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, [DEATHS_2019])
    path.write_text(path.read_text() + "\n" + "," * (len(COLUMNS) - 1) + "\n")
    assert len(rows_of(path)) == 1


def test_cp1252_file(tmp_path: Path) -> None:
    utf8 = write(tmp_path, [DEATHS_2019 | {"geo": "Türkiye"}], name="u.csv")
    cp = tmp_path / "c.csv"
    cp.write_bytes(utf8.read_text(encoding="utf-8").encode("cp1252"))
    assert rows_of(cp) == rows_of(utf8)
    assert rows_of(cp)[0]["geo"] == "Türkiye"


def test_options(tmp_path: Path) -> None:
    path = write(tmp_path, [DEATHS_2019])
    assert rows_of(path, {"encoding": "utf-8"})[0]["value"] == 5100.0
    with pytest.raises(ParseError) as err:
        parse(path, {"delimiter": ";"})
    assert err.value.rule == "invalid options"


def test_a_row_for_an_indicator_the_dataset_does_not_feed_is_refused(tmp_path: Path) -> None:
    """Staging passes the dataset's catalogue indicators: a row no query reads is an error,
    never a number that silently disappears."""
    path = write(tmp_path, [DEATHS_2019, PERCEPTION_2021])
    assert [r["indicator_id"] for r in rows_of(path, {"indicators": [6, 9]})] == ["9", "6"]
    with pytest.raises(ParseError) as err:
        rows_of(path, {"indicators": [9]})
    assert err.value.rule == "indicator_id" and err.value.line == 5
    assert "indicator 6 is not one of the dataset's indicators [9]" in str(err.value)
