"""The EUDA delimited tables (EDR source data, wastewater) staged by DuckDB itself
(pipelines.parsers.tabular_sql) against the Python parsers it replaces (edr_csv,
tabular_csv): the same rows in the same order, the same errors, and the Python parser for
the files the engine leaves to it.

Real parts only: the publisher's files in ../shared/upstream (EDR 2024, wastewater 2025) and
the sample mirror, edited where a test needs a fault, registered in a snapshot store under
tmp_path, staged into a DuckDB file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from helpers import assert_parquet_stages_as_the_table, emptied_database

from pipelines import stage as stage_module
from pipelines.catalogue import Catalogue, Dataset, load_catalogue
from pipelines.fetch import Fetcher
from pipelines.geo import GeoResolver
from pipelines.parsers import edr_csv, tabular_sql
from pipelines.parsers.base import ParseError
from pipelines.snapshots import SnapshotStore
from pipelines.stage import load_snapshot, parser_options

TABLE = "staging.under_test"
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data/sample/www.euda.europa.eu/sites/default/files/data/mirror-stand-in"
UPSTREAM = ROOT.parent / "shared" / "upstream"
EDR_FILES = sorted((UPSTREAM / "euda_edr2024").glob("*.csv")) + sorted(
    (SAMPLE / "edr-2024").glob("*.csv")
)
WASTEWATER = [
    ("euda.wastewater", UPSTREAM / "euda_wastewater" / "ww2025-all-data.csv"),
    ("euda.wastewater", SAMPLE / "wastewater-2025" / "ww2025-all-data.csv"),
    ("euda.wastewater_sites", UPSTREAM / "euda_wastewater" / "ww2025-site-info-table.csv"),
    ("euda.wastewater_sites", SAMPLE / "wastewater-2025" / "ww2025-site-info-table.csv"),
]
# What sends a file to the Python parser (parsers.csv_sql): whitespace trim does not strip.
ODD = re.compile("[\x00\x0b\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def geo(cat: Catalogue) -> GeoResolver:
    return GeoResolver(cat.geo)


@pytest.fixture(autouse=True)
def engine_for_any_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine reads these (small) files too: what is tested is what it does with them."""
    for fmt in ["tabular_csv", "edr_csv"]:
        module, reader, _ = stage_module.ENGINES[fmt]
        monkeypatch.setitem(stage_module.ENGINES, fmt, (module, reader, 0))


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    """One DuckDB file for the module's ~150 tests: opening a database costs ~20 ms of CPU."""
    connection = duckdb.connect(str(tmp_path_factory.mktemp("engine") / "build.duckdb"))
    yield connection
    connection.close()


@pytest.fixture
def con(database: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = emptied_database(database)
    yield connection
    connection.close()


def stage_both(
    con: duckdb.DuckDBPyConnection,
    ds: Dataset,
    source: Path,
    tmp_path: Path,
    geo: GeoResolver,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[object, object, bool]:
    """Stage `source` by the engine, then by the Python parser: for each, (rows in table
    order, load_snapshot's result) or the ParseError's text; and whether the engine staged
    it rather than handing it to Python."""
    snap = Fetcher(SnapshotStore(tmp_path / f"raw-{source.name}")).load_file(ds, source).snapshot
    assert snap is not None
    used: list[int | None] = []
    real_insert = tabular_sql.insert

    def spy(*args, **kwargs):  # the real insert, its outcome recorded
        used.append(real_insert(*args, **kwargs))
        return used[-1]

    outcomes: list[object] = []
    for engine in (True, False):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(tabular_sql, "insert", spy)
            if not engine:
                mp.setattr(stage_module, "_load_in_engine", lambda *args: None)
            try:
                result = load_snapshot(con, TABLE, ds, snap, geo)
            except ParseError as exc:
                outcomes.append(str(exc).replace(str(snap.path), "<file>"))
                continue
            rows = con.execute(f"SELECT * FROM {TABLE} ORDER BY rowid").fetchall()
            outcomes.append((rows, result))
            assert_parquet_stages_as_the_table(con, TABLE, ds, snap, geo, tmp_path)
    return outcomes[0], outcomes[1], bool(used) and used[0] is not None


def engine_should_read(ds: Dataset, source: Path) -> bool:
    """A table with rows, in UTF-8, with no whitespace SQL's trim leaves (what the engine
    takes, by parsers.tabular_sql's docstring)."""
    try:
        text = source.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return False
    if ODD.search(text):
        return False
    if ds.format == "edr_csv":
        return edr_csv.read_table(source, parser_options(ds), ds.limits).inner is not None
    return True


@pytest.mark.parametrize("source", EDR_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_edr_table_stages_in_the_engine_as_the_python_parser_stages_it(
    source: Path, cat: Catalogue, geo: GeoResolver, con, tmp_path, monkeypatch
) -> None:
    ds = cat.dataset("euda.edr")
    engine, python, by_engine = stage_both(con, ds, source, tmp_path, geo, monkeypatch)
    assert engine == python
    assert by_engine == engine_should_read(ds, source)


@pytest.mark.parametrize(("dataset", "source"), WASTEWATER, ids=lambda v: str(v)[-40:])
def test_the_wastewater_tables_stage_in_the_engine_as_the_python_parser_stages_them(
    dataset: str, source: Path, cat: Catalogue, geo: GeoResolver, con, tmp_path, monkeypatch
) -> None:
    ds = cat.dataset(dataset)
    engine, python, by_engine = stage_both(con, ds, source, tmp_path, geo, monkeypatch)
    assert engine == python
    assert isinstance(engine, tuple) and len(engine[0]) > 10
    assert by_engine == engine_should_read(ds, source)


def test_the_edr_tables_staged_by_the_engine_are_most_of_those_with_rows(
    cat: Catalogue,
) -> None:
    """The rule above is not vacuous: the engine reads most tables that give rows."""
    ds = cat.dataset("euda.edr")
    with_rows = [
        s
        for s in EDR_FILES
        if edr_csv.read_table(s, parser_options(ds), ds.limits).inner is not None
    ]
    engine = [s for s in with_rows if engine_should_read(ds, s)]
    assert len(engine) > len(with_rows) * 0.7


def an_edr_table_with_rows(cat: Catalogue) -> Path:
    ds = cat.dataset("euda.edr")
    return next(
        s
        for s in EDR_FILES
        if engine_should_read(ds, s)
        and edr_csv.read_table(s, parser_options(ds), ds.limits).inner is not None
        and len(s.read_text(encoding="utf-8-sig").splitlines()) > 8
    )


@pytest.mark.parametrize(
    ("edit", "rule"),
    [
        (lambda cells: cells.__setitem__(-1, "12,5x"), "non-numeric value"),
        (lambda cells: cells.append("7"), "cell count"),
        # a number no double holds: inf both ways (the value_range gate refuses it)
        (lambda cells: cells.__setitem__(-1, "1e400000"), None),
    ],
)
def test_a_bad_record_is_named_by_file_and_line_as_the_python_parser_names_it(
    edit, rule: str | None, cat: Catalogue, geo: GeoResolver, con, tmp_path, monkeypatch
) -> None:
    source = an_edr_table_with_rows(cat)
    ds = cat.dataset("euda.edr")
    delimiter = edr_csv.read_table(source, parser_options(ds), ds.limits).inner.delimiter
    lines = source.read_text(encoding="utf-8-sig").splitlines()
    cells = lines[5].split(delimiter)
    edit(cells)
    lines[5] = delimiter.join(f'"{c}"' if delimiter in c else c for c in cells)
    edited = tmp_path / source.name
    edited.write_text("\n".join(lines) + "\n", encoding="utf-8")
    engine, python, by_engine = stage_both(con, ds, edited, tmp_path, geo, monkeypatch)
    assert engine == python
    if rule is None:
        assert by_engine and not isinstance(engine, str)
    else:
        assert isinstance(engine, str) and rule in engine and "line 6" in engine


def test_double_encoded_names_are_repaired_as_the_python_parser_repairs_them(
    cat: Catalogue, geo: GeoResolver, con, tmp_path, monkeypatch
) -> None:
    source = an_edr_table_with_rows(cat)
    ds = cat.dataset("euda.edr")
    table = edr_csv.read_table(source, parser_options(ds), ds.limits)
    assert table.inner is not None
    delimiter = table.inner.delimiter
    first_dim = table.inner.plan.dimensions[0][1]
    lines = source.read_text(encoding="utf-8-sig").splitlines()
    for n, name in ((3, "Plze\u0148".encode().decode("cp1252")), (4, "T\u00fcrkiye")):
        cells = lines[n].split(delimiter)
        cells[first_dim] = name
        lines[n] = delimiter.join(cells)
    edited = tmp_path / source.name
    edited.write_text("\n".join(lines) + "\n", encoding="utf-8")
    engine, python, by_engine = stage_both(con, ds, edited, tmp_path, geo, monkeypatch)
    assert by_engine
    assert engine == python
    staged = str(engine)
    assert "Plze\u0148" in staged and "T\u00fcrkiye" in staged and "Plze\u00c5" not in staged


def test_a_small_table_is_left_to_the_python_parser_which_reads_it_faster(
    cat: Catalogue, geo: GeoResolver, con, tmp_path, monkeypatch
) -> None:
    module, reader, _ = stage_module.ENGINES["edr_csv"]
    monkeypatch.setitem(stage_module.ENGINES, "edr_csv", (module, reader, stage_module.SMALL_FILE))
    source = an_edr_table_with_rows(cat)
    assert source.stat().st_size < stage_module.SMALL_FILE
    engine, python, by_engine = stage_both(
        con, cat.dataset("euda.edr"), source, tmp_path, geo, monkeypatch
    )
    assert not by_engine
    assert engine == python
