"""Unit tests for pipelines.checks: expectation suites run by Great Expectations on frames.

The suites are small real GX 1.x suites written into tmp_path and passed as `root=`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipelines.checks import SuiteError, ValidationReport, load_suite_json, validate_frame

NOT_NULL_GEO = {
    "type": "expect_column_values_to_not_be_null",
    "kwargs": {"column": "geo_level"},
    "meta": {"rule": "geo code known"},
}
VALUE_RANGE = {
    "type": "expect_column_values_to_be_between",
    "kwargs": {"column": "value", "min_value": 0, "max_value": 100},
    "meta": {"rule": "value plausible"},
}
UNIQUE_KEY = {
    "type": "expect_compound_columns_to_be_unique",
    "kwargs": {"column_list": ["geo_raw", "period"]},
    "meta": {"rule": "one observation per series and period"},
}
PAIR = {
    "type": "expect_column_pair_values_to_be_in_set",
    "kwargs": {"column_A": "measure", "column_B": "unit", "value_pairs_set": [["m", "count"]]},
    "meta": {"rule": "each measure with its unit"},
}


def write_suite(
    root: Path, name: str, expectations: list[dict[str, Any]], file_name: str | None = None
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{file_name or name}.json"
    path.write_text(json.dumps({"name": name, "expectations": expectations, "meta": {}}))
    return path


def frame(rows: list[tuple[int, str, str | None, str, float | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["line", "geo_raw", "geo_level", "period", "value"])


GOOD_ROWS = [
    (2, "AT", "country", "2020", 10.0),
    (2, "AT", "country", "2021", 12.0),
    (3, "BE", "country", "2020", 7.0),
]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "suites"


def test_passing_frame_reports_every_expectation(root: Path) -> None:
    write_suite(root, "t.ok", [NOT_NULL_GEO, VALUE_RANGE, UNIQUE_KEY])
    report = validate_frame(frame(GOOD_ROWS), "t.ok", "staging.t", root=root)
    assert isinstance(report, ValidationReport)
    assert report.success
    assert report.failures == []
    assert (report.rows, report.evaluated) == (3, 3)
    assert report.summary() == "staging.t: 3 expectations of suite t.ok passed"


def test_a_failing_expectation_names_rule_expectation_and_sample_rows_with_lines(
    root: Path,
) -> None:
    write_suite(root, "t.fail", [NOT_NULL_GEO, VALUE_RANGE])
    rows = [*GOOD_ROWS, (4, "ZZ", None, "2020", 5.0), (5, "DE", "country", "2020", 500.0)]

    report = validate_frame(frame(rows), "t.fail", "staging.t", root=root)

    assert not report.success
    assert [f.expectation for f in report.failures] == [
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_between",
    ]
    geo_failure, range_failure = report.failures
    assert geo_failure.rule == "geo code known"
    assert geo_failure.unexpected_count == 1
    assert geo_failure.kwargs == {"column": "geo_level"}
    assert [r["line"] for r in geo_failure.sample_rows] == [4]
    assert geo_failure.sample_rows[0]["geo_raw"] == "ZZ"
    assert geo_failure.sample_rows[0]["geo_level"] is None  # NaN made plain
    text = geo_failure.describe()
    assert text.startswith("rule 'geo code known' (expect_column_values_to_not_be_null geo_level)")
    assert "1 rows" in text
    assert "line=4" in text and "geo_raw='ZZ'" in text

    assert range_failure.rule == "value plausible"
    assert [r["line"] for r in range_failure.sample_rows] == [5]
    assert "value=500.0" in range_failure.describe()

    summary = report.summary()
    assert summary.startswith("staging.t: suite t.fail failed: ")
    assert "rule 'geo code known'" in summary and "rule 'value plausible'" in summary
    assert "line=5" in summary
    meta = report.metadata()
    assert meta["failed_expectations"][0].startswith("expect_column_values_to_not_be_null")
    assert "geo code known" in meta["details"]


def test_compound_uniqueness_failure_samples_the_duplicate_rows(root: Path) -> None:
    write_suite(root, "t.unique", [UNIQUE_KEY])
    rows = [*GOOD_ROWS, (9, "AT", "country", "2020", 11.0)]
    report = validate_frame(frame(rows), "t.unique", "staging.t", root=root)
    assert not report.success
    (failure,) = report.failures
    assert failure.rule == "one observation per series and period"
    assert failure.unexpected_count == 2
    assert sorted(r["line"] for r in failure.sample_rows) == [2, 9]
    assert "geo_raw, period" not in failure.describe()  # column_list shown as a list
    assert "['geo_raw', 'period']" in failure.describe()


def test_an_expectation_without_a_rule_falls_back_to_its_type(root: Path) -> None:
    write_suite(root, "t.norule", [{**VALUE_RANGE, "meta": {}}])
    report = validate_frame(frame([(2, "AT", "country", "2020", -1.0)]), "t.norule", "t", root)
    assert report.failures[0].rule == "expect_column_values_to_be_between"


def test_empty_frame_only_needs_the_columns(root: Path) -> None:
    write_suite(root, "t.empty", [NOT_NULL_GEO, VALUE_RANGE, UNIQUE_KEY])
    report = validate_frame(frame([]), "t.empty", "staging.t", root=root)
    assert report.success
    assert (report.rows, report.evaluated) == (0, 3)


def test_empty_frame_with_missing_columns_fails(root: Path) -> None:
    write_suite(root, "t.cols", [NOT_NULL_GEO, VALUE_RANGE, UNIQUE_KEY, PAIR])
    empty = pd.DataFrame(columns=["line", "period", "value", "measure"])

    report = validate_frame(empty, "t.cols", "staging.t", root=root)

    assert not report.success
    missing = {f.expectation: f.kwargs["column"] for f in report.failures}
    assert missing == {
        "expect_column_values_to_not_be_null": ["geo_level"],
        "expect_compound_columns_to_be_unique": ["geo_raw"],
        # the pair expectation names its columns as column_A / column_B
        "expect_column_pair_values_to_be_in_set": ["unit"],
    }
    assert all(f.rule == "columns present" for f in report.failures)


def test_a_misspelled_expectation_type_raises_naming_the_file(root: Path) -> None:
    typo = {**NOT_NULL_GEO, "type": "expect_column_values_to_not_be_nul"}
    path = write_suite(root, "t.typo", [VALUE_RANGE, typo])
    with pytest.raises(SuiteError) as info:
        validate_frame(frame(GOOD_ROWS), "t.typo", "staging.t", root=root)
    assert str(path) in str(info.value)
    assert "expect_column_values_to_not_be_nul" in str(info.value)


def test_an_expectation_with_invalid_arguments_raises_naming_the_file(root: Path) -> None:
    path = write_suite(root, "t.kwargs", [{**NOT_NULL_GEO, "kwargs": {}}])
    with pytest.raises(SuiteError, match="invalid suite") as info:
        validate_frame(frame(GOOD_ROWS), "t.kwargs", "staging.t", root=root)
    assert str(path) in str(info.value)


def test_a_suite_whose_name_differs_from_its_file_raises(root: Path) -> None:
    path = write_suite(root, "t.other", [NOT_NULL_GEO], file_name="t.named")
    with pytest.raises(SuiteError) as info:
        validate_frame(frame(GOOD_ROWS), "t.named", "staging.t", root=root)
    assert str(path) in str(info.value)
    assert "name must be 't.named'" in str(info.value) and "'t.other'" in str(info.value)


def test_missing_and_unreadable_suites_raise(root: Path) -> None:
    with pytest.raises(SuiteError, match="no expectation suite"):
        load_suite_json("t.absent", root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "t.broken.json").write_text("{not json")
    with pytest.raises(SuiteError, match="not valid JSON"):
        validate_frame(frame(GOOD_ROWS), "t.broken", "staging.t", root=root)


def test_generated_expectations_run_before_the_hand_written_suite(root: Path) -> None:
    write_suite(root, "t.both", [UNIQUE_KEY])
    rows = [(2, "AT", "country", "2020", -1.0), (2, "AT", "country", "2020", 5.0)]
    report = validate_frame(frame(rows), "t.both", "staging.t", root, generated=[VALUE_RANGE])
    assert report.evaluated == 2
    assert [(f.rule, f.unexpected_count) for f in report.failures] == [
        ("value plausible", 1),
        ("one observation per series and period", 2),
    ]


def test_generated_expectations_need_no_hand_written_file(root: Path) -> None:
    report = validate_frame(frame(GOOD_ROWS), "t.none", "staging.t", root, generated=[NOT_NULL_GEO])
    assert report.success and report.evaluated == 1
    bad = validate_frame(
        frame([(2, "XX", None, "2020", 1.0)]), "t.none", "staging.t", root, [NOT_NULL_GEO]
    )
    assert [f.rule for f in bad.failures] == ["geo code known"]
    with pytest.raises(SuiteError, match="no expectation suite"):
        validate_frame(frame(GOOD_ROWS), "t.none", "staging.t", root)
