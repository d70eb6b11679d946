"""Generic delimited-text parser for EUDA CSVs (wastewater, site tables, EDR source data).

One parser for any "one header line, then one line per record" CSV; which column plays which
part is catalogue data (`parser_options`), never code. Options:

`dimensions` (mapping header -> dimension name, snake_case)
    Columns that become dimensions. Cells are stripped and otherwise kept as published
    (code mapping such as `H` -> `HU` belongs to staging). An empty cell, or one listed in
    `dimension_missing`, is None.
`period` (header, optional)
    The column holding the period (`Year`, `Survey year`). Absent: period is None, unless
    `melt.to` is `period` or `melt.period_columns` names a period column. A period cell
    holding a `missing` marker (`‒` in an annex table's EU row) gives period None; the row
    is still emitted.
`value` (header) or `melt` (mapping) - exactly one of the two
    `value`: long format, one value column, one row per record.
    `melt`: wide format, each melted column gives its own row:
      `columns`: list of headers, or mapping header -> label; or `regex`: headers matching
        it (`re.search`, e.g. `"^\\d{4}$"`), in file order;
      `to`: `period` (the header is the period, e.g. year columns), or a dimension name
        that receives the column's label (`statistic`, `measure_column`, `attribute`);
      `slug` (default true): label = `slug(header)` (`"Weekday mean"` -> `weekday_mean`,
        `"Prevalence (%)"` -> `prevalence_pct`) unless `columns` maps it; `to: period`
        always keeps the header as published;
      `period_columns` (mapping melted header -> period header): a per-column period,
        e.g. `{"Previous value": "Previous year"}`; overrides `period` for that column.
`missing` (list, default `["", "NA", "N/A", "n/a", "..", "‒", "–", "—", "-"]`)
    Value cells meaning "no data": such a cell gives no row. `""` is always missing.
`dimension_missing` (list, default `[""]`): dimension cells meaning None (e.g. `["N/A"]`).
`zero_flag` (str, optional): flag for a value exactly 0 (`<LOQ`); the value stays 0.0.
`text_values` (list, optional): non-numeric codes kept as `value_text` (value None). Any
    other non-numeric value cell is a ParseError "non-numeric value". Numbers are strict:
    `15.53`, `3e+05`, `"32.799999999999997"`, but no thousands separators, `nan`, `inf`.
`text_pattern` (regex, optional): non-numeric value cells that fully match it are kept as
    `value_text` too (e.g. `<\\s*\\d+(\\.\\d+)?` for `< 1`, `< 0.01`).
`ignore` (list, optional): headers present in the file but deliberately not used.
`encoding` (optional): default detection (UTF-8 with or without BOM, else CP1252).
`delimiter` (optional): default sniffed from the header line among `,` `;` and tab.
`grouped_numbers` (bool, default false): a value cell whose digits are grouped by
    spaces or no-break spaces (`1 176 600`, as the EDR annex tables write counts) is read
    as the number without them. Commas or points are never taken as group separators.
`repair_mojibake` (true or list of dimension names, default false): repair UTF-8 text that
    was decoded as CP1252 once too often (`PlzeÅˆ` -> `Plzeň`) in those dimensions. Text
    that is not such a double encoding is left unchanged.

Layout drift: every header the options reference must exist and every header of the file
must be referenced, matched by `melt.regex` or listed in `ignore`; otherwise ParseError
"layout drift" naming the missing and the unexpected columns. A record with a different cell
count than the header is a ParseError "cell count"; blank records are skipped; a record
whose dimensions are all empty while it holds values is a ParseError "missing dimensions".

Rows: each dimension, `period` (str | None), `value`, `value_text`, `flags` (zero_flag or
None), `note` None, `line` (1-based physical line where the record starts; header = 1).
Input may be gzipped, CRLF or LF, with a BOM, fully or minimally quoted. `parse` reads only
the header; `rows` streams the file with the csv module.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipelines.parsers.base import (
    FLAGS,
    LINE,
    NOTE,
    PERIOD,
    ROW_KEYS,
    VALUE,
    VALUE_TEXT,
    ParsedFile,
    ParseError,
    ReadLimits,
    detect_encoding,
    guarded,
    open_text,
    parse_number,
    validate_options,
)

DEFAULT_MISSING: tuple[str, ...] = ("", "NA", "N/A", "n/a", "..", "‒", "–", "—", "-")
DELIMITERS: tuple[str, ...] = (",", ";", "\t")
GROUPED_NUMBER = re.compile(r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:\.\d+)?")
MELT_TO_PERIOD = "period"

NAME_RE = re.compile(r"[a-z][a-z0-9_]*")

RULE_OPTIONS = "invalid options"
RULE_DRIFT = "layout drift"
RULE_CELLS = "cell count"
RULE_VALUE = "non-numeric value"
RULE_DIMENSIONS = "missing dimensions"
RULE_EMPTY = "empty file"


def compile_regex(pattern: str) -> re.Pattern[str]:
    """Compile a regex from the catalogue; a bad one is a ValueError (pydantic reports it)."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"bad regex {pattern!r}: {exc}") from None


def slug(text: str) -> str:
    """Normalise a header to a snake_case label: `"Weekday mean"` -> `"weekday_mean"`.

    Accents are folded to ASCII and `%` becomes `pct` (`"Males (%)"` -> `"males_pct"`).
    """
    folded = unicodedata.normalize("NFKD", text.replace("%", " pct ").casefold())
    ascii_text = folded.encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "_", ascii_text).strip("_")


def repair_mojibake(text: str) -> str:
    """Undo one round of UTF-8 read as CP1252 (`"PlzeÅˆ"` -> `"Plzeň"`); else return text.

    Bytes CP1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) survive such a misreading as
    the control characters U+0081 ...; they map back to their byte.
    """
    if text.isascii():
        return text
    raw = bytearray()
    for ch in text:
        try:
            raw += ch.encode("cp1252")
        except UnicodeEncodeError:
            if ord(ch) > 0xFF:
                return text
            raw.append(ord(ch))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return text


class MeltOptions(BaseModel):
    """`parser_options.melt`: which columns to unpivot and where their headers go."""

    model_config = ConfigDict(extra="forbid")

    columns: list[str] | dict[str, str] | None = None
    regex: str | None = None
    to: str
    slug: bool = True
    period_columns: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> MeltOptions:
        if (self.columns is None) == (self.regex is None):
            raise ValueError("melt needs exactly one of `columns` and `regex`")
        if self.regex is not None:
            compile_regex(self.regex)
        if self.to != MELT_TO_PERIOD and not NAME_RE.fullmatch(self.to):
            raise ValueError(f"melt.to must be 'period' or a snake_case name, not {self.to!r}")
        if self.period_columns and self.to == MELT_TO_PERIOD:
            raise ValueError("melt.period_columns cannot be combined with to: period")
        if self.period_columns and self.columns is not None:
            unknown = sorted(set(self.period_columns) - set(self.columns))
            if unknown:
                raise ValueError(f"melt.period_columns names columns not melted: {unknown}")
        return self


class TabularOptions(BaseModel):
    """`parser_options` of a dataset read by this parser (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    dimensions: dict[str, str] = Field(default_factory=dict)
    period: str | None = None
    value: str | None = None
    melt: MeltOptions | None = None
    missing: list[str] = Field(default_factory=lambda: list(DEFAULT_MISSING))
    dimension_missing: list[str] = Field(default_factory=lambda: [""])
    zero_flag: str | None = None
    text_values: list[str] = Field(default_factory=list)
    ignore: list[str] = Field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    repair_mojibake: bool | list[str] = False
    grouped_numbers: bool = False
    text_pattern: str | None = None

    @model_validator(mode="after")
    def _check(self) -> TabularOptions:
        if (self.value is None) == (self.melt is None):
            raise ValueError("give exactly one of `value` (long format) and `melt` (wide format)")
        names = list(self.dimensions.values())
        if self.melt is not None and self.melt.to != MELT_TO_PERIOD:
            names.append(self.melt.to)
        for name in names:
            if not NAME_RE.fullmatch(name) or name in ROW_KEYS:
                raise ValueError(f"dimension name {name!r} must be snake_case and not reserved")
        if len(set(names)) != len(names):
            raise ValueError(f"dimension names must be unique: {names}")
        if self.period is not None and self.melt is not None and self.melt.to == MELT_TO_PERIOD:
            raise ValueError("`period` cannot be combined with melt.to: period")
        if self.text_pattern is not None:
            compile_regex(self.text_pattern)
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise ValueError("`delimiter` must be one character")
        if isinstance(self.repair_mojibake, list):
            unknown = sorted(set(self.repair_mojibake) - set(names))
            if unknown:
                raise ValueError(f"repair_mojibake names unknown dimensions: {unknown}")
        return self

    def dimension_names(self) -> list[str]:
        names = list(self.dimensions.values())
        if self.melt is not None and self.melt.to != MELT_TO_PERIOD:
            names.append(self.melt.to)
        return names


def load_options(options: Mapping[str, Any], file: Path | str) -> TabularOptions:
    """Validate `parser_options`; a mistake is a ParseError "invalid options"."""
    return validate_options(TabularOptions, options, file)


def sniff_delimiter(header_line: str) -> str:
    """The most frequent of `,` `;` and tab in the header line (`,` when none occurs)."""
    counts = [(header_line.count(d), -i, d) for i, d in enumerate(DELIMITERS)]
    best = max(counts)
    return best[2] if best[0] > 0 else ","


@dataclass(frozen=True)
class ValueColumn:
    """One column that yields observations: where it is, its label and its period column."""

    header: str
    index: int
    label: str | None  # dimension value for melt.to, or the period for to: period
    period_index: int | None


@dataclass(frozen=True)
class Plan:
    """How the columns of one concrete header map onto a row dict."""

    ncols: int
    dimensions: list[tuple[str, int]]  # (dimension name, column index)
    values: list[ValueColumn]
    melt_to: str | None


def plan_columns(header: list[str], opts: TabularOptions, file: Path | str) -> Plan:
    """Match the file header against the options; raise "layout drift" where they differ."""
    duplicates = sorted(h for h, n in Counter(header).items() if n > 1)
    if duplicates:
        raise ParseError(file, RULE_DRIFT, f"duplicate columns {duplicates}", line=1)
    index = {h: i for i, h in enumerate(header)}
    melt = opts.melt

    referenced: list[str] = list(opts.dimensions)
    if opts.period is not None:
        referenced.append(opts.period)
    if opts.value is not None:
        referenced.append(opts.value)
    melted: list[str] = []
    if melt is not None:
        referenced.extend(melt.period_columns.values())
        if melt.columns is not None:
            melted = list(melt.columns)
            referenced.extend(melted)
        else:
            pattern = re.compile(melt.regex or "")
            melted = [h for h in header if pattern.search(h) and h not in referenced]
            if not melted:
                raise ParseError(
                    file,
                    RULE_DRIFT,
                    f"no column matches melt regex {melt.regex!r}; header: {header}",
                    line=1,
                )
    used = set(referenced) | set(melted)
    missing = [h for h in dict.fromkeys(referenced) if h not in index]
    unexpected = [h for h in header if h not in used and h not in opts.ignore]
    if missing or unexpected:
        raise ParseError(
            file,
            RULE_DRIFT,
            f"missing columns {missing}; unexpected columns {unexpected}; header: {header}",
            line=1,
        )

    def period_index(column: str) -> int | None:
        if melt is not None and column in melt.period_columns:
            return index[melt.period_columns[column]]
        return index[opts.period] if opts.period is not None else None

    values: list[ValueColumn] = []
    if opts.value is not None:
        values.append(ValueColumn(opts.value, index[opts.value], None, period_index(opts.value)))
    else:
        assert melt is not None
        mapping = melt.columns if isinstance(melt.columns, dict) else {}
        for column in melted:
            if melt.to == MELT_TO_PERIOD:
                label = mapping.get(column, column)
            else:
                label = mapping.get(column) or (slug(column) if melt.slug else column)
            values.append(ValueColumn(column, index[column], label, period_index(column)))
        counts = Counter(v.label for v in values)
        clashes = sorted(str(lb) for lb, n in counts.items() if n > 1 or not lb)
        if clashes:
            raise ParseError(
                file, RULE_OPTIONS, f"melted columns give empty or shared labels {clashes}", line=1
            )
    return Plan(
        ncols=len(header),
        dimensions=[(name, index[h]) for h, name in opts.dimensions.items()],
        values=values,
        melt_to=melt.to if melt is not None else None,
    )


def read_header(
    path: Path, opts: TabularOptions, encoding: str, limits: ReadLimits
) -> tuple[list[str], str]:
    with open_text(path, encoding, limits) as fh:
        first = fh.readline()
    first = first.lstrip("\ufeff")
    if not first.strip():
        raise ParseError(path, RULE_EMPTY, "no header line", line=1)
    delimiter = opts.delimiter or sniff_delimiter(first)
    header = next(csv.reader([first], delimiter=delimiter))
    return [h.strip() for h in header], delimiter


@guarded
def parse(path: Path, options: Mapping[str, Any], limits: ReadLimits | None = None) -> ParsedFile:
    """Read the header of a delimited file, check it against `options`, stream its rows."""
    return read_plan(path, options, limits)[0]


@dataclass(frozen=True)
class FilePlan:
    """A file's header resolved against its options (what `parse` reads the rows with)."""

    opts: TabularOptions
    plan: Plan
    delimiter: str
    encoding: str


def read_plan(
    path: Path, options: Mapping[str, Any], limits: ReadLimits | None = None
) -> tuple[ParsedFile, FilePlan]:
    """(the parsed file, its rows still to read; how its columns are read)."""
    path = Path(path)
    limits = limits or ReadLimits()
    opts = load_options(options, path)
    encoding = opts.encoding or detect_encoding(path, limits=limits)
    header, delimiter = read_header(path, opts, encoding, limits)
    plan = plan_columns(header, opts, path)
    attributes: dict[str, Any] = {
        "encoding": encoding,
        "delimiter": delimiter,
        "header": header,
        "value_columns": [v.header for v in plan.values],
    }
    parsed = ParsedFile(
        dimensions=opts.dimension_names(),
        rows=_rows(path, opts, plan, encoding, delimiter, limits),
        attributes=attributes,
    )
    return parsed, FilePlan(opts, plan, delimiter, encoding)


def _rows(
    path: Path,
    opts: TabularOptions,
    plan: Plan,
    encoding: str,
    delimiter: str,
    limits: ReadLimits,
) -> Iterator[dict[str, Any]]:
    cells = CellRules.of(opts)
    with open_text(path, encoding, limits) as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        next(reader, None)  # header, already checked
        last_line = reader.line_num
        for record in reader:
            line, last_line = last_line + 1, reader.line_num
            yield from record_rows(path, opts, plan, cells, record, line)


@dataclass(frozen=True)
class CellRules:
    """The options' cell sets, computed once per file."""

    missing: frozenset[str]
    dim_missing: frozenset[str]
    text_values: frozenset[str]
    text_pattern: re.Pattern[str] | None
    repair: frozenset[str]

    @classmethod
    def of(cls, opts: TabularOptions) -> CellRules:
        if opts.repair_mojibake is True:
            repair = set(opts.dimension_names())
        else:
            repair = set(opts.repair_mojibake or [])
        return cls(
            frozenset(opts.missing) | {""},
            frozenset(opts.dimension_missing) | {""},
            frozenset(opts.text_values),
            re.compile(opts.text_pattern) if opts.text_pattern else None,
            frozenset(repair),
        )


def record_rows(
    path: Path,
    opts: TabularOptions,
    plan: Plan,
    cells: CellRules,
    record: list[str],
    line: int,
) -> Iterator[dict[str, Any]]:
    """The rows of one record (none for a blank one); raises the ParseError of a record
    that breaks a rule."""
    if not any(cell.strip() for cell in record):
        return
    if len(record) != plan.ncols:
        raise ParseError(
            path, RULE_CELLS, f"{len(record)} cells, header has {plan.ncols}", line=line
        )
    dims: dict[str, Any] = {}
    for name, i in plan.dimensions:
        text = record[i].strip()
        if text in cells.dim_missing:
            dims[name] = None
        else:
            dims[name] = repair_mojibake(text) if name in cells.repair else text
    if plan.dimensions and all(v is None for v in dims.values()):
        raise ParseError(path, RULE_DIMENSIONS, "a record with values but no dimension", line=line)
    for column in plan.values:
        text = record[column.index].strip()
        if text in cells.missing:
            continue
        if opts.grouped_numbers and GROUPED_NUMBER.fullmatch(text):
            text = re.sub(r"[ \u00a0\u202f]", "", text)
        number = parse_number(text)
        if (
            number is None
            and text not in cells.text_values
            and not (cells.text_pattern and cells.text_pattern.fullmatch(text))
        ):
            raise ParseError(
                path, RULE_VALUE, f"column {column.header!r} holds {text!r}", line=line
            )
        row = dict(dims)
        if plan.melt_to is not None and plan.melt_to != MELT_TO_PERIOD:
            row[plan.melt_to] = column.label
        row[PERIOD] = _period(record, column, plan, cells.missing)
        row[VALUE] = number
        row[VALUE_TEXT] = text if number is None else None
        row[FLAGS] = opts.zero_flag if number == 0 and opts.zero_flag else None
        row[NOTE] = None
        row[LINE] = line
        yield row


def _period(
    record: list[str], column: ValueColumn, plan: Plan, missing: frozenset[str]
) -> str | None:
    """The period of one value cell: the melted header, or its period column's cell."""
    if plan.melt_to == MELT_TO_PERIOD:
        return column.label
    if column.period_index is None:
        return None
    text = record[column.period_index].strip()
    return None if text in missing else text
