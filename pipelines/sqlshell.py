"""`eudap sql` and `eudap describe`: the analyst's read-only view of the published warehouse.

Imports DuckDB and the standard library only (pyarrow when writing Parquet), never Dagster,
Great Expectations or pandas, so that `eudap sql "select 1"` answers at once. Every result is
rendered completely before a byte reaches stdout: a query that fails while it runs (a bad
cast in row 10,000) prints nothing but its error, on stderr.

The connection is the locked-down one of `pipelines.warehouse.open_published(user_sql=True)`:
no file outside the warehouse can be read or written from SQL, so `--parquet FILE` is written
here, by this process, from the query's Arrow result.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import sys
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import duckdb

from pipelines.settings import Paths
from pipelines.warehouse import open_published

NO_WAREHOUSE = "no published warehouse yet; run `eudap demo` or `eudap run` first"
NULL_TEXT = "NULL"  # how a missing value is shown in a table, whatever its type
FORMATS = ("table", "csv", "json", "parquet")
HELP = (
    "Read-only SQL over the published warehouse. End a statement with ';'.\n"
    "  .tables            the tables, with their descriptions\n"
    "  .describe TABLE    one table's columns, types and descriptions\n"
    "  .quit              leave (so does end of input)\n"
)


class ShellUsageError(ValueError):
    """A command line that cannot run (the CLI exits 2)."""


class ShellError(RuntimeError):
    """A statement or a request that failed (the CLI exits 1); the message goes to stderr."""


@dataclass(frozen=True)
class Output:
    """How results are written: a table (at most `max_rows` rows shown), CSV, JSON, or a
    Parquet file."""

    format: str = "table"
    max_rows: int = 40
    parquet: Path | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ShellUsageError(f"unknown output format {self.format!r}; one of {FORMATS}")
        if self.max_rows < 0:
            raise ShellUsageError(f"--max-rows must be 0 or more, not {self.max_rows}")
        if (self.format == "parquet") != (self.parquet is not None):
            raise ShellUsageError("a Parquet output needs a file, and only Parquet takes one")


def parquet_target(paths: Paths, file: str) -> Path:
    """Where `--parquet FILE` may write: anywhere but the stores a run owns."""
    target = Path(file).expanduser().resolve()
    for store in (paths.warehouse_dir, paths.raw_dir):
        if target == store.resolve() or store.resolve() in target.parents:
            raise ShellUsageError(
                f"--parquet {file}: refused, it is inside {store}, which only a run may write"
            )
    if target.is_dir():
        raise ShellUsageError(f"--parquet {file}: is a folder; give a file name")
    return target


# -- rendering ---------------------------------------------------------------------------------
def render(rel: duckdb.DuckDBPyRelation, out: Output) -> str:
    """The whole text a result prints (for Parquet: a one-line receipt, after writing)."""
    if out.format == "csv":
        return _csv(rel)
    if out.format == "json":
        return _json(rel)
    if out.format == "parquet":
        assert out.parquet is not None
        return _parquet(rel, out.parquet)
    return _table(rel, out.max_rows)


def _table(rel: duckdb.DuckDBPyRelation, max_rows: int) -> str:
    """DuckDB's own box rendering, captured (it prints), sized to the terminal if there is one."""
    width = shutil.get_terminal_size(fallback=(120, 24)).columns
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        rel.show(max_rows=max_rows, max_width=width, null_value=NULL_TEXT)
    return buffer.getvalue().rstrip("\n") + "\n"


def _csv(rel: duckdb.DuckDBPyRelation) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(rel.columns)
    for row in rel.fetchall():
        writer.writerow(["" if v is None else _text(v) for v in row])
    return buffer.getvalue()


def _json(rel: duckdb.DuckDBPyRelation) -> str:
    """One JSON document: an array of objects, column name -> value (null for NULL)."""
    names = rel.columns
    rows = [dict(zip(names, row, strict=True)) for row in rel.fetchall()]
    return json.dumps(rows, default=_json_value, ensure_ascii=False, indent=1) + "\n"


def _text(value: Any) -> str:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return _text(value)


def _parquet(rel: duckdb.DuckDBPyRelation, target: Path) -> str:
    import pyarrow.parquet as pq

    table = rel.to_arrow_table()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        pq.write_table(table, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return f"wrote {table.num_rows} rows, {table.num_columns} columns to {target}\n"


# -- statements --------------------------------------------------------------------------------
def run_statement(con: duckdb.DuckDBPyConnection, sql: str, out: Output) -> str:
    """Run `sql` and render its result; raises ShellError with DuckDB's message."""
    try:
        rel = con.sql(sql)
        return "" if rel is None else render(rel, out)
    except duckdb.Error as exc:
        raise ShellError(str(exc).strip()) from None
    except OSError as exc:  # the Parquet file could not be written
        raise ShellError(f"{out.parquet}: {exc.strerror or exc}") from None


def _connect(paths: Paths) -> duckdb.DuckDBPyConnection:
    con = open_published(paths, user_sql=True)
    if con is None:
        raise ShellError(NO_WAREHOUSE)
    return con


def _fail(message: str, stderr: TextIO) -> int:
    stderr.write(f"FAILED: {message}\n")
    return 1


def sql_command(
    paths: Paths,
    query: str | None,
    out: Output,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """`eudap sql [QUERY]`: one query, or an interactive session without one. Returns the
    exit status: 0, or 1 when the warehouse is missing or a statement failed."""
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    try:
        con = _connect(paths)
    except ShellError as exc:
        return _fail(str(exc), stderr)
    try:
        if query is None:
            return interactive(con, out, stdin, stdout, stderr)
        try:
            text = run_statement(con, query, out)
        except ShellError as exc:
            return _fail(str(exc), stderr)
        stdout.write(text)
        return 0
    finally:
        con.close()


def interactive(
    con: duckdb.DuckDBPyConnection, out: Output, stdin: TextIO, stdout: TextIO, stderr: TextIO
) -> int:
    """A prompt: statements end with ';', dot commands stand alone on a line. Exits 1 if any
    statement failed (useful when a script is piped in), else 0."""
    tty = stdin.isatty()
    if tty:
        import readline  # noqa: F401  (line editing and history for input())

        stderr.write(HELP)
    failed = False
    pending: list[str] = []
    while True:
        line = _read_line(stdin, tty, "   ...> " if pending else "eudap> ")
        if line is None:
            break
        stripped = line.strip()
        if not pending and stripped.startswith("."):
            if stripped.split()[0] in (".quit", ".exit"):
                break
            failed |= not _dot_command(con, stripped, stdout, stderr)
            continue
        if stripped:
            pending.append(line)
        if stripped.endswith(";"):
            failed |= not _run_pending(con, pending, out, stdout, stderr)
            pending = []
    if "".join(pending).strip():
        failed |= not _run_pending(con, pending, out, stdout, stderr)
    return 1 if failed else 0


def _read_line(stdin: TextIO, tty: bool, prompt: str) -> str | None:
    if tty:
        try:
            return input(prompt)
        except EOFError:
            return None
    line = stdin.readline()
    return line if line else None


def _run_pending(
    con: duckdb.DuckDBPyConnection, lines: list[str], out: Output, stdout: TextIO, stderr: TextIO
) -> bool:
    try:
        stdout.write(run_statement(con, "\n".join(lines), out))
    except ShellError as exc:
        _fail(str(exc), stderr)
        return False
    stdout.flush()
    return True


def _dot_command(
    con: duckdb.DuckDBPyConnection, command: str, stdout: TextIO, stderr: TextIO
) -> bool:
    name, *rest = command.split()
    try:
        if name == ".tables" and not rest:
            stdout.write(describe_tables(con))
        elif name == ".describe" and len(rest) <= 1:
            stdout.write(describe_table(con, rest[0]) if rest else describe_tables(con))
        elif name == ".help":
            stdout.write(HELP)
        else:
            raise ShellError(f"unknown command {command!r}; .help lists them")
    except ShellError as exc:
        _fail(str(exc), stderr)
        return False
    stdout.flush()
    return True


# -- the data dictionary, as published -----------------------------------------------------------
def describe_command(
    paths: Paths, table: str | None, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """`eudap describe [TABLE]`: the tables with their comments, or one table's columns."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    try:
        con = _connect(paths)
        try:
            text = describe_table(con, table) if table else describe_tables(con)
        finally:
            con.close()
    except ShellError as exc:
        return _fail(str(exc), stderr)
    stdout.write(text)
    return 0


_TABLES = """
    SELECT schema_name || '.' || table_name AS name, coalesce(comment, '') AS comment
    FROM duckdb_tables() WHERE database_name = current_database() AND NOT temporary
    ORDER BY schema_name, table_name
"""


def describe_tables(con: duckdb.DuckDBPyConnection) -> str:
    rows = con.execute(_TABLES).fetchall()
    width = max((len(name) for name, _ in rows), default=0)
    return "".join(f"{name:<{width}}  {comment}".rstrip() + "\n" for name, comment in rows)


def resolve_table(con: duckdb.DuckDBPyConnection, table: str) -> tuple[str, str]:
    """(schema, table) for `schema.table`, or for a bare name found in exactly one schema."""
    schema, _, name = table.rpartition(".")
    matches = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() "
        "WHERE database_name = current_database() AND lower(table_name) = lower(?) "
        "AND (? = '' OR lower(schema_name) = lower(?)) ORDER BY 1",
        [name, schema, schema],
    ).fetchall()
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ShellError(
            f"no table {table!r} in the published warehouse; `eudap describe` lists them"
        )
    names = ", ".join(f"{s}.{t}" for s, t in matches)
    raise ShellError(f"{table!r} is in more than one schema: {names}; name the schema")


def describe_table(con: duckdb.DuckDBPyConnection, table: str) -> str:
    schema, name = resolve_table(con, table)
    (comment,) = con.execute(
        "SELECT coalesce(comment, '') FROM duckdb_tables() "
        "WHERE database_name = current_database() AND schema_name = ? AND table_name = ?",
        [schema, name],
    ).fetchone()
    columns = con.execute(
        "SELECT column_name, data_type, coalesce(comment, '') FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = ? AND table_name = ? "
        "ORDER BY column_index",
        [schema, name],
    ).fetchall()
    name_width = max(len(c) for c, _, _ in columns)
    type_width = max(len(t) for _, t, _ in columns)
    lines = [f"{schema}.{name}: {comment}".rstrip()]
    lines += [
        f"  {column:<{name_width}}  {kind:<{type_width}}  {text}".rstrip()
        for column, kind, text in columns
    ]
    return "\n".join(lines) + "\n"
