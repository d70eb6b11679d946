"""Unit tests for pipelines.publish: exports, report, release record, atomic swap, pruning.

Every build is a real DuckDB file at `Paths.build_warehouse(release)` under tmp_path, made as
a run makes it: `init_build`, the staging tables (crim_off_cat staged by `stage_dataset`
from a snapshot store under tmp_path, the other datasets empty), the release_datasets row
recorded by the staging asset's own function, indicator 1 and the trend tables, and the
gate record (meta.gate_results) as the gates write it: crim_off_cat's staging gate is the
real report of `stage_dataset`; every other gated table is recorded as passed unless a test
says otherwise (the record is publish's input: what it does with a failed or missing gate is
what these tests check).

Release r1 (TSV_V1) is built and published once per module (`first_release`): the tests that
only read it share it, the tests that build on it start from a copy of its data folder
(`published_r1`), instead of building and publishing r1 again each.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from python_calamine import CalamineWorkbook

from pipelines import reuse
from pipelines.catalogue import Catalogue, load_catalogue
from pipelines.checks import ValidationReport
from pipelines.exports import write_tables
from pipelines.fetch import Fetcher
from pipelines.geo import GeoResolver
from pipelines.indicators import build_indicator
from pipelines.meta import init_build, published_snapshot
from pipelines.publish import (
    KEEP_EXPORTS,
    PublishError,
    Release,
    gated_tables,
    prune_exports,
    publish_build,
)
from pipelines.settings import Paths
from pipelines.snapshots import SnapshotStore
from pipelines.stage import create_table, stage_dataset, validate_table
from pipelines.trend_tables import TABLES as TREND_TABLES
from pipelines.trends import build_trends
from pipelines.warehouse import record_gate, record_release_dataset

CRIM = "eurostat.crim_off_cat"
TSV_V1 = (
    b"freq,iccs,unit,geo\\TIME_PERIOD\t2019 \t2020 \t2021 \n"
    b"A,ICCS0601,NR,AT\t9 \t10 \t12 p\n"
    b"A,ICCS0601,NR,BE\t6 \t7 \t: c\n"
)
TSV_V2 = TSV_V1.replace(b"\t12 p", b"\t13 ")


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(tmp_path / "data")


def make_build(
    paths: Paths,
    cat: Catalogue,
    release_id: str,
    tsv: bytes | None = TSV_V1,
    *,
    record: bool = True,
    full: bool = True,
    ungated: tuple[str, ...] = (),
) -> str:
    """Write build-<release_id>.duckdb; returns the state crim_off_cat was staged with.
    `ungated`: gated tables whose gate did not run (no record)."""
    store = SnapshotStore(paths.raw_dir)
    if tsv is not None:
        source = paths.data_dir / "incoming" / f"{release_id}.tsv"
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_bytes(tsv)
        Fetcher(store).load_file(cat.dataset(CRIM), source)
    build = paths.build_warehouse(release_id)
    build.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(build))
    try:
        init_build(con, cat, store, paths)
        for ds in cat.datasets.values():
            create_table(con, ds.table, ds)
        result = stage_dataset(
            con,
            cat.dataset(CRIM),
            store.snapshots(CRIM),
            GeoResolver(cat.geo),
            published_sha=published_snapshot(con, CRIM),
            fetch_problem=None,
        )
        if record:
            record_release_dataset(con, release_id, result)
        if full:
            build_indicator(con, cat.indicators[1])
            build_trends(con, cat)
        assert result.report is not None and result.report.success
        record_gate(con, release_id, result.report)
        for table in gated_tables(cat):
            if table not in ungated and table != cat.dataset(CRIM).table:
                record_gate(con, release_id, ValidationReport(table, table, 0, 0, []))
    finally:
        con.close()
    return result.state


@dataclass(frozen=True)
class FirstRelease:
    paths: Paths
    state: str  # what crim_off_cat was staged with
    release: Release


@pytest.fixture(scope="module")
def first_release(cat: Catalogue, tmp_path_factory: pytest.TempPathFactory) -> FirstRelease:
    """r1 built (`make_build`) and published into an empty data folder, once for the tests
    that only read what it published."""
    paths = Paths(tmp_path_factory.mktemp("first_release") / "data")
    state = make_build(paths, cat, "r1")
    return FirstRelease(paths, state, publish_build(paths, "r1", cat))


@pytest.fixture
def published_r1(first_release: FirstRelease, tmp_path: Path) -> Paths:
    """A data folder of its own in which r1 is published: a copy of `first_release`'s."""
    paths = Paths(tmp_path / "data")
    shutil.copytree(first_release.paths.data_dir, paths.data_dir, symlinks=True)
    return paths


def read_only(path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path), read_only=True)


def releases(path: Path) -> list[tuple]:
    con = read_only(path)
    try:
        return con.execute(
            "SELECT release_id, datasets, datasets_fresh, datasets_unchanged, summary, "
            "published_at IS NOT NULL FROM meta.releases ORDER BY built_at"
        ).fetchall()
    finally:
        con.close()


def test_first_publish_swaps_in_the_build_with_exports_report_and_release_row(
    first_release: FirstRelease,
) -> None:
    paths, release = first_release.paths, first_release.release
    assert first_release.state == "fresh"
    build = paths.build_warehouse("r1")

    assert release.release_id == "r1"
    assert release.warehouse == paths.published_warehouse
    assert paths.published_warehouse.is_file()
    assert not build.exists()  # renamed, not copied
    assert not paths.previous_warehouse.exists()  # nothing was published before
    assert release.states == {CRIM: "fresh"}
    assert release.summary == "1 fresh"
    assert releases(paths.published_warehouse) == [("r1", 1, 1, 0, "1 fresh", True)]

    current = paths.exports_dir / "current"
    assert current.is_symlink() and os.readlink(current) == "r1"
    assert current.resolve() == release.exports == paths.exports_dir / "r1"
    files = {p.name for p in release.exports.iterdir()}
    for name in (
        "indicators.ind01_organised_crime.parquet",
        "indicators.ind01_organised_crime.csv",
        "trends.series.parquet",
        "trends.assessment.parquet",
        "meta.releases.parquet",
        "meta.release_datasets.parquet",
        "report.html",
        "release.json",
    ):
        assert name in files, name
    assert not any(n.startswith("staging.") for n in files)  # staging is not published
    exported = duckdb.sql(
        f"SELECT measure, geo, period, value FROM "
        f"'{release.exports / 'indicators.ind01_organised_crime.parquet'}' "
        "WHERE geo = 'AT' ORDER BY period"
    ).fetchall()
    assert exported == [
        ("drug_law_offences", "AT", 2019, 9.0),
        ("drug_law_offences", "AT", 2020, 10.0),
        ("drug_law_offences", "AT", 2021, 12.0),
    ]
    html = (release.exports / "report.html").read_text(encoding="utf-8")
    assert "r1" in html and CRIM in html
    assert json.loads((release.exports / "release.json").read_text()) == {
        "release_id": "r1",
        "datasets": {CRIM: "fresh"},
        "summary": "1 fresh",
    }
    con = read_only(paths.published_warehouse)
    try:
        comment = con.execute(
            "SELECT comment FROM duckdb_tables() WHERE table_name = 'ind01_organised_crime'"
        ).fetchone()[0]
        leftovers = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '\\_candidate%' ESCAPE '\\'"
        ).fetchone()[0]
    finally:
        con.close()
    assert comment.startswith("Indicator 1: ") and "Source: Eurostat, crim_off_cat" in comment
    assert leftovers == 0


def test_second_publish_keeps_the_first_as_previous(cat: Catalogue, published_r1: Paths) -> None:
    paths = published_r1
    first_bytes = paths.published_warehouse.read_bytes()

    # The same snapshot again: unchanged against the published release.
    assert make_build(paths, cat, "r2", tsv=None) == "unchanged"
    release = publish_build(paths, "r2", cat)

    assert paths.previous_warehouse.read_bytes() == first_bytes
    assert releases(paths.previous_warehouse) == [("r1", 1, 1, 0, "1 fresh", True)]
    # The release history travels with every build (append-only).
    assert releases(paths.published_warehouse) == [
        ("r1", 1, 1, 0, "1 fresh", True),
        ("r2", 1, 0, 1, "1 unchanged", True),
    ]
    assert release.states == {CRIM: "unchanged"}
    assert os.readlink(paths.exports_dir / "current") == "r2"
    assert (paths.exports_dir / "r1").is_dir()  # older exports are kept (up to the limit)
    assert not any(p.name.startswith(".") for p in paths.warehouse_dir.iterdir())


def test_publishing_a_missing_build_changes_nothing(cat: Catalogue, published_r1: Paths) -> None:
    paths = published_r1
    before = paths.published_warehouse.read_bytes()

    with pytest.raises(PublishError, match="no build file") as info:
        publish_build(paths, "never-built", cat)

    assert str(paths.build_warehouse("never-built")) in str(info.value)
    assert paths.published_warehouse.read_bytes() == before
    assert not paths.previous_warehouse.exists()
    assert os.readlink(paths.exports_dir / "current") == "r1"
    assert not (paths.exports_dir / "never-built").exists()


def test_a_build_without_staged_datasets_is_refused(cat: Catalogue, published_r1: Paths) -> None:
    paths = published_r1
    before = paths.published_warehouse.read_bytes()
    make_build(paths, cat, "r2", tsv=TSV_V2, record=False)

    with pytest.raises(PublishError, match="build r2 records no dataset"):
        publish_build(paths, "r2", cat)

    assert paths.published_warehouse.read_bytes() == before
    assert not paths.previous_warehouse.exists()
    assert paths.build_warehouse("r2").exists()  # left for inspection, not published
    assert os.readlink(paths.exports_dir / "current") == "r1"
    assert not (paths.exports_dir / "r2").exists()


def test_publish_alone_after_a_failed_gate_refuses_and_changes_nothing(
    cat: Catalogue, published_r1: Paths
) -> None:
    """Publish re-executed alone (the orchestrator not consulted) reads the build's own gate
    record: a gate that failed in this build keeps the build from being published."""
    paths = published_r1
    before = paths.published_warehouse.read_bytes()
    make_build(paths, cat, "r2", tsv=TSV_V2)
    ind = cat.indicators[1]
    con = duckdb.connect(str(paths.build_warehouse("r2")))
    try:  # a row without a measure: indicator 1's real gate fails, and records it
        con.execute(f"UPDATE {ind.table} SET measure = NULL WHERE geo = 'AT' AND period = 2021")
        report = validate_table(con, ind.table, ind)
        assert not report.success
        record_gate(con, "r2", report)
    finally:
        con.close()

    with pytest.raises(PublishError) as info:
        publish_build(paths, "r2", cat)

    message = str(info.value)
    assert message.startswith("build r2 not published: its gate record does not clear it: ")
    assert f"{ind.table}: gate failed: " in message and "measure" in message
    assert paths.published_warehouse.read_bytes() == before
    assert not paths.previous_warehouse.exists()
    assert os.readlink(paths.exports_dir / "current") == "r1"
    assert not (paths.exports_dir / "r2").exists()


def test_a_build_whose_gate_did_not_run_is_refused(cat: Catalogue, published_r1: Paths) -> None:
    paths = published_r1
    before = paths.published_warehouse.read_bytes()
    make_build(paths, cat, "r2", tsv=TSV_V2, ungated=("trends.assessment",))

    with pytest.raises(PublishError, match="trends.assessment: its gate did not run"):
        publish_build(paths, "r2", cat)

    assert paths.published_warehouse.read_bytes() == before


def test_the_gate_record_is_published_with_the_release(
    cat: Catalogue, first_release: FirstRelease
) -> None:
    paths = first_release.paths
    con = read_only(paths.published_warehouse)
    try:
        rows = con.execute(
            "SELECT table_name, passed FROM meta.gate_results WHERE release_id = 'r1'"
        ).fetchall()
    finally:
        con.close()
    assert sorted(t for t, _ in rows) == sorted(gated_tables(cat))
    assert all(passed for _, passed in rows)


def test_an_open_reader_keeps_its_consistent_view_across_the_swap(
    cat: Catalogue, published_r1: Paths
) -> None:
    paths = published_r1
    reader = read_only(paths.published_warehouse)
    query = (
        "SELECT (SELECT list(release_id ORDER BY release_id) FROM meta.releases), "
        "(SELECT list(value ORDER BY geo, period) FROM indicators.ind01_organised_crime)"
    )
    try:
        seen_before = reader.execute(query).fetchone()
        assert seen_before[0] == ["r1"]

        make_build(paths, cat, "r2", tsv=TSV_V2)
        publish_build(paths, "r2", cat)

        assert reader.execute(query).fetchone() == seen_before
        assert reader.execute("SELECT count(*) FROM trends.series").fetchone()[0] > 0
    finally:
        reader.close()
    after = read_only(paths.published_warehouse)
    try:
        releases_now, values_now = after.execute(query).fetchone()
    finally:
        after.close()
    assert releases_now == ["r1", "r2"]
    assert 13.0 in values_now and 12.0 not in values_now


def test_prune_keeps_the_newest_export_folders(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    for i in range(8):
        (folder / f"release-{i}").mkdir(parents=True)
        (folder / f"release-{i}" / "report.html").write_text("x")
        os.utime(folder / f"release-{i}", (1_700_000_000 + i, 1_700_000_000 + i))
    (folder / "current").symlink_to("release-7")

    prune_exports(folder, keep=5)

    assert sorted(p.name for p in folder.iterdir()) == [
        "current",
        "release-3",
        "release-4",
        "release-5",
        "release-6",
        "release-7",
    ]
    assert (folder / "current").resolve() == folder / "release-7"


def test_publishing_prunes_all_but_the_last_exports(cat: Catalogue, paths: Paths) -> None:
    assert KEEP_EXPORTS == 5
    published = []
    for i in range(KEEP_EXPORTS + 2):
        release_id = f"r{i}"
        make_build(paths, cat, release_id, tsv=TSV_V1 if i % 2 == 0 else TSV_V2, full=False)
        publish_build(paths, release_id, cat)
        published.append(release_id)
        # Give the folder a distinct age in the past, so "newest" is decided by the order of
        # the releases and not by the file system's timestamp resolution.
        stamp = 1_700_000_000 + i
        os.utime(paths.exports_dir / release_id, (stamp, stamp))

    kept = sorted(p.name for p in paths.exports_dir.iterdir() if p.is_dir() and not p.is_symlink())
    assert kept == sorted(published[-KEEP_EXPORTS:])
    assert os.readlink(paths.exports_dir / "current") == published[-1]
    assert len(releases(paths.published_warehouse)) == KEEP_EXPORTS + 2


def test_exports_are_written_when_the_data_folder_name_holds_a_quote(
    cat: Catalogue, tmp_path: Path
) -> None:
    paths = Paths(tmp_path / "analyst's data")
    make_build(paths, cat, "r1")

    release = publish_build(paths, "r1", cat)

    exported = release.exports / "indicators.ind01_organised_crime.parquet"
    assert duckdb.execute("SELECT count(*) FROM read_parquet(?)", [str(exported)]).fetchone()[0]


def arrow_field_type(kind: pa.DataType) -> str:
    """The Table Schema type a Parquet column's type is (independent of pipelines.exports)."""
    checks = [
        (pa.types.is_integer, "integer"),
        (pa.types.is_floating, "number"),
        (pa.types.is_decimal, "number"),
        (pa.types.is_boolean, "boolean"),
        (pa.types.is_timestamp, "datetime"),
        (pa.types.is_date, "date"),
        (pa.types.is_list, "array"),
        (pa.types.is_string, "string"),
        (pa.types.is_large_string, "string"),
    ]
    return next(name for check, name in checks if check(kind))


def test_the_datapackage_describes_every_export_with_its_schema(
    first_release: FirstRelease,
) -> None:
    paths, folder = first_release.paths, first_release.release.exports

    package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))

    resources = package["resources"]
    assert {r["path"] for r in resources} == {
        p.name for p in folder.iterdir() if p.name != "datapackage.json"
    }
    names = [r["name"] for r in resources]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[-a-z0-9._/]+", n) for n in names)
    con = read_only(paths.published_warehouse)
    try:
        tables = con.execute(
            "SELECT schema_name || '.' || table_name FROM duckdb_tables() "
            "WHERE schema_name IN ('indicators', 'trends', 'meta')"
        ).fetchall()
    finally:
        con.close()
    for (table,) in tables:  # every published table, both ways
        assert {f"{table}.parquet", f"{table}.csv"} <= {r["path"] for r in resources}, table
    for resource in resources:
        path = folder / resource["path"]
        assert resource["bytes"] == path.stat().st_size
        if resource["format"] not in ("parquet", "csv"):
            assert resource["mediatype"] and "schema" not in resource
            continue
        fields = resource["schema"]["fields"]
        parquet = pq.read_table(folder / resource["path"].replace(".csv", ".parquet"))
        assert [f["name"] for f in fields] == parquet.schema.names, resource["path"]
        assert [f["type"] for f in fields] == [arrow_field_type(t) for t in parquet.schema.types]
        if resource["format"] == "csv":
            assert resource["mediatype"] == "text/csv"
            with path.open(encoding="utf-8", newline="") as fh:
                header, *rows = list(csv.reader(fh))
            assert header == [f["name"] for f in fields]
            assert len(rows) == parquet.num_rows
            for row in rows:  # the CSV cells read as the declared types
                for field, cell in zip(fields, row, strict=True):
                    if cell and field["type"] == "datetime":
                        datetime.strptime(cell, "%Y-%m-%dT%H:%M:%SZ")
                    if cell and field["type"] == "array":
                        assert isinstance(json.loads(cell), list)
        else:
            assert resource["mediatype"] == "application/vnd.apache.parquet"
    ind01 = next(r for r in resources if r["path"] == "indicators.ind01_organised_crime.csv")
    assert {"name": "CC-BY-4.0"}.items() <= ind01["licenses"][0].items()
    assert any("crim_off_cat" in s["title"] for s in ind01["sources"])
    assert any(lic["name"] == "CC-BY-4.0" for lic in package["licenses"])


def trimmed(row: tuple) -> tuple:
    """A row as read back, without the empty cells a reader pads it with to the sheet's width."""
    end = len(row)
    while end and row[end - 1] is None:
        end -= 1
    return row[:end]


def test_the_workbook_has_an_overview_indicator_sheets_with_labels_and_provenance(
    cat: Catalogue, first_release: FirstRelease
) -> None:
    # `make_build`: indicator 1 only (no trends of the other indicators)
    paths, folder = first_release.paths, first_release.release.exports

    book = openpyxl.load_workbook(folder / "eudap-indicators.xlsx", read_only=True)

    assert book.sheetnames == ["Overview", "01 Organised crime", "Provenance"]
    overview = list(book["Overview"].iter_rows(values_only=True))
    header = overview.index(next(r for r in overview if r and r[0] == "Indicator"))
    listed = overview[header + 1 :]
    assert [r[0] for r in listed] == list(range(1, 13))
    assert listed[0][1] == cat.indicators[1].name_en
    assert listed[0][2] == "down (a fall is an improvement)"

    rows = list(book["01 Organised crime"].iter_rows(values_only=True))
    columns = rows[2]
    values = [dict(zip(columns, r, strict=True)) for r in rows[3:]]
    assert len(values) == 6
    described = next(
        m.description for m in cat.indicators[1].measures if m.name == "drug_law_offences"
    )
    assert {v["Measure"] for v in values} == {described}
    assert {v["Country or area"] for v in values} == {"Austria", "Belgium"}
    at_2021 = next(v for v in values if v["Country or area"] == "Austria" and v["Year"] == 2021)
    assert (at_2021["Value"], at_2021["Flags"], at_2021["Flags mean"]) == (12, "p", "provisional")
    be_2021 = next(v for v in values if v["Country or area"] == "Belgium" and v["Year"] == 2021)
    assert (be_2021["Value"], be_2021["Flags mean"]) == (None, "confidential")
    con = read_only(paths.published_warehouse)
    try:
        sha = con.execute("SELECT snapshot_sha256 FROM meta.release_datasets").fetchone()[0]
    finally:
        con.close()
    assert {v["Snapshot sha256"] for v in values} == {sha}
    assert {v["Source"] for v in values} == {cat.dataset(CRIM).title}

    provenance = [trimmed(r) for r in book["Provenance"].iter_rows(values_only=True)]
    crim = next(r for r in provenance if r and r[0] == CRIM)
    assert crim[3:5] == ("fresh", sha)
    assert crim[9] == cat.dataset(CRIM).licence and crim[10] == cat.dataset(CRIM).attribution
    flags = provenance[provenance.index(("Flag", "Means")) + 1 :]
    assert flags == [("c", "confidential"), ("p", "provisional")]


def test_the_workbook_reads_back_cell_by_cell_with_types_formats_and_widths(
    first_release: FirstRelease,
) -> None:
    paths = first_release.paths
    path = first_release.release.exports / "eudap-indicators.xlsx"
    con = read_only(paths.published_warehouse)
    try:
        published = con.execute(
            "SELECT geo, period, value, flags, snapshot_sha256, fetched_at "
            "FROM indicators.ind01_organised_crime ORDER BY geo, period"
        ).fetchall()
    finally:
        con.close()

    book = openpyxl.load_workbook(path)  # not read-only: styles and column widths too
    sheet = book["01 Organised crime"]
    header = [c.value for c in sheet[3]]
    assert header[:3] == ["Measure", "Country or area", "Year"] and len(header) == 17
    assert all(c.font.b for c in sheet[3]) and not any(c.font.b for c in sheet[4])
    rows = [dict(zip(header, row, strict=False)) for row in sheet.iter_rows(min_row=4)]
    assert len(rows) == len(published) == 6
    countries = {"AT": "Austria", "BE": "Belgium"}
    for row, (geo, period, value, flags, sha, fetched) in zip(rows, published, strict=True):
        assert row["Country or area"].value == countries[geo]
        year = row["Year"]
        assert (type(year.value), year.value, year.data_type) == (int, period, "n")
        assert row["Value"].value == value and row["Value"].number_format == "General"
        assert row["Flags"].value == flags and row["Snapshot sha256"].value == sha
        stamp = row["Fetched at (UTC)"]
        assert (stamp.value, stamp.is_date, stamp.number_format) == (
            fetched,
            True,
            "yyyy-mm-dd h:mm:ss",
        )
    widths = sheet.column_dimensions
    assert round(widths["A"].width) in (45, 46) and round(widths["C"].width) in (16, 17)
    cells = [c for ws in book.worksheets for r in ws.iter_rows() for c in r]
    assert not [c.coordinate for c in cells if c.data_type == "f"]  # no text became a formula

    calamine = CalamineWorkbook.from_path(str(path))  # a second, independent reader
    assert calamine.sheet_names == book.sheetnames
    read = calamine.get_sheet_by_name("01 Organised crime").to_python()[3:]
    for cells, (geo, period, value, flags, sha, fetched) in zip(read, published, strict=True):
        assert cells[1:3] == [countries[geo], period]
        assert cells[7] == ("" if value is None else value) and cells[10] == (flags or "")
        assert cells[14:16] == [sha, fetched]


def reuse_or_record_keys(paths: Paths, cat: Catalogue, release_id: str) -> bool:
    """As the run's assets do for crim_off_cat, indicator 1 and the trend tables: record their
    input keys, and copy indicator 1 and the trend tables from the published release when
    their keys are the ones it recorded. Whether they were copied."""
    store = SnapshotStore(paths.raw_dir)
    con = duckdb.connect(str(paths.build_warehouse(release_id)))
    try:
        ds, ind = cat.dataset(CRIM), cat.indicators[1]
        reuse.record_key(
            con, release_id, reuse.staging_key(cat, ds, store.snapshots(CRIM), allow_sample=False)
        )
        upstream = [
            reuse.build_key(con, release_id, cat.datasets[d].table) or "" for d in ind.datasets
        ]
        keys = [(reuse.indicator_key(ind, upstream), ind.table)]
        keys += [
            (reuse.trends_key(f"trends.{t.name}", cat, [keys[0][0].key]), f"trends.{t.name}")
            for t in TREND_TABLES
        ]
        copied = reuse.tables_reuse(con, paths, release_id, keys)
        if copied is None:
            for key, _ in keys:
                reuse.record_key(con, release_id, key)
    finally:
        con.close()
    return copied is not None


def test_a_copied_table_exports_as_hard_links_and_a_changed_one_is_rewritten(
    cat: Catalogue, paths: Paths, tmp_path: Path
) -> None:
    make_build(paths, cat, "r1")
    assert not reuse_or_record_keys(paths, cat, "r1")
    publish_build(paths, "r1", cat)
    make_build(paths, cat, "r2", tsv=None)  # no new snapshot: the same inputs
    assert reuse_or_record_keys(paths, cat, "r2")

    r2 = publish_build(paths, "r2", cat).exports

    r1 = paths.exports_dir / "r1"
    copied = ["indicators.ind01_organised_crime"] + [f"trends.{t.name}" for t in TREND_TABLES]
    con = read_only(paths.published_warehouse)
    fresh = tmp_path / "fresh" / "r2"  # what the copied tables export to, written anew
    try:
        assert write_tables(con, fresh, "r2") == []  # no r1 folder beside it to link from
    finally:
        con.close()
    for table in copied:
        for suffix in (".parquet", ".csv"):
            name = table + suffix
            assert (r2 / name).samefile(r1 / name), name
            assert (r2 / name).read_bytes() == (fresh / name).read_bytes(), name
    for meta in ("meta.releases", "meta.release_datasets", "meta.indicators"):
        assert (r2 / f"{meta}.csv").stat().st_nlink == 1  # not copied: written by this release
    package = json.loads((r2 / "datapackage.json").read_text(encoding="utf-8"))
    sizes = {r["path"]: r["bytes"] for r in package["resources"]}
    assert (
        sizes["indicators.ind01_organised_crime.csv"]
        == (r1 / "indicators.ind01_organised_crime.csv").stat().st_size
    )

    make_build(paths, cat, "r3", tsv=TSV_V2)  # a new snapshot: indicator 1 is rebuilt
    assert not reuse_or_record_keys(paths, cat, "r3")
    r3 = publish_build(paths, "r3", cat).exports

    for table in copied:
        for suffix in (".parquet", ".csv"):
            name = table + suffix
            assert not (r3 / name).samefile(r2 / name) and (r3 / name).stat().st_nlink == 1
    with (r3 / "indicators.ind01_organised_crime.csv").open(encoding="utf-8") as fh:
        at_2021 = [r for r in csv.DictReader(fh) if (r["geo"], r["period"]) == ("AT", "2021")]
    assert [float(r["value"]) for r in at_2021] == [13.0]
    assert (r1 / "indicators.ind01_organised_crime.csv").read_bytes() == (
        r2 / "indicators.ind01_organised_crime.csv"
    ).read_bytes()  # the earlier releases' files are untouched


def test_a_failed_export_publishes_nothing(
    cat: Catalogue, published_r1: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = published_r1
    before = paths.published_warehouse.read_bytes()
    make_build(paths, cat, "r2", tsv=TSV_V2)

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    # the Parquet and CSV files are written, then the workbook fails
    monkeypatch.setattr("pipelines.exports.write_workbook", disk_full)
    with pytest.raises(OSError, match="No space left"):
        publish_build(paths, "r2", cat)

    assert paths.published_warehouse.read_bytes() == before
    assert not paths.previous_warehouse.exists()
    assert os.readlink(paths.exports_dir / "current") == "r1"
    assert not (paths.exports_dir / "r2").exists()  # no half-written folder left behind
    assert paths.build_warehouse("r2").exists()  # left for inspection, not published
