"""Eurostat SDMX-CSV 1.0 and 2.0 (API `format=SDMX-CSV` / `format=csvdata&formatVersion=2.0`,
Data Browser "SDMX-CSV" exports).

One observation per row::

    DATAFLOW,LAST UPDATE,freq,<dims...>,TIME_PERIOD,OBS_VALUE,OBS_FLAG[,CONF_STATUS,...]
    STRUCTURE,STRUCTURE_ID[,STRUCTURE_NAME][,ACTION],freq,<dims...>,TIME_PERIOD,OBS_VALUE,...

- SDMX-CSV 2.0 starts with `STRUCTURE,STRUCTURE_ID`. The Data Browser's 2.0 export adds
  `STRUCTURE_NAME` and a label column after every column (`freq,Time frequency,...,
  TIME_PERIOD,Time,OBS_VALUE,Observation value,OBS_FLAG,...`): the code columns are read,
  the label columns are left out. `STRUCTURE_ID` goes into `attributes["dataflow"]`.
- The labels variant (values `Annual`, `Austria`) is mapped back to codes with the bundled
  Eurostat code lists (pipelines/codelists.py). A dimension without a bundled list, or a
  label the list does not have, is a ParseError (rule "labels variant") naming the
  dimension: download the codes variant instead. Option `keep_labels: true` keeps the
  labels as published (to inspect a file, never for staging).

- Dimensions are the columns between `LAST UPDATE` (or `DATAFLOW` when there is no
  `LAST UPDATE`; or the first column when there is neither) and `TIME_PERIOD`, lowercased.
- Three variants exist. Codes (`A`, `AT`); labels (`Annual`, `Austria`; the Data Browser
  default and the variant of the real samples); and both, where the header and the values
  read `freq:Time frequency` / `A:Annual`. For "both" (and any value shaped `CODE:Label`)
  the code part is kept. `attributes["variant"]` is "codes", "labels" or "both": labels
  when a dimension value of the first data row does not look like a Eurostat code (codes
  are upper-case letters, digits, `_`, `-`, `.`; e.g. freq `Annual` instead of `A`).
  Option `codes_only: true` makes the labels variant a ParseError (rule "labels variant").
- An empty OBS_VALUE with a flag is a row with value None (`,,u`); an empty value with no
  flag is no row. Flags are kept as published (`b e p u d bu bd`).
- Attribute columns after TIME_PERIOD other than OBS_VALUE/OBS_FLAG (newer responses add
  `CONF_STATUS`) go into `note` as `COLUMN=value` joined by "; ", leaving out the default
  `CONF_STATUS=F` (free). A non-empty note also makes an empty cell a row, so a confidential
  cell (`CONF_STATUS=C`, no value) is kept, with flag `c`, as a `: c` cell of the TSV is.
- `DATAFLOW` and `LAST UPDATE` of the first data row go into `attributes`.
- CRLF (the real samples), UTF-8 BOM and gzip are handled; the file is streamed with the csv
  module. `line` is the 1-based physical line where the record starts (header = line 1).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pipelines.codelists import DIMENSION_CODELISTS, label_index
from pipelines.parsers import base
from pipelines.parsers.base import (
    ParsedFile,
    ParseError,
    ReadLimits,
    detect_encoding,
    guarded,
    open_text,
    parse_number,
)

TIME_PERIOD = "TIME_PERIOD"
OBS_VALUE = "OBS_VALUE"
OBS_FLAG = "OBS_FLAG"
DATAFLOW = "DATAFLOW"
LAST_UPDATE = "LAST UPDATE"
CONF_STATUS = "CONF_STATUS"
STRUCTURE = "STRUCTURE"
STRUCTURE_PREFIX = ("STRUCTURE", "STRUCTURE_ID", "STRUCTURE_NAME", "ACTION")

RULE_NOT_CSV = "not an SDMX-CSV"
RULE_COLUMNS = "missing column"
RULE_RAGGED = "field count"
RULE_VALUE = "non-numeric value"
RULE_LABELS = "labels variant"

CODE_RE = re.compile(r"[A-Z0-9][A-Z0-9_.\-]*")
CODE_LABEL_RE = re.compile(r"([A-Z0-9][A-Z0-9_.\-]*)\s*:\s*(.*)", re.DOTALL)


def column_id(name: str) -> str:
    """`freq:Time frequency` -> `freq`; `LAST UPDATE` stays as it is."""
    return name.split(":", 1)[0].strip()


def code_of(value: str, both: bool) -> str:
    """The code part of a `CODE:Label` value; any other value as it is (stripped)."""
    value = value.strip()
    if both and ":" in value:
        return value.split(":", 1)[0].strip()
    match = CODE_LABEL_RE.fullmatch(value)
    return match.group(1) if match else value


class _Layout:
    """Column positions resolved from the header row."""

    def __init__(self, path: Path, header: list[str]) -> None:
        if not header or not any(h.strip() for h in header):
            raise ParseError(path, RULE_NOT_CSV, "the file is empty", line=1)
        if header[0].lstrip().startswith(("<", "{")):
            raise ParseError(path, RULE_NOT_CSV, f"looks like HTML/XML/JSON: {header[0][:60]!r}", 1)
        self.ids = [column_id(h) for h in header]
        self.both = any(":" in h for h in header)
        upper = [i.upper() for i in self.ids]
        for required in (TIME_PERIOD, OBS_VALUE):
            if required not in upper:
                raise ParseError(
                    path, RULE_COLUMNS, f"no {required} column in header {header!r}", line=1
                )
        self.time = upper.index(TIME_PERIOD)
        self.value = upper.index(OBS_VALUE)
        self.flag = upper.index(OBS_FLAG) if OBS_FLAG in upper else None
        self.version = "2.0" if upper[0] == STRUCTURE else "1.0"
        # The Data Browser's 2.0 export: every column is followed by its label column.
        self.paired = self.version == "2.0" and upper[self.time + 1 : self.time + 2] != [OBS_VALUE]
        labels = {i + 1 for i in range(len(header) - 1)} if self.paired else set()
        if self.version == "2.0":
            self.dataflow = upper.index("STRUCTURE_ID") if "STRUCTURE_ID" in upper else None
            self.last_update = None
            prefix = [i for i, u in enumerate(upper[:4]) if u in STRUCTURE_PREFIX]
            start = max(prefix)
            labels = {i + 1 for i in range(start + 1, len(header) - 1, 2)} if self.paired else set()
        else:
            self.dataflow = upper.index(DATAFLOW) if DATAFLOW in upper else None
            self.last_update = upper.index(LAST_UPDATE) if LAST_UPDATE in upper else None
            start = max((i for i in (self.dataflow, self.last_update) if i is not None), default=-1)
        self.dims = [i for i in range(start + 1, self.time) if i not in labels]
        self.names = [self.ids[i].lower() for i in self.dims]
        taken = {self.time, self.value, self.flag, self.dataflow, self.last_update, *self.dims}
        taken |= set(range(start + 1)) | labels
        self.extras = [i for i in range(len(header)) if i not in taken]
        self.width = len(header)
        self.label_maps: dict[int, dict[str, str]] = {}
        self.header_line = 1  # the physical line of the header record (set by read_layout)

    def variant(self, row: list[str]) -> str:
        if self.both:
            return "both"
        values = [row[i].strip() for i in self.dims]
        if any(CODE_LABEL_RE.fullmatch(v) for v in values):
            return "both"
        return "codes" if all(CODE_RE.fullmatch(v) for v in values) else "labels"

    def confidential(self, row: list[str]) -> bool:
        """Whether CONF_STATUS says C (confidential): such a cell has no OBS_VALUE."""
        return any(
            self.ids[i].upper() == CONF_STATUS and code_of(row[i].strip(), True) == "C"
            for i in self.extras
        )

    def note(self, row: list[str]) -> str | None:
        parts = []
        for i in self.extras:
            text = row[i].strip()
            if text and not (self.ids[i].upper() == CONF_STATUS and code_of(text, True) == "F"):
                parts.append(f"{self.ids[i]}={text}")
        return "; ".join(parts) or None


def _code(path: Path, layout: _Layout, name: str, i: int, raw: str, line: int) -> str:
    """The code of one dimension cell; in the labels variant, the code its label stands for."""
    if i not in layout.label_maps:
        return code_of(raw, layout.both)
    label = raw.strip()
    code = layout.label_maps[i].get(label)
    if code is None:
        raise ParseError(
            path,
            RULE_LABELS,
            f"dimension {name}: label {label!r} is not in Eurostat's "
            f"{DIMENSION_CODELISTS[name].upper()} code list; download the file with codes "
            "(SDMX-CSV 'codes' / labels=id, or TSV) instead",
            line,
        )
    return code


def _label_maps(path: Path, layout: _Layout, line: int) -> dict[int, dict[str, str]]:
    """{column: {label: code}} for the labels variant; refuses dimensions with no code list."""
    maps: dict[int, dict[str, str]] = {}
    missing = []
    for name, i in zip(layout.names, layout.dims, strict=True):
        index = label_index(name)
        if index is None:
            missing.append(name)
        else:
            maps[i] = index
    if missing:
        raise ParseError(
            path,
            RULE_LABELS,
            f"dimension values are labels (e.g. 'Annual', 'Austria'), and the project has no "
            f"Eurostat code list for dimension(s) {', '.join(missing)} to map them back to "
            "codes; download the codes variant (SDMX-CSV with codes / labels=id, or TSV)",
            line,
        )
    return maps


def _records(path: Path, encoding: str, limits: ReadLimits) -> Iterator[tuple[int, list[str]]]:
    """Yield (start line, fields) for every non-blank CSV record, header included."""
    with open_text(path, encoding, limits) as fh:
        reader = csv.reader(fh)
        end = 0
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ParseError(path, RULE_NOT_CSV, str(exc), reader.line_num) from exc
            start, end = end + 1, reader.line_num
            if record and any(f.strip() for f in record):
                yield start, record


def _rows(
    path: Path, encoding: str, layout: _Layout, limits: ReadLimits
) -> Iterator[dict[str, Any]]:
    records = _records(path, encoding, limits)
    next(records)  # header, already resolved
    for line, row in records:
        out = row_of(path, layout, line, row)
        if out is not None:
            yield out


def row_of(path: Path, layout: _Layout, line: int, row: list[str]) -> dict[str, Any] | None:
    """The observation of one non-blank data record (None: an empty cell, no row); raises
    the ParseError of a record that breaks a rule."""
    if len(row) != layout.width:
        raise ParseError(
            path, RULE_RAGGED, f"{len(row)} fields, the header has {layout.width}", line
        )
    text = row[layout.value].strip()
    flags = row[layout.flag].strip() if layout.flag is not None else ""
    note = layout.note(row)
    if not text and "c" not in flags and layout.confidential(row):
        flags += "c"  # the TSV of the same data writes this cell `: c`
    value = parse_number(text) if text else None
    if text and value is None:
        raise ParseError(path, RULE_VALUE, f"OBS_VALUE {text!r} is not a number", line)
    if value is None and not flags and note is None:
        return None
    out: dict[str, Any] = {
        name: _code(path, layout, name, i, row[i], line)
        for name, i in zip(layout.names, layout.dims, strict=True)
    }
    out.update(
        {
            base.PERIOD: code_of(row[layout.time], layout.both),
            base.VALUE: value,
            base.VALUE_TEXT: None,
            base.FLAGS: flags or None,
            base.NOTE: note,
            base.LINE: line,
        }
    )
    return out


@guarded
def parse(path: Path, options: Mapping[str, Any], limits: ReadLimits | None = None) -> ParsedFile:
    """Parse an SDMX-CSV file: header and first row now, observations lazily."""
    return read_layout(path, options, limits)[0]


def read_layout(
    path: Path,
    options: Mapping[str, Any],
    limits: ReadLimits | None = None,
    encoding: str | None = None,
) -> tuple[ParsedFile, _Layout]:
    """The file's header and first data row, resolved: (the parsed file, with its rows still
    to read, and the column layout). `encoding` (else the option, else detected)."""
    path = Path(path)
    limits = limits or ReadLimits()
    encoding = encoding or options.get("encoding") or detect_encoding(path, limits=limits)
    records = _records(path, encoding, limits)
    try:
        header_line, header = next(records, (1, []))
        layout = _Layout(path, header)
        layout.header_line = header_line
        first = next(records, None)
    finally:
        records.close()
    attributes: dict[str, Any] = {
        "encoding": encoding,
        "variant": None,
        "sdmx_csv_version": layout.version,
    }
    if first is not None:
        line, row = first
        if len(row) != layout.width:
            raise ParseError(
                path, RULE_RAGGED, f"{len(row)} fields, the header has {layout.width}", line
            )
        attributes["variant"] = layout.variant(row)
        if layout.dataflow is not None:
            attributes["dataflow"] = row[layout.dataflow].strip()
        if layout.last_update is not None:
            attributes["last_update"] = row[layout.last_update].strip()
        if attributes["variant"] == "labels":
            if options.get("codes_only"):
                raise ParseError(
                    path, RULE_LABELS, "dimension values are labels, codes were expected", line
                )
            if not options.get("keep_labels"):
                layout.label_maps = _label_maps(path, layout, line)
    if layout.extras:
        attributes["attribute_columns"] = [layout.ids[i] for i in layout.extras]
    parsed = ParsedFile(
        dimensions=layout.names, rows=_rows(path, encoding, layout, limits), attributes=attributes
    )
    return parsed, layout
