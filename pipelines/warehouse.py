"""The warehouse files and what is written into them.

Opening the run's build file (read-write) and the published warehouse (read-only), running
the SQL files of sql/, and the writes a run makes to its build: the fetch log, what each
dataset's staging used (meta.release_datasets), each gate's verdict (meta.gate_results, which
publish reads back before it swaps the build in) and the `COMMENT ON` text of every table.

Imports nothing but DuckDB and the settings: `eudap sql`, `describe` and `status` open the
published warehouse through this module and start in well under a second.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb

from pipelines.settings import SQL_DIR, Paths

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.checks import ValidationReport
    from pipelines.fetch import FetchOutcome
    from pipelines.stage import StageResult

# For SQL typed by a user: nothing but the warehouse file itself can be read or written (no
# COPY TO, ATTACH, read_text, INSTALL/LOAD), and no SET/PRAGMA can undo that.
QUERY_ONLY_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,  # last: locks the settings above
}


# -- opening ----------------------------------------------------------------------------------
@contextlib.contextmanager
def open_build(
    paths: Paths, build_id: str, *, threads: int = 2, memory_limit: str = "4GB"
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to the run's build file (created on first use)."""
    path = paths.build_warehouse(build_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), config={"threads": threads, "memory_limit": memory_limit})
    try:
        yield con
        con.execute("CHECKPOINT")
    finally:
        con.close()


def open_published(paths: Paths, *, user_sql: bool = False) -> duckdb.DuckDBPyConnection | None:
    """A read-only connection to the published warehouse, or None when there is none yet.
    With `user_sql`, locked down to queries over the warehouse's own tables."""
    if not paths.published_warehouse.exists():
        return None
    config = QUERY_ONLY_CONFIG if user_sql else {}
    return duckdb.connect(str(paths.published_warehouse), read_only=True, config=config)


# -- SQL files and generic writes -------------------------------------------------------------
def run_sql_file(con: duckdb.DuckDBPyConnection, relative: str, **params: Any) -> None:
    sql = (SQL_DIR / relative).read_text(encoding="utf-8")
    if params:
        con.execute(sql, params)
    else:
        con.execute(sql)


def replace_table(con: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame) -> None:
    con.register("_frame", df)
    con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _frame")
    con.unregister("_frame")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _timestamp(iso: str) -> datetime:
    """A snapshot's fetch time (ISO 8601, `Z` or offset) as naive UTC."""
    when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


# -- the run's records ------------------------------------------------------------------------
def record_fetches(
    con: duckdb.DuckDBPyConnection, dataset: str, outcomes: list[FetchOutcome]
) -> None:
    """This run's download outcomes of one dataset (meta.fetch_log)."""
    run_sql_file(con, "meta/schema.sql")
    now = _now()
    for outcome in outcomes:
        con.execute(
            "INSERT INTO meta.fetch_log VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                dataset,
                outcome.status,
                outcome.reason,
                outcome.url,
                outcome.snapshot.meta.sha256 if outcome.snapshot else None,
                outcome.requests_made,
                now,
            ],
        )


def record_release_dataset(
    con: duckdb.DuckDBPyConnection, release_id: str, result: StageResult
) -> None:
    """What staging used for one dataset in this build (meta.release_datasets)."""
    from pipelines.redact import redact_text

    snap = result.snapshot
    con.execute(
        "DELETE FROM meta.release_datasets WHERE release_id = ? AND dataset = ?",
        [release_id, result.dataset],
    )
    con.execute(
        "INSERT INTO meta.release_datasets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            release_id,
            result.dataset,
            result.state,
            redact_text(result.reason) if result.reason else None,
            snap.meta.sha256 if snap else None,
            str(snap.path) if snap else None,
            _timestamp(snap.meta.fetched_at) if snap else None,
            snap.meta.sample if snap else None,
            result.rows,
            [q["snapshot_sha256"] for q in result.quarantined],
            [m.meta.sha256 for m in result.members],
            snap.meta.capture if snap else None,
        ],
    )


def geo_other_codes(
    con: duckdb.DuckDBPyConnection, table: str, geo_dimension: str | None
) -> list[tuple[str, int]]:
    """(code, rows) of the staged codes resolved to level 'other' (well formed, unknown)."""
    if geo_dimension is None:
        return []
    return [
        (str(code), int(n))
        for code, n in con.execute(
            f"SELECT geo, count(*) FROM {table} WHERE geo_level = 'other' GROUP BY geo ORDER BY geo"
        ).fetchall()
    ]


def record_gate(con: duckdb.DuckDBPyConnection, release_id: str, report: ValidationReport) -> None:
    """A blocking gate's verdict on one table of this build (meta.gate_results): publish
    reads it back before the swap."""
    run_sql_file(con, "meta/schema.sql")
    con.execute(
        "DELETE FROM meta.gate_results WHERE release_id = ? AND table_name = ?",
        [release_id, report.table],
    )
    con.execute(
        "INSERT INTO meta.gate_results VALUES (?, ?, ?, ?, ?, ?)",
        [release_id, report.table, report.suite, report.success, report.summary(), _now()],
    )


def gate_problems(con: duckdb.DuckDBPyConnection, release_id: str, gated: list[str]) -> list[str]:
    """Why the build's gate record does not clear it for publishing: each gated table whose
    gate failed or never ran in this build. Empty when every gate passed."""
    run_sql_file(con, "meta/schema.sql")  # a build from before the gate record: all missing
    verdicts = {
        table: (passed, summary)
        for table, passed, summary in con.execute(
            "SELECT table_name, passed, summary FROM meta.gate_results WHERE release_id = ?",
            [release_id],
        ).fetchall()
    }
    problems = []
    for table in gated:
        if table not in verdicts:
            problems.append(f"{table}: its gate did not run in this build")
        elif not verdicts[table][0]:
            problems.append(f"{table}: gate failed: {verdicts[table][1]}")
    return problems


# -- COMMENT ON -------------------------------------------------------------------------------
def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def comment_tables(
    con: duckdb.DuckDBPyConnection,
    schemas: tuple[str, ...],
    table_text: Callable[[str, str], str],
    column_text: Callable[[str, str, str], str],
) -> list[str]:
    """COMMENT ON every table and column of `schemas` with the text the callbacks give.
    Returns what they give no text for (`schema.table` or `schema.table.column`).

    All statements run in one transaction: committing each on its own costs a WAL sync per
    column (about ten times the wall time on the demo's 800 columns)."""
    undescribed: list[str] = []
    statements: list[str] = []
    listed = ", ".join(_quoted(s) for s in schemas)
    columns = con.execute(
        "SELECT t.schema_name, t.table_name, list(c.column_name ORDER BY c.column_index) "
        "FROM duckdb_tables() t JOIN duckdb_columns() c USING (database_name, schema_name, "
        "table_name) WHERE t.database_name = current_database() "
        f"AND t.schema_name IN ({listed}) GROUP BY ALL ORDER BY 1, 2"
    ).fetchall()
    for schema, table, names in columns:
        name = f"{_identifier(schema)}.{_identifier(table)}"
        text = table_text(schema, table)
        if text:
            statements.append(f"COMMENT ON TABLE {name} IS {_quoted(text)}")
        else:
            undescribed.append(f"{schema}.{table}")
        for column in names:
            text = column_text(schema, table, column)
            if text:
                statements.append(
                    f"COMMENT ON COLUMN {name}.{_identifier(column)} IS {_quoted(text)}"
                )
            else:
                undescribed.append(f"{schema}.{table}.{column}")
    if statements:
        con.begin()
        try:
            con.execute(";\n".join(statements))
        except BaseException:
            con.rollback()
            raise
        con.commit()
    return undescribed


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
