"""Eurostat TSV (bulk download / SDMX 2.1 and 3.0 `format=TSV` / Data Browser "TSV" export).

Layout, one line per series::

    freq,iccs,unit,geo\\TIME_PERIOD<TAB>2008 <TAB>2009 ...
    A,ICCS0601,NR,AT<TAB>28931 <TAB>: <TAB>8.3 bep<TAB>: c ...

- The first header cell lists the dimension codes separated by commas, then the time key
  after a backslash (`geo\\TIME_PERIOD`, older `geo\\time`) or, in other exports, a slash
  (`GEO/TIME_PERIOD`, `geo/time`). Dimension names are lowercased; the time key is kept in
  `attributes["time_key"]` as published.
- Period header cells carry a trailing space (`2008 `): they are stripped.
- Each data cell is a value, then optionally whitespace and flag letters: `88 ` (note the
  trailing space even without a flag), `8.3 bep`, `0.11 d`, `: c`, `:`. `:` is a missing
  value. A cell with a value or a flag becomes a row (`: c` -> value None, flags "c"); a bare
  `:` is no row at all. Series with no data are left out by the publisher.
- Flags are combinations of the single letters of Eurostat's OBS_FLAG code list (composite
  codes such as `bep` are listed there as codes of their own), plus the letters `i` and `r`
  of the pre-2023 flag list, which older files still carry.
- Files may be gzipped, CRLF (the Data Browser exports are), or start with a UTF-8 BOM.

Rows: each dimension -> code, `period`, `value` (float | None), `value_text` None, `flags`
(str | None), `note` None, `line` (1-based physical line of the series; header = line 1).
The file is streamed line by line: `parse` reads only the header, `rows` reopens the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

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

# Single letters of ESTAT/OBS_FLAG (b break, c confidential, d definition differs, e estimated,
# f forecast, n not significant, p provisional, s Eurostat estimate, u low reliability,
# z not applicable) plus the legacy i (see metadata) and r (revised).
FLAG_LETTERS = frozenset("bcdefnpsuz") | frozenset("ir")

MISSING = ":"
# The time key after the backslash: `TIME_PERIOD` in the SDMX 2.1 and 3.0 APIs' TSV ("the time
# dimension code that is always TIME_PERIOD in SDMX standard", Eurostat, "API - FAQ - TSV data
# format", https://wikis.ec.europa.eu/x/c4eBBg, which documents one TSV format for both APIs:
# `freq,unit,s_adj,nace_r2,indic,geo\TIME_PERIOD`), `time` in older bulk files
# (../shared/upstream/README.md). Anything else is refused, not guessed.
TIME_KEYS = ("time_period", "time")
DIMENSION_CODE = re.compile(r"[a-z][a-z0-9_]*")
# A published number: optional sign, digits with an optional decimal part, optional exponent.
# Stricter than float(), which also takes "nan", "inf" and "1_000".

RULE_NOT_TSV = "not a Eurostat TSV"
RULE_HEADER = "header time separator"
RULE_CELLS = "cell count"
RULE_KEY = "series key"
RULE_VALUE = "non-numeric value"
RULE_FLAG = "unknown flag"


def split_cell(cell: str) -> tuple[str, str]:
    """Split a TSV cell into its value and flag parts: `"8.3 bep"` -> `("8.3", "bep")`."""
    parts = cell.split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1].strip() if len(parts) > 1 else ""


def check_flags(flags: str, allowed: frozenset[str] = FLAG_LETTERS) -> str | None:
    """Return the first character of `flags` that is not a known flag letter, else None."""
    return next((ch for ch in flags if ch not in allowed), None)


def _read_header(path: Path, encoding: str, limits: ReadLimits) -> tuple[list[str], str, list[str]]:
    """Return (dimensions, time_key, periods) from the first line, or raise ParseError."""
    with open_text(path, encoding, limits) as fh:
        first = fh.readline()
    header = first.rstrip("\r\n")
    probe = header.lstrip()
    if not probe:
        raise ParseError(path, RULE_NOT_TSV, "the file is empty or its first line is blank", line=1)
    if probe.startswith(("<", "{")):
        raise ParseError(path, RULE_NOT_TSV, f"looks like HTML/XML/JSON: {header[:60]!r}", line=1)
    cells = header.split("\t")
    key_cell = cells[0].strip()
    sep = "\\" if "\\" in key_cell else "/"
    dims_part, found, time_key = key_cell.rpartition(sep)
    if not found or not dims_part or not time_key.strip():
        raise ParseError(
            path,
            RULE_HEADER,
            f"first header cell {key_cell[:80]!r} is not 'dim,...,dim\\TIME' or 'dim/TIME'",
            line=1,
        )
    if time_key.strip().lower() not in TIME_KEYS:
        raise ParseError(
            path,
            RULE_HEADER,
            f"time key {time_key.strip()[:40]!r} in {key_cell[:80]!r} is none of the "
            "documented TIME_PERIOD or time: a header this parser does not know is refused",
            line=1,
        )
    dims = [d.strip().lower() for d in dims_part.split(",")]
    if any(not d for d in dims) or len(set(dims)) != len(dims):
        raise ParseError(path, RULE_HEADER, f"empty or repeated dimension in {dims_part!r}", 1)
    odd = [d for d in dims if not DIMENSION_CODE.fullmatch(d)]
    if odd:
        raise ParseError(
            path, RULE_HEADER, f"dimension codes {odd} are not codes (labels?) in {dims_part!r}", 1
        )
    periods = [p.strip() for p in cells[1:]]
    if not periods or any(not p for p in periods) or len(set(periods)) != len(periods):
        raise ParseError(path, RULE_HEADER, "missing, empty or repeated period columns", line=1)
    return dims, time_key.strip(), periods


def _rows(
    path: Path, encoding: str, dims: list[str], periods: list[str], limits: ReadLimits
) -> Iterator[dict[str, Any]]:
    with open_text(path, encoding, limits) as fh:
        fh.readline()  # header, already validated
        for line_no, raw in enumerate(fh, start=2):
            yield from line_rows(path, raw, line_no, dims, periods)


def line_rows(
    path: Path, raw: str, line_no: int, dims: list[str], periods: list[str]
) -> Iterator[dict[str, Any]]:
    """The observations of one data line (none for a blank line); ParseError on a bad one."""
    line = raw.rstrip("\r\n")
    if not line.strip():
        return
    n_cells = len(periods) + 1
    cells = line.split("\t")
    if len(cells) != n_cells:
        raise ParseError(path, RULE_CELLS, f"{len(cells)} cells, the header has {n_cells}", line_no)
    codes = [c.strip() for c in cells[0].split(",")]
    if len(codes) != len(dims) or not all(codes):
        raise ParseError(
            path,
            RULE_KEY,
            f"series key {cells[0]!r} does not give the {len(dims)} dimensions {','.join(dims)}",
            line_no,
        )
    key = dict(zip(dims, codes, strict=True))
    for period, cell in zip(periods, cells[1:], strict=True):
        text, flags = split_cell(cell)
        if text == MISSING:
            value = None
        else:
            value = parse_number(text)
            if value is None:
                raise ParseError(
                    path, RULE_VALUE, f"{period}: {cell!r} is neither a number nor ':'", line_no
                )
        bad = check_flags(flags)
        if bad is not None:
            raise ParseError(
                path,
                RULE_FLAG,
                f"{period}: flag {bad!r} in {cell!r} is not an OBS_FLAG letter",
                line_no,
            )
        if value is None and not flags:
            continue
        yield {
            **key,
            base.PERIOD: period,
            base.VALUE: value,
            base.VALUE_TEXT: None,
            base.FLAGS: flags or None,
            base.NOTE: None,
            base.LINE: line_no,
        }


def read_header(path: Path, encoding: str, limits: ReadLimits) -> tuple[list[str], str, list[str]]:
    """(dimensions, time_key, periods) of the file's first line; ParseError if it is not a
    Eurostat TSV header."""
    return _read_header(path, encoding, limits)


@guarded
def parse(path: Path, options: Mapping[str, Any], limits: ReadLimits | None = None) -> ParsedFile:
    """Parse a Eurostat TSV file: header now, observations lazily (see module docstring)."""
    path = Path(path)
    limits = limits or ReadLimits()
    encoding = options.get("encoding") or detect_encoding(path, limits=limits)
    dims, time_key, periods = _read_header(path, encoding, limits)
    return ParsedFile(
        dimensions=dims,
        rows=_rows(path, encoding, dims, periods, limits),
        attributes={"time_key": time_key, "encoding": encoding},
    )
