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

# What DuckDB may hold while it stages one file or runs one gate.
STAGE_MEMORY = "128MB"


@contextlib.contextmanager
def bounded_memory(con: duckdb.DuckDBPyConnection, limit: str = STAGE_MEMORY) -> Iterator[None]:
    """Hold DuckDB to `limit` for the block, then restore the connection's own limit. An
    in-memory database (tests, a scratch connection) is left as it is: it would spill into
    the working directory."""
    file_backed = con.execute(
        "SELECT path IS NOT NULL FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    previous = con.execute("SELECT current_setting('memory_limit')").fetchone()
    if not (file_backed and file_backed[0] and previous):
        yield
        return
    con.execute(f"SET memory_limit = '{limit}'")
    try:
        yield
    finally:
        con.execute("RESET memory_limit")  # the default, exactly, when it was the default
        if con.execute("SELECT current_setting('memory_limit')").fetchone() != previous:
            con.execute(f"SET memory_limit = '{previous[0]}'")
