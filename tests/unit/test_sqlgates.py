"""Unit tests for pipelines.sqlgates: expectation suites compiled to DuckDB SQL.

Great Expectations (pipelines.checks.validate_frame) is the reference: the same suite on the
same rows, run both ways on a temp DuckDB table, must give the same report. The suites are
real GX 1.x suites written into tmp_path; the committed suites are all compiled.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from helpers import gate_failures

from pipelines.checks import ExpectationFailure, SuiteError, ValidationReport, validate_frame
from pipelines.settings import EXPECTATIONS_DIR, PROJECT_ROOT
from pipelines.sqlgates import Table, compile_expectation, condition_sql, validate_sql

COLUMNS = (
    "line BIGINT, geo_raw VARCHAR, geo_level VARCHAR, period VARCHAR, value DOUBLE, "
    "value_text VARCHAR, flags VARCHAR, measure VARCHAR, unit VARCHAR, low DOUBLE, "
    "high DOUBLE, year INTEGER, done BOOLEAN"
)
# line, geo_raw, geo_level, period, value, value_text, flags, measure, unit, low, high, year,
# done: missing values, NaN, a duplicate key, out-of-range values, codes and pairs off the
# list, a period that is not a year, low above high.
ROWS: list[tuple[Any, ...]] = [
    (2, "AT", "country", "2020", 10.0, None, None, "m", "count", 1.0, 2.0, 2020, True),
    (3, "AT", "country", "2021", 0.0, None, "z", "m", "count", 2.0, 2.0, 2021, False),
    (4, "BE", None, "2020", None, None, None, "r", "rate", None, 5.0, 2020, None),
    (5, "BE", "country", "2020", float("nan"), ":c", None, "r", "count", 7.0, None, None, True),
    (6, "ZZ", "country", "20201", 150.0, None, "b", None, "count", None, None, 1999, False),
    (7, "AT", "country", "2020", -1.0, None, None, "m", None, 3.0, 1.0, 2030, True),
    (8, None, None, None, 100.0, None, "z", "x", "y", 4.0, 4.0, 2020, None),
    (9, None, None, None, 0.0, None, None, "m", "count", 0.5, float("nan"), 2021, False),
]


def exp(kind: str, rule: str | None = None, **kwargs: Any) -> dict[str, Any]:
    return {"type": kind, "kwargs": kwargs, "meta": {"rule": rule} if rule else {}}


PANDAS = {"condition_parser": "pandas"}
EVERY_KIND = [
    exp("expect_column_values_to_not_be_null", "geo known", column="geo_level"),
    exp("expect_column_values_to_not_be_null", "a number", column="value"),
    exp(
        "expect_column_values_to_not_be_null",
        "a number unless flagged",
        column="value",
        row_condition="flags.isnull() & value_text.isnull()",
        **PANDAS,
    ),
    exp("expect_column_values_to_be_null", "no text", column="value_text"),
    exp(
        "expect_column_values_to_be_null",
        None,
        column="flags",
        row_condition="done == True",
        **PANDAS,
    ),
    exp(
        "expect_column_values_to_be_in_set", "code known", column="geo_raw", value_set=["AT", "BE"]
    ),
    exp("expect_column_values_to_be_in_set", "year", column="year", value_set=[2020, 2021]),
    exp("expect_column_values_to_be_in_set", "no strings", column="year", value_set=["2020"]),
    exp(
        "expect_column_values_to_be_in_set",
        "zero flagged",
        column="flags",
        value_set=["z"],
        row_condition="value == 0",
        **PANDAS,
    ),
    exp("expect_column_values_to_be_between", "range", column="value", min_value=0, max_value=100),
    exp(
        "expect_column_values_to_be_between",
        "strict",
        column="value",
        min_value=0,
        max_value=100,
        strict_min=True,
        strict_max=True,
    ),
    exp("expect_column_values_to_be_between", "no max", column="value", min_value=0.0),
    exp("expect_column_values_to_be_between", "no min", column="year", max_value=2021),
    exp("expect_column_values_to_be_between", None, column="year", min_value=2000, max_value=None),
    exp("expect_column_values_to_match_regex", "a year", column="period", regex=r"^(?:19|20)\d\d$"),
    exp("expect_column_values_to_match_regex", "a search", column="period", regex=r"02"),
    exp("expect_column_values_to_match_regex", "on a number", column="year", regex=r"^20"),
    exp("expect_column_values_to_be_unique", "unique line", column="geo_raw"),
    exp("expect_compound_columns_to_be_unique", "one per key", column_list=["geo_raw", "period"]),
    exp(
        "expect_compound_columns_to_be_unique",
        "any missing",
        column_list=["geo_raw", "period"],
        ignore_row_if="any_value_is_missing",
    ),
    exp(
        "expect_compound_columns_to_be_unique",
        "never",
        column_list=["geo_raw", "period"],
        ignore_row_if="never",
    ),
    exp(
        "expect_column_pair_values_to_be_in_set",
        "measure and unit",
        column_A="measure",
        column_B="unit",
        value_pairs_set=[["m", "count"], ["r", "rate"]],
    ),
    exp(
        "expect_column_pair_values_to_be_in_set",
        "neither",
        column_A="measure",
        column_B="unit",
        value_pairs_set=[["m", "count"]],
        ignore_row_if="neither",
    ),
    exp("expect_column_pair_values_a_to_be_greater_than_b", "gt", column_A="high", column_B="low"),
    exp(
        "expect_column_pair_values_a_to_be_greater_than_b",
        "ge",
        column_A="high",
        column_B="low",
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    ),
    exp(
        "expect_column_values_to_be_in_set",
        "class",
        column="flags",
        value_set=["z"],
        row_condition="(measure == 'm') & (high * -1 < -1.5) | ~done",
        **PANDAS,
    ),
]


def write_suite(root: Path, name: str, expectations: list[dict[str, Any]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{name}.json"
    path.write_text(json.dumps({"name": name, "expectations": expectations, "meta": {}}))
    return path


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory):
    """One DuckDB file for the module: opening a database costs ~20 ms of CPU a test."""
    connection = duckdb.connect(str(tmp_path_factory.mktemp("gates") / "t.duckdb"))
    yield connection
    connection.close()


@pytest.fixture
def con(database):
    """A connection of its own to the module's database, holding only staging.t with ROWS
    (made again for each test: tests delete and change rows)."""
    database.execute("DROP SCHEMA IF EXISTS staging CASCADE")
    assert database.execute("SELECT count(*) FROM duckdb_tables()").fetchone() == (0,)
    database.execute("CREATE SCHEMA staging")
    database.execute(f"CREATE TABLE staging.t ({COLUMNS})")
    database.executemany(f"INSERT INTO staging.t VALUES ({', '.join('?' * len(ROWS[0]))})", ROWS)
    connection = database.cursor()
    yield connection
    connection.close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "suites"


def both_ways(con, root: Path, suite: str) -> tuple[ValidationReport, ValidationReport]:
    sql = validate_sql(con, "staging.t", suite, root=root)
    gx = validate_frame(con.execute("SELECT * FROM staging.t").df(), suite, "staging.t", root)
    return sql, gx


def test_every_kind_gives_the_report_great_expectations_gives(con, root: Path) -> None:
    write_suite(root, "t.kinds", EVERY_KIND)
    sql, gx = both_ways(con, root, "t.kinds")
    assert (sql.rows, sql.evaluated) == (gx.rows, gx.evaluated) == (len(ROWS), len(EVERY_KIND))
    assert gate_failures(sql) == gate_failures(gx)
    failed = {f.rule for f in sql.failures}
    assert len(failed) >= 20, failed  # the rows are made to break nearly every expectation


def test_one_pass_over_the_table_reports_what_each_expectation_run_alone_reports(
    con, root: Path
) -> None:
    """The row-wise expectations are counted together in one query; one that raises (a
    regex DuckDB refuses) must still be reported on its own, and the others as before."""
    refused = exp("expect_column_values_to_match_regex", None, column="period", regex="(")
    suite = [*EVERY_KIND[:12], refused, *EVERY_KIND[12:]]
    write_suite(root, "t.all", suite)
    together = validate_sql(con, "staging.t", "t.all", root=root)
    alone = []
    for number, expectation in enumerate(suite):
        write_suite(root, f"t.one{number}", [expectation])
        alone += validate_sql(con, "staging.t", f"t.one{number}", root=root).failures
    assert together.failures == alone
    (error,) = [f for f in together.failures if f.kwargs.get("regex") == "("]
    assert error.unexpected_count is None and "missing )" in error.rule
    assert len(together.failures) >= 20


def test_a_passing_table_passes_both_ways(con, root: Path) -> None:
    con.execute("DELETE FROM staging.t WHERE line > 3")
    broken_by_the_two_rows = {"strict", "unique line", "no strings", "gt"}
    passing = [e for e in EVERY_KIND if e["meta"].get("rule") not in broken_by_the_two_rows]
    write_suite(root, "t.pass", passing)
    sql, gx = both_ways(con, root, "t.pass")
    assert sql.success and gx.success, sql.summary()
    assert (
        sql.summary()
        == gx.summary()
        == f"staging.t: {len(passing)} expectations of suite t.pass passed"
    )
    # match_regex searches, as GX does: '02' is found in '2020' and '2021'
    assert any(e["kwargs"].get("regex") == "02" for e in passing)


def test_a_failure_names_rule_count_and_the_first_failing_rows_in_table_order(
    con, root: Path
) -> None:
    con.executemany(
        "INSERT INTO staging.t (line, geo_raw, geo_level, period, value) VALUES (?, ?, ?, ?, ?)",
        [(10 + i, "AT", None, "2022", 1.0) for i in range(8)],
    )
    write_suite(root, "t.geo", [EVERY_KIND[0]])
    report = validate_sql(con, "staging.t", "t.geo", "staging.t (snapshot x)", root=root)
    (failure,) = report.failures
    assert failure.unexpected_count == 11
    assert [r["line"] for r in failure.sample_rows] == [4, 8, 9, 10, 11]
    assert report.table == "staging.t (snapshot x)"
    assert failure.describe().startswith(
        "rule 'geo known' (expect_column_values_to_not_be_null geo_level): 11 rows; "
        "e.g. (line=4, geo_raw='BE'"
    )


def test_empty_table_only_needs_the_columns_as_with_great_expectations(con, root: Path) -> None:
    con.execute("DELETE FROM staging.t")
    write_suite(
        root, "t.cols", [*EVERY_KIND[:3], exp("expect_column_values_to_be_null", column="nope")]
    )
    sql, gx = both_ways(con, root, "t.cols")
    assert sql.rows == 0 and sql.evaluated == 4
    assert (
        sql.failures
        == gx.failures
        == [
            ExpectationFailure(
                "expect_column_values_to_be_null", {"column": ["nope"]}, "columns present", None
            )
        ]
    )


def test_a_column_the_table_lacks_fails_the_expectation_without_a_count(con, root: Path) -> None:
    write_suite(
        root,
        "t.lacks",
        [
            exp("expect_column_values_to_not_be_null", "present", column="nope"),
            exp(
                "expect_column_values_to_not_be_null",
                None,
                column="geo_raw",
                row_condition="nope == 1",
                **PANDAS,
            ),
        ],
    )
    sql, gx = both_ways(con, root, "t.lacks")
    assert [(f.rule, f.unexpected_count) for f in sql.failures][0] == ("present", None)
    assert [(f.expectation, f.unexpected_count) for f in sql.failures] == [
        (f.expectation, f.unexpected_count) for f in gx.failures
    ]
    assert not sql.success


@pytest.mark.parametrize(
    ("expectation", "message"),
    [
        (exp("expect_column_values_to_be_increasing", column="value"), "unknown expectation type"),
        (exp("expect_column_values_to_not_be_null", column="value", mostly=0.9), "'mostly'"),
        (exp("expect_column_values_to_be_in_set", column="value"), "missing kwargs"),
        (
            exp(
                "expect_column_values_to_not_be_null",
                column="value",
                row_condition='col("value")>1',
                condition_parser="great_expectations",
            ),
            "only pandas",
        ),
        (
            exp(
                "expect_column_values_to_not_be_null",
                column="value",
                row_condition="value > @limit",
                **PANDAS,
            ),
            "does not parse",
        ),
        (
            exp(
                "expect_column_values_to_not_be_null",
                column="value",
                row_condition="value.abs() > 1",
                **PANDAS,
            ),
            "outside the pandas subset",
        ),
        (exp("expect_column_values_to_be_between", column="value"), "cannot both be None"),
        (
            exp("expect_compound_columns_to_be_unique", column_list=["a"], ignore_row_if="both"),
            "ignore_row_if",
        ),
    ],
    ids=["type", "mostly", "required", "gx-parser", "local-var", "method", "no-bounds", "ignore"],
)
def test_what_does_not_compile_fails_the_gate_loudly_naming_file_and_expectation(
    con, root: Path, expectation: dict[str, Any], message: str
) -> None:
    path = write_suite(root, "t.bad", [EVERY_KIND[0], expectation])
    with pytest.raises(SuiteError, match=message) as info:
        validate_sql(con, "staging.t", "t.bad", root=root)
    assert str(info.value).startswith(f"{path}: expectation 2 ({expectation['type']})")


CONDITIONS = [
    "value == 0",
    "value != 0",
    "flags.isnull() & value_text.isnull()",
    "flags.notnull() | value_text.notna()",
    "~geo_level.isna()",
    "done == True",
    "~done",
    "not done",
    "(measure == 'm') & (high * -1 < -1.5) | ~done",
    "measure == 'm' & low < high",
    "measure in ['m', 'r']",
    "measure not in ['m']",
    "geo_raw != 'AT'",
    "1 < low <= 3",
    "(low + high) / 2 >= 2.5",
    "year - 2000 > 20",
    "-low < -1",
    "year != 2020",
    "~(year == 2020)",
    "year in [2020, 2021]",
    "year not in [2020]",
    "done != True",
    "~(done & (line == 2))",
    "done | (line == 4)",
    "year - 2000 > 20",
    "period != '2020'",
]


@pytest.mark.parametrize("condition", CONDITIONS)
def test_a_row_condition_selects_the_rows_pandas_query_selects(con, condition: str) -> None:
    df = con.execute("SELECT * FROM staging.t").df()
    expected = sorted(int(x) for x in df.query(condition, parser="pandas")["line"])
    where = condition_sql(condition, "pandas", Table.of(con, "staging.t"))
    got = [
        r[0] for r in con.execute(f"SELECT line FROM staging.t WHERE {where} ORDER BY 1").fetchall()
    ]
    assert got == expected


SUITE_FILES = sorted(EXPECTATIONS_DIR.glob("*.json")) + sorted(
    (EXPECTATIONS_DIR / "generated").glob("*.json")
)


@pytest.mark.parametrize("path", SUITE_FILES, ids=[p.name for p in SUITE_FILES])
def test_every_committed_suite_compiles(path: Path) -> None:
    """A suite gaining an expectation the SQL gate cannot run fails here, not in a run."""
    spec = json.loads(path.read_text(encoding="utf-8"))
    table = Table('"t"', {})
    for expectation in spec["expectations"]:
        compile_expectation(expectation, table)


def test_regex_is_re2_so_a_trailing_newline_fails_here_and_passes_in_gx(con, root: Path) -> None:
    """The one documented difference: Python's `$` matches before a final newline, RE2's
    does not; the SQL gate is the stricter, never the looser."""
    con.execute("DELETE FROM staging.t WHERE line > 2")
    con.execute("UPDATE staging.t SET period = '2020\n'")
    write_suite(root, "t.re", [e for e in EVERY_KIND if e["meta"].get("rule") == "a year"])
    sql, gx = both_ways(con, root, "t.re")
    assert gx.success
    assert [f.unexpected_count for f in sql.failures] == [1]


def test_the_sql_gate_imports_neither_great_expectations_nor_dagster(tmp_path: Path) -> None:
    script = f"""
import sys, duckdb
from pipelines.catalogue import load_catalogue
from pipelines.stage import create_table, validate_table
ds = load_catalogue().dataset("eurostat.crim_off_cat")
con = duckdb.connect({str(tmp_path / "g.duckdb")!r})
con.execute("CREATE SCHEMA staging")
create_table(con, ds.table, ds)
report = validate_table(con, ds.table, ds)
assert report.success and report.evaluated > 5, report.summary()
print(sorted(m for m in sys.modules if m.split(".")[0] in ("great_expectations", "dagster")))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT
    )
    assert out.stdout.strip() == "[]"


def test_a_view_of_parquet_files_gives_the_report_the_table_gives(
    con, root: Path, tmp_path: Path
) -> None:
    """A staging step's table is a view of the Parquet files it staged (pipelines/parts.py):
    the same failures, counts and first failing rows in file order, here over many row
    groups read in parallel."""
    con.execute(
        "INSERT INTO staging.t SELECT t.* REPLACE (line + 10 * r AS line) "
        "FROM staging.t t, range(1, 40000) AS n(r) ORDER BY r, line"
    )
    files = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    for file, where in zip(files, ("line < 200000", "line >= 200000"), strict=True):
        con.execute(
            f"COPY (SELECT * FROM staging.t WHERE {where} ORDER BY rowid) TO '{file}' "
            "(FORMAT parquet, ROW_GROUP_SIZE 10000)"
        )
    listed = ", ".join(f"'{f}'" for f in files)
    con.execute(f"CREATE VIEW staging.v AS SELECT * FROM read_parquet([{listed}])")
    assert con.execute("SELECT count(*) FROM staging.v").fetchone()[0] == len(ROWS) * 40000
    write_suite(root, "t.kinds", EVERY_KIND)
    table = validate_sql(con, "staging.t", "t.kinds", "x", root=root)
    assert len(table.failures) >= 20
    for _ in range(5):  # a join's order varies from run to run: once is not enough
        view = validate_sql(con, "staging.v", "t.kinds", "x", root=root)
        assert gate_failures(view) == gate_failures(table)
        assert [f.sample_rows for f in view.failures] == [f.sample_rows for f in table.failures]
