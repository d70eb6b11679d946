"""The run's build folder (pipelines/parts.py): what a staging step leaves as Parquet and
meta/staged loads into the build file is what staging the dataset in the build itself gives:
the same tables, column types and rows, the same records (release dataset, gate verdict,
input key), and a re-executed step replaces its own records.

Real parts: the real catalogue entry `eurostat.crim_off_cat` and its gate, a snapshot store
and DuckDB files under tmp_path.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines import parts, reuse
from pipelines.catalogue import load_catalogue
from pipelines.fetch import Fetcher
from pipelines.geo import GeoResolver
from pipelines.settings import Paths
from pipelines.snapshots import SnapshotStore
from pipelines.stage import StageResult, create_view, stage_dataset, validate_table
from pipelines.warehouse import record_gate, record_release_dataset, run_sql_file

BUILD = "0f0e0d0c-0000-4000-8000-0000000000aa"
TSV = (
    b"freq,iccs,unit,geo\\TIME_PERIOD\t2020 \t2021 \n"
    b"A,ICCS0601,NR,AT\t10 \t12 p\n"
    b"A,ICCS0601,NR,EL\t7 \t: c\n"
    b"A,ICCS0601,P_HTHAB,AT13\t5.5 \t:\n"
)
RECORDS = ("meta.release_datasets", "meta.gate_results", "meta.input_keys")


def stage_into(
    con: duckdb.DuckDBPyConnection, paths: Paths, folder: Path | None = None
) -> StageResult:
    """What a staging step does to the connection it works in (with `folder`, where it
    writes the staged Parquet files)."""
    cat = load_catalogue()
    ds = cat.dataset("eurostat.crim_off_cat")
    snapshots = SnapshotStore(paths.raw_dir).snapshots(ds.id)
    result = stage_dataset(
        con,
        ds,
        snapshots,
        GeoResolver(cat.geo),
        published_sha=None,
        fetch_problem=None,
        folder=folder,
    )
    record_release_dataset(con, BUILD, result)
    record_gate(con, BUILD, result.report or validate_table(con, ds.table, ds))
    reuse.record_key(con, BUILD, reuse.staging_key(cat, ds, snapshots, allow_sample=True))
    return result


def described(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    schema, name = table.split(".")
    return con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? "
        "AND table_name = ? ORDER BY column_index",
        [schema, name],
    ).fetchall()


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    paths = Paths(tmp_path / "data")
    source = tmp_path / "crim.tsv"
    source.write_bytes(TSV)
    ds = load_catalogue().dataset("eurostat.crim_off_cat")
    assert Fetcher(SnapshotStore(paths.raw_dir)).load_file(ds, source).status == "new"
    return paths


def test_a_table_staged_through_the_build_folder_equals_one_staged_in_the_build(
    paths: Paths, tmp_path: Path
) -> None:
    direct = duckdb.connect(str(tmp_path / "direct.duckdb"))
    run_sql_file(direct, "meta/schema.sql")
    stage_into(direct, paths)

    folder = parts.step_folder(paths, BUILD, parts.STAGING, "eurostat_crim_off_cat")
    with parts.scratch(paths, BUILD) as con:
        staged_files = parts.staged_files_folder(paths, BUILD)
        result = stage_into(con, paths, staged_files)
        # staged as a staging step stages: the table is a view of the Parquet file written
        assert [f.parent for f in result.files] == [staged_files]
        written = parts.write_step(con, folder, {"staging.eurostat_crim_off_cat": result.files})
    # the staging table, and only the meta tables staging put rows in
    assert sorted(written) == sorted(["staging.eurostat_crim_off_cat", *RECORDS])
    assert not list(paths.build_parts(BUILD).glob(".*")), "a temporary was left behind"
    # the staged file was moved into the step folder as it was, not written again
    assert (folder / "staging.eurostat_crim_off_cat.0.parquet").is_file()

    assembled = duckdb.connect(str(tmp_path / "assembled.duckdb"))
    run_sql_file(assembled, "meta/schema.sql")
    loaded = parts.load_steps(assembled, paths.build_parts(BUILD) / parts.STAGING)
    (staged,) = direct.execute("SELECT count(*) FROM staging.eurostat_crim_off_cat").fetchone()
    assert staged > 0 and loaded["staging.eurostat_crim_off_cat"] == staged

    for table in ["staging.eurostat_crim_off_cat", *RECORDS]:
        assert described(assembled, table) == described(direct, table), table
        timed = table == "meta.gate_results"  # checked_at: when each gate ran
        query = f"SELECT * {'EXCLUDE (checked_at) ' if timed else ''}FROM {table}"
        assert assembled.execute(query).fetchall() == direct.execute(query).fetchall(), table

    # a re-executed step replaces its records and its table: nothing doubles
    loaded_again = parts.load_steps(assembled, paths.build_parts(BUILD) / parts.STAGING)
    assert loaded_again == loaded
    for table in ["staging.eurostat_crim_off_cat", *RECORDS]:
        (n,) = assembled.execute(f"SELECT count(*) FROM {table}").fetchone()
        (m,) = direct.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert n == m, table


def test_an_empty_staging_table_keeps_its_declared_columns(paths: Paths, tmp_path: Path) -> None:
    folder = parts.step_folder(paths, BUILD, parts.STAGING, "x")
    with parts.scratch(paths, BUILD) as con:
        con.execute("CREATE TABLE staging.x (a VARCHAR, b DOUBLE, c BIGINT, d VARCHAR[])")
        assert parts.write_step(con, folder) == ["staging.x"]
    build = duckdb.connect(str(tmp_path / "build.duckdb"))
    run_sql_file(build, "meta/schema.sql")
    assert parts.load_steps(build, paths.build_parts(BUILD) / parts.STAGING) == {"staging.x": 0}
    assert described(build, "staging.x") == [
        ("a", "VARCHAR"),
        ("b", "DOUBLE"),
        ("c", "BIGINT"),
        ("d", "VARCHAR[]"),
    ]


def test_a_table_of_several_parquet_files_loads_their_rows_in_order(
    paths: Paths, tmp_path: Path
) -> None:
    folder = parts.step_folder(paths, BUILD, parts.STAGING, "x")
    with parts.scratch(paths, BUILD) as con:
        files = []
        for n, rows in enumerate([[("a", 1.0), ("b", 2.0)], [("c", 3.0)]]):
            files.append(tmp_path / f"member{n}.parquet")
            values = ", ".join(f"('{k}', {v})" for k, v in rows)
            con.execute(
                f"COPY (SELECT * FROM (VALUES {values}) t(k, v)) TO '{files[-1]}' (FORMAT parquet)"
            )
        create_view(con, "staging.x", files)
        assert parts.write_step(con, folder, {"staging.x": files}) == ["staging.x"]
    assert not any(f.exists() for f in files)  # moved, not copied
    build = duckdb.connect(str(tmp_path / "build.duckdb"))
    run_sql_file(build, "meta/schema.sql")
    assert parts.load_steps(build, paths.build_parts(BUILD) / parts.STAGING) == {"staging.x": 3}
    assert described(build, "staging.x") == [("k", "VARCHAR"), ("v", "DECIMAL(2,1)")]
    assert build.execute("SELECT * FROM staging.x ORDER BY rowid").fetchall() == [
        ("a", 1.0),
        ("b", 2.0),
        ("c", 3.0),
    ]
