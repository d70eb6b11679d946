"""Eurostat TSV staged by DuckDB itself (pipelines.parsers.eurostat_sql) against the Python
parser it replaces: the same rows, the same line numbers, the same errors at the same places.

Real parts only: the publisher's files in ../shared/upstream/eurostat, edited where a test
needs a fault, registered in a snapshot store under tmp_path, staged into a DuckDB file.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from helpers import assert_parquet_stages_as_the_table, emptied_database

from pipelines import stage as stage_module
from pipelines.catalogue import Catalogue, Dataset, ReadLimits, load_catalogue
from pipelines.fetch import Fetcher
from pipelines.geo import GeoResolver
from pipelines.parsers import eurostat_sql
from pipelines.parsers.base import LimitExceeded, ParseError
from pipelines.snapshots import SnapshotStore
from pipelines.stage import load_snapshot

ASDR2 = "eurostat.hlth_cd_asdr2"
CRIM = "eurostat.crim_off_cat"
TABLE = "staging.under_test"


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def geo(cat: Catalogue) -> GeoResolver:
    return GeoResolver(cat.geo)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(tmp_path_factory.mktemp("engine") / "build.duckdb"))
    yield connection
    connection.close()


@pytest.fixture
def con(database: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """The module's database file (see helpers.emptied_database), emptied for this test."""
    connection = emptied_database(database)
    yield connection
    connection.close()


def dataset_for(cat: Catalogue, header: str) -> Dataset:
    """The crim_off_cat entry with the dimensions of a file's header (any Eurostat TSV)."""
    dims = [d.strip().lower() for d in header.split("\t")[0].split("\\")[0].split(",")]
    return cat.dataset(CRIM).model_copy(update={"dimensions": dims, "code_maps": {}})


def stage_both(
    con: duckdb.DuckDBPyConnection,
    ds: Dataset,
    source: Path,
    tmp_path: Path,
    geo: GeoResolver,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[list[tuple], list[tuple], bool]:
    """Stage `source` by the engine, then by the Python parser: (engine rows, Python rows,
    whether the engine staged it rather than handing it to Python)."""
    snap = Fetcher(SnapshotStore(tmp_path / f"raw-{source.name}")).load_file(ds, source).snapshot
    assert snap is not None
    used: list[int | None] = []
    real_insert = eurostat_sql.insert

    def spy(*args, **kwargs):  # the real insert, its outcome recorded
        used.append(real_insert(*args, **kwargs))
        return used[-1]

    monkeypatch.setattr(eurostat_sql, "insert", spy)
    load_snapshot(con, TABLE, ds, snap, geo)
    engine = con.execute(f"SELECT * FROM {TABLE} ORDER BY line, period").fetchall()
    assert_parquet_stages_as_the_table(con, TABLE, ds, snap, geo, tmp_path)
    monkeypatch.setattr(stage_module, "_load_in_engine", lambda *args: None)
    load_snapshot(con, TABLE, ds, snap, geo)
    python = con.execute(f"SELECT * FROM {TABLE} ORDER BY line, period").fetchall()
    assert_parquet_stages_as_the_table(con, TABLE, ds, snap, geo, tmp_path)
    return engine, python, bool(used) and used[-1] is not None


def python_error(
    ds: Dataset, source: Path, geo: GeoResolver, tmp_path: Path, admit: Dataset | None = None
) -> str:
    """The error of the Python parser; the file is admitted as `admit` (default `ds`)."""
    store = SnapshotStore(tmp_path / "raw-python")
    snap = Fetcher(store).load_file(admit or ds, source).snapshot
    assert snap is not None
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stage_module, "_load_in_engine", lambda *args: None)
        with pytest.raises(ParseError) as info:
            load_snapshot(con, TABLE, ds, snap, geo)
    return str(info.value).replace(str(snap.path), "<file>")


def engine_error(
    con: duckdb.DuckDBPyConnection,
    ds: Dataset,
    source: Path,
    geo: GeoResolver,
    tmp_path: Path,
    admit: Dataset | None = None,
) -> str:
    store = SnapshotStore(tmp_path / "raw-engine")
    snap = Fetcher(store).load_file(admit or ds, source).snapshot
    assert snap is not None
    with pytest.raises(ParseError) as info:
        load_snapshot(con, TABLE, ds, snap, geo)
    return str(info.value).replace(str(snap.path), "<file>")


@pytest.mark.parametrize(
    "name",
    [
        "estat_crim_off_cat.tsv",
        "estat_hlth_cd_asdr2_filtered.tsv",
        "estat_hlth_cd_asdr2_defaultview_filtered.tsv",
        "estat_sdg_13_10.tsv",
        "hlth_cd_acdr_subset_alcohol_geo_time.tsv",
    ],
)
def test_the_publishers_files_stage_in_the_engine_as_the_python_parser_stages_them(
    name: str, upstream_dir: Path, cat: Catalogue, geo: GeoResolver, con, tmp_path, monkeypatch
) -> None:
    source = upstream_dir / "eurostat" / name
    ds = dataset_for(cat, source.read_text(encoding="utf-8").split("\n", 1)[0])
    engine, python, by_engine = stage_both(con, ds, source, tmp_path, geo, monkeypatch)
    assert by_engine
    assert engine == python
    assert len(engine) > 10


def test_gzip_crlf_bom_blank_lines_and_code_maps_keep_rows_and_line_numbers(
    upstream_dir: Path, cat: Catalogue, geo: GeoResolver, con, tmp_path, monkeypatch
) -> None:
    lines = (upstream_dir / "eurostat" / "estat_crim_off_cat.tsv").read_text().splitlines()
    # a blank line, a line of spaces, CRLF, a BOM; the raw file has none of them
    body = "\ufeff" + "\r\n".join([*lines[:3], "", "   ", *lines[3:]]) + "\r\n"
    source = tmp_path / "crim.tsv.gz"
    source.write_bytes(gzip.compress(body.encode("utf-8")))
    ds = cat.dataset(CRIM).model_copy(update={"code_maps": {"iccs": {"ICCS0101": "HOMICIDE"}}})
    engine, python, by_engine = stage_both(con, ds, source, tmp_path, geo, monkeypatch)
    assert by_engine
    assert engine == python
    columns = [c for c, _ in stage_module.staging_columns(ds)]
    by_line = {row[columns.index("line")]: row for row in engine}
    # the line after the two blank ones is physical line 6 (header = 1)
    assert min(n for n in by_line if n > 3) == 6
    assert by_line[2][columns.index("iccs")] == "HOMICIDE"
    assert by_line[2][columns.index("geo_raw")] == "AL"


def test_flags_missing_cells_and_unusual_geo_codes_stage_as_in_python(
    cat: Catalogue, geo: GeoResolver, con, tmp_path, monkeypatch
) -> None:
    body = (
        "freq,iccs,unit,geo\\TIME_PERIOD\t2020 \t2021 \t2022 \n"
        "A,ICCS0601,NR,AT\t12.3 p\t: c\t:\n"
        "A,ICCS0601,NR,AT13\t1e3 bep\t+.5 \t-2 \n"  # a region outside the GEO list
        "A,ICCS0601,NR,EA21\t: \t7  \t8 d\n"  # a well-formed code of no list: level other
        "A,ICCS0601,NR,zz\t1 \t2 \t3 \n"  # malformed: geo None, the gate refuses it
    )
    source = tmp_path / "flags.tsv"
    source.write_text(body, encoding="utf-8")
    engine, python, by_engine = stage_both(
        con, cat.dataset(CRIM), source, tmp_path, geo, monkeypatch
    )
    assert by_engine
    assert engine == python
    levels = con.execute(f"SELECT DISTINCT geo_raw, geo, geo_level FROM {TABLE}").fetchall()
    assert set(levels) == {
        ("AT", "AT", "country"),
        ("AT13", "AT13", "region"),
        ("EA21", "EA21", "other"),
        ("zz", None, None),
    }


def asdr2_with(upstream_dir: Path, tmp_path: Path, edits: dict[int, tuple[int, str]]) -> Path:
    """The real asdr2 file with cell `column` (1 = first period) of physical line `line`
    replaced: {line: (column, text)}."""
    lines = (upstream_dir / "eurostat" / "estat_hlth_cd_asdr2_filtered.tsv").read_text()
    rows = lines.split("\n")
    for line, (column, text) in edits.items():
        cells = rows[line - 1].split("\t")
        cells[column] = text
        rows[line - 1] = "\t".join(cells)
    path = tmp_path / f"asdr2-{len(list(tmp_path.glob('asdr2-*')))}.tsv"
    path.write_text("\n".join(rows), encoding="utf-8")
    return path


def test_a_bad_number_is_named_by_file_line_and_period_as_the_python_parser_names_it(
    upstream_dir: Path, cat: Catalogue, geo: GeoResolver, con, tmp_path
) -> None:
    ds = cat.dataset(ASDR2)
    # column 3 of the header is 2014; line 7 is a data line of the real file
    source = asdr2_with(upstream_dir, tmp_path, {7: (3, "12,5 ")})
    message = engine_error(con, ds, source, geo, tmp_path)
    assert message == "<file>, line 7: non-numeric value: 2014: '12,5 ' is neither a number nor ':'"
    assert message == python_error(ds, source, geo, tmp_path)


def test_several_bad_lines_name_the_first_in_full_and_the_next_ones(
    upstream_dir: Path, cat: Catalogue, geo: GeoResolver, con, tmp_path
) -> None:
    ds = cat.dataset(ASDR2)
    edits = {12: (2, "n/a"), 5: (10, "4.1 x"), 9: (1, "")}
    source = asdr2_with(upstream_dir, tmp_path, edits)
    message = engine_error(con, ds, source, geo, tmp_path)
    first = python_error(ds, source, geo, tmp_path)
    assert (
        first == "<file>, line 5: unknown flag: 2021: flag 'x' in '4.1 x' is not an OBS_FLAG letter"
    )
    assert message == first + "; also bad: lines 9, 12"


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("A,RT,T,TOTAL,TOXICO,AT\t1 \t2 ", "cell count"),  # too few cells
        ("A,RT,T,TOTAL,AT" + "\t1 " * 10, "series key"),  # a dimension short
        ("A,RT,T,,TOXICO,AT" + "\t1 " * 10, "series key"),  # an empty code
    ],
)
def test_a_broken_line_is_refused_as_the_python_parser_refuses_it(
    line: str, why: str, upstream_dir: Path, cat: Catalogue, geo: GeoResolver, con, tmp_path
) -> None:
    rows = (upstream_dir / "eurostat" / "estat_hlth_cd_asdr2_filtered.tsv").read_text()
    head, *rest = rows.split("\n")
    source = tmp_path / "broken.tsv"
    source.write_text("\n".join([head, *rest[:3], line, *rest[3:]]), encoding="utf-8")
    message = engine_error(con, cat.dataset(ASDR2), source, geo, tmp_path)
    assert message.startswith(f"<file>, line 5: {why}: ")
    assert message == python_error(cat.dataset(ASDR2), source, geo, tmp_path)


def test_layout_drift_names_missing_and_unexpected_dimensions(
    upstream_dir: Path, cat: Catalogue, geo: GeoResolver, con, tmp_path
) -> None:
    text = (upstream_dir / "eurostat" / "estat_hlth_cd_asdr2_filtered.tsv").read_text()
    source = tmp_path / "drift.tsv"
    source.write_text(text.replace("freq,unit,sex,age,", "freq,unit,sex,age_group,", 1))
    message = engine_error(con, cat.dataset(ASDR2), source, geo, tmp_path)
    assert "layout drift" in message
    assert "missing ['age'], unexpected ['age_group']" in message
    assert message == python_error(cat.dataset(ASDR2), source, geo, tmp_path)


def test_a_line_over_the_limit_is_refused_with_the_python_parsers_error(
    upstream_dir: Path, cat: Catalogue, geo: GeoResolver, con, tmp_path
) -> None:
    # admitted under the default limits, staged after the catalogue lowered the line limit
    admit = cat.dataset(ASDR2)
    ds = admit.model_copy(update={"limits": ReadLimits(max_line_bytes=300)})
    source = asdr2_with(upstream_dir, tmp_path, {4: (1, "1" * 400)})
    message = engine_error(con, ds, source, geo, tmp_path, admit)
    assert message.startswith("<file>, line 4: limit max_line_bytes: ")
    assert message == python_error(ds, source, geo, tmp_path, admit)
    assert eurostat_sql.read_header(source, {}, ds.limits) is None  # Python names the line
    with pytest.raises(LimitExceeded, match="max_decompressed_bytes"):
        eurostat_sql.read_header(source, {}, ReadLimits(max_decompressed_bytes=1000))


def test_files_the_engine_does_not_read_as_python_does_fall_back_to_the_python_parser(
    upstream_dir: Path, cat: Catalogue, geo: GeoResolver, con, tmp_path, monkeypatch
) -> None:
    text = (upstream_dir / "eurostat" / "estat_crim_off_cat.tsv").read_text()
    ds = cat.dataset(CRIM)
    latin = tmp_path / "latin.tsv"  # not UTF-8 (the Python parser reads it as cp1252)
    latin.write_bytes(text.replace("ICCS0101,NR,AL", "ICCS0101,NR,AL\xe9").encode("cp1252"))
    vertical = tmp_path / "vertical.tsv"  # a flag after a vertical tab: Python's split takes it
    vertical.write_text(text.replace("\t88 \t", "\t88\x0bp\t", 1), encoding="utf-8")
    for source in (latin, vertical):
        engine, python, by_engine = stage_both(con, ds, source, tmp_path, geo, monkeypatch)
        monkeypatch.undo()
        assert not by_engine
        assert engine == python
    assert eurostat_sql.read_header(latin, {}, ds.limits) is None


def test_the_row_drop_check_counts_an_older_snapshot_in_the_engine_as_python_counts_it(
    upstream_dir: Path, cat: Catalogue, tmp_path, monkeypatch
) -> None:
    ds = cat.dataset(ASDR2)
    store = SnapshotStore(tmp_path / "raw")
    full = upstream_dir / "eurostat" / "estat_hlth_cd_asdr2_filtered.tsv"
    older = Fetcher(store).load_file(ds, full).snapshot
    text = full.read_text(encoding="utf-8").split("\n")
    cut = tmp_path / "cut.tsv"  # a newer file with half of the series
    cut.write_text("\n".join(text[: len(text) // 2]) + "\n", encoding="utf-8")
    newer = Fetcher(store).load_file(ds, cut).snapshot
    assert older is not None and newer is not None
    snapshots = store.snapshots(ds.id)

    def verdict() -> tuple[str | None, stage_module.Baseline | None]:
        check = stage_module.RowDropCheck(ds, snapshots, None)
        member = str(newer.meta.file)
        check.record(newer, member, 10)
        return check.problem(newer, member), check.baseline(newer, member)

    counted: list[int | None] = []
    real = eurostat_sql.count_rows
    monkeypatch.setattr(
        eurostat_sql, "count_rows", lambda *a: counted.append(real(*a)) or counted[-1]
    )
    engine = verdict()
    monkeypatch.setattr(stage_module.RowDropCheck, "_count_in_engine", lambda self, snap: None)
    python = verdict()
    assert counted and counted[0] is not None and counted[0] > 10
    assert engine == python
    assert engine[1] is not None and engine[1].rows == counted[0]
    assert engine[0] is not None and "observations dropped" in engine[0]
