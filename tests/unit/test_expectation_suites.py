"""The gates' suites: generated from the catalogue (pipelines.suites) plus hand-written ones.

The generated expectations of every staging and indicator table come from the catalogue;
`expectations/generated/` holds them for review and must equal what the catalogue gives
now. Every hand-written suite in `expectations/` loads as a GX 1.x suite without GX
dropping an expectation, belongs to a gated table and repeats nothing the catalogue
generates. Every gated table has a gate that is not empty, and its empty table (the layout
the engine creates) passes it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from helpers import make_dataset
from pydantic import ValidationError

from pipelines.catalogue import Catalogue, CatalogueError, load_catalogue
from pipelines.checks import SuiteError, gate_suite, load_suite_json, validate_frame
from pipelines.indicators import SERIES_KEY, SQL_COLUMNS, sql_path
from pipelines.settings import EXPECTATIONS_DIR
from pipelines.stage import staging_columns
from pipelines.suites import (
    GENERATED_DIR,
    generated_suites,
    render,
    staging_expectations,
    stale_files,
    write_generated,
    year_pattern,
)
from pipelines.trend_tables import TABLES

HAND_FILES = sorted(EXPECTATIONS_DIR.glob("*.json"))
HAND_NAMES = [p.stem for p in HAND_FILES]
CAT = load_catalogue()
GENERATED = generated_suites(CAT)
INDICATOR_COLUMNS = [
    "indicator_id",
    *(c for c, _ in SQL_COLUMNS),
    "fetched_at",
    "is_sample",
    "value_origin",
]


def of_kind(expectations: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in expectations if e["type"] == kind]


def columns_named(expectation: dict[str, Any]) -> set[str]:
    kw = expectation["kwargs"]
    names = {kw.get("column"), kw.get("column_A"), kw.get("column_B")}
    names.update(kw.get("column_list") or [])
    return {n for n in names if n}


def gated_tables(cat: Catalogue) -> set[str]:
    tables = {ds.table for ds in cat.datasets.values()}
    tables |= {ind.table for ind in cat.indicator_list() if sql_path(ind).exists()}
    return tables | {f"trends.{t.name}" for t in TABLES}


# -- generated ----------------------------------------------------------------------------------
def test_generated_suites_are_exactly_the_staging_and_indicator_tables() -> None:
    assert set(GENERATED) == {ds.table for ds in CAT.datasets.values()} | {
        ind.table for ind in CAT.indicator_list()
    }


def test_the_committed_generated_suites_are_current() -> None:
    """Regenerated in memory and compared with expectations/generated/: a catalogue edit
    without `eudap suites --write` fails here."""
    assert stale_files(CAT) == []
    assert sorted(p.stem for p in GENERATED_DIR.glob("*.json")) == sorted(GENERATED)


def test_a_stale_missing_or_orphaned_generated_file_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "generated"
    assert write_generated(CAT, root) and stale_files(CAT, root) == []
    first, second = sorted(GENERATED)[:2]
    edited = json.loads((root / f"{first}.json").read_text())
    edited["expectations"].pop()
    (root / f"{first}.json").write_text(render(edited))
    (root / f"{second}.json").unlink()
    (root / "staging.gone.json").write_text("{}")
    assert stale_files(CAT, root) == [
        f"{second}.json: missing",
        "staging.gone.json: no such table in the catalogue",
        f"{first}.json: differs from the catalogue",
    ]
    write_generated(CAT, root)
    assert stale_files(CAT, root) == []


@pytest.mark.parametrize("number", sorted(CAT.indicators))
def test_indicator_gate_says_what_the_catalogue_says(number: int) -> None:
    ind = CAT.indicators[number]
    exps = GENERATED[ind.table]["expectations"]
    (pairs,) = of_kind(exps, "expect_column_pair_values_to_be_in_set")
    assert (pairs["kwargs"]["column_A"], pairs["kwargs"]["column_B"]) == ("measure", "unit")
    assert sorted(map(tuple, pairs["kwargs"]["value_pairs_set"])) == sorted(
        (m.name, m.unit) for m in ind.measures
    )
    ids = [e for e in of_kind(exps, "expect_column_values_to_be_in_set")]
    assert [(e["kwargs"]["column"], e["kwargs"]["value_set"]) for e in ids] == [
        ("indicator_id", [number])
    ]
    (unique,) = of_kind(exps, "expect_compound_columns_to_be_unique")
    assert unique["kwargs"]["column_list"] == SERIES_KEY
    between = {
        e["kwargs"]["column"]: (e["kwargs"].get("min_value"), e["kwargs"].get("max_value"))
        for e in of_kind(exps, "expect_column_values_to_be_between")
    }
    assert between == {"period": ind.period_years, "value": ind.value_range}
    named = set().union(*(columns_named(e) for e in exps))
    assert named <= set(INDICATOR_COLUMNS), sorted(named - set(INDICATOR_COLUMNS))


@pytest.mark.parametrize("dataset", sorted(CAT.datasets))
def test_staging_gate_says_what_the_catalogue_says(dataset: str) -> None:
    ds = CAT.dataset(dataset)
    columns = [n for n, _ in staging_columns(ds)]
    exps = GENERATED[ds.table]["expectations"]
    assert GENERATED[ds.table]["meta"]["dataset"] == ds.id
    named = set().union(*(columns_named(e) for e in exps))
    assert named <= set(columns), sorted(named - set(columns))
    ranges = [
        (e["kwargs"]["min_value"], e["kwargs"]["max_value"])
        for e in of_kind(exps, "expect_column_values_to_be_between")
    ]
    assert ranges == [tuple(ds.value_range)]
    (unique,) = of_kind(exps, "expect_compound_columns_to_be_unique")
    expected = (["table_breadcrumb"] if ds.bulletin_rules else []) + [
        "geo_raw" if d == ds.geo_dimension else d for d in ds.dimensions
    ]
    assert unique["kwargs"]["column_list"] == [*expected, "period"]
    not_null = {
        e["kwargs"]["column"]
        for e in of_kind(exps, "expect_column_values_to_not_be_null")
        if "row_condition" not in e["kwargs"]
    }
    geo = {"geo_level"} if ds.geo_dimension else set()
    assert not_null == {"line", "snapshot_sha256", "source_dataset", *ds.required, *geo}
    in_set = [
        (e["kwargs"]["column"], sorted(e["kwargs"]["value_set"]), e["kwargs"].get("row_condition"))
        for e in of_kind(exps, "expect_column_values_to_be_in_set")
    ]
    roles = {r.role for r in [*ds.table_rules, *ds.bulletin_rules]} - {"unused"}
    zero_flag = ds.parser_options.get("zero_flag")
    assert sorted(in_set, key=str) == sorted(
        [(dim, sorted(codes), None) for dim, codes in ds.codes.items()]
        + ([("role", sorted(roles), None)] if roles else [])
        + (
            [("flags", [zero_flag], None), ("flags", [zero_flag], "value == 0")]
            if zero_flag
            else []
        ),
        key=str,
    )
    (period,) = of_kind(exps, "expect_column_values_to_match_regex")
    first, last = ds.period_years
    assert period["kwargs"]["regex"] == year_pattern(first, last)


@pytest.mark.parametrize("span", [(1980, 2100), (1900, 2099), (1967, 2031), (2000, 2000)])
def test_year_pattern_matches_exactly_the_years_of_the_span(span: tuple[int, int]) -> None:
    pattern = re.compile(year_pattern(*span))
    matched = [y for y in range(1000, 3000) if pattern.match(str(y))]
    assert matched == list(range(span[0], span[1] + 1))
    assert not pattern.match(f"{span[0]}a") and not pattern.match(f" {span[0]}")


# -- hand-written -------------------------------------------------------------------------------
@pytest.mark.parametrize("path", HAND_FILES, ids=HAND_NAMES)
def test_every_hand_written_suite_loads_as_a_gx_suite_without_dropped_expectations(
    path: Path,
) -> None:
    import great_expectations as gx  # 2-3 s to import: only the tests that use it pay

    spec = json.loads(path.read_text(encoding="utf-8"))
    assert spec["name"] == path.stem
    assert spec["expectations"], "a hand-written suite without expectations: delete it"
    suite = gx.ExpectationSuite(
        name=spec["name"], expectations=spec["expectations"], meta=spec.get("meta", {})
    )
    assert [e.expectation_type for e in suite.expectations] == [
        e["type"] for e in spec["expectations"]
    ]
    for exp in spec["expectations"]:
        assert (exp.get("meta") or {}).get("rule"), f"{exp['type']} has no meta.rule"


def test_no_hand_written_suite_is_orphaned() -> None:
    assert sorted(set(HAND_NAMES) - gated_tables(CAT)) == []


@pytest.mark.parametrize("name", sorted(set(HAND_NAMES) & set(GENERATED)))
def test_a_hand_written_suite_repeats_nothing_the_catalogue_generates(name: str) -> None:
    def key(e: dict[str, Any]) -> str:
        return json.dumps([e["type"], e["kwargs"]], sort_keys=True)

    generated = {key(e) for e in GENERATED[name]["expectations"]}
    repeated = [e for e in load_suite_json(name)["expectations"] if key(e) in generated]
    assert repeated == []


# -- the gates ----------------------------------------------------------------------------------
def test_a_gate_without_generated_expectations_needs_its_hand_written_suite() -> None:
    """A gate never shrinks silently: an indicator suite asked for by name alone (without the
    catalogue's expectations) is an error, not an empty gate."""
    ind = CAT.indicators[1]
    assert not (EXPECTATIONS_DIR / f"{ind.table}.json").exists()
    with pytest.raises(SuiteError, match="no expectation suite"):
        gate_suite(ind.table)


@pytest.mark.parametrize("dataset", sorted(CAT.datasets))
def test_every_staging_gate_runs_generated_and_hand_written_and_passes_on_an_empty_table(
    dataset: str,
) -> None:
    ds = CAT.dataset(dataset)
    generated = GENERATED[ds.table]["expectations"]
    hand = load_suite_json(ds.table)["expectations"] if ds.table in HAND_NAMES else []
    assert gate_suite(ds.table, generated=generated)["expectations"] == [*generated, *hand]
    empty = pd.DataFrame(columns=[n for n, _ in staging_columns(ds)])
    report = validate_frame(empty, ds.table, ds.table, generated=generated)
    assert report.success, report.summary()
    assert report.evaluated == len(generated) + len(hand)


@pytest.mark.parametrize("name", [f"trends.{t.name}" for t in TABLES])
def test_every_trends_gate_is_hand_written_and_passes_on_an_empty_table(name: str) -> None:
    spec = load_suite_json(name)
    columns = set().union(*(columns_named(e) for e in spec["expectations"]))
    report = validate_frame(pd.DataFrame(columns=sorted(columns)), name, name)
    assert report.success and report.evaluated == len(spec["expectations"])


def test_every_indicator_has_a_sql_file() -> None:
    assert [i.number for i in CAT.indicator_list() if sql_path(i).exists()] == list(range(1, 13))


def test_a_required_column_that_is_not_staged_is_a_catalogue_error() -> None:
    ds = make_dataset(required=["period", "measure"])
    with pytest.raises(CatalogueError, match=r"testsrc.sample.yaml: required: \['measure'\]"):
        staging_expectations(ds)


def test_codes_of_an_unknown_dimension_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"codes name unknown dimensions \['sex'\]"):
        make_dataset(codes={"sex": ["T"]})


def test_the_suites_command_checks_the_committed_files_without_dagster() -> None:
    code = (
        "import sys; from pipelines.cli import main; rc = main(['suites']); "
        "sys.exit(rc if 'dagster' not in sys.modules else 99)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    listed = [line.split(":")[0] for line in done.stdout.splitlines()]
    assert listed == sorted(GENERATED)
