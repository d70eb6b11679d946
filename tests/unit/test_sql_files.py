"""pipelines.warehouse.run_sql_file: a file of nothing but CREATE ... IF NOT EXISTS statements
(sql/meta/schema.sql, run before nearly every write to a build) is skipped when everything it
creates exists, and runs whenever anything is missing."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.settings import SQL_DIR
from pipelines.warehouse import _created_if_not_exists, run_sql_file

META = "meta/schema.sql"


def objects(con: duckdb.DuckDBPyConnection) -> tuple[list[str], list[str]]:
    schemas = con.execute(
        "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database() "
        "AND NOT internal ORDER BY 1"
    ).fetchall()
    tables = con.execute(
        "SELECT schema_name || '.' || table_name || ':' || column_count FROM duckdb_tables() "
        "WHERE database_name = current_database() ORDER BY 1"
    ).fetchall()
    return [s for (s,) in schemas], [t for (t,) in tables]


def test_the_names_read_from_the_file_are_what_it_creates() -> None:
    con = duckdb.connect()
    before = objects(con)
    con.execute((SQL_DIR / META).read_text(encoding="utf-8"))
    schemas, tables = objects(con)
    created = _created_if_not_exists((SQL_DIR / META).read_text(encoding="utf-8"))
    assert created is not None
    assert sorted(created[0]) == sorted(set(schemas) - set(before[0]))
    assert sorted(created[1]) == sorted(t.split(":")[0] for t in tables)
    # a file with any other statement always runs
    assert _created_if_not_exists((SQL_DIR / "trends/schema.sql").read_text()) is None
    assert _created_if_not_exists("CREATE SCHEMA IF NOT EXISTS a; DROP TABLE a.b") is None
    assert _created_if_not_exists("CREATE TABLE IF NOT EXISTS a.b AS SELECT 1 AS x") is None


@pytest.mark.parametrize(
    "drop", ["DROP TABLE meta.revisions", "DROP SCHEMA trends", "DROP SCHEMA meta CASCADE"]
)
def test_what_is_missing_is_created_again(drop: str) -> None:
    con = duckdb.connect()
    run_sql_file(con, META)
    complete = objects(con)
    con.execute(drop)
    assert objects(con) != complete
    run_sql_file(con, META)
    assert objects(con) == complete


def test_a_complete_database_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        run_sql_file(con, META)
        complete = objects(con)
    with duckdb.connect(str(path), read_only=True) as con:
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute((SQL_DIR / META).read_text(encoding="utf-8"))  # the file itself writes
        run_sql_file(con, META)  # skipped: nothing to create
        assert objects(con) == complete
