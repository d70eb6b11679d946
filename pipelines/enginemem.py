"""How much memory DuckDB may hold while a step streams a whole table through it.

Staging a file and running its gate read every row; with DuckDB's default limit (80 % of
RAM) its hash tables and buffers grow with the file. Held to a fixed limit, the engine
spills to the database's temp directory (`<file>.tmp`) instead, so a step's memory stays
flat in the file's size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import duckdb

# What DuckDB may hold while it runs one gate or writes a step's tables out.
ENGINE_MEMORY = "128MB"
# What it may hold while it stages one file (eurostat_sql.stage_lines): the staging statement
# reads the file's numbered lines from their scratch database file, and those must stay in
# memory. With 128 MB they were evicted and read back while the Parquet writer held its row
# groups: a third more CPU on the bench's 2 M-cell file, and four times the page faults.
STAGE_MEMORY = "256MB"
# DuckDB's temp_directory of an in-memory database that did not set one: relative to the
# working directory.
IN_MEMORY_DEFAULT_TEMP = ".tmp"


@contextlib.contextmanager
def bounded_memory(con: duckdb.DuckDBPyConnection, limit: str = ENGINE_MEMORY) -> Iterator[None]:
    """Hold DuckDB to `limit` for the block, then restore the connection's own limit.

    A database file spills into `<file>.tmp`; an in-memory database spills only where its
    `temp_directory` was set (a staging step's scratch database spills into the run's build
    folder: pipelines/parts.py). An in-memory database left with the default is left as it
    is (tests): it would spill into the working directory."""
    file_backed, temp_directory = con.execute(
        "SELECT path IS NOT NULL, current_setting('temp_directory') FROM duckdb_databases() "
        "WHERE database_name = current_database()"
    ).fetchone() or (False, "")
    previous = con.execute("SELECT current_setting('memory_limit')").fetchone()
    spills_aside = file_backed or temp_directory not in ("", IN_MEMORY_DEFAULT_TEMP)
    if not (spills_aside and previous):
        yield
        return
    con.execute(f"SET memory_limit = '{limit}'")
    try:
        yield
    finally:
        con.execute("RESET memory_limit")  # the default, exactly, when it was the default
        if con.execute("SELECT current_setting('memory_limit')").fetchone() != previous:
            con.execute(f"SET memory_limit = '{previous[0]}'")
