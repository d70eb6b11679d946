"""The SQL shared by the delimited-text formats DuckDB stages (sdmx_sql, tabular_sql): a
file read one line per row (`eurostat_sql.lines`, so `line` is the physical line),
each line split into its fields as Python's csv module splits it, and the test that sends a
file the engine would read otherwise to the Python parser.

A line is split on the delimiter; a line with a quote is split with a regular expression
that takes quoted fields (a doubled quote inside stands for one) and unquoted ones. A line
with a quote that is not such a sequence of fields (a quote inside an unquoted field, a
quoted field that runs on to the next line) makes the whole file the Python parser's, as do
a NUL byte and whitespace SQL's trim does not strip as Python's `str.strip()` does.
"""

from __future__ import annotations

import duckdb

from pipelines.parsers.eurostat_sql import LINES, _lit

# What SQL's trim strips here, as str.strip() does; any other character str.strip() strips
# (ODD) sends the file to the Python parser.
SPACE = " \t\r\x0c"
ODD = (
    "[\\x00\\x0b\\x1c-\\x1f\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}"
    "\\x{202f}\\x{205f}\\x{3000}]"
)
NON_ASCII = "[^\\x00-\\x7f]"


def strip(expr: str) -> str:
    """str.strip() of a text with no ODD character."""
    return f"trim({expr}, {_lit(SPACE)})"


def _field(delimiter: str) -> str:
    d = delimiter.replace("\\", "\\\\")
    return f'"(?:[^"]|"")*"|[^"{d}]*'


def engine_reads(con: duckdb.DuckDBPyConnection, delimiter: str, *, ascii_only: bool) -> bool:
    """Whether every line of LINES splits in SQL as the csv module splits it (and, with
    `ascii_only`, is ASCII)."""
    field = _field(delimiter)
    well_quoted = f"(?:{field})(?:{delimiter}(?:{field}))*"
    odd = f"({ODD}|{NON_ASCII})" if ascii_only else ODD
    row = con.execute(
        f"SELECT coalesce(bool_or(regexp_matches(l, {_lit(odd)}) OR (contains(l, '\"') "
        f"AND NOT regexp_full_match(l, {_lit(well_quoted)}))), false) FROM {LINES}"
    ).fetchone()
    return row is not None and not row[0]


def records_sql(delimiter: str, *, first_line: int | None = None) -> str:
    """CTE `records (line, l, f)`: every record after the header with its fields `f`,
    blank records (every field empty after strip) left out. The header is physical line
    `first_line`, or (None) the first non-blank record."""
    field = _field(delimiter)
    d = _lit(delimiter)
    pattern = _lit(delimiter + "(" + field + ")")
    split = (
        f"CASE WHEN NOT contains(l, '\"') THEN string_split(l, {d}) "
        f"ELSE list_transform(regexp_extract_all({d} || l, {pattern}, 1), "
        "lambda x: CASE WHEN starts_with(x, '\"') "
        "THEN replace(substr(x, 2, length(x) - 2), '\"\"', '\"') ELSE x END) END"
    )
    # Without a quote, a line is blank when it is only delimiters and spaces (cheap); with
    # one, when every field is empty after strip.
    blank = (
        f"CASE WHEN l IS NULL THEN true "
        f"WHEN NOT contains(l, '\"') THEN ltrim(l, {_lit(SPACE + delimiter)}) = '' "
        f"ELSE NOT list_bool_or(list_transform(f, lambda x: {strip('x')} <> '')) END"
    )
    header = (
        f"SELECT {first_line} AS header"
        if first_line is not None
        else f"SELECT min(line) AS header FROM split WHERE NOT ({blank})"
    )
    return f"""
    WITH split AS (
        SELECT line, l, CASE WHEN l IS NULL THEN [''] ELSE {split} END AS f FROM {LINES}
    ),
    first AS ({header}),
    records AS (
        SELECT line, l, f FROM split, first WHERE line > first.header AND NOT ({blank})
    )"""
