"""Every gate of the demo warehouse run both ways: as DuckDB SQL (pipelines.sqlgates, the
default) and with Great Expectations on the table read into pandas (the reference).

On a copy of the warehouse `eudap demo` published: every staging, indicator and trends
table gives the same verdict and, per expectation, the same unexpected count and sample
rows; so does a copy of every table with planted faults; and five planted faults in one
staging table (a null, an out-of-range value, a duplicate key, a bad code, a regex miss)
are each reported, both ways.
"""

from __future__ import annotations

import shutil

import duckdb
import pytest
from console import Result, published
from helpers import gate_failures

from pipelines.catalogue import Dataset, Indicator, load_catalogue
from pipelines.checks import ValidationReport
from pipelines.stage import validate_table
from pipelines.trend_tables import TABLES

pytestmark = pytest.mark.e2e

CAT = load_catalogue()
GATES: list[tuple[str, str | Dataset | Indicator]] = [
    *((ds.table, ds) for ds in CAT.datasets.values()),
    *((ind.table, ind) for ind in CAT.indicator_list()),
    *((f"trends.{t.name}", f"trends.{t.name}") for t in TABLES),
]


@pytest.fixture(scope="module")
def warehouse(demo: tuple[dict, Result], tmp_path_factory: pytest.TempPathFactory):
    env, res = demo
    assert res.code == 0, res.out + res.err
    copy = tmp_path_factory.mktemp("gates") / "warehouse.duckdb"
    shutil.copyfile(published(env), copy)
    con = duckdb.connect(str(copy))
    yield con
    con.close()


def both_ways(
    con: duckdb.DuckDBPyConnection, table: str, gate: str | Dataset | Indicator
) -> tuple[ValidationReport, ValidationReport]:
    return validate_table(con, table, gate), validate_table(con, table, gate, engine="gx")


def test_every_gate_of_the_demo_warehouse_gives_the_same_verdicts_both_ways(warehouse) -> None:
    differ = []
    for table, gate in GATES:
        sql, gx = both_ways(warehouse, table, gate)
        if (sql.rows, sql.evaluated, gate_failures(sql)) != (
            gx.rows,
            gx.evaluated,
            gate_failures(gx),
        ):
            differ.append(f"{table}: SQL {sql.summary()} | GX {gx.summary()}")
        assert sql.success, sql.summary()  # the demo passes its gates
    assert differ == []
    assert len(GATES) == len(CAT.datasets) + len(CAT.indicator_list()) + len(TABLES)


def plant_faults(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """A copy of `table` with faults in every column: NULLs, a duplicated row, numbers far
    out of range, codes and periods no suite allows, flipped booleans."""
    schema, name = table.split(".")
    copy = f'{schema}."planted_{name}"'
    con.execute(f'CREATE OR REPLACE TABLE {copy} AS SELECT * FROM {schema}."{name}"')
    con.execute(f'INSERT INTO {copy} SELECT * FROM {schema}."{name}" LIMIT 3')
    for i, (column, kind, *_) in enumerate(con.execute(f"DESCRIBE {copy}").fetchall()):
        col = f'"{column}"'
        con.execute(f"UPDATE {copy} SET {col} = NULL WHERE rowid % 13 = {i % 13}")
        if kind in ("DOUBLE", "BIGINT", "INTEGER"):
            big = "2000000000" if kind == "INTEGER" else "1e12"
            con.execute(f"UPDATE {copy} SET {col} = -1e6 WHERE rowid % 17 = {i % 17}")
            con.execute(f"UPDATE {copy} SET {col} = {big} WHERE rowid % 19 = {i % 19}")
        elif kind == "VARCHAR":
            con.execute(f"UPDATE {copy} SET {col} = 'ZZ-bad' WHERE rowid % 17 = {i % 17}")
            con.execute(f"UPDATE {copy} SET {col} = '1899' WHERE rowid % 19 = {i % 19}")
        elif kind == "BOOLEAN":
            con.execute(f"UPDATE {copy} SET {col} = NOT {col} WHERE rowid % 17 = {i % 17}")
    return f"{schema}.planted_{name}"


def test_every_gate_reports_the_same_failures_both_ways_on_a_table_with_planted_faults(
    warehouse,
) -> None:
    differ, kinds = [], set()
    for table, gate in GATES:
        planted = plant_faults(warehouse, table)
        sql, gx = both_ways(warehouse, planted, gate)
        assert not sql.success, f"{planted}: the planted faults went unnoticed"
        if (sql.rows, gate_failures(sql)) != (gx.rows, gate_failures(gx)):
            differ.append(f"{planted}: SQL {sql.summary()}\n  GX {gx.summary()}")
        kinds |= {f.expectation for f in sql.failures}
    assert differ == []
    assert len(kinds) >= 8, kinds  # nearly every kind of expectation failed somewhere


def test_five_planted_faults_are_each_reported_with_their_source_line_both_ways(
    warehouse,
) -> None:
    ds = CAT.dataset("eurostat.crim_off_cat")
    con = warehouse
    con.execute(f"CREATE OR REPLACE TABLE staging.faulty AS SELECT * FROM {ds.table}")
    lines = [r[0] for r in con.execute("SELECT line FROM staging.faulty LIMIT 5").fetchall()]
    con.execute("UPDATE staging.faulty SET geo_level = NULL WHERE rowid = 0")  # a null
    con.execute("UPDATE staging.faulty SET value = -5 WHERE rowid = 1")  # out of range
    con.execute("INSERT INTO staging.faulty SELECT * FROM staging.faulty WHERE rowid = 2")
    con.execute("UPDATE staging.faulty SET unit = 'XX' WHERE rowid = 3")  # a bad code
    con.execute("UPDATE staging.faulty SET period = '1850' WHERE rowid = 4")  # a regex miss

    sql, gx = both_ways(con, "staging.faulty", ds)

    assert gate_failures(sql) == gate_failures(gx)
    found = {
        f.expectation: (f.unexpected_count, [r["line"] for r in f.sample_rows])
        for f in sql.failures
    }
    assert found == {
        "expect_column_values_to_not_be_null": (1, [lines[0]]),
        "expect_column_values_to_be_between": (1, [lines[1]]),
        "expect_compound_columns_to_be_unique": (2, [lines[2], lines[2]]),
        "expect_column_values_to_be_in_set": (1, [lines[3]]),
        "expect_column_values_to_match_regex": (1, [lines[4]]),
    }
    assert sql.table == "staging.faulty" and sql.rows == gx.rows
    assert "rule 'value plausible for this dataset (catalogue value_range)'" in sql.summary()
    assert "value=-5.0" in sql.summary()


def test_the_sql_gate_reads_no_pandas_frame(warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default path never copies a table into pandas (that is the GX path's cost)."""

    def no_frame(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the SQL gate read the table into pandas")

    monkeypatch.setattr(duckdb.DuckDBPyConnection, "df", no_frame)
    monkeypatch.setattr(duckdb.DuckDBPyConnection, "fetchdf", no_frame)
    ds = CAT.dataset("eurostat.crim_off_cat")
    assert validate_table(warehouse, ds.table, ds).success
    with pytest.raises(AssertionError, match="into pandas"):
        validate_table(warehouse, ds.table, ds, engine="gx")
