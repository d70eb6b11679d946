"""exports.write_tables on a small real DuckDB file: a table the build copied from a release
(meta.input_keys.copied_from) gets hard links to that release's two files, and is written
anew when that folder lacks either of them; tables not copied are always written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pipelines import exports
from pipelines.warehouse import run_sql_file


@pytest.fixture
def con(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[duckdb.DuckDBPyConnection]:
    monkeypatch.setattr(exports, "write_workbook", lambda *args: None)  # tables only here
    con = duckdb.connect(str(tmp_path / "build.duckdb"))
    run_sql_file(con, "meta/schema.sql")
    con.execute("CREATE SCHEMA IF NOT EXISTS indicators; CREATE SCHEMA IF NOT EXISTS trends")
    con.execute("CREATE TABLE indicators.a AS SELECT 1 AS x, 'one' AS label")
    con.execute("CREATE TABLE trends.b AS SELECT 2 AS y")
    con.execute(
        "INSERT INTO meta.input_keys (release_id, table_name, kind, catalogue_sha256, "
        "code_sha256, input_key, copied_from, built_in) VALUES "
        "('r2', 'indicators.a', 'indicator', 'c', 'code', 'k', 'r1', 'r1'), "
        "('r2', 'trends.b', 'trends', 'c', 'code', 'k2', NULL, 'r2')"
    )
    yield con
    con.close()


def test_a_copied_table_is_linked_from_its_source_release(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    r1 = tmp_path / "exports" / "r1"
    assert exports.write_tables(con, r1, "r1") == []  # r1 recorded no copies
    r2 = tmp_path / "exports" / "r2"

    assert exports.write_tables(con, r2, "r2") == ["indicators.a"]

    for suffix in (".parquet", ".csv"):
        assert (r2 / f"indicators.a{suffix}").samefile(r1 / f"indicators.a{suffix}")
        assert (r2 / f"trends.b{suffix}").stat().st_nlink == 1  # built in r2: written


def test_a_source_folder_missing_a_file_means_both_are_written(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    r1 = tmp_path / "exports" / "r1"
    exports.write_tables(con, r1, "r1")
    (r1 / "indicators.a.csv").unlink()
    r2 = tmp_path / "exports" / "r2"

    assert exports.write_tables(con, r2, "r2") == []

    assert (r2 / "indicators.a.parquet").stat().st_nlink == 1
    assert (r2 / "indicators.a.csv").read_text(encoding="utf-8") == "x,label\n1,one\n"
