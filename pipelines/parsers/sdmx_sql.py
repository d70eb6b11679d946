"""Eurostat SDMX-CSV staged by DuckDB itself: one statement over the file's
lines, with the rules of `sdmx_csv` (see its docstring); this module only moves the work
into the engine, as `eurostat_sql` does for the TSV.

What Python still does: the read limits and the UTF-8 check (`eurostat_sql.prepass`), the
header and the first data row (`sdmx_csv.read_layout`, so every header error is the same),
and the error of the first bad record (`sdmx_csv.row_of` on that line's text).

The engine takes a file whose records are its lines: the file is read one line per row
(`eurostat_sql.lines`, so `line` is the physical line) and each line is split into
its fields (on commas; with a regular expression where the line has quoted fields). A file
that needs more than that is left to the Python parser: a quote the csv module would read
otherwise (inside a field, or a quoted field that runs on to the next line), a NUL byte,
whitespace that SQL's trim does not strip as Python's `str.strip()` does, the labels
variant (mapped back to codes by the bundled code lists), `keep_labels`, or a file with no
data row.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from pipelines.catalogue import ReadLimits
from pipelines.parsers import csv_sql, eurostat_sql, sdmx_csv
from pipelines.parsers.base import NUMBER_RE, READ_ERRORS, ParsedFile, read_error
from pipelines.parsers.eurostat_sql import GEO, Target, _lit, _mapped, _q

if TYPE_CHECKING:
    from pipelines.catalogue import Dataset
    from pipelines.geo import GeoResolver

ERROR_MARK = "eudap-bad-record"
CODE_PREFIX = r"^[A-Z0-9][A-Z0-9_.\-]*"


@dataclass(frozen=True)
class Header:
    parsed: ParsedFile
    layout: sdmx_csv._Layout


def read_header(path: Path, options: dict[str, Any], limits: ReadLimits) -> Header | None:
    """The file's layout when DuckDB may stage it (None: use the Python parser)."""
    encoding = str(options.get("encoding") or "utf-8").replace("_", "-").lower()
    if encoding not in ("utf-8", "utf8", "utf-8-sig") or options.get("keep_labels"):
        return None
    if not eurostat_sql.prepass(path, limits):
        return None
    try:
        parsed, layout = sdmx_csv.read_layout(path, options, limits, encoding="utf-8-sig")
    except READ_ERRORS as exc:
        raise read_error(path, exc) from exc
    if parsed.attributes["variant"] not in ("codes", "both") or layout.label_maps:
        return None
    return Header(parsed, layout)


_strip = csv_sql.strip


def _code(expr: str, both: bool) -> str:
    """sdmx_csv.code_of in SQL (on a stripped text)."""
    if both:
        first = _strip(f"split_part({expr}, ':', 1)")
        return f"(CASE WHEN contains({expr}, ':') THEN {first} ELSE {expr} END)"
    labelled = _lit(CODE_PREFIX + r"\s*:")
    return (
        f"(CASE WHEN contains({expr}, ':') AND regexp_matches({expr}, {labelled}) "
        f"THEN regexp_extract({expr}, {_lit(CODE_PREFIX)}) ELSE {expr} END)"
    )


def select_sql(ds: Dataset, header: Header, sha256: str) -> str:
    """The one query that gives the staged rows of the file from LINES (and GEO, for a geo
    dimension), each column named as in the staging table."""
    lay = header.layout

    def field(i: int) -> str:
        return _strip(f"f[{i + 1}]")

    extras = []
    confidential = []
    for i in lay.extras:
        name = lay.ids[i]
        text = field(i)
        if name.upper() == sdmx_csv.CONF_STATUS:
            code = _code(text, True)
            confidential.append(f"{code} = 'C'")
            extras.append(
                f"CASE WHEN {text} <> '' AND {code} <> 'F' THEN {_lit(name + '=')} || {text} END"
            )
        else:
            extras.append(f"CASE WHEN {text} <> '' THEN {_lit(name + '=')} || {text} END")
    note = f"nullif(concat_ws('; ', {', '.join(extras)}), '')" if extras else "NULL::VARCHAR"
    conf = " OR ".join(confidential) or "false"
    flag = field(lay.flag) if lay.flag is not None else "''"
    dims: list[str] = []
    columns: list[str] = []
    exprs: list[str] = []
    geo_join = ""
    for name, i in zip(lay.names, lay.dims, strict=True):
        dims.append(f"{_code(field(i), lay.both)} AS {_q('d_' + name)}")
    for dim in ds.dimensions:
        code = _q("d_" + dim)
        mapped = _mapped(code, ds.code_maps.get(dim, {}))
        if dim == ds.geo_dimension:
            columns += ["geo_raw", "geo", "geo_level"]
            exprs += [code, "g.code", "g.level"]
            geo_join = f"LEFT JOIN {GEO} g ON g.code = {mapped}"
        else:
            columns.append(dim)
            exprs.append(mapped)
    default = _lit(ds.default_period) if ds.default_period is not None else "NULL"
    columns += ["period", "value", "value_text", "flags", "note", "line"]
    columns += ["source_dataset", "snapshot_sha256"]
    exprs += [
        f"coalesce(nullif(period, ''), {default})",
        f"CASE WHEN bad THEN error({_lit(ERROR_MARK)}) WHEN text = '' THEN NULL "
        "ELSE CAST(text AS DOUBLE) END",
        "NULL",
        "nullif(flags, '')",
        "note",
        "line",
        _lit(ds.id),
        _lit(sha256),
    ]
    number = _lit(NUMBER_RE.pattern)
    named = ", ".join(f"{e} AS {_q(c)}" for c, e in zip(columns, exprs, strict=True))
    return (
        csv_sql.records_sql(",", first_line=lay.header_line)
        + f""",
    fields AS (
        SELECT line, len(f) AS n, {field(lay.value)} AS text, {flag} AS flags0,
               {note} AS note, ({conf}) AS conf, {", ".join(dims)},
               {_code(field(lay.time), lay.both)} AS period
        FROM records
    ),
    judged AS (
        SELECT *, n <> {lay.width} OR (text <> '' AND NOT regexp_full_match(text, {number}))
                  AS bad,
               CASE WHEN text = '' AND NOT contains(flags0, 'c') AND conf THEN flags0 || 'c'
                    ELSE flags0 END AS flags
        FROM fields
    )
    SELECT {named} FROM judged {geo_join}
    WHERE bad OR NOT (text = '' AND flags = '' AND note IS NULL)"""
    )


def insert(
    con: duckdb.DuckDBPyConnection,
    target: Target,
    ds: Dataset,
    header: Header,
    path: Path,
    sha256: str,
    geo: GeoResolver,
) -> int | None:
    """Stage the file into `target`; the row count, or None when the Python parser must do
    it. Raises ParseError naming the first bad record."""

    def statement() -> str | None:
        if not csv_sql.engine_reads(con, ",", ascii_only=False):
            return None
        return select_sql(ds, header, sha256)

    return eurostat_sql.stage_lines(
        con,
        target,
        ds,
        path,
        geo,
        statement=statement,
        error_mark=ERROR_MARK,
        raise_first_bad=lambda: _raise_first_bad(con, path, header),
    )


def _raise_first_bad(con: duckdb.DuckDBPyConnection, path: Path, header: Header) -> None:
    """Raise the Python parser's error for the first bad record; return when the Python
    rules find nothing wrong there (the caller falls back to the Python parser)."""
    lay = header.layout
    found = con.execute(
        csv_sql.records_sql(",", first_line=lay.header_line)
        + f"""
        SELECT line, l FROM records
        WHERE len(f) <> {lay.width}
           OR NOT regexp_full_match({_strip(f"f[{lay.value + 1}]")},
                                    {_lit("(?:" + NUMBER_RE.pattern + ")?")})
        ORDER BY line LIMIT 1"""
    ).fetchone()
    if found is None:
        return
    line, text = found
    sdmx_csv.row_of(path, lay, int(line), next(csv.reader([text])))
