"""The EUDA delimited tables (`tabular_csv`, and the EDR source-data CSVs of `edr_csv`, read
by the same generic rules) staged by DuckDB itself: one statement over the
file's lines, with the rules of `tabular_csv` (see its docstring).

What Python still does: the header, the options and the table rule (`tabular_csv.read_plan`,
`edr_csv.read_table`, so every header and layout error is the same), the read limits
(`eurostat_sql.prepass`) and the error of the first bad record (`tabular_csv.record_rows` on
that line's fields).

The engine takes a UTF-8 file whose records are its lines (see parsers.csv_sql); the few
distinct texts `repair_mojibake` changes are repaired by Python and mapped in SQL. The
Python parser keeps any other file: not UTF-8 (the CP1252 wastewater tables), a record over
several lines, whitespace SQL's trim does not strip as Python does (no-break spaces, also in
grouped numbers), a known-but-unused EDR table (no rows), a `text_pattern` the engine's
regular expressions do not compile, and a cell the engine's rules refuse but Python's take
(a digit of another script).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from pipelines.catalogue import ReadLimits
from pipelines.parsers import csv_sql, edr_csv, eurostat_sql, tabular_csv
from pipelines.parsers.base import NUMBER_RE, READ_ERRORS, ParsedFile, read_error
from pipelines.parsers.eurostat_sql import GEO, Target, _lit, _mapped, _q

if TYPE_CHECKING:
    from pipelines.catalogue import Dataset
    from pipelines.geo import GeoResolver

ERROR_MARK = "eudap-bad-table-record"
GROUPED = r"\d{1,3}(?: \d{3})+(?:\.\d+)?"  # tabular_csv.GROUPED_NUMBER on ASCII text


@dataclass(frozen=True)
class Header:
    parsed: ParsedFile
    file: tabular_csv.FilePlan
    constants: dict[str, Any] = field(default_factory=dict)  # EDR: every row's constants
    unit_column: str | None = None
    reference_period: str | None = None


def read_header(path: Path, options: dict[str, Any], limits: ReadLimits) -> Header | None:
    """A tabular_csv file's plan when DuckDB may stage it (None: the Python parser)."""
    return _header(path, limits, lambda: _tabular(path, options, limits))


def read_edr_header(path: Path, options: dict[str, Any], limits: ReadLimits) -> Header | None:
    """An EDR table's plan when DuckDB may stage it (None: the Python parser)."""
    return _header(path, limits, lambda: _edr(path, options, limits))


def _tabular(path: Path, options: dict[str, Any], limits: ReadLimits) -> Header:
    parsed, plan = tabular_csv.read_plan(path, options, limits)
    return Header(parsed, plan)


def _edr(path: Path, options: dict[str, Any], limits: ReadLimits) -> Header | None:
    table = edr_csv.read_table(path, options, limits)
    if table.inner is None:
        return None  # known but unused: no rows
    return Header(
        table.parsed, table.inner, table.constants, table.unit_column, table.reference_period
    )


def _header(path: Path, limits: ReadLimits, read: Any) -> Header | None:
    if not eurostat_sql.prepass(path, limits):
        return None
    try:
        header: Header | None = read()
    except READ_ERRORS as exc:
        raise read_error(path, exc) from exc
    if header is None or header.file.encoding.replace("_", "-").lower() not in (
        "utf-8-sig",
        "utf-8",
        "utf8",
    ):
        return None
    return header


def _in(expr: str, values: frozenset[str] | set[str]) -> str:
    if not values:
        return "false"
    return f"{expr} IN ({', '.join(_lit(v) for v in sorted(values))})"


def select_sql(ds: Dataset, header: Header, sha256: str, repairs: dict[str, str]) -> str:
    """The one query that gives the staged rows of the file from LINES (and GEO, for a geo
    dimension), each column named as in the staging table, in the Python parser's row
    order (record, then value column)."""
    judged, columns, exprs, geo_join = _judged_sql(ds, header, sha256, repairs)
    named = ", ".join(f"{e} AS {_q(c)}" for c, e in zip(columns, exprs, strict=True))
    return judged + f"SELECT {named} FROM judged {geo_join} ORDER BY line, c.k"


def _judged_sql(
    ds: Dataset, header: Header, sha256: str, repairs: dict[str, str]
) -> tuple[str, list[str], list[str], str]:
    """The CTEs down to `judged` (one row per value cell kept, `bad` where a rule breaks),
    the staged columns, their expressions over `judged`, and the geo join. `repairs`: the
    texts `repair_mojibake` changes (see `_repairs`)."""
    opts, plan = header.file.opts, header.file.plan
    cells = tabular_csv.CellRules.of(opts)
    strip = csv_sql.strip

    def f(i: int) -> str:
        return strip(f"f[{i + 1}]")

    row_dims: dict[str, str] = {}
    for name, i in plan.dimensions:
        text = _mapped(f(i), repairs) if name in cells.repair else f(i)
        row_dims[name] = f"CASE WHEN {_in(f(i), cells.dim_missing)} THEN NULL ELSE {text} END"
    all_null = " AND ".join(f"({e}) IS NULL" for e in row_dims.values()) or "false"
    # one struct per value column, in the parser's order: its cell, label and period
    structs = []
    for k, column in enumerate(plan.values):
        if plan.melt_to == tabular_csv.MELT_TO_PERIOD:
            period = _lit(str(column.label))
        elif column.period_index is None:
            period = "NULL::VARCHAR"
        else:
            p = f(column.period_index)
            period = f"CASE WHEN {_in(p, cells.missing)} THEN NULL ELSE {p} END"
        label = _lit(str(column.label)) if column.label is not None else "NULL::VARCHAR"
        structs.append(
            f"{{'k': {k}, 't': {f(column.index)}, 'label': {label}, 'period': {period}, "
            f"'header': {_lit(column.header)}}}"
        )
    text = "c.t"
    if opts.grouped_numbers:
        grouped = f"regexp_full_match(c.t, {_lit(GROUPED)})"
        text = f"CASE WHEN {grouped} THEN replace(c.t, ' ', '') ELSE c.t END"
    is_text = (
        " OR ".join(
            p
            for p in (
                _in("t", cells.text_values) if cells.text_values else "",
                f"regexp_full_match(t, {_lit(opts.text_pattern)})" if opts.text_pattern else "",
            )
            if p
        )
        or "false"
    )
    # the staged dimensions: the record's, else the EDR rule's constants, else NULL
    values: dict[str, str] = {n: _q("d_" + n) for n in row_dims}
    if plan.melt_to is not None and plan.melt_to != tabular_csv.MELT_TO_PERIOD:
        values[plan.melt_to] = "label"
    for key, constant in header.constants.items():
        if key not in values:
            values[key] = _lit(str(constant)) if constant is not None else "NULL::VARCHAR"
    if header.unit_column is not None:
        values["unit"] = values.get(header.unit_column, "NULL::VARCHAR")
    columns: list[str] = []
    exprs: list[str] = []
    geo_join = ""
    for dim in ds.dimensions:
        raw = values.get(dim, "NULL::VARCHAR")
        mapped = _mapped(raw, ds.code_maps.get(dim, {}))
        if dim == ds.geo_dimension:
            columns += ["geo_raw", "geo", "geo_level"]
            exprs += [raw, "g.code", "g.level"]
            geo_join = f"LEFT JOIN {GEO} g ON g.code = {mapped}"
        else:
            columns.append(dim)
            exprs.append(mapped)
    period = "period"  # as edr_csv (reference_period), then staging (default_period) fill it
    if header.reference_period is not None:
        period = f"coalesce(period, {_lit(header.reference_period)})"
    if ds.default_period is not None:
        period = f"coalesce(nullif({period}, ''), {_lit(ds.default_period)})"
    zero = f"CASE WHEN number = 0 THEN {_lit(opts.zero_flag)} END" if opts.zero_flag else "NULL"
    columns += ["period", "value", "value_text", "flags", "note", "line"]
    columns += ["source_dataset", "snapshot_sha256"]
    exprs += [
        period,
        f"CASE WHEN bad THEN error({_lit(ERROR_MARK)}) ELSE number END",
        "CASE WHEN number IS NULL THEN t END",
        zero,
        "NULL",
        "line",
        _lit(ds.id),
        _lit(sha256),
    ]
    dims_sql = "".join(f", {e} AS {_q('d_' + n)}" for n, e in row_dims.items())
    return (
        csv_sql.records_sql(header.file.delimiter, first_line=1)
        + f""",
    judged_records AS (
        SELECT line, len(f) <> {plan.ncols} OR ({all_null}) AS line_bad,
               CASE WHEN len(f) = {plan.ncols} THEN [{", ".join(structs)}]
                    ELSE [NULL] END AS cs{dims_sql}
        FROM records
    ),
    cells AS (
        SELECT * EXCLUDE (cs), unnest(cs) AS c FROM judged_records
    ),
    numbered AS (
        SELECT *, {text} AS t, c.label AS label, c.period AS period,
               line_bad OR c IS NULL AS bad0, {_in("c.t", cells.missing)} AS missing
        FROM cells
    ),
    valued AS (
        SELECT *, CASE WHEN regexp_full_match(t, {_lit(NUMBER_RE.pattern)})
                       THEN CAST(t AS DOUBLE) END AS number
        FROM numbered WHERE bad0 OR NOT missing
    ),
    judged AS (
        SELECT *, bad0 OR (number IS NULL AND NOT ({is_text})) AS bad FROM valued
    )
    """,
        columns,
        exprs,
        geo_join,
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
        if not csv_sql.engine_reads(con, header.file.delimiter, ascii_only=False):
            return None
        return select_sql(ds, header, sha256, _repairs(con, header))

    return eurostat_sql.stage_lines(
        con,
        target,
        ds,
        path,
        geo,
        statement=statement,
        error_mark=ERROR_MARK,
        raise_first_bad=lambda: _raise_first_bad(con, path, ds, header),
    )


def _repairs(con: duckdb.DuckDBPyConnection, header: Header) -> dict[str, str]:
    """{text: repaired} for the non-ASCII cells of the dimensions `repair_mojibake` applies
    to, where `tabular_csv.repair_mojibake` changes them (few distinct texts: computed in
    Python, applied in SQL)."""
    opts, plan = header.file.opts, header.file.plan
    repair = tabular_csv.CellRules.of(opts).repair
    columns = [i for name, i in plan.dimensions if name in repair]
    if not columns:
        return {}
    texts = " UNION ".join(
        f"SELECT DISTINCT {csv_sql.strip(f'f[{i + 1}]')} AS t FROM records "
        f"WHERE len(f) = {plan.ncols}"
        for i in columns
    )
    found = con.execute(
        csv_sql.records_sql(header.file.delimiter, first_line=1)
        + f" SELECT t FROM ({texts}) WHERE regexp_matches(t, {_lit(csv_sql.NON_ASCII)})"
    ).fetchall()
    repaired = {t: tabular_csv.repair_mojibake(t) for (t,) in found}
    return {t: r for t, r in repaired.items() if r != t}


def _raise_first_bad(
    con: duckdb.DuckDBPyConnection, path: Path, ds: Dataset, header: Header
) -> None:
    """Raise the Python parser's error for the first record SQL found bad; return when
    Python accepts it (the caller falls back to the Python parser)."""
    judged = _judged_sql(ds, header, "", _repairs(con, header))[0]
    found = con.execute(
        judged + " SELECT line, any_value(l) FROM judged JOIN records USING (line) "
        "WHERE bad GROUP BY line ORDER BY line LIMIT 1"
    ).fetchone()
    if found is None:
        return
    line, text = found
    opts, plan = header.file.opts, header.file.plan
    record = next(csv.reader([text], delimiter=header.file.delimiter))
    cells = tabular_csv.CellRules.of(opts)
    for _ in tabular_csv.record_rows(path, opts, plan, cells, record, int(line)):
        pass
