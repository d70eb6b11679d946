"""The project's curated CSVs (`assets/curated/*.csv`): published figures with citations.

Figures that have no machine-readable feed are typed in by hand from published documents.
Each row carries its own citation, so a number can always be traced back to where it was
printed. The schema is fixed (column order free, every column present, no other column)::

    indicator_id,measure,geo,period,value,unit,substance,sex,age,breakdown,value_qualifier,
    question_wording,document,edition,table_or_page,url,accessed,confidence,note

Per row:
- required: `indicator_id` (integer 1-12), `measure`, `geo`, `period`, `value` (a plain
  number: the qualifier of ">5,100" goes to `value_qualifier`, the value column holds 5100),
  `unit`; and the citation: `document`, `edition`, `table_or_page`, `url` (http/https),
  `accessed` (YYYY-MM-DD), `confidence` (`P` seen on the publisher's page, `S` secondary).
  A missing citation field is a ParseError "citation required" naming the line and field.
- optional: `substance`, `sex`, `age`, `breakdown`, `question_wording`, `note`,
  `value_qualifier` (one of `>`, `~`, `<`, `>=`, `<=`).
- lines starting with `#` (outside a quoted field) are comments; the comment lines before
  the header are kept as `attributes["description"]`.

Rows: dimensions `indicator_id` (normalised: "9"), `measure`, `geo`, `unit`, `substance`,
`sex`, `age`, `breakdown`, `question_wording`, `document`, `edition`, `table_or_page`, `url`,
`accessed`, `confidence`, `value_qualifier` (empty -> None), so the citation travels with
every row; `period`; `value`; `value_text` None; `flags` = the value qualifier; `note`;
`line` (1-based physical line). Options: `encoding` (default detection) and `indicators`
(staging passes the dataset's catalogue `indicators`): a row for any other indicator is a
ParseError naming the line, since no indicator query would read it.
"""

from __future__ import annotations

import csv
import re
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from pipelines.parsers.base import (
    FLAGS,
    LINE,
    NOTE,
    PERIOD,
    VALUE,
    VALUE_TEXT,
    ParsedFile,
    ParseError,
    ReadLimits,
    detect_encoding,
    guarded,
    open_text,
    parse_number,
)

COLUMNS: tuple[str, ...] = (
    "indicator_id",
    "measure",
    "geo",
    "period",
    "value",
    "unit",
    "substance",
    "sex",
    "age",
    "breakdown",
    "value_qualifier",
    "question_wording",
    "document",
    "edition",
    "table_or_page",
    "url",
    "accessed",
    "confidence",
    "note",
)
CITATION: tuple[str, ...] = (
    "document",
    "edition",
    "table_or_page",
    "url",
    "accessed",
    "confidence",
)
REQUIRED: tuple[str, ...] = ("indicator_id", "measure", "geo", "period", "value", "unit")
DIMENSIONS: list[str] = [
    "indicator_id",
    "measure",
    "geo",
    "unit",
    "substance",
    "sex",
    "age",
    "breakdown",
    "question_wording",
    "document",
    "edition",
    "table_or_page",
    "url",
    "accessed",
    "confidence",
    "value_qualifier",
]
QUALIFIERS = frozenset({">", "~", "<", ">=", "<="})
CONFIDENCE = frozenset({"P", "S"})
INDICATORS = range(1, 13)
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
URL_RE = re.compile(r"https?://\S+")

RULE_OPTIONS = "invalid options"
RULE_DRIFT = "layout drift"
RULE_CELLS = "cell count"
RULE_CITATION = "citation required"
RULE_REQUIRED = "required field"
RULE_INDICATOR = "indicator_id"
RULE_VALUE = "non-numeric value"
RULE_QUALIFIER = "value qualifier"
RULE_URL = "citation url"
RULE_DATE = "citation date"
RULE_CONFIDENCE = "confidence"


class _Lines:
    """Feed csv.reader the lines of a file, skipping `#` comment lines between records.

    Keeps the physical line number of every line handed to the reader, so a record can cite
    the line it starts on (after comments and multi-line quoted fields) from the reader's own
    count of lines consumed: the quote heuristic that spots comments never decides a line.
    """

    def __init__(self, lines: Iterable[str]):
        self._lines = iter(lines)
        self.lineno = 0
        self._fed: deque[int] = deque()  # physical line numbers not yet claimed by a record
        self._claimed = 0  # lines the reader consumed for earlier records
        self.comments: list[tuple[int, str]] = []
        self._in_quotes = False

    def __iter__(self) -> Iterator[str]:
        for line in self._lines:
            self.lineno += 1
            if not self._in_quotes and line.startswith("#"):
                self.comments.append((self.lineno, line[1:].strip()))
                continue
            if line.count('"') % 2:
                self._in_quotes = not self._in_quotes
            self._fed.append(self.lineno)
            yield line

    def record_start(self, consumed: int) -> int:
        """The physical line where the record just read began; `consumed` is the reader's
        `line_num` after reading it."""
        start = self._fed[0] if self._fed else self.lineno
        while self._claimed < consumed and self._fed:
            self._fed.popleft()
            self._claimed += 1
        return start


def _check_options(options: Mapping[str, Any], file: Path) -> str | None:
    unknown = sorted(set(options) - {"encoding", "indicators"})
    if unknown:
        raise ParseError(
            file, RULE_OPTIONS, f"unknown options {unknown}; only `encoding`, `indicators`"
        )
    return options.get("encoding")


@guarded
def parse(path: Path, options: Mapping[str, Any], limits: ReadLimits | None = None) -> ParsedFile:
    """Check the header of a curated CSV and stream its validated rows."""
    path = Path(path)
    limits = limits or ReadLimits()
    encoding = _check_options(options, path) or detect_encoding(path, limits=limits)
    with open_text(path, encoding, limits) as fh:
        lines = _Lines(fh)
        reader = csv.reader(lines)
        header = [h.strip() for h in next(reader, [])]
        header_line = lines.record_start(reader.line_num)
        description = "\n".join(text for _, text in lines.comments)
    _check_header(header, path, header_line)
    indicators = options.get("indicators")
    return ParsedFile(
        dimensions=list(DIMENSIONS),
        rows=_rows(path, encoding, header, limits, indicators),
        attributes={"encoding": encoding, "header": header, "description": description},
    )


def _check_header(header: list[str], file: Path, line: int) -> None:
    if not any(header):
        raise ParseError(file, RULE_DRIFT, "no header line", line)
    missing = [c for c in COLUMNS if c not in header]
    unexpected = [h for h in header if h not in COLUMNS]
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if missing or unexpected or duplicates:
        raise ParseError(
            file,
            RULE_DRIFT,
            f"missing columns {missing}; unexpected columns {unexpected}; "
            f"duplicate columns {duplicates}",
            line,
        )


def _rows(
    path: Path,
    encoding: str,
    header: list[str],
    limits: ReadLimits,
    indicators: list[int] | None,
) -> Iterator[dict[str, Any]]:
    with open_text(path, encoding, limits) as fh:
        lines = _Lines(fh)
        reader = csv.reader(lines)
        next(reader, None)
        lines.record_start(reader.line_num)
        for record in reader:
            line = lines.record_start(reader.line_num)
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                raise ParseError(
                    path, RULE_CELLS, f"{len(record)} cells, header has {len(header)}", line
                )
            cells = {h: c.strip() for h, c in zip(header, record, strict=True)}
            row = validate_row(cells, path, line)
            if indicators is not None and int(row["indicator_id"]) not in indicators:
                raise ParseError(
                    path,
                    RULE_INDICATOR,
                    f"indicator {row['indicator_id']} is not one of the dataset's indicators "
                    f"{sorted(indicators)}: no indicator query reads it (list the dataset "
                    "under that indicator's datasets and read it in its SQL)",
                    line,
                )
            yield row


def validate_row(cells: Mapping[str, str], file: Path | str, line: int) -> dict[str, Any]:
    """Check one curated record (column -> stripped text) and turn it into a row dict."""
    for column in CITATION:
        if not cells[column]:
            raise ParseError(file, RULE_CITATION, f"{column!r} is empty", line)
    for column in REQUIRED:
        if not cells[column]:
            raise ParseError(file, RULE_REQUIRED, f"{column!r} is empty", line)
    indicator = cells["indicator_id"]
    if not indicator.isdigit() or int(indicator) not in INDICATORS:
        raise ParseError(file, RULE_INDICATOR, f"{indicator!r} is not an integer 1-12", line)
    value = parse_number(cells["value"])
    if value is None:
        raise ParseError(
            file,
            RULE_VALUE,
            f"value {cells['value']!r} is not a plain number (put >, ~ ... in value_qualifier)",
            line,
        )
    qualifier = cells["value_qualifier"] or None
    if qualifier is not None and qualifier not in QUALIFIERS:
        raise ParseError(
            file, RULE_QUALIFIER, f"{qualifier!r} is not one of {sorted(QUALIFIERS)}", line
        )
    if not URL_RE.fullmatch(cells["url"]):
        raise ParseError(file, RULE_URL, f"{cells['url']!r} is not an http(s) URL", line)
    _check_date(cells["accessed"], file, line)
    if cells["confidence"] not in CONFIDENCE:
        raise ParseError(file, RULE_CONFIDENCE, f"{cells['confidence']!r} is not one of P, S", line)

    row: dict[str, Any] = {name: cells[name] or None for name in DIMENSIONS}
    row["indicator_id"] = str(int(indicator))
    row[PERIOD] = cells["period"]
    row[VALUE] = value
    row[VALUE_TEXT] = None
    row[FLAGS] = qualifier
    row[NOTE] = cells["note"] or None
    row[LINE] = line
    return row


def _check_date(text: str, file: Path | str, line: int) -> None:
    try:
        if not DATE_RE.fullmatch(text):
            raise ValueError
        date.fromisoformat(text)
    except ValueError:
        raise ParseError(
            file, RULE_DATE, f"accessed {text!r} is not a YYYY-MM-DD date", line
        ) from None
