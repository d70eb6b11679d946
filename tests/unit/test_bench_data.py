"""The bench's generated Eurostat TSV (bench/run_bench.py): distinct series in any number,
the same mix at every size, and a file the catalogue's hlth_cd_asdr2 entry admits, stages and
passes its staging gate with, as the bench needs it to."""

from __future__ import annotations

import importlib.util
import itertools
from collections import Counter
from pathlib import Path
from types import ModuleType

import duckdb
import pytest

from pipelines.catalogue import load_catalogue
from pipelines.fetch import Fetcher
from pipelines.geo import GeoResolver
from pipelines.snapshots import SnapshotStore
from pipelines.stage import load_snapshot, validate_table

BENCH = Path(__file__).resolve().parents[2] / "bench" / "run_bench.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_series_keys_are_distinct_past_one_unit_and_keep_their_mix(bench: ModuleType) -> None:
    per_unit = len(bench.geo_codes()) * len(bench.SEXES) * len(bench.AGES) * len(bench.CAUSES)
    keys = bench.series_keys(per_unit + 500)
    assert len(set(keys)) == len(keys)
    assert {k[0] for k in keys[:per_unit]} == {"RT"}
    assert len({k[0] for k in keys[per_unit:]}) == 1 and keys[per_unit][0] != "RT"
    # any whole number of geographies has 1 indicator series (TOTAL, TOXICO) in 42 per sex
    block = len(bench.SEXES) * len(bench.AGES) * len(bench.CAUSES)
    for geos in (1, 7, 40):
        mix = Counter((k[2], k[3]) == ("TOTAL", "TOXICO") for k in keys[: geos * block])
        assert mix[True] * len(bench.AGES) * len(bench.CAUSES) == geos * block


def test_the_generated_file_stages_and_passes_the_catalogue_entrys_gate(
    bench: ModuleType, tmp_path: Path
) -> None:
    cat = load_catalogue()
    ds = cat.dataset("eurostat.hlth_cd_asdr2")
    source = tmp_path / "asdr2.tsv"
    cells = bench.make_tsv(source, 3 * 126)
    snap = Fetcher(SnapshotStore(tmp_path / "raw")).load_file(ds, source).snapshot
    assert snap is not None
    con = duckdb.connect(str(tmp_path / "build.duckdb"))
    con.execute("CREATE SCHEMA staging")
    rows, _, _ = load_snapshot(con, ds.table, ds, snap, GeoResolver(cat.geo))
    report = validate_table(con, ds.table, ds)
    assert report.success, report.summary()
    missing = sum(
        1
        for line in itertools.islice(source.read_text().splitlines(), 1, None)
        for cell in line.split("\t")[1:]
        if cell.strip() == ":"
    )
    assert rows == cells - missing
    indicator = con.execute(
        f"SELECT count(DISTINCT geo_raw || sex) FROM {ds.table} "
        "WHERE age = 'TOTAL' AND icd10 = 'TOXICO'"
    ).fetchone()
    assert indicator == (3 * 3,)  # three geographies, three sexes
