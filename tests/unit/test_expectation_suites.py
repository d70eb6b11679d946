"""The expectation suites in `expectations/` against the catalogue and the engine.

Every suite must load as a GX 1.x suite without GX dropping an expectation, every table the
pipeline gates must have its suite, no suite may be orphaned, and the suites must say what
the catalogue says (measures and units, value ranges, series keys), so they cannot drift
from `assets/`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import great_expectations as gx
import pandas as pd
import pytest

from pipelines.catalogue import Catalogue, load_catalogue
from pipelines.checks import load_suite_json, suite_path, validate_frame
from pipelines.indicators import SERIES_KEY, SQL_COLUMNS, sql_path
from pipelines.settings import EXPECTATIONS_DIR
from pipelines.stage import staging_columns
from pipelines.trends import TABLES

SUITE_FILES = sorted(EXPECTATIONS_DIR.glob("*.json"))
SUITE_NAMES = [p.stem for p in SUITE_FILES]
CAT = load_catalogue()
INDICATOR_COLUMNS = [
    "indicator_id",
    *(c for c, _ in SQL_COLUMNS),
    "fetched_at",
    "is_sample",
    "value_origin",
]


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return CAT


def expectations_of(name: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in load_suite_json(name)["expectations"] if e["type"] == kind]


def columns_named(expectation: dict[str, Any]) -> set[str]:
    kw = expectation["kwargs"]
    names = {kw.get("column"), kw.get("column_A"), kw.get("column_B")}
    names.update(kw.get("column_list") or [])
    return {n for n in names if n}


def test_the_suite_folder_is_not_empty() -> None:
    assert len(SUITE_FILES) >= len(CAT.datasets) + len(TABLES)


@pytest.mark.parametrize("path", SUITE_FILES, ids=SUITE_NAMES)
def test_every_suite_loads_as_a_gx_suite_without_dropped_expectations(path: Path) -> None:
    spec = json.loads(path.read_text(encoding="utf-8"))
    assert spec["name"] == path.stem
    assert spec["expectations"], "a suite without expectations gates nothing"
    suite = gx.ExpectationSuite(
        name=spec["name"], expectations=spec["expectations"], meta=spec.get("meta", {})
    )
    assert [e.expectation_type for e in suite.expectations] == [
        e["type"] for e in spec["expectations"]
    ]
    for exp in spec["expectations"]:
        assert (exp.get("meta") or {}).get("rule"), f"{exp['type']} has no meta.rule"
    # The project's own loader accepts it too (it raises on a dropped expectation).
    report = validate_frame(pd.DataFrame(), path.stem, "t")
    assert report.evaluated == len(spec["expectations"])


def test_every_gated_table_has_its_suite_and_no_suite_is_orphaned(cat: Catalogue) -> None:
    wanted = {ds.table for ds in cat.datasets.values()}
    wanted |= {ind.table for ind in cat.indicator_list() if sql_path(ind).exists()}
    wanted |= {f"trends.{t.name}" for t in TABLES}
    missing = sorted(w for w in wanted if not suite_path(w).exists())
    assert missing == []
    assert sorted(set(SUITE_NAMES) - wanted) == []


def test_every_indicator_has_a_sql_file(cat: Catalogue) -> None:
    assert [i.number for i in cat.indicator_list() if sql_path(i).exists()] == list(range(1, 13))


@pytest.mark.parametrize("number", sorted(CAT.indicators))
def test_indicator_suite_measures_and_units_equal_the_catalogue(
    cat: Catalogue, number: int
) -> None:
    ind = cat.indicators[number]
    (pairs,) = expectations_of(ind.table, "expect_column_pair_values_to_be_in_set")
    assert (pairs["kwargs"]["column_A"], pairs["kwargs"]["column_B"]) == ("measure", "unit")
    in_suite = sorted(tuple(p) for p in pairs["kwargs"]["value_pairs_set"])
    in_catalogue = sorted((m.name, m.unit) for m in ind.measures)
    assert in_suite == in_catalogue
    assert len({m for m, _ in in_suite}) == len(in_suite), "one unit per measure"


@pytest.mark.parametrize("number", sorted(CAT.indicators))
def test_indicator_suite_matches_the_indicator_table(cat: Catalogue, number: int) -> None:
    ind = cat.indicators[number]
    ids = [
        e
        for e in expectations_of(ind.table, "expect_column_values_to_be_in_set")
        if e["kwargs"]["column"] == "indicator_id"
    ]
    assert [e["kwargs"]["value_set"] for e in ids] == [[number]]
    (unique,) = expectations_of(ind.table, "expect_compound_columns_to_be_unique")
    assert unique["kwargs"]["column_list"] == SERIES_KEY
    named = set().union(*(columns_named(e) for e in load_suite_json(ind.table)["expectations"]))
    assert named <= set(INDICATOR_COLUMNS), sorted(named - set(INDICATOR_COLUMNS))


@pytest.mark.parametrize("dataset", sorted(CAT.datasets))
def test_staging_suite_matches_the_catalogue_layout(cat: Catalogue, dataset: str) -> None:
    ds = cat.dataset(dataset)
    columns = [n for n, _ in staging_columns(ds)]
    spec = load_suite_json(ds.table)
    assert spec["meta"]["dataset"] == ds.id
    named = set().union(*(columns_named(e) for e in spec["expectations"]))
    assert named <= set(columns), sorted(named - set(columns))
    # the value range is the catalogue's
    ranges = [
        e["kwargs"]
        for e in spec["expectations"]
        if e["type"] == "expect_column_values_to_be_between" and e["kwargs"]["column"] == "value"
    ]
    assert [(r["min_value"], r["max_value"]) for r in ranges] == [tuple(ds.value_range)]
    # one observation per series and period: the declared dimensions
    (unique,) = expectations_of(ds.table, "expect_compound_columns_to_be_unique")
    expected = (["table_breadcrumb"] if ds.bulletin_rules else []) + [
        "geo_raw" if d == ds.geo_dimension else d for d in ds.dimensions
    ]
    assert unique["kwargs"]["column_list"] == [*expected, "period"]
    # the table the engine creates has every column the suite names: an empty table passes
    empty = pd.DataFrame(columns=columns)
    report = validate_frame(empty, ds.table, ds.table)
    assert report.success, report.summary()
