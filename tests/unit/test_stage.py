"""Unit tests for pipelines.stage: the staging gate, quarantine and dataset states.

Real parts only: a snapshot store under tmp_path filled through `Fetcher.load_file`, a DuckDB
file under tmp_path, the real catalogue entries (`eurostat.crim_off_cat`, `euda.bulletin`)
and their real staging suites in `expectations/`, the real parsers.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pipelines import stage as stage_module
from pipelines.catalogue import Catalogue, Dataset, load_catalogue
from pipelines.fetch import Fetcher
from pipelines.geo import GeoResolver
from pipelines.snapshots import Snapshot, SnapshotStore
from pipelines.stage import StageResult, stage_dataset, staging_columns

CRIM = "eurostat.crim_off_cat"
BULLETIN = "euda.bulletin"

HEADER = b"freq,iccs,unit,geo\\TIME_PERIOD\t2020 \t2021 \n"
# Line 2: AT, line 3: EL (2021 confidential, no value), line 4: an aggregate, line 5: a region.
GOOD_TSV = HEADER + (
    b"A,ICCS0601,NR,AT\t10 \t12 p\n"
    b"A,ICCS0601,NR,EL\t7 \t: c\n"
    b"A,ICCS0601,NR,EU27_2020\t1000 \t1100 e\n"
    b"A,ICCS0601,P_HTHAB,AT13\t5.5 \t:\n"
)
# A newer revision whose line 3 carries a malformed geo code (a well-formed unknown code such
# as EA21 is kept with level `other`; only a code of no Eurostat shape fails the gate).
BAD_GEO_TSV = GOOD_TSV.replace(b"AT\t10 \t12 p", b"AT\t11 \t13 ").replace(b"NR,EL\t", b"NR,zz\t")
# A newer revision whose header lost the iccs dimension and gained nace_r2.
DRIFT_TSV = b"freq,nace_r2,unit,geo\\TIME_PERIOD\t2020 \nA,TOTAL,NR,AT\t10 \n"


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def geo(cat: Catalogue) -> GeoResolver:
    return GeoResolver(cat.geo)


@pytest.fixture
def store(tmp_path: Path) -> SnapshotStore:
    return SnapshotStore(tmp_path / "raw")


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(tmp_path / "build.duckdb"))
    yield connection
    connection.close()


def load(store: SnapshotStore, ds: Dataset, source: Path) -> Snapshot:
    """Register a file as a new snapshot (as `eudap load` does); it becomes the newest."""
    outcome = Fetcher(store).load_file(ds, source)
    assert outcome.status == "new", outcome
    assert outcome.snapshot is not None
    return outcome.snapshot


def load_bytes(store: SnapshotStore, ds: Dataset, tmp_path: Path, body: bytes) -> Snapshot:
    source = tmp_path / "incoming" / f"upload-{len(list(tmp_path.glob('incoming/*')))}.tsv"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(body)
    return load(store, ds, source)


def stage(
    con: duckdb.DuckDBPyConnection,
    ds: Dataset,
    store: SnapshotStore,
    geo: GeoResolver,
    *,
    published_sha: str | None = None,
    fetch_problem: str | None = None,
) -> StageResult:
    return stage_dataset(
        con,
        ds,
        store.snapshots(ds.id),
        geo,
        published_sha=published_sha,
        fetch_problem=fetch_problem,
    )


def staged(con: duckdb.DuckDBPyConnection, table: str, columns: str) -> list[tuple]:
    return con.execute(f"SELECT {columns} FROM {table} ORDER BY line, period").fetchall()


# -- a single dataset -------------------------------------------------------------------------
def test_one_good_snapshot_is_staged_fresh_with_geo_flags_and_lines(
    cat: Catalogue, geo: GeoResolver, store: SnapshotStore, con, tmp_path: Path
) -> None:
    ds = cat.dataset(CRIM)
    snap = load_bytes(store, ds, tmp_path, GOOD_TSV)

    result = stage(con, ds, store, geo)

    assert result.state == "fresh"
    assert result.reason is None
    assert result.quarantined == []
    assert result.snapshot == snap and result.members == [snap]
    assert result.report is not None and result.report.success, result.report.summary()
    # `: c` is a row without a value (the flag is kept); a bare `:` is no row at all.
    assert result.rows == 7
    assert staged(
        con, ds.table, "geo_raw, geo, geo_level, iccs, unit, period, value, flags, line"
    ) == [
        ("AT", "AT", "country", "ICCS0601", "NR", "2020", 10.0, None, 2),
        ("AT", "AT", "country", "ICCS0601", "NR", "2021", 12.0, "p", 2),
        ("EL", "EL", "country", "ICCS0601", "NR", "2020", 7.0, None, 3),
        ("EL", "EL", "country", "ICCS0601", "NR", "2021", None, "c", 3),
        ("EU27_2020", "EU27_2020", "aggregate", "ICCS0601", "NR", "2020", 1000.0, None, 4),
        ("EU27_2020", "EU27_2020", "aggregate", "ICCS0601", "NR", "2021", 1100.0, "e", 4),
        ("AT13", "AT13", "region", "ICCS0601", "P_HTHAB", "2020", 5.5, None, 5),
    ]
    # Provenance on every row.
    assert con.execute(
        f"SELECT DISTINCT source_dataset, snapshot_sha256 FROM {ds.table}"
    ).fetchall() == [(CRIM, snap.meta.sha256)]
    # The table has exactly the declared columns, in order.
    described = [r[0] for r in con.execute(f"DESCRIBE {ds.table}").fetchall()]
    assert described == [n for n, _ in staging_columns(ds)]
    # No candidate table is left behind.
    assert con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE '_candidate_%'"
    ).fetchone() == (0,)


def test_a_staged_table_is_validated_once_and_its_report_names_the_table(
    cat: Catalogue,
    geo: GeoResolver,
    store: SnapshotStore,
    con,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ds = cat.dataset(CRIM)
    load_bytes(store, ds, tmp_path, GOOD_TSV)
    validated: list[str] = []
    real = stage_module.validate_sql

    def counting(con, table, suite, label, **kwargs):  # the real validation, counted
        validated.append(label)
        return real(con, table, suite, label, **kwargs)

    monkeypatch.setattr(stage_module, "validate_sql", counting)
    result = stage(con, ds, store, geo)

    assert validated == [ds.table]
    assert result.report is not None and result.report.table == ds.table
    assert result.report.success


def test_bad_newer_snapshot_is_quarantined_and_the_good_one_staged(
    cat: Catalogue, geo: GeoResolver, store: SnapshotStore, con, tmp_path: Path
) -> None:
    ds = cat.dataset(CRIM)
    good = load_bytes(store, ds, tmp_path, GOOD_TSV)
    bad = load_bytes(store, ds, tmp_path, BAD_GEO_TSV)
    assert store.snapshots(ds.id)[0] == bad  # the bad one is the newest

    result = stage(con, ds, store, geo)

    assert result.state == "stale"
    assert result.snapshot == good
    assert result.rows == 7
    assert con.execute(f"SELECT DISTINCT snapshot_sha256 FROM {ds.table}").fetchall() == [
        (good.meta.sha256,)
    ]
    assert [q["snapshot_sha256"] for q in result.quarantined] == [bad.meta.sha256]
    reason = result.reason or ""
    assert f"snapshot {bad.meta.sha256[:12]}" in reason
    assert bad.meta.fetched_at in reason
    assert "quarantined" in reason
    assert "geo code known" in reason  # the rule of the failed expectation
    assert "geo_level" in reason
    assert "line=3" in reason  # the sample row names the file line
    assert "geo_raw='zz'" in reason
    assert result.quarantined[0]["snapshot"] == str(bad.path)


def test_layout_drift_in_a_newer_snapshot_names_missing_and_unexpected_dimensions(
    cat: Catalogue, geo: GeoResolver, store: SnapshotStore, con, tmp_path: Path
) -> None:
    ds = cat.dataset(CRIM)
    good = load_bytes(store, ds, tmp_path, GOOD_TSV)
    drift = load_bytes(store, ds, tmp_path, DRIFT_TSV)

    result = stage(con, ds, store, geo)

    assert result.state == "stale"
    assert result.snapshot == good
    assert [q["snapshot_sha256"] for q in result.quarantined] == [drift.meta.sha256]
    reason = result.reason or ""
    assert "layout drift" in reason
    assert "missing ['iccs']" in reason
    assert "unexpected ['nace_r2']" in reason
    assert f"snapshot {drift.meta.sha256[:12]}" in reason


def test_only_bad_snapshots_leave_an_empty_table_and_state_missing(
    cat: Catalogue, geo: GeoResolver, store: SnapshotStore, con, tmp_path: Path
) -> None:
    ds = cat.dataset(CRIM)
    first = load_bytes(store, ds, tmp_path, BAD_GEO_TSV)
    second = load_bytes(store, ds, tmp_path, DRIFT_TSV)

    result = stage(con, ds, store, geo)

    assert result.state == "missing"
    assert result.snapshot is None and result.members == []
    assert result.rows == 0
    assert {q["snapshot_sha256"] for q in result.quarantined} == {
        first.meta.sha256,
        second.meta.sha256,
    }
    assert "geo code known" in (result.reason or "")
    assert "layout drift" in (result.reason or "")
    assert con.execute(f"SELECT count(*) FROM {ds.table}").fetchone() == (0,)
    described = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {ds.table}").fetchall()]
    assert described == [
        (n, {"string": "VARCHAR", "double": "DOUBLE", "int64": "BIGINT"}[str(t)])
        for n, t in staging_columns(ds)
    ]
    assert "geo_raw" in dict(described) and "iccs" in dict(described)


def test_no_snapshot_at_all_is_missing_with_the_reason(
    cat: Catalogue, geo: GeoResolver, store: SnapshotStore, con
) -> None:
    ds = cat.dataset(CRIM)
    result = stage(con, ds, store, geo, fetch_problem="HTTP 503 from ec.europa.eu")
    assert result.state == "missing"
    assert result.reason == "download failed: HTTP 503 from ec.europa.eu; no snapshot in the store"
    assert con.execute(f"SELECT count(*) FROM {ds.table}").fetchone() == (0,)


def test_published_snapshot_staged_again_is_unchanged(
    cat: Catalogue, geo: GeoResolver, store: SnapshotStore, con, tmp_path: Path
) -> None:
    ds = cat.dataset(CRIM)
    snap = load_bytes(store, ds, tmp_path, GOOD_TSV)

    assert stage(con, ds, store, geo, published_sha=snap.meta.sha256).state == "unchanged"
    assert stage(con, ds, store, geo, published_sha="0" * 64).state == "fresh"


def test_a_failed_download_makes_the_dataset_stale_even_with_a_good_snapshot(
    cat: Catalogue, geo: GeoResolver, store: SnapshotStore, con, tmp_path: Path
) -> None:
    ds = cat.dataset(CRIM)
    snap = load_bytes(store, ds, tmp_path, GOOD_TSV)

    result = stage(
        con, ds, store, geo, published_sha=snap.meta.sha256, fetch_problem="connection refused"
    )

    assert result.state == "stale"
    assert result.snapshot == snap
    assert result.rows == 7
    assert result.quarantined == []
    assert result.reason == "download failed: connection refused"


def test_a_corrupted_snapshot_is_quarantined_naming_the_checksum_mismatch(
    cat: Catalogue, geo: GeoResolver, store: SnapshotStore, con, tmp_path: Path
) -> None:
    ds = cat.dataset(CRIM)
    good = load_bytes(store, ds, tmp_path, GOOD_TSV)
    later = load_bytes(store, ds, tmp_path, GOOD_TSV.replace(b"\t10 \t", b"\t20 \t"))
    later.path.write_bytes(later.path.read_bytes().replace(b"\t20 \t", b"\t30 \t"))

    result = stage(con, ds, store, geo)

    assert result.state == "stale"
    assert result.snapshot == good
    assert [q["snapshot_sha256"] for q in result.quarantined] == [later.meta.sha256]
    reason = result.quarantined[0]["reason"]
    assert "corrupt" in reason
    assert f"does not match the recorded {later.meta.sha256}" in reason
    # Nothing of the corrupted file reached the table.
    assert con.execute(
        f"SELECT value FROM {ds.table} WHERE geo = 'AT' AND period = '2020'"
    ).fetchall() == [(10.0,)]


# -- a collection: the Statistical Bulletin ---------------------------------------------------
CANNABIS_USE = "cannabisUsers.xlsx"  # Drug law offences > Offences By Drug > Cannabis > Use
HEROIN_USE = "heroinUsers.xlsx"  # Drug law offences > Offences By Drug > Heroin > Use
COCAINE_USE = "cocaineUsers.xlsx"


def edit_xlsx(source: Path, target: Path, member: str, old: str, new: str) -> Path:
    """Copy an XLSX export with one text replacement in one of its XML parts."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == member:
                text = data.decode("utf-8")
                assert text.count(old) == 1, f"{old!r} must occur once in {member}"
                data = text.replace(old, new).encode("utf-8")
            zout.writestr(info, data)
    return target


@pytest.fixture
def bulletin_files(upstream_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "bulletin"
    folder.mkdir()
    source = upstream_dir / "emcdda_statistical_bulletin_2019"
    for name in (CANNABIS_USE, HEROIN_USE, COCAINE_USE):
        shutil.copyfile(source / name, folder / name)
    return folder


def member_values(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], float]:
    return {
        (crumb, period): value
        for crumb, period, value in con.execute(
            "SELECT table_breadcrumb, period, value FROM staging.euda_bulletin "
            "WHERE geo = 'AT' AND subnational IS NULL"
        ).fetchall()
    }


def test_collection_stages_each_member_and_only_the_newest_version_of_a_table(
    cat: Catalogue, geo: GeoResolver, store: SnapshotStore, con, bulletin_files: Path
) -> None:
    ds = cat.dataset(BULLETIN)
    cannabis_v1 = load(store, ds, bulletin_files / CANNABIS_USE)
    heroin = load(store, ds, bulletin_files / HEROIN_USE)
    # A revision of the cannabis table: same breadcrumb, Austria 2017 changed (28890 -> 28891).
    revised = edit_xlsx(
        bulletin_files / CANNABIS_USE,
        bulletin_files.parent / "cannabisUsers-revised.xlsx",
        "xl/worksheets/sheet1.xml",
        "<v>28890.0</v>",
        "<v>28891.0</v>",
    )
    cannabis_v2 = load(store, ds, revised)

    result = stage(con, ds, store, geo)

    assert result.state == "fresh", result.reason
    assert result.quarantined == []
    assert {s.meta.sha256 for s in result.members} == {
        cannabis_v2.meta.sha256,
        heroin.meta.sha256,
    }
    assert cannabis_v1.meta.sha256 not in {s.meta.sha256 for s in result.members}
    assert result.report is not None and result.report.success, result.report.summary()
    crumbs = dict(
        con.execute(
            "SELECT table_breadcrumb, list(DISTINCT snapshot_sha256) "
            "FROM staging.euda_bulletin GROUP BY 1"
        ).fetchall()
    )
    cannabis = "Drug law offences  >  Offences By Drug  >  Cannabis  >  Use"
    heroin_crumb = "Drug law offences  >  Offences By Drug  >  Heroin  >  Use"
    assert crumbs == {
        cannabis: [cannabis_v2.meta.sha256],
        heroin_crumb: [heroin.meta.sha256],
    }
    values = member_values(con)
    assert values[(cannabis, "2017")] == 28891.0  # the revision, not the first version
    # The rule columns come from the catalogue rule the breadcrumb matched.
    assert con.execute(
        "SELECT DISTINCT indicator_id, measure, unit, role, breakdown FROM staging.euda_bulletin "
        "ORDER BY breakdown"
    ).fetchall() == [
        (
            "1",
            "drug_law_offences_by_drug",
            "count",
            "indicator",
            "Offences By Drug > Cannabis > Use",
        ),
        ("1", "drug_law_offences_by_drug", "count", "indicator", "Offences By Drug > Heroin > Use"),
    ]
    rows = con.execute("SELECT count(*) FROM staging.euda_bulletin").fetchone()[0]
    assert result.rows == rows > 0


def test_collection_quarantines_an_unmapped_breadcrumb_and_stages_the_rest(
    cat: Catalogue, geo: GeoResolver, store: SnapshotStore, con, bulletin_files: Path
) -> None:
    ds = cat.dataset(BULLETIN)
    cannabis = load(store, ds, bulletin_files / CANNABIS_USE)
    heroin = load(store, ds, bulletin_files / HEROIN_USE)
    strange_crumb = "Something else  >  Not in the rules  >  Total"
    unmapped = load(
        store,
        ds,
        edit_xlsx(
            bulletin_files / COCAINE_USE,
            bulletin_files.parent / "unmapped.xlsx",
            "xl/sharedStrings.xml",
            "Drug law offences  >  Offences By Drug  >  Cocaine (powder)  >  Use",
            strange_crumb,
        ),
    )

    result = stage(con, ds, store, geo)

    assert result.state == "stale"
    assert [q["snapshot_sha256"] for q in result.quarantined] == [unmapped.meta.sha256]
    reason = result.reason or ""
    assert "unmapped breadcrumb" in reason
    assert "Something else  >  Not in the rules  >  Total" in reason
    assert {s.meta.sha256 for s in result.members} == {cannabis.meta.sha256, heroin.meta.sha256}
    staged_from = {
        r[0]
        for r in con.execute(
            "SELECT DISTINCT snapshot_sha256 FROM staging.euda_bulletin"
        ).fetchall()
    }
    assert staged_from == {cannabis.meta.sha256, heroin.meta.sha256}
    assert con.execute(
        "SELECT count(*) FROM staging.euda_bulletin WHERE table_breadcrumb LIKE 'Something%'"
    ).fetchone() == (0,)


def bad_heroin(folder: Path) -> Path:
    """The heroin table with a country name no reference list knows (fails its suite)."""
    return edit_xlsx(
        folder / HEROIN_USE,
        folder.parent / "heroin-atlantis.xlsx",
        "xl/sharedStrings.xml",
        "<t>Austria</t>",
        "<t>Atlantis</t>",
    )


def test_collection_member_failing_its_suite_is_quarantined_alone(
    cat: Catalogue, geo: GeoResolver, store: SnapshotStore, con, bulletin_files: Path
) -> None:
    """The fast path (members validated together) falls back to one member at a time: the
    failing newest heroin version is quarantined, its previous version and the other member
    are staged."""
    ds = cat.dataset(BULLETIN)
    cannabis = load(store, ds, bulletin_files / CANNABIS_USE)
    heroin_old = load(store, ds, bulletin_files / HEROIN_USE)
    heroin_bad = load(store, ds, bad_heroin(bulletin_files))

    result = stage(con, ds, store, geo)

    assert result.state == "stale"
    assert [q["snapshot_sha256"] for q in result.quarantined] == [heroin_bad.meta.sha256]
    assert "geo code known" in (result.reason or "")
    assert "Atlantis" in (result.reason or "")
    assert {s.meta.sha256 for s in result.members} == {
        cannabis.meta.sha256,
        heroin_old.meta.sha256,
    }
    assert result.report is not None and result.report.success
    assert con.execute(
        "SELECT count(*) FROM staging.euda_bulletin WHERE geo_raw = 'Atlantis'"
    ).fetchone() == (0,)
    assert (
        con.execute(
            "SELECT count(*) FROM staging.euda_bulletin WHERE snapshot_sha256 = ?",
            [heroin_old.meta.sha256],
        ).fetchone()[0]
        > 0
    )


def test_collection_older_failing_version_superseded_by_a_good_one_is_fresh(
    cat: Catalogue, geo: GeoResolver, store: SnapshotStore, con, bulletin_files: Path
) -> None:
    ds = cat.dataset(BULLETIN)
    heroin_bad = load(store, ds, bad_heroin(bulletin_files))
    heroin_good = load(store, ds, bulletin_files / HEROIN_USE)

    result = stage(con, ds, store, geo)

    assert result.state == "fresh", result.reason
    assert result.quarantined == []
    assert [s.meta.sha256 for s in result.members] == [heroin_good.meta.sha256]
    assert heroin_bad.meta.sha256 not in {
        r[0]
        for r in con.execute(
            "SELECT DISTINCT snapshot_sha256 FROM staging.euda_bulletin"
        ).fetchall()
    }
