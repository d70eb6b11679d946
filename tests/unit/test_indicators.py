"""Unit tests for pipelines.indicators: indicator tables built from `sql/indicators/*.sql`.

A build is a DuckDB file under tmp_path prepared as a run prepares it: `meta.init_build`
with a snapshot store under tmp_path, then the staging tables (crim_off_cat staged from a
real snapshot by `stage_dataset`, every other dataset's table created empty with its
declared layout).

The SQL-contract errors need a query that returns the wrong columns. `build_indicator` reads
`<SQL_DIR>/indicators/<table>.sql` and the repository's `sql/` must not be edited by tests, so
those tests point the module's `SQL_DIR` (a location setting, not code) at a folder under
tmp_path holding a copy of the real `_macros.sql` and the faulty query; the code under test
runs unchanged.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines import indicators as indicators_module
from pipelines.catalogue import Catalogue, load_catalogue
from pipelines.fetch import Fetcher
from pipelines.geo import GeoResolver
from pipelines.indicators import (
    SQL_COLUMNS,
    IndicatorSQLError,
    body_sql,
    build_indicator,
    create_macros,
    sql_path,
)
from pipelines.meta import init_build
from pipelines.settings import SQL_DIR, Paths
from pipelines.snapshots import Snapshot, SnapshotMeta, SnapshotStore
from pipelines.stage import create_table, stage_dataset, validate_table

CRIM = "eurostat.crim_off_cat"
TSV = (
    b"freq,iccs,unit,geo\\TIME_PERIOD\t2020 \t2021 \n"
    b"A,ICCS0601,NR,AT\t10 \t12 p\n"  # line 2
    b"A,ICCS0601,NR,EL\t7 \t: c\n"  # line 3
    b"A,ICCS0601,P_HTHAB,AT\t0.11 \t0.13 \n"  # line 4
    b"A,ICCS0101,NR,EU27_2020\t3500 \t:\n"  # line 5
    b"A,ICCS0401,NR,AT\t99 \t98 \n"  # line 6: an offence category no indicator uses
)
ENGINE_COLUMNS = [
    ("indicator_id", "INTEGER"),
    *SQL_COLUMNS,
    ("fetched_at", "TIMESTAMP"),
    ("is_sample", "BOOLEAN"),
    ("value_origin", "VARCHAR"),
]


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(tmp_path / "data")


@pytest.fixture
def store(paths: Paths) -> SnapshotStore:
    return SnapshotStore(paths.raw_dir)


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(tmp_path / "build.duckdb"))
    yield connection
    connection.close()


def prepare_build(
    con: duckdb.DuckDBPyConnection, cat: Catalogue, store: SnapshotStore, paths: Paths
) -> None:
    """init_build, crim_off_cat staged from the store, every other staging table empty."""
    init_build(con, cat, store, paths)
    for ds in cat.datasets.values():
        if ds.id != CRIM:
            create_table(con, ds.table, ds)
    ds = cat.dataset(CRIM)
    result = stage_dataset(
        con, ds, store.snapshots(CRIM), GeoResolver(cat.geo), published_sha=None, fetch_problem=None
    )
    assert result.state == "fresh", result.reason


def empty_build(
    con: duckdb.DuckDBPyConnection, cat: Catalogue, store: SnapshotStore, paths: Paths
) -> None:
    """init_build and every staging table, empty, with its declared layout."""
    init_build(con, cat, store, paths)
    for ds in cat.datasets.values():
        create_table(con, ds.table, ds)


def rows_of(con: duckdb.DuckDBPyConnection, table: str) -> list[dict]:
    cur = con.execute(f"SELECT * FROM {table} ORDER BY measure, geo, period")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_ind01_from_staged_crim_off_cat_carries_provenance(
    cat: Catalogue, store: SnapshotStore, paths: Paths, con, tmp_path: Path
) -> None:
    source = tmp_path / "crim_off_cat.tsv"
    source.write_bytes(TSV)
    snap = Fetcher(store).load_file(cat.dataset(CRIM), source).snapshot
    assert snap is not None
    prepare_build(con, cat, store, paths)
    ind = cat.indicators[1]

    n = build_indicator(con, ind)

    rows = rows_of(con, ind.table)
    assert n == len(rows) == 7  # ICCS0401 is no measure of indicator 1; `:` is no row
    fetched = pd.Timestamp(snap.meta.fetched_at).tz_localize(None).to_pydatetime()
    for r in rows:
        assert r["indicator_id"] == 1
        assert r["fetched_at"] == fetched
        assert r["is_sample"] is False
        assert r["value_origin"] == "published"
        assert r["source_dataset"] == CRIM and r["snapshot_sha256"] == snap.meta.sha256
    assert [
        (r["measure"], r["geo"], r["geo_level"], r["period"], r["value"], r["unit"], r["flags"],
         r["source_line"])
        for r in rows
    ] == [
        ("drug_law_offences", "AT", "country", 2020, 10.0, "count", None, 2),
        ("drug_law_offences", "AT", "country", 2021, 12.0, "count", "p", 2),
        ("drug_law_offences", "EL", "country", 2020, 7.0, "count", None, 3),
        ("drug_law_offences", "EL", "country", 2021, None, "count", "c", 3),
        ("drug_law_offences_rate", "AT", "country", 2020, 0.11, "per 100 000 inhabitants",
         None, 4),
        ("drug_law_offences_rate", "AT", "country", 2021, 0.13, "per 100 000 inhabitants",
         None, 4),
        ("homicide", "EU27_2020", "aggregate", 2020, 3500.0, "count", None, 5),
    ]  # fmt: skip
    described = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {ind.table}").fetchall()]
    assert described == ENGINE_COLUMNS
    report = validate_table(con, ind.table, ind)
    assert report.success, report.summary()


def test_sample_snapshot_marks_every_row_as_sample(
    cat: Catalogue, store: SnapshotStore, paths: Paths, con, tmp_path: Path
) -> None:
    ds = cat.dataset(CRIM)
    tmp = store.dataset_dir(CRIM) / ".download-test"
    tmp.parent.mkdir(parents=True)
    tmp.write_bytes(TSV)
    meta = SnapshotMeta(
        dataset=CRIM,
        file=ds.file_name,
        sha256=hashlib.sha256(TSV).hexdigest(),
        bytes=len(TSV),
        fetched_at="2024-05-01T10:00:00Z",
        origin="mirror",
        url="https://example.invalid/crim_off_cat",
        final_url=None,
        status=200,
        etag=None,
        last_modified=None,
        content_type=None,
        licence=ds.licence,
        attribution=ds.attribution,
        sample=True,
    )
    snap = store.add(CRIM, tmp, meta)
    assert isinstance(snap, Snapshot)
    prepare_build(con, cat, store, paths)

    build_indicator(con, cat.indicators[1])

    assert con.execute(
        "SELECT DISTINCT is_sample, fetched_at FROM indicators.ind01_organised_crime"
    ).fetchall() == [(True, datetime(2024, 5, 1, 10, 0, 0))]


def test_every_indicator_sql_runs_on_the_declared_staging_layouts(
    cat: Catalogue, store: SnapshotStore, paths: Paths, con
) -> None:
    """Every real indicator query runs against empty staging tables of the catalogue's
    layouts, returns the column contract, and its (empty) table has what its suite names."""
    empty_build(con, cat, store, paths)
    built = []
    for ind in cat.indicator_list():
        if not sql_path(ind).exists():
            continue
        assert build_indicator(con, ind) == 0
        described = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {ind.table}").fetchall()]
        assert described == ENGINE_COLUMNS, ind.table
        report = validate_table(con, ind.table, ind)
        assert report.success, report.summary()
        built.append(ind.number)
    assert built == list(range(1, 13))


# -- declared dependencies --------------------------------------------------------------------
@pytest.fixture(scope="module")
def scratch() -> Iterator[duckdb.DuckDBPyConnection]:
    """An empty in-memory database: each binding check works in a transaction it rolls back
    (opening a database per check costs ~20 ms of CPU; a table left over could only make a
    check that must fail pass, never the reverse, and the rollback leaves none)."""
    connection = duckdb.connect()
    yield connection
    connection.close()


def binding_error(
    scratch: duckdb.DuckDBPyConnection, cat: Catalogue, number: int, staged: set[str]
) -> str | None:
    """Why the indicator's query (its macros expanded by DuckDB) does not bind in a database
    holding only the staging tables of `staged`, or None when it binds."""
    con = scratch.cursor()
    con.begin()
    try:
        assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchone() == (0,)
        con.execute("CREATE SCHEMA staging")
        for ds_id in staged:
            create_table(con, cat.datasets[ds_id].table, cat.datasets[ds_id])
        body = body_sql(cat.indicators[number])
        create_macros(con, body)
        con.execute(f"DESCRIBE SELECT * FROM ({body})")
    except duckdb.CatalogException as exc:
        return str(exc).splitlines()[0]
    finally:
        con.rollback()
        con.close()
    return None


@pytest.mark.parametrize("number", range(1, 13))
def test_an_indicator_reads_exactly_the_datasets_it_declares(
    scratch: duckdb.DuckDBPyConnection, cat: Catalogue, number: int
) -> None:
    """The catalogue's `datasets` of an indicator is what its asset waits for: the SQL reads
    every one of them and nothing else."""
    ind = cat.indicators[number]
    declared = set(ind.datasets)
    undeclared = binding_error(scratch, cat, number, declared)
    assert undeclared is None, (
        f"{sql_path(ind)} reads a staging table that assets/indicators/{ind.table_name}.yaml "
        f"does not list in datasets: {undeclared}"
    )
    for ds_id in sorted(declared):
        assert binding_error(scratch, cat, number, declared - {ds_id}) is not None, (
            f"assets/indicators/{ind.table_name}.yaml lists {ds_id}, which {sql_path(ind)} "
            "does not read"
        )


def test_a_query_reading_an_undeclared_table_does_not_bind(
    scratch: duckdb.DuckDBPyConnection, cat: Catalogue
) -> None:
    # ind09 reads euda.edr among others: without it, the query names the missing table
    ind = cat.indicators[9]
    assert "euda.edr" in ind.datasets
    error = binding_error(scratch, cat, 9, set(ind.datasets) - {"euda.edr"})
    assert error is not None and "euda_edr" in error


# -- the SQL contract -------------------------------------------------------------------------
@pytest.fixture
def sql_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A SQL folder under tmp_path with the real macros; build_indicator reads from it."""
    folder = tmp_path / "sql"
    (folder / "indicators").mkdir(parents=True)
    shutil.copyfile(SQL_DIR / "indicators" / "_macros.sql", folder / "indicators" / "_macros.sql")
    monkeypatch.setattr(indicators_module, "SQL_DIR", folder)
    return folder


def real_ind02_sql() -> str:
    return (SQL_DIR / "indicators" / "ind02_emerging_threats.sql").read_text(encoding="utf-8")


def test_sql_with_wrong_columns_raises_naming_file_and_columns(
    cat: Catalogue, store: SnapshotStore, paths: Paths, con, sql_dir: Path
) -> None:
    empty_build(con, cat, store, paths)
    ind = cat.indicators[2]
    body = real_ind02_sql()
    assert body.count("line AS source_line") == 1
    # The first branch of the UNION returns `line` instead of `source_line`: a union takes
    # its column names from its first branch.
    faulty = sql_dir / "indicators" / f"{ind.table_name}.sql"
    faulty.write_text(body.replace("line AS source_line", "line AS line"), encoding="utf-8")
    assert sql_path(ind) == faulty

    with pytest.raises(IndicatorSQLError) as info:
        build_indicator(con, ind)

    message = str(info.value)
    assert message.startswith(f"{faulty}: returns columns")
    assert "missing ['source_line']" in message
    assert "unexpected ['line']" in message
    assert con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'indicators'"
    ).fetchone() == (0,)


def test_sql_with_columns_in_another_order_raises(
    cat: Catalogue, store: SnapshotStore, paths: Paths, con, sql_dir: Path
) -> None:
    empty_build(con, cat, store, paths)
    ind = cat.indicators[1]
    columns = [c for c, _ in SQL_COLUMNS]
    swapped = [columns[1], columns[0], *columns[2:]]
    select = ", ".join(f"NULL AS {c}" for c in swapped)
    faulty = sql_dir / "indicators" / f"{ind.table_name}.sql"
    faulty.write_text(f"SELECT {select}\n", encoding="utf-8")

    with pytest.raises(IndicatorSQLError, match=r"missing \[\], unexpected \[\]") as info:
        build_indicator(con, ind)
    assert str(faulty) in str(info.value)


def test_sql_that_fails_raises_naming_the_file(
    cat: Catalogue, store: SnapshotStore, paths: Paths, con, sql_dir: Path
) -> None:
    empty_build(con, cat, store, paths)
    ind = cat.indicators[1]
    faulty = sql_dir / "indicators" / f"{ind.table_name}.sql"
    faulty.write_text("SELECT * FROM staging.no_such_table;\n", encoding="utf-8")
    with pytest.raises(IndicatorSQLError, match="the query fails") as info:
        build_indicator(con, ind)
    assert str(info.value).startswith(str(faulty))
    assert "no_such_table" in str(info.value)


def test_indicator_without_sql_file_raises(
    cat: Catalogue, store: SnapshotStore, paths: Paths, con
) -> None:
    empty_build(con, cat, store, paths)
    ind = cat.indicators[1].model_copy(update={"short_name": "not_written_yet"})
    with pytest.raises(IndicatorSQLError, match="indicator 1: no SQL file") as info:
        build_indicator(con, ind)
    assert "ind01_not_written_yet.sql" in str(info.value)
