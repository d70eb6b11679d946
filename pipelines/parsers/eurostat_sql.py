"""Eurostat TSV staged by DuckDB itself: one statement over the file's lines, writing the
staging table or (how a staging step stages) its Parquet file (`Target`).

The rules are those of `eurostat_tsv` (see its docstring); this module only moves the work
into the engine. What Python still does, all of it cheap:

- one pass over the bytes (`prepass`): the read limits (decompressed size, gzip expansion,
  line length) and whether the file is UTF-8. A file that is not (or has a line the engine
  would not take) is left to the Python parser;
- the header line, read and judged by `eurostat_tsv` itself, so every header error is the
  same;
- the geography: a small table of the reference's codes is joined; the few raw codes that
  are not a reference code exactly are resolved by `GeoResolver` afterwards.

Every line is read as one column, so that `row_number()` over the file is its physical line
(DuckDB keeps blank lines as NULL in that mode and reads in file order). A cell that breaks a
rule makes the statement fail through `error()`; the offending lines are then found with one
query, ordered by line, and the first is judged by `eurostat_tsv.line_rows`, which raises
the very error the Python parser raises. Anything the engine refuses that SQL did not
explain (a stray control byte, a line the reader splits differently) falls back to the
Python parser, so nothing that parses today stops parsing.
"""

from __future__ import annotations

import codecs
import contextlib
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from pipelines.catalogue import ReadLimits
from pipelines.enginemem import STAGE_MEMORY, bounded_memory
from pipelines.parsers import eurostat_tsv
from pipelines.parsers.base import (
    GZIP_MAGIC,
    NUMBER_RE,
    READ_ERRORS,
    ParsedFile,
    ParseError,
    open_binary,
    read_error,
)

if TYPE_CHECKING:
    from pipelines.catalogue import Dataset
    from pipelines.geo import GeoResolver

CHUNK = 1 << 20
LONE_CR = re.compile(rb"\r(?!\n)")  # a CR that does not end a CRLF
# ASCII whitespace that makes a line blank (skipped). Other whitespace Python's strip() also
# removes ends up in a "bad" cell, which line_rows then accepts: the Python parser takes over.
SPACE = " \t\x0b\x0c\r"
ERROR_MARK = "eudap-bad-cell"
SHOWN_LINES = 4  # bad lines named in an error (the first one in full)
LINES_DB = "_eudap_lines_db"
LINES = f"{LINES_DB}.lines"
# DuckDB runs a scan on one thread per row group (122,880 rows by default): a file has fewer
# lines than that, so LINES is kept in small row groups for the staging statement to use
# every thread. Not smaller than needed: each group of lines leaves one partial row group in
# the staging table (16,384 lines of 24 periods: 2 full row groups and one part; with 8,192
# lines the bench's staging statement took 3-5 % more CPU).
LINES_ROW_GROUP = 16384
GEO = "_eudap_geo"
# What the engine refuses in a file Python may read: a CSV error (a \x01 byte, which
# admission refuses today but an older store may hold, splits a line), a text it will not
# convert.
ENGINE_REFUSALS = (duckdb.InvalidInputException, duckdb.ConversionException)


@dataclass(frozen=True)
class Target:
    """Where the engine stages a file: the table `table` (created, empty), or with `parquet`
    that Parquet file (the table is then made a view of it by the caller). `columns`: the
    staging table's (name, DuckDB type), in order; every engine's SELECT names each one."""

    table: str
    columns: tuple[tuple[str, str], ...]
    parquet: Path | None = None

    def statement(self, select: str) -> str:
        """The statement that stages the rows of `select`, typed as the staging table."""
        typed = ", ".join(f"CAST({_q(n)} AS {t}) AS {_q(n)}" for n, t in self.columns)
        query = f"SELECT {typed} FROM ({select})"
        if self.parquet is None:
            return f"INSERT INTO {self.table} {query}"
        return f"COPY ({query}) TO {_lit(str(self.parquet))} (FORMAT parquet)"

    @property
    def source(self) -> str:
        """The staged rows, to read back."""
        return self.table if self.parquet is None else f"read_parquet({_lit(str(self.parquet))})"


@dataclass(frozen=True)
class Header:
    parsed: ParsedFile
    periods: list[str]


def prepass(path: Path, limits: ReadLimits) -> bool:
    """Check the read limits over the whole (un-gzipped) file; True when the engine may read
    it: valid UTF-8, no line longer than `max_line_bytes` bytes and no lone CR (a line break
    to Python's universal newlines). Anything else is left to the Python parser, which
    counts characters and names the encoding. Raises a ParseError past the size or
    expansion limits, or on a corrupt gzip."""
    try:
        return _prepass(path, limits)
    except READ_ERRORS as exc:
        raise read_error(path, exc) from exc


def _prepass(path: Path, limits: ReadLimits) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    longest, current, pending_cr = 0, 0, False
    with open_binary(path, limits) as fh:
        while chunk := fh.read(CHUNK):
            try:
                # ASCII bytes with no sequence pending are UTF-8 (a tenth of the decode)
                if decoder.getstate()[0] or not chunk.isascii():
                    decoder.decode(chunk)
            except UnicodeDecodeError:
                return False
            if pending_cr and not chunk.startswith(b"\n"):
                return False
            pending_cr = chunk.endswith(b"\r")  # judged with the next chunk's first byte
            if LONE_CR.search(chunk, 0, len(chunk) - pending_cr):
                return False
            first = chunk.find(b"\n")
            if first < 0:
                current += len(chunk)
            else:
                longest = max(longest, current + first)
                last = chunk.rfind(b"\n")
                if last > first:
                    longest = max(longest, max(map(len, chunk[first + 1 : last].split(b"\n"))))
                current = len(chunk) - last - 1
            longest = max(longest, current)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return not pending_cr and longest <= limits.max_line_bytes


def read_header(path: Path, options: dict[str, Any], limits: ReadLimits) -> Header | None:
    """The file's header when DuckDB may stage it (None: use the Python parser)."""
    encoding = str(options.get("encoding") or "utf-8").replace("_", "-").lower()
    if encoding not in ("utf-8", "utf8", "utf-8-sig") or not prepass(path, limits):
        return None
    try:
        dims, time_key, periods = eurostat_tsv.read_header(path, "utf-8-sig", limits)
    except READ_ERRORS as exc:
        raise read_error(path, exc) from exc
    attributes = {"time_key": time_key, "encoding": "utf-8-sig"}
    return Header(ParsedFile(dimensions=dims, rows=iter(()), attributes=attributes), periods)


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


@contextlib.contextmanager
def lines(con: duckdb.DuckDBPyConnection, path: Path, limits: ReadLimits) -> Iterator[None]:
    """The file as table LINES (line, l) for the block: one row per physical line, in file
    order, NULL for an empty line. The numbering is one single-threaded pass
    (`parallel=false`: the scan, and so `row_number()`, follows the file's order); everything
    after it reads LINES in parallel, from a scratch database file of small row groups in a
    temporary folder (removed after the block). The lines are stored uncompressed: they are
    read once, and compressing them took two thirds of this step. (An in-memory database
    would not do: it keeps one row group, which one thread scans.)"""
    max_line = max(limits.max_line_bytes + 64, 2_097_152)
    with path.open("rb") as fh:  # by content: a snapshot's name need not end in .gz
        compression = "gzip" if fh.read(2) == GZIP_MAGIC else "none"
    with tempfile.TemporaryDirectory(prefix="eudap-lines-") as folder:
        db = Path(folder) / "lines.duckdb"
        con.execute(f"ATTACH {_lit(str(db))} AS {LINES_DB} (ROW_GROUP_SIZE {LINES_ROW_GROUP})")
        try:
            con.execute(
                f"CREATE TABLE {LINES} (line BIGINT, l VARCHAR USING COMPRESSION uncompressed)"
            )
            con.execute(f"""
                INSERT INTO {LINES}
                SELECT row_number() OVER () AS line, l
                FROM read_csv({_lit(str(path))}, columns={{'l': 'VARCHAR'}}, delim='\x01',
                              header=false, quote='', escape='', auto_detect=false,
                              compression='{compression}', max_line_size={max_line},
                              parallel=false)
            """)
            yield
        finally:
            con.execute(f"DETACH DATABASE IF EXISTS {LINES_DB}")


def _cells_sql(header: Header, geo_key: str | None = None) -> str:
    """Every cell of every data line that stages a row or breaks a rule (a cell that is ':'
    alone does neither): line, text l, codes k1..kn, period index i, value text v, flag
    text f, whether the cell breaks a rule (`bad`), and with `geo_key` (an expression of k)
    the reference code and level GEO gives it (geo_code, geo_level), joined once per
    line."""
    codes = ", ".join(f"k{n}" for n in range(1, len(header.parsed.dimensions) + 1))
    key_cols = ", ".join(f"k[{n}] AS k{n}" for n in range(1, len(header.parsed.dimensions) + 1))
    geo_cols, geo_join = "NULL AS geo_code, NULL AS geo_level", ""
    if geo_key is not None:
        geo_cols = "g.code AS geo_code, g.level AS geo_level"
        geo_join = f"LEFT JOIN {GEO} g ON g.code = {geo_key}"
    dims = header.parsed.dimensions
    n_cells = len(header.periods) + 1
    space = _lit(SPACE)
    # A cell the Python rules accept, written with plain spaces: `:` or a number, then
    # optionally flag letters (other whitespace makes a cell "bad": line_rows judges it).
    letters = "".join(sorted(eurostat_tsv.FLAG_LETTERS))
    cell = _lit(f"(?::|{NUMBER_RE.pattern})(?: +[{letters}]+)?")
    # Two choices that halve the CPU of the SQL around the write (measured on the bench file):
    # a blank line is one with nothing left after `ltrim` (DuckDB's two-sided trim reads the
    # whole line), and the cells are trimmed in their list, once (a `trim(unnest(...))`
    # column is computed again in each filter and projection that reads it).
    return f"""
    WITH data AS (
        SELECT line, l, string_split(l, chr(9)) AS cells
        FROM {LINES} WHERE line > 1 AND l IS NOT NULL AND ltrim(l, {space}) <> ''
    ),
    keyed AS (
        SELECT line, l, {key_cols}, {geo_cols},
               len(cells) <> {n_cells} OR len(k) <> {len(dims)} OR list_contains(k, '')
               AS line_bad,
               CASE WHEN len(cells) = {n_cells} THEN list_transform(cells[2:], lambda x: trim(x))
                    ELSE [NULL] END AS vals
        FROM (SELECT line, l, cells,
                     list_transform(string_split(cells[1], ','), lambda x: trim(x)) AS k
              FROM data) d {geo_join}
    ),
    cells AS (
        SELECT line, l, {codes}, geo_code, geo_level, line_bad, generate_subscripts(vals, 1) AS i,
               unnest(vals) AS t
        FROM keyed
    ),
    judged AS (
        SELECT line, l, {codes}, geo_code, geo_level, i,
               line_bad OR t IS NULL OR NOT regexp_full_match(t, {cell}) AS bad,
               strpos(t, ' ') AS sp,
               CASE WHEN sp = 0 THEN t ELSE left(t, sp - 1) END AS v,
               CASE WHEN sp = 0 THEN '' ELSE ltrim(substr(t, sp + 1)) END AS f
        FROM cells
        -- a cell that is ':' alone stages no row (v = ':' and f = ''): dropped before
        -- any other work, unless its line is bad
        WHERE line_bad OR t IS NULL OR t <> ':'
    )
    """


def _mapped(code: str, mapping: dict[str, str]) -> str:
    """`code` through the catalogue's code map of its dimension."""
    if not mapping:
        return code
    whens = " ".join(f"WHEN {_lit(a)} THEN {_lit(b)}" for a, b in mapping.items())
    return f"(CASE {code} {whens} ELSE {code} END)"


def select_sql(ds: Dataset, header: Header, sha256: str) -> str:
    """The one query that gives the staged rows of the file from LINES (and GEO, when there
    is a geo dimension), each column named as in the staging table."""
    dims = header.parsed.dimensions
    columns: list[str] = []
    exprs: list[str] = []
    geo_key: str | None = None
    for dim in ds.dimensions:
        n = dims.index(dim) + 1
        mapping = ds.code_maps.get(dim, {})
        if dim == ds.geo_dimension:
            columns += ["geo_raw", "geo", "geo_level"]
            exprs += [f"k{n}", "geo_code", "geo_level"]
            geo_key = _mapped(f"k[{n}]", mapping)  # joined per line, on the list of codes
        else:
            columns.append(dim)
            exprs.append(_mapped(f"k{n}", mapping))
    periods = "[" + ", ".join(_lit(p) for p in header.periods) + "]"
    columns += ["period", "value", "value_text", "flags", "note", "line"]
    columns += ["source_dataset", "snapshot_sha256"]
    exprs += [
        f"{periods}[i]",
        f"CASE WHEN bad THEN error({_lit(ERROR_MARK)}) WHEN v = ':' THEN NULL "
        "ELSE CAST(v AS DOUBLE) END",
        "NULL",
        "nullif(f, '')",
        "NULL",
        "line",
        _lit(ds.id),
        _lit(sha256),
    ]
    named = ", ".join(f"{e} AS {_q(c)}" for c, e in zip(columns, exprs, strict=True))
    return _cells_sql(header, geo_key) + f"SELECT {named} FROM judged"


def count_rows(path: Path, header: Header, limits: ReadLimits) -> int | None:
    """The observations the file would stage (a scratch in-memory connection); None when a
    line breaks a rule or the engine refuses the file (the Python parser then judges it)."""
    con = duckdb.connect()
    try:
        with lines(con, path, limits):
            row = con.execute(
                _cells_sql(header) + "SELECT count(*), coalesce(bool_or(bad), false) FROM judged"
            ).fetchone()
    except ENGINE_REFUSALS:
        return None
    finally:
        con.close()
    if row is None or row[1]:
        return None
    return int(row[0])


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
    it. Raises ParseError naming the first bad line."""
    return stage_lines(
        con,
        target,
        ds,
        path,
        geo,
        statement=lambda: select_sql(ds, header, sha256),
        error_mark=ERROR_MARK,
        raise_first_bad=lambda: _raise_first_bad(con, path, header),
    )


def stage_lines(
    con: duckdb.DuckDBPyConnection,
    target: Target,
    ds: Dataset,
    path: Path,
    geo: GeoResolver,
    *,
    statement: Callable[[], str | None],
    error_mark: str,
    raise_first_bad: Callable[[], None],
) -> int | None:
    """The engine's staging of a delimited file, for every format (this module, sdmx_sql,
    tabular_sql): the file as LINES, then `statement()` — the format's one query of the
    staged rows, or None when the engine would read the file otherwise than Python — run
    into `target`, with GEO for a geo dimension, under the staging memory bound. A cell that
    breaks a rule fails the statement
    through `error(error_mark)`; `raise_first_bad` then raises the Python parser's error for
    the first bad line (it returns when Python finds nothing wrong there). None: the Python
    parser must stage the file."""
    try:
        with bounded_memory(con, STAGE_MEMORY), lines(con, path, ds.limits):
            select = statement()
            if select is None:
                return None
            if ds.geo_dimension is not None:
                _geo_table(con, geo, ds.geo_codes)
            try:
                inserted = con.execute(target.statement(select)).fetchone()
            except duckdb.InvalidInputException as exc:
                if error_mark not in str(exc):
                    raise
                raise_first_bad()
                return None
    except ENGINE_REFUSALS:
        return None  # bytes the engine reads otherwise than Python (see module docstring)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {GEO}")
    if ds.geo_dimension is not None:
        _resolve_rest(con, target, ds, geo)
    return int(inserted[0]) if inserted else 0


def _geo_table(con: duckdb.DuckDBPyConnection, geo: GeoResolver, mode: str) -> None:
    """The reference codes a raw code resolves to as they are (mode `eurostat`)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {GEO} (code VARCHAR, level VARCHAR)")
    if mode != "eurostat":
        return  # names: every value goes through GeoResolver (_resolve_rest)
    codes = list(geo.entries)
    levels = [geo.entries[c].level for c in codes]
    con.execute(f"INSERT INTO {GEO} SELECT unnest(?), unnest(?)", [codes, levels])


def _resolve_rest(
    con: duckdb.DuckDBPyConnection, target: Target, ds: Dataset, geo: GeoResolver
) -> None:
    """Resolve the raw geo codes the join did not (names, regions, malformed text): the
    table is updated, a Parquet file rewritten (only when one of them resolves)."""
    raws = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT geo_raw FROM {target.source} "
            "WHERE geo IS NULL AND geo_raw IS NOT NULL"
        ).fetchall()
    ]
    if not raws:
        return
    mapping = ds.code_maps.get(str(ds.geo_dimension), {})
    matches = [(raw, geo.resolve(mapping.get(raw, raw), ds.geo_codes)) for raw in raws]
    found = [(raw, m.code, m.level) for raw, m in matches if m.code is not None]
    if not found:
        return
    if target.parquet is not None:
        _rewrite_geo(con, target.parquet, found)
        return
    con.execute(f"CREATE OR REPLACE TEMP TABLE {GEO} (raw VARCHAR, code VARCHAR, level VARCHAR)")
    try:
        con.execute(
            f"INSERT INTO {GEO} SELECT unnest(?), unnest(?), unnest(?)",
            [[r for r, _, _ in found], [c for _, c, _ in found], [lv for _, _, lv in found]],
        )
        con.execute(
            f"UPDATE {target.table} SET geo = g.code, geo_level = g.level FROM {GEO} g "
            f"WHERE {target.table}.geo_raw = g.raw AND {target.table}.geo IS NULL"
        )
    finally:
        con.execute(f"DROP TABLE IF EXISTS {GEO}")


def _rewrite_geo(
    con: duckdb.DuckDBPyConnection, parquet: Path, found: list[tuple[str, str, str]]
) -> None:
    """The Parquet file again, with the geo code and level of the raw codes in `found`
    (raw, code, level) where it has none: a projection, so the rows keep their order."""

    def case(pick: int, column: str) -> str:
        whens = " ".join(f"WHEN {_lit(f[0])} THEN {_lit(f[pick])}" for f in found)
        return f"CASE WHEN {column} IS NULL THEN (CASE geo_raw {whens} END) ELSE {column} END"

    tmp = parquet.with_name(parquet.name + ".geo")
    con.execute(
        f"COPY (SELECT * REPLACE ({case(1, 'geo')} AS geo, {case(2, 'geo_level')} AS geo_level) "
        f"FROM read_parquet({_lit(str(parquet))})) TO {_lit(str(tmp))} (FORMAT parquet)"
    )
    tmp.replace(parquet)


def _raise_first_bad(con: duckdb.DuckDBPyConnection, path: Path, header: Header) -> None:
    """Raise the error of the first bad line (and name the next few); return when the
    Python rules find nothing wrong there (the caller falls back to the Python parser)."""
    bad = con.execute(
        _cells_sql(header)
        + f"SELECT line, any_value(l) FROM judged WHERE bad GROUP BY line ORDER BY line "
        f"LIMIT {SHOWN_LINES}"
    ).fetchall()
    if not bad:
        return
    line_no, text = bad[0]
    try:
        dims, periods = header.parsed.dimensions, header.periods
        list(eurostat_tsv.line_rows(path, text, int(line_no), dims, periods))
    except ParseError as exc:
        more = [str(n) for n, _ in bad[1:]]
        if not more:
            raise
        also = f"; also bad: line{'s' if len(more) > 1 else ''} {', '.join(more)}"
        raise ParseError(exc.file, exc.rule, exc.detail + also, exc.line) from None
