"""EMCDDA/EUDA Statistical Bulletin table exports (XLSX, one sheet).

Layout of an export (row numbers 1-based)::

    1   (empty)
    2   Overdose deaths  >  Trends  >  National definition  >  Number of deaths  >  Male
    3   (empty)
    4   Country | 2017.0 | 2016.0 | ...              <- header: first non-empty row after A2
    5   Austria * | 125.0 | 127.0 | ...
        ...
        (blank row)
        (1) National definitions usually refer to ...  <- footnotes, one cell each
        (13) United Kingdom: The UK has made ...<br>1) ...

The header starts with `Country`; the rest decides the layout (`attributes["table_layout"]`):

- `years_as_columns`: year headers (`2017.0`, any order, any number), optionally after a
  `Study` column (price/purity tables: `Country, Study, 2017.0, ...`). period = the year.
- `year_column`: a `Year` column (or another name from `year_columns`, e.g. `Year of
  Treatment`) plus value columns (`Sample size, Males, Females, Total`); period = the year
  cell (None when that cell is empty), dimension `column` = the value column's header.
- `columns_only`: neither years nor a year column (e.g. OST providers: `Country, (METHADONE)
  pharmacies, ...`); dimension `column` = the header, period = `options["period"]` or None.

Dimensions, always all four (None where not applicable): `country` (label without the
trailing `*`, which only says "see the notes"), `subnational` (`Belgium-A` -> country
"Belgium", subnational "A"; `UK - Wales` -> "UK", "Wales"), `study` (the `Study` cell),
`column` (header of a non-year value column, HTML entities decoded: `&lt;15` -> `<15`).

Cells: a number is `value`; an empty or whitespace-only cell gives no row; any other text
(`Y`, `Y (i)`, `-`) is a row with value None and `value_text` = the stripped text, never
dropped. Footnotes `(n) Country: text` (`<br>` -> newline; a repeated `Country: Country:`
prefix is dropped) go to the `note` of every row of that country (or of that sub-national label,
`Belgium-A: ...`), joined with newlines, as
`(n) text`; footnotes naming no country of the table (general notes, `-:`, `Notes:`) go to
`attributes["footnotes"]`; `attributes["country_notes"]` keeps every country's joined notes
(also for countries without a value). `flags` is always None; `line` is the sheet row.

Options (all optional): `sheet` (index or name, default 0), `country_column` ("Country"),
`study_column` ("Study"), `year_columns` (["Year", "Year of Treatment", "Year of survey"]),
`layout` (expected layout; a different one is "layout drift"), `period` (for columns_only),
`subnational_pattern` (regex with groups `country` and `subnational`, default: split at the
first hyphen).

`rules` (the catalogue's breadcrumb rules): `match_rule(measure_path, rules)` maps the
breadcrumb to catalogue data, the first rule whose `prefix` is a prefix of the measure path
(case- and whitespace-insensitive); it goes to `attributes["rule"]`.
"""

from __future__ import annotations

import html
import re
import struct
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from python_calamine import CalamineWorkbook

from pipelines.parsers.base import (
    FLAGS,
    LINE,
    NOTE,
    PERIOD,
    VALUE,
    VALUE_TEXT,
    LimitExceeded,
    ParsedFile,
    ParseError,
    ReadLimits,
    guarded,
    parse_number,
    validate_options,
)
from pipelines.parsers.tabular_csv import compile_regex

DIMENSIONS: list[str] = ["country", "subnational", "study", "column"]
LAYOUT_YEARS = "years_as_columns"
LAYOUT_YEAR_COLUMN = "year_column"
LAYOUT_COLUMNS = "columns_only"
LAYOUTS = (LAYOUT_YEARS, LAYOUT_YEAR_COLUMN, LAYOUT_COLUMNS)

BREADCRUMB_ROW = 1  # 0-based index of row 2
BREADCRUMB_SEP = re.compile(r"\s+>\s+")  # not `\s*`: a part may read `>=65`
DEFAULT_SUBNATIONAL = r"(?P<country>[^-]+?)\s*-\s*(?P<subnational>.+)"
FOOTNOTE_RE = re.compile(r"\((?P<number>\d+)\)\s*(?P<text>.*)", re.DOTALL)
PREFIX_RE = re.compile(r"(?P<prefix>[^:\n]{1,80}?)\s*:\s*(?P<rest>.*)", re.DOTALL)
STAR = "*"

RULE_OPTIONS = "invalid options"
RULE_BREADCRUMB = "no breadcrumb"
RULE_DRIFT = "layout drift"
RULE_COUNTRY = "missing country"
RULE_YEAR = "bad year"
RULE_TRAILER = "unexpected content after table"
RULE_UNMAPPED = "unmapped breadcrumb"


class BulletinOptions(BaseModel):
    """`parser_options` of a Statistical Bulletin table (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    sheet: int | str = 0
    country_column: str = "Country"
    study_column: str = "Study"
    year_columns: list[str] = Field(
        default_factory=lambda: ["Year", "Year of Treatment", "Year of survey"]
    )
    layout: str | None = None
    period: str | None = None
    subnational_pattern: str = DEFAULT_SUBNATIONAL
    # the catalogue's breadcrumb rules (BulletinRule fields): the one that matches the
    # table goes to `attributes["rule"]`; none matching is an "unmapped breadcrumb"
    rules: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> BulletinOptions:
        if self.layout is not None and self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, not {self.layout!r}")
        groups = compile_regex(self.subnational_pattern).groupindex
        if not {"country", "subnational"} <= set(groups):
            raise ValueError("subnational_pattern needs groups `country` and `subnational`")
        return self


def load_options(options: Mapping[str, Any], file: Path | str) -> BulletinOptions:
    """Validate `parser_options`; a mistake is a ParseError "invalid options"."""
    return validate_options(BulletinOptions, options, file)


def cell_text(cell: object) -> str:
    """A cell as stripped text: floats that are whole numbers lose their `.0`."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return str(cell).upper()
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime | date):
        return cell.isoformat()
    return str(cell).strip()


def is_blank(row: Sequence[object]) -> bool:
    return not any(cell_text(c) for c in row)


def year_of(cell: object) -> str | None:
    """`2017.0` or `"2017"` -> `"2017"`; None if the cell is not a plausible year."""
    text = cell_text(cell)
    if re.fullmatch(r"\d{4}", text) and 1900 <= int(text) <= 2100:
        return text
    return None


def split_breadcrumb(text: str) -> list[str]:
    """`"Overdose deaths  >  Trends"` -> `["Overdose deaths", "Trends"]` (empty parts dropped)."""
    return [part for part in BREADCRUMB_SEP.split(text.strip()) if part]


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def match_rule(
    measure_path: Sequence[str], rules: Sequence[Mapping[str, Any]], file: Path | str = "-"
) -> Mapping[str, Any]:
    """The first rule whose `prefix` (list of breadcrumb parts) starts `measure_path`.

    Parts compare case- and whitespace-insensitively. No match: ParseError "unmapped
    breadcrumb" naming the breadcrumb.
    """
    path = [_norm(p) for p in measure_path]
    for rule in rules:
        prefix = [_norm(p) for p in rule.get("prefix", [])]
        if prefix and path[: len(prefix)] == prefix:
            return rule
    raise ParseError(
        file, RULE_UNMAPPED, f"no rule matches breadcrumb {'  >  '.join(measure_path)!r}"
    )


@dataclass(frozen=True)
class Layout:
    """What each header column is: the country, study, year and value columns."""

    name: str
    header: list[str]
    study: int | None
    year: int | None
    values: list[tuple[int, str | None, str | None]]  # (index, period, column label)


def classify_header(
    header_row: Sequence[object], opts: BulletinOptions, file: Path | str, line: int
) -> Layout:
    """Decide the layout from the header row; anything unrecognised is "layout drift"."""
    header = [cell_text(c) for c in header_row]
    while header and not header[-1]:
        header.pop()
    if not header or header[0] != opts.country_column:
        raise ParseError(
            file, RULE_DRIFT, f"header must start with {opts.country_column!r}: {header}", line
        )
    names = [h for h in header[1:] if h]
    duplicates = sorted(h for h, n in Counter(names).items() if n > 1)
    if duplicates:
        raise ParseError(file, RULE_DRIFT, f"duplicate columns {duplicates}: {header}", line)
    if "" in header:
        raise ParseError(file, RULE_DRIFT, f"empty column header inside {header}", line)

    study = header.index(opts.study_column) if opts.study_column in header else None
    year_cols = [i for i, h in enumerate(header) if h in opts.year_columns]
    if len(year_cols) > 1:
        raise ParseError(file, RULE_DRIFT, f"more than one year column: {header}", line)
    year = year_cols[0] if year_cols else None
    rest = [i for i in range(1, len(header)) if i not in (study, year)]
    years = [i for i in rest if year_of(header_row[i]) is not None]
    others = [i for i in rest if i not in years]

    if years and year is None and not others:
        name = LAYOUT_YEARS
        values = [(i, year_of(header_row[i]), None) for i in years]
    elif year is not None and not years and others:
        name = LAYOUT_YEAR_COLUMN
        values = [(i, None, html.unescape(header[i]).strip()) for i in others]
    elif year is None and not years and others:
        name = LAYOUT_COLUMNS
        values = [(i, opts.period, html.unescape(header[i]).strip()) for i in others]
    else:
        raise ParseError(
            file,
            RULE_DRIFT,
            "expected year headers, or a year column with value columns, "
            f"or value columns alone; found header {header}",
            line,
        )
    if opts.layout is not None and name != opts.layout:
        raise ParseError(
            file, RULE_DRIFT, f"expected layout {opts.layout}, found {name}: {header}", line
        )
    return Layout(name, header, study, year, values)


def _unstar(label: str) -> str:
    """A country label without its trailing ` *` ("see the notes") marker."""
    label = label.strip()
    return label[: -len(STAR)].rstrip() if label.endswith(STAR) else label


def split_country(label: str, pattern: re.Pattern[str]) -> tuple[str, str | None]:
    """`"Belgium-A *"` -> `("Belgium", "A")`; `"Austria*"` -> `("Austria", None)`."""
    label = _unstar(label)
    match = pattern.fullmatch(label)
    if match:
        return match["country"].strip(), match["subnational"].strip()
    return label, None


def clean_footnote(text: str) -> str:
    """Footnote text with `<br>` as newline and HTML entities decoded, stripped."""
    return html.unescape(re.sub(r"<br\s*/?>", "\n", text, flags=re.IGNORECASE)).strip()


def parse_footnote(text: str) -> tuple[str | None, str]:
    """`"(13) United Kingdom: a<br>b"` -> `("United Kingdom", "(13) a\\nb")`.

    Returns the prefix as written (None if there is none; the caller decides whether it names
    a country) and the note text without the prefix. A repeated prefix (`"UK: UK: ..."`) is
    dropped as well.
    """
    text = clean_footnote(text)
    number = ""
    m = FOOTNOTE_RE.fullmatch(text)
    if m:
        number, text = f"({m['number']}) ", m["text"].strip()
    p = PREFIX_RE.fullmatch(text)
    if not p or not p["rest"].strip():
        return None, number + text
    prefix, rest = p["prefix"].strip(), p["rest"].strip()
    again = PREFIX_RE.fullmatch(rest)
    if again and _norm(again["prefix"]) == _norm(prefix) and again["rest"].strip():
        rest = again["rest"].strip()
    return prefix, number + rest


def collect_footnotes(
    rows: Sequence[Sequence[object]],
    first_line: int,
    countries: Mapping[str, str],
    file: Path | str,
) -> tuple[dict[str, str], list[str]]:
    """Sort the footnote rows below a table into per-country notes and unattached notes.

    `countries` maps normalised country names of the table to their labels. Returns the
    joined notes by normalised country name, and the footnotes naming no such country.
    """
    notes: dict[str, list[str]] = {}
    unattached: list[str] = []
    for line, row in enumerate(rows, first_line):
        cells = [cell_text(c) for c in row if cell_text(c)]
        if not cells:
            continue
        if len(cells) > 1:
            raise ParseError(
                file, RULE_TRAILER, f"footnote rows hold one cell, found {cells}", line=line
            )
        prefix, text = parse_footnote(cells[0])
        if prefix is not None and _norm(prefix) in countries:
            notes.setdefault(_norm(prefix), []).append(text)
        else:
            unattached.append(clean_footnote(cells[0]))
    return {country: "\n".join(texts) for country, texts in notes.items()}, unattached


def parse_rows(
    rows: Sequence[Sequence[object]], file: Path | str, options: Mapping[str, Any] | None = None
) -> ParsedFile:
    """Parse a Bulletin sheet given as a list of rows of cell values (the xlsx reader's output)."""
    opts = load_options(options or {}, file)
    pattern = re.compile(opts.subnational_pattern)

    has_a2 = len(rows) > BREADCRUMB_ROW and len(rows[BREADCRUMB_ROW]) > 0
    crumb = cell_text(rows[BREADCRUMB_ROW][0]) if has_a2 else ""
    parts = split_breadcrumb(crumb) if ">" in crumb else []
    if len(parts) < 2:
        raise ParseError(
            file, RULE_BREADCRUMB, f"cell A2 holds {crumb!r}, not `part  >  part ...`", line=2
        )
    start = next((i for i in range(BREADCRUMB_ROW + 1, len(rows)) if not is_blank(rows[i])), None)
    if start is None:
        raise ParseError(file, RULE_DRIFT, "no header row after the breadcrumb", line=3)
    layout = classify_header(rows[start], opts, file, start + 1)

    end = start + 1
    while end < len(rows) and not is_blank(rows[end]):
        end += 1
    data = rows[start + 1 : end]

    countries: dict[str, str] = {}  # footnotes may name a country or a sub-national label
    for r in data:
        if cell_text(r[0]):
            name, subnational = split_country(cell_text(r[0]), pattern)
            countries.setdefault(_norm(name), name)
            if subnational is not None:
                full = _unstar(cell_text(r[0]))
                countries.setdefault(_norm(full), full)
    notes, unattached = collect_footnotes(rows[end:], end + 1, countries, file)
    attributes: dict[str, Any] = {
        "breadcrumb": crumb,
        "measure_path": parts,
        "table_layout": layout.name,
        "header": layout.header,
        "footnotes": unattached,
        "country_notes": {countries[c]: text for c, text in notes.items()},
    }
    if opts.rules:
        attributes["rule"] = dict(match_rule(parts, opts.rules, file))
    return ParsedFile(
        dimensions=list(DIMENSIONS),
        rows=_rows(data, start + 2, layout, pattern, notes, file),
        attributes=attributes,
    )


def _rows(
    data: Sequence[Sequence[object]],
    first_line: int,
    layout: Layout,
    pattern: re.Pattern[str],
    notes: Mapping[str, str],
    file: Path | str,
) -> Iterator[dict[str, Any]]:
    width = len(layout.header)
    for line, row in enumerate(data, first_line):
        extra = [cell_text(c) for c in row[width:] if cell_text(c)]
        if extra:
            raise ParseError(file, RULE_DRIFT, f"cells beyond the header: {extra}", line)
        label = cell_text(row[0])
        if not label:
            raise ParseError(file, RULE_COUNTRY, "a data row without a country", line)
        country, subnational = split_country(label, pattern)
        own = [notes.get(_norm(country))]
        if subnational is not None:
            own.append(notes.get(_norm(_unstar(label))))
        note = "\n".join(n for n in own if n) or None
        study = (cell_text(row[layout.study]) or None) if layout.study is not None else None
        period_cell: str | None = None
        if layout.year is not None:
            text = cell_text(row[layout.year])
            period_cell = year_of(row[layout.year]) if text else None
            if text and period_cell is None:
                raise ParseError(file, RULE_YEAR, f"year cell holds {text!r}", line)
        for index, period, column in layout.values:
            cell = row[index] if index < len(row) else ""
            text = cell_text(cell)
            if not text:
                continue
            if isinstance(cell, int | float) and not isinstance(cell, bool):
                number: float | None = float(cell)
            else:
                number = parse_number(text)
            yield {
                "country": country,
                "subnational": subnational,
                "study": study,
                "column": column,
                PERIOD: period if layout.year is None else period_cell,
                VALUE: number,
                VALUE_TEXT: text if number is None else None,
                FLAGS: None,
                NOTE: note,
                LINE: line,
            }


def read_sheet(path: Path, sheet: int | str = 0) -> list[list[object]]:
    """All rows of one sheet as python values (python-calamine; openpyxl's read-only mode
    sees only the first row of these exports, whose sheet dimension is missing)."""
    workbook = CalamineWorkbook.from_path(str(path))
    if isinstance(sheet, int):
        return workbook.get_sheet_by_index(sheet).to_python()
    return workbook.get_sheet_by_name(sheet).to_python()


@guarded
def parse(path: Path, options: Mapping[str, Any], limits: ReadLimits | None = None) -> ParsedFile:
    """Parse one Statistical Bulletin XLSX export (see the module docstring)."""
    path = Path(path)
    opts = load_options(options, path)
    inspect_workbook(path, limits or ReadLimits())
    try:
        rows = read_sheet(path, opts.sheet)
    except Exception as exc:  # calamine raises its own error types for broken workbooks
        raise ParseError(path, "unreadable workbook", f"{type(exc).__name__}: {exc}") from None
    parsed = parse_rows(rows, path, options)
    parsed.attributes["sheet"] = opts.sheet
    return parsed


# -- limits, checked before calamine allocates anything ---------------------------------------
SHEET_MEMBER = re.compile(r"xl/worksheets/[^/]+\.xml")
DIMENSION_RE = re.compile(
    rb'<(?:\w+:)?dimension\b[^>]*?\bref="([A-Za-z]+)?(\d+)?(?::([A-Za-z]+)(\d+))?"'
)
CELL_REF_RE = re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Za-z]+)(\d+)"')
CELL_TAG_RE = re.compile(rb"<(?:\w+:)?c[\s/>]")
ROW_TAG_RE = re.compile(rb"<(?:\w+:)?row[\s/>]")
ROW_REF_RE = re.compile(rb'<(?:\w+:)?row\b[^>]*?\br="(\d+)"')
MAX_TAG_BYTES = 1 << 20
RULE_WORKBOOK = "unreadable workbook"
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError)


def column_number(letters: bytes) -> int:
    """`A` -> 1, `XFD` -> 16384."""
    number = 0
    for ch in letters.upper():
        number = number * 26 + ch - 64
    return number


def inspect_workbook(path: Path, limits: ReadLimits) -> None:
    """Refuse a workbook that would cost more than `limits` to read, before calamine sees it.

    Checks the ZIP central directory (a truncated file has none), every member's declared
    and actual uncompressed size and expansion ratio (members are read in bounded chunks;
    Python's zipfile stops at the declared size and checks the CRC), and for every sheet
    the cell grid it spans (its `<dimension ref>`, the largest cell and row references)
    and its cell count.
    """
    try:
        _inspect_archive(path, limits)
    except ParseError:
        raise
    # What Python's zipfile raises on damaged archives (fuzzing found OSError on a bad
    # offset, NotImplementedError on an unknown compression method).
    except (*ZIP_ERRORS, OSError, ValueError, NotImplementedError, struct.error) as exc:
        detail = f"not a readable ZIP archive: {type(exc).__name__}: {exc}"
        raise ParseError(path, RULE_WORKBOOK, detail) from None


def _inspect_archive(path: Path, limits: ReadLimits) -> None:
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        total = sum(m.file_size for m in members)
        if total > limits.max_decompressed_bytes:
            raise LimitExceeded(
                path,
                "max_decompressed_bytes",
                f"the members declare {total} bytes uncompressed "
                f"(limit {limits.max_decompressed_bytes})",
            )
        for member in members:
            _check_member_ratio(path, member, limits)
        for member in members:
            if SHEET_MEMBER.fullmatch(member.filename):
                _scan_sheet(path, archive, member, limits)
            else:
                _drain(archive, member)


def _check_member_ratio(path: Path, member: zipfile.ZipInfo, limits: ReadLimits) -> None:
    if member.file_size <= limits.ratio_check_after_bytes:
        return
    ratio = member.file_size / max(1, member.compress_size)
    if ratio > limits.max_expansion_ratio:
        raise LimitExceeded(
            path,
            "max_expansion_ratio",
            f"member {member.filename} expands {ratio:.0f}-fold "
            f"(limit {limits.max_expansion_ratio:g})",
        )


def _drain(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    """Read a member to its end (bounded by its declared size; the CRC is checked)."""
    with archive.open(member) as fh:
        while fh.read(1 << 16):
            pass


def _scan_sheet(
    path: Path, archive: zipfile.ZipFile, member: zipfile.ZipInfo, limits: ReadLimits
) -> None:
    """Stream a sheet's XML, tracking the grid it spans; refuse it past the limits."""
    rows = cols = cells = row_tags = 0
    tail = b""
    with archive.open(member) as fh:
        while chunk := fh.read(1 << 16):
            buffer = tail + chunk
            cut = buffer.rfind(b"<")  # an incomplete tag waits for the next chunk
            done, tail = (buffer[:cut], buffer[cut:]) if cut >= 0 else (buffer, b"")
            if len(tail) > MAX_TAG_BYTES:
                raise ParseError(path, RULE_WORKBOOK, f"{member.filename}: a tag over 1 MiB")
            for m in DIMENSION_RE.finditer(done):
                for letters, digits in ((m[1], m[2]), (m[3], m[4])):
                    if letters:
                        cols = max(cols, column_number(letters))
                    if digits:
                        rows = max(rows, int(digits))
            for m in CELL_REF_RE.finditer(done):
                cols = max(cols, column_number(m[1]))
                rows = max(rows, int(m[2]))
            for m in ROW_REF_RE.finditer(done):
                rows = max(rows, int(m[1]))
            cells += len(CELL_TAG_RE.findall(done))
            row_tags += len(ROW_TAG_RE.findall(done))
            _check_grid(path, member.filename, max(rows, row_tags), cols, cells, limits)
    _check_grid(path, member.filename, max(rows, row_tags), cols, cells, limits)


def _check_grid(
    path: Path, sheet: str, rows: int, cols: int, cells: int, limits: ReadLimits
) -> None:
    if rows > limits.max_sheet_rows:
        raise LimitExceeded(
            path, "max_sheet_rows", f"{sheet} spans {rows} rows (limit {limits.max_sheet_rows})"
        )
    if cols > limits.max_sheet_cols:
        raise LimitExceeded(
            path,
            "max_sheet_cols",
            f"{sheet} spans {cols} columns (limit {limits.max_sheet_cols})",
        )
    if rows * cols > limits.max_cells or cells > limits.max_cells:
        raise LimitExceeded(
            path,
            "max_cells",
            f"{sheet} spans {rows} x {cols} cells, holds {cells} (limit {limits.max_cells})",
        )
