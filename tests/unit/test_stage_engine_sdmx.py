"""Eurostat SDMX-CSV staged by DuckDB itself (pipelines.parsers.sdmx_sql) against the Python
parser it replaces: the same rows, the same line numbers, the same errors at the same places,
and the Python parser for the files the engine leaves to it.

Real parts only: the publisher's files in ../shared/upstream/eurostat (SDMX-CSV 2.0 with
codes, 1.0 with labels), edited where a test needs a fault, registered in a snapshot store
under tmp_path, staged into a DuckDB file.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from helpers import assert_parquet_stages_as_the_table, emptied_database

from pipelines import stage as stage_module
from pipelines.catalogue import Catalogue, Dataset, load_catalogue
from pipelines.fetch import Fetcher
from pipelines.geo import GeoResolver
from pipelines.parsers import sdmx_sql
from pipelines.parsers.base import ParseError
from pipelines.snapshots import SnapshotStore
from pipelines.stage import load_snapshot, parse_file

TABLE = "staging.under_test"
V20 = "sdmx_csv_2_0/tps00001__custom_20122499_linear_2_0.csv"
LABELLED = [
    "sdmx_csv/estat_ilc_mddw06_filtered_en.csv",
    "sdmx_csv/estat_lfsa_ugadra_filtered_en.csv",
    "sdmx_csv/estat_spr_exp_type_filtered_en.csv",
    "sdmx_csv/estat_tesov110_filtered_en.csv",
    "sdmx_csv/estat_tipsna40_filtered_en.csv",
]


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def geo(cat: Catalogue) -> GeoResolver:
    return GeoResolver(cat.geo)


@pytest.fixture(autouse=True)
def engine_for_any_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine reads these (small) files too: what is tested is what it does with them."""
    for fmt in ["sdmx_csv"]:
        module, reader, _ = stage_module.ENGINES[fmt]
        monkeypatch.setitem(stage_module.ENGINES, fmt, (module, reader, 0))


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


def dataset_for(cat: Catalogue, source: Path, **update: object) -> Dataset:
    """A catalogue entry (crim_off_cat's) reading `source` as SDMX-CSV, with its dimensions."""
    ds = cat.dataset("eurostat.crim_off_cat").model_copy(
        update={"format": "sdmx_csv", "code_maps": {}}
    )
    dims = parse_file(
        ds.model_copy(update={"parser_options": {"keep_labels": True}}), source
    ).dimensions
    geo_dim = "geo" if "geo" in dims else None
    return ds.model_copy(update={"dimensions": dims, "geo_dimension": geo_dim, **update})


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
    real_insert = sdmx_sql.insert

    def spy(*args, **kwargs):  # the real insert, its outcome recorded
        used.append(real_insert(*args, **kwargs))
        return used[-1]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sdmx_sql, "insert", spy)
        load_snapshot(con, TABLE, ds, snap, geo)
        engine = con.execute(f"SELECT * FROM {TABLE} ORDER BY line, period").fetchall()
        assert_parquet_stages_as_the_table(con, TABLE, ds, snap, geo, tmp_path)
        mp.setattr(stage_module, "_load_in_engine", lambda *args: None)
        load_snapshot(con, TABLE, ds, snap, geo)
        python = con.execute(f"SELECT * FROM {TABLE} ORDER BY line, period").fetchall()
        assert_parquet_stages_as_the_table(con, TABLE, ds, snap, geo, tmp_path)
    return engine, python, bool(used) and used[-1] is not None


def errors_both(
    con: duckdb.DuckDBPyConnection, ds: Dataset, source: Path, geo: GeoResolver, tmp_path: Path
) -> tuple[str, str]:
    """The ParseError of the engine and of the Python parser on `source`."""
    snap = Fetcher(SnapshotStore(tmp_path / f"raw-{source.name}")).load_file(ds, source).snapshot
    assert snap is not None
    messages = []
    for engine in (True, False):
        with pytest.MonkeyPatch.context() as mp:
            if not engine:
                mp.setattr(stage_module, "_load_in_engine", lambda *args: None)
            with pytest.raises(ParseError) as info:
                load_snapshot(con, TABLE, ds, snap, geo)
        messages.append(str(info.value).replace(str(snap.path), "<file>"))
    return messages[0], messages[1]


def v20_records(upstream_dir: Path) -> list[list[str]]:
    text = (upstream_dir / "eurostat" / V20).read_text(encoding="utf-8")
    return list(csv.reader(io.StringIO(text)))


def as_v10_codes(records: list[list[str]]) -> list[list[str]]:
    """The 2.0 file's records in the SDMX-CSV 1.0 codes layout (the label columns left out):
    DATAFLOW, LAST UPDATE, freq, indic_de, geo, TIME_PERIOD, OBS_VALUE, OBS_FLAG,
    CONF_STATUS."""
    header = ["DATAFLOW", "LAST UPDATE", "freq", "indic_de", "geo", "TIME_PERIOD"]
    header += ["OBS_VALUE", "OBS_FLAG", "CONF_STATUS"]
    out = [header]
    for r in records[1:]:
        out.append([r[1], "06/12/24 23:00:00", r[3], r[5], r[7], r[9], r[11], r[13], r[15]])
    return out


def write_csv(path: Path, records: list[list[str]], *, newline: str = "\n") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=newline).writerows(records)
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    return path


def test_the_publishers_2_0_file_stages_in_the_engine_as_the_python_parser_stages_it(
    upstream_dir: Path, cat: Catalogue, geo: GeoResolver, con, tmp_path, monkeypatch
) -> None:
    source = upstream_dir / "eurostat" / V20
    assert '"estimated, provisional"' in source.read_text()  # a quoted field with a comma
    engine, python, by_engine = stage_both(
        con, dataset_for(cat, source), source, tmp_path, geo, monkeypatch
    )
    assert by_engine
    assert engine == python
    assert len(engine) > 300


@pytest.mark.parametrize("name", LABELLED)
def test_the_publishers_labelled_files_are_left_to_the_python_parser(
    name: str, upstream_dir: Path, cat: Catalogue, geo: GeoResolver, con, tmp_path, monkeypatch
) -> None:
    """Labels are mapped back to codes by the Python parser, which refuses a file with a
    dimension no bundled code list covers: the same rows, or the same error, both ways."""
    source = upstream_dir / "eurostat" / name
    ds = dataset_for(cat, source, parser_options={"keep_labels": True})
    try:
        rows = sum(1 for _ in parse_file(ds.model_copy(update={"parser_options": {}}), source).rows)
    except ParseError:
        rows = None
    ds = ds.model_copy(update={"parser_options": {}})
    if rows is None:
        engine_error, python_error = errors_both(con, ds, source, geo, tmp_path)
        assert engine_error == python_error
        assert "labels variant" in engine_error
        return
    engine, python, by_engine = stage_both(con, ds, source, tmp_path, geo, monkeypatch)
    assert not by_engine
    assert engine == python
    assert len(engine) == rows > 100


@pytest.mark.parametrize("both", [False, True])
def test_the_1_0_codes_and_both_variants_keep_rows_line_numbers_and_notes(
    both: bool, upstream_dir: Path, cat: Catalogue, geo: GeoResolver, con, tmp_path, monkeypatch
) -> None:
    records = as_v10_codes(v20_records(upstream_dir))
    records[3][6:9] = ["", "c", "C"]  # confidential, flagged: a row with no value
    records[4][6:9] = ["", "", "C"]  # confidential, no flag: flag c added
    records[5][6:9] = ["12.5", "p", "F"]  # free: no note
    records[6][6:9] = [" 7 ", " e ", " N "]  # spaces around, another status: a note
    records[7][6:9] = ["", "", ""]  # nothing: no row
    records[8][4] = "AT:Austria"  # a `CODE:Label` value, in either variant
    if both:
        records[0] = [f"{h}:label" if h in ("freq", "geo") else h for h in records[0]]
        records = [records[0]] + [
            [f"{v}:Label" if i == 2 and v else v for i, v in enumerate(r)] for r in records[1:]
        ]
    # blank lines (one of commas, one of empty quoted fields), CRLF, a BOM, gzip: none of
    # them in the real file
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerows(records[:3])
    text.write('\r\n,,,,,,,,\r\n"","",\r\n')
    writer.writerows(records[3:])
    source = tmp_path / "codes.csv.gz"
    source.write_bytes(gzip.compress(("\ufeff" + text.getvalue()).encode("utf-8")))
    ds = dataset_for(cat, source, code_maps={"indic_de": {"JAN": "POP"}})
    engine, python, by_engine = stage_both(con, ds, source, tmp_path, geo, monkeypatch)
    assert by_engine
    assert engine == python
    cols = [c for c, _ in stage_module.staging_columns(ds)]
    by_line = {row[cols.index("line")]: dict(zip(cols, row, strict=True)) for row in engine}
    assert min(n for n in by_line if n > 3) == 7  # after the three blank lines
    assert by_line[7]["flags"] == "c" and by_line[7]["value"] is None
    assert by_line[8]["flags"] == "c" and by_line[8]["note"] == "CONF_STATUS=C"
    assert by_line[9]["note"] is None and by_line[9]["value"] == 12.5
    assert (by_line[10]["value"], by_line[10]["flags"], by_line[10]["note"]) == (
        7.0,
        "e",
        "CONF_STATUS=N",
    )
    assert 11 not in by_line
    assert by_line[12]["geo_raw"] == "AT" and by_line[12]["geo"] == "AT"
    assert by_line[9]["indic_de"] == "POP"


@pytest.mark.parametrize(
    ("edit", "rule"),
    [
        (lambda r: r.__setitem__(6, "12,5"), "non-numeric value"),  # quoted: one field
        (lambda r: r.__setitem__(6, "1.2.3"), "non-numeric value"),
        (lambda r: r.__setitem__(6, "nan"), "non-numeric value"),
        (lambda r: r.append("x"), "field count"),
    ],
)
def test_a_bad_record_is_named_by_file_and_line_as_the_python_parser_names_it(
    edit, rule: str, upstream_dir: Path, cat: Catalogue, geo: GeoResolver, con, tmp_path
) -> None:
    records = as_v10_codes(v20_records(upstream_dir))
    edit(records[40])
    records[60][6] = "bad"  # a later bad record: the first one is named
    source = write_csv(tmp_path / "bad.csv", records)
    engine, python = errors_both(con, dataset_for(cat, source), source, geo, tmp_path)
    assert engine == python
    assert rule in engine and "line 41" in engine


@pytest.mark.parametrize(
    ("field", "text"),
    [
        (8, 'N"x'),  # a quote inside an unquoted field, kept as it is by the csv module
        (7, "p\u00a0"),  # whitespace SQL's trim does not strip as str.strip() does
        (8, '"two\nlines"'),  # a quoted field over two lines
    ],
)
def test_files_the_engine_does_not_read_as_python_does_fall_back_to_the_python_parser(
    field: int,
    text: str,
    upstream_dir: Path,
    cat: Catalogue,
    geo: GeoResolver,
    con,
    tmp_path,
    monkeypatch,
) -> None:
    records = as_v10_codes(v20_records(upstream_dir))
    records[20][field] = "@EDIT@"
    source = write_csv(tmp_path / "odd.csv", records)
    source.write_text(source.read_text().replace("@EDIT@", text), encoding="utf-8")
    engine, python, by_engine = stage_both(
        con, dataset_for(cat, source), source, tmp_path, geo, monkeypatch
    )
    assert not by_engine
    assert engine == python
    assert len(engine) > 300


def test_a_cp1252_file_is_left_to_the_python_parser(
    upstream_dir: Path, cat: Catalogue, geo: GeoResolver, con, tmp_path, monkeypatch
) -> None:
    records = as_v10_codes(v20_records(upstream_dir))
    records[5][8] = "Señal"
    source = tmp_path / "cp1252.csv"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(records)
    source.write_bytes(buffer.getvalue().encode("cp1252"))
    engine, python, by_engine = stage_both(
        con, dataset_for(cat, source), source, tmp_path, geo, monkeypatch
    )
    assert not by_engine
    assert engine == python
    assert any("Señal" in str(row) for row in engine)
