"""Acceptance: a new Eurostat TSV dataset feeding an existing indicator needs only catalogue
YAML and one SQL line: no Python, no suite JSON.

The catalogue is a copy of `assets/` under tmp_path (the folder `EudapResource.catalogue_dir`
points at); the test adds `eurostat.hlth_cd_acdr2` (crude death rates, the layout of
hlth_cd_asdr2) there, names it and its measure in indicator 9's YAML, and appends one line
to a copy of indicator 9's SQL (the module's `SQL_DIR`, a location setting, is pointed at the
copy as in test_indicators). The TSV rows are written by the test. Its staging gate is
generated from its YAML: a good file stages and passes, a file with an unknown sex code or
a value outside `value_range` is quarantined by that gate, and indicator 9 built from it
passes its own generated gate.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import yaml

from pipelines import indicators as indicators_module
from pipelines.catalogue import Catalogue, load_catalogue
from pipelines.checks import suite_path
from pipelines.fetch import Fetcher
from pipelines.geo import GeoResolver
from pipelines.indicators import build_indicator
from pipelines.meta import init_build
from pipelines.settings import ASSETS_DIR, SQL_DIR, Paths
from pipelines.snapshots import SnapshotStore
from pipelines.stage import StageResult, create_table, stage_dataset, validate_table
from pipelines.suites import generated_suites

NEW = "eurostat.hlth_cd_acdr2"
DATASET_YAML = """\
id: eurostat.hlth_cd_acdr2
publisher: Eurostat
title: Causes of death - crude death rate by NUTS 2 region of residence
url: "https://ec.europa.eu/eurostat/api/dissemination/sdmx/3.0/data/dataflow/ESTAT/hlth_cd_acdr2/1.0/*?{filters}&format=TSV&compress=false"
format: eurostat_tsv
file_name: hlth_cd_acdr2.tsv
licence: "CC BY 4.0 (Eurostat reuse policy, Commission Decision 2011/833/EU)"
attribution: "Source: Eurostat, hlth_cd_acdr2 (causes of death, crude death rates)"
update_cadence: annual
expected_update_days: 400
indicators: [9]
dimensions: [freq, unit, sex, age, icd10, geo]
filters: {freq: [A], unit: [RT], sex: [T, M, F], age: [TOTAL], icd10: [TOXICO]}
unverified_codes:
  age: "test dataset"
  icd10: "test dataset"
codes: {sex: [T, M, F]}
value_range: [0, 1000]
"""
MEASURE = {
    "name": "crude_death_rate_drug_dependence",
    "unit": "per 100 000 inhabitants",
    "description": "Crude death rate, drug dependence (F11-F16, F18-F19)",
}
SQL_LINE = (
    "UNION ALL SELECT 'crude_death_rate_drug_dependence', geo, geo_level, "
    "CAST(period AS INTEGER), NULL, CASE sex WHEN 'T' THEN 'total' WHEN 'M' THEN 'male' "
    "WHEN 'F' THEN 'female' END, 'total', NULL, value, value_text, 'per 100 000 inhabitants', "
    "flags, note, source_dataset, snapshot_sha256, line FROM staging.eurostat_hlth_cd_acdr2 "
    "WHERE unit = 'RT' AND icd10 = 'TOXICO' AND age = 'TOTAL'\n"
)
HEADER = "freq,unit,sex,age,icd10,geo\\TIME_PERIOD\t2020 \t2021 \n"
GOOD = HEADER + (
    "A,RT,T,TOTAL,TOXICO,AT\t1.5 \t1.7 \n"
    "A,RT,M,TOTAL,TOXICO,AT\t2.5 \t2.9 p\n"
    "A,RT,T,TOTAL,TOXICO,EU27_2020\t1.2 \t: \n"
)


@pytest.fixture(scope="module")
def cat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalogue]:
    """assets/ copied, the dataset's YAML added and indicator 9's YAML naming it; a copy of
    the SQL folder with one line added to indicator 9's query."""
    tmp_path = tmp_path_factory.mktemp("added")
    root = tmp_path / "assets"
    shutil.copytree(ASSETS_DIR, root)
    (root / "datasets" / f"{NEW}.yaml").write_text(DATASET_YAML, encoding="utf-8")
    ind_file = root / "indicators" / "ind09_morbidity_mortality.yaml"
    ind = yaml.safe_load(ind_file.read_text(encoding="utf-8"))
    ind["datasets"].append(NEW)
    ind["measures"].append(MEASURE)
    ind_file.write_text(yaml.safe_dump(ind, sort_keys=False), encoding="utf-8")
    sql = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql)
    query = sql / "indicators" / "ind09_morbidity_mortality.sql"
    query.write_text(query.read_text(encoding="utf-8").rstrip("\n") + "\n" + SQL_LINE)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(indicators_module, "SQL_DIR", sql)
        yield load_catalogue(root)


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(tmp_path / "data")


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(tmp_path / "build.duckdb"))
    yield connection
    connection.close()


def stage_new(
    con: duckdb.DuckDBPyConnection, cat: Catalogue, paths: Paths, body: str, tmp_path: Path
) -> StageResult:
    store = SnapshotStore(paths.raw_dir)
    source = tmp_path / "download.tsv"
    source.write_text(body, encoding="utf-8")
    assert Fetcher(store).load_file(cat.dataset(NEW), source).snapshot is not None
    init_build(con, cat, store, paths)
    for ds in cat.datasets.values():
        create_table(con, ds.table, ds)
    return stage_dataset(
        con,
        cat.dataset(NEW),
        store.snapshots(NEW),
        GeoResolver(cat.geo),
        published_sha=None,
        fetch_problem=None,
    )


def test_no_python_and_no_suite_json_for_the_new_dataset(cat: Catalogue) -> None:
    ds = cat.dataset(NEW)
    assert not suite_path(ds.table).exists()
    exps = generated_suites(cat)[ds.table]["expectations"]
    rules = {e["meta"]["rule"] for e in exps}
    assert "value plausible for this dataset (catalogue value_range)" in rules
    assert {"column": "sex", "value_set": ["T", "M", "F"]} in [e["kwargs"] for e in exps]
    # the indicator declares what it reads: the asset graph and the SQL cross-check follow it
    assert cat.indicators[9].datasets.count(NEW) == 1


def test_the_new_dataset_stages_and_feeds_indicator_9_through_its_gates(
    cat: Catalogue, paths: Paths, con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    result = stage_new(con, cat, paths, GOOD, tmp_path)
    assert result.state == "fresh", result.reason
    assert result.report is not None and result.report.success, result.report
    assert result.report.evaluated == len(
        generated_suites(cat)[cat.dataset(NEW).table]["expectations"]
    )

    ind = cat.indicators[9]
    build_indicator(con, ind)
    rows = con.execute(
        f"SELECT geo, period, sex, value, flags, unit, source_line FROM {ind.table} "
        "WHERE measure = 'crude_death_rate_drug_dependence' ORDER BY geo, sex, period"
    ).fetchall()
    assert rows == [
        ("AT", 2020, "male", 2.5, None, "per 100 000 inhabitants", 3),
        ("AT", 2021, "male", 2.9, "p", "per 100 000 inhabitants", 3),
        ("AT", 2020, "total", 1.5, None, "per 100 000 inhabitants", 2),
        ("AT", 2021, "total", 1.7, None, "per 100 000 inhabitants", 2),
        ("EU27_2020", 2020, "total", 1.2, None, "per 100 000 inhabitants", 4),
    ]
    report = validate_table(con, ind.table, ind)
    assert report.success, report.summary()


@pytest.mark.parametrize(
    ("bad_line", "rule"),
    [
        ("A,RT,X,TOTAL,TOXICO,AT\t1.5 \t1.7 \n", "sex code known"),
        ("A,RT,T,TOTAL,TOXICO,BE\t1.5 \t5000 \n", "value plausible for this dataset"),
    ],
    ids=["unknown-sex-code", "value-out-of-range"],
)
def test_a_bad_row_in_the_new_dataset_fails_its_generated_gate(
    cat: Catalogue,
    paths: Paths,
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    bad_line: str,
    rule: str,
) -> None:
    result = stage_new(con, cat, paths, GOOD + bad_line, tmp_path)
    assert result.state == "missing"  # its only snapshot is quarantined: nothing staged
    (entry,) = result.quarantined
    assert f"suite {cat.dataset(NEW).table} failed: rule '{rule}" in entry["reason"]
    assert "line=5" in entry["reason"]  # the offending row, by its line in the file


def test_an_indicator_row_with_an_undeclared_measure_fails_the_indicator_gate(
    cat: Catalogue, paths: Paths, con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """The indicator gate takes its measures from the catalogue: the SQL line alone, without
    the measure in indicator 9's YAML, does not pass."""
    assert stage_new(con, cat, paths, GOOD, tmp_path).state == "fresh"
    ind = cat.indicators[9]
    build_indicator(con, ind)
    undeclared = ind.model_copy(
        update={"measures": [m for m in ind.measures if m.name != MEASURE["name"]]}
    )
    report = validate_table(con, ind.table, undeclared)
    assert [f.rule for f in report.failures] == [
        "each measure declared in the catalogue, with its one unit"
    ]


def test_the_asset_graph_gives_the_new_dataset_a_blocking_gate_before_indicator_9(
    cat: Catalogue,
) -> None:
    from dagster import AssetKey, AssetsDefinition

    from pipelines.definitions import build_definitions

    defs = build_definitions(cat)
    assets = [a for a in defs.assets or [] if isinstance(a, AssetsDefinition)]
    staging = AssetKey(["staging", "eurostat_hlth_cd_acdr2"])
    gates = [s for a in assets for s in a.check_specs if (s.asset_key, s.name) == (staging, "gate")]
    assert [(g.blocking, g.metadata["suite"]) for g in gates] == [
        (True, "staging.eurostat_hlth_cd_acdr2")
    ]
    (ind09,) = [
        a for a in assets if AssetKey(["indicators", "ind09_morbidity_mortality"]) in a.keys
    ]
    assert staging in ind09.asset_deps[AssetKey(["indicators", "ind09_morbidity_mortality"])]
