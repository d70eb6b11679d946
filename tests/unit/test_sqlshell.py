"""`eudap sql` and `eudap describe` on a small real warehouse file, driven as a user would.

The warehouse is a real DuckDB file at the place a release is published; every command runs
the installed console script in a subprocess (its stdout, stderr and exit status are what
the analyst sees). The demo warehouse is not needed here: the cookbook and the data
dictionary are tested on it in tests/e2e/test_dictionary.py.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from pipelines.settings import Paths

EUDAP = Path(sys.prefix) / "bin" / "eudap"
TIMEOUT = 120  # a hung command fails instead of hanging the suite (not an assertion)


@pytest.fixture(scope="module", autouse=True)
def console_script() -> None:
    if not EUDAP.exists():
        pytest.skip(f"the console script {EUDAP} is not installed in this environment")


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    paths = Paths(tmp_path / "data")
    paths.warehouse_dir.mkdir(parents=True)
    paths.raw_dir.mkdir()
    with duckdb.connect(str(paths.published_warehouse)) as con:
        con.execute("CREATE SCHEMA indicators")
        con.execute(
            "CREATE TABLE indicators.demo AS SELECT range AS n, "
            "CASE WHEN range % 3 = 0 THEN NULL ELSE 'c' || range END AS label, "
            "CASE WHEN range % 4 = 0 THEN NULL ELSE range / 2 END AS half, "
            "CASE WHEN range % 5 = 0 THEN NULL ELSE DATE '2020-01-01' + range::INT END AS day "
            "FROM range(100)"
        )
        con.execute("COMMENT ON TABLE indicators.demo IS 'A demo table'")
        con.execute("COMMENT ON COLUMN indicators.demo.n IS 'The row number'")
    return paths


def eudap(paths: Paths, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EUDAP_")}
    env.update(EUDAP_DATA_DIR=str(paths.data_dir), COLUMNS="200")
    return subprocess.run(
        [str(EUDAP), *args],
        env=env,
        cwd=paths.data_dir.parent,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


# ------------------------------------------------------------------------------- tables
def test_nulls_are_shown_one_way_whatever_the_column_type(paths: Paths) -> None:
    res = eudap(paths, "sql", "SELECT * FROM indicators.demo WHERE n IN (0, 1, 15) ORDER BY n")
    assert res.returncode == 0, res.stderr
    assert "NULL" in res.stdout
    for other in ("None", "<NA>", "NaN", "NaT", "nan"):
        assert other not in res.stdout, res.stdout
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in res.stdout.splitlines()]
    assert ["0", "NULL", "NULL", "NULL"] in rows, res.stdout  # varchar, double and date alike


def test_max_rows_limits_the_rows_shown_and_says_how_many_there_are(paths: Paths) -> None:
    res = eudap(paths, "sql", "SELECT n FROM indicators.demo ORDER BY n", "--max-rows", "6")
    assert res.returncode == 0, res.stderr
    shown = [int(cell) for line in res.stdout.splitlines() if (cell := line.strip("│ ")).isdigit()]
    assert shown == [0, 1, 2, 97, 98, 99], res.stdout
    assert "100 rows" in res.stdout and "(6 shown)" in res.stdout
    everything = eudap(paths, "sql", "SELECT n FROM indicators.demo", "--max-rows", "1000")
    cells = [line.strip("│ ") for line in everything.stdout.splitlines()]
    assert [c for c in cells if c.isdigit()] == [str(n) for n in range(100)]
    assert "shown" not in everything.stdout


@pytest.mark.parametrize("value", ["-1", "x"])
def test_a_bad_max_rows_is_a_usage_error(paths: Paths, value: str) -> None:
    res = eudap(paths, "sql", "SELECT 1", "--max-rows", value)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "--max-rows" in res.stderr and "Traceback" not in res.stderr
    assert res.stdout == ""


def test_rows_are_not_padded_to_a_fixed_width(paths: Paths) -> None:
    res = eudap(paths, "sql", "SELECT 1 AS a, 'x' AS b")
    assert res.returncode == 0, res.stderr
    assert max(len(line) for line in res.stdout.splitlines()) < 40, res.stdout


# --------------------------------------------------------------------- errors and stdout
def test_a_failing_query_writes_nothing_to_stdout_and_its_error_to_stderr(paths: Paths) -> None:
    missing_table = "SELECT * FROM indicators.no_such_table"
    for query in (
        missing_table,
        # fails only while rows are produced, after the statement was accepted
        "SELECT CASE WHEN n = 99 THEN 'x'::INT ELSE n END FROM indicators.demo",
    ):
        for fmt in ([], ["--csv"], ["--json"]):
            res = eudap(paths, "sql", query, *fmt)
            assert res.returncode == 1, (query, fmt, res.stdout)
            assert res.stdout == "", (query, fmt, res.stdout)
            assert res.stderr.startswith("FAILED: "), res.stderr
            assert "Traceback" not in res.stderr
            if query == missing_table and not fmt:
                assert "no_such_table" in res.stderr.splitlines()[0]


def test_csv_and_json_carry_every_row_with_nulls_empty_and_null(paths: Paths) -> None:
    query = "SELECT n, label, half, day FROM indicators.demo ORDER BY n"
    res = eudap(paths, "sql", query, "--csv", "--max-rows", "2")
    assert res.returncode == 0, res.stderr
    rows = list(csv.reader(io.StringIO(res.stdout)))
    assert rows[0] == ["n", "label", "half", "day"]
    assert len(rows) == 101
    assert rows[1] == ["0", "", "", ""]
    assert rows[2] == ["1", "c1", "0.5", "2020-01-02"]
    res = eudap(paths, "sql", query, "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert len(doc) == 100
    assert doc[0] == {"n": 0, "label": None, "half": None, "day": None}
    assert doc[1] == {"n": 1, "label": "c1", "half": 0.5, "day": "2020-01-02"}


def test_parquet_is_written_by_the_shell_itself(paths: Paths, tmp_path: Path) -> None:
    target = tmp_path / "out" / "demo.parquet"
    res = eudap(paths, "sql", "SELECT * FROM indicators.demo", "--parquet", str(target))
    assert res.returncode == 0, res.stderr
    table = pq.read_table(target)
    assert table.num_rows == 100 and table.column_names == ["n", "label", "half", "day"]
    assert not [p for p in target.parent.iterdir() if p.name != "demo.parquet"]  # no leftovers


def test_parquet_inside_the_stores_is_refused(paths: Paths) -> None:
    for target in (
        paths.warehouse_dir / "x.parquet",
        paths.exports_dir / "current" / "indicators.demo.parquet",
        paths.raw_dir / "eurostat" / "x.parquet",
        paths.data_dir / "warehouse" / ".." / "raw" / "y.parquet",
    ):
        res = eudap(paths, "sql", "SELECT 1", "--parquet", str(target))
        assert res.returncode == 2, (target, res.stdout, res.stderr)
        assert "refused" in res.stderr and res.stdout == ""
        assert not target.exists()
    assert sorted(p.name for p in paths.data_dir.rglob("*")) == [
        "raw",
        "warehouse",
        "warehouse.duckdb",
    ]


def test_copy_stays_refused(paths: Paths, tmp_path: Path) -> None:
    res = eudap(paths, "sql", f"COPY indicators.demo TO '{tmp_path / 'x.parquet'}'")
    assert res.returncode == 1 and res.stdout == ""
    assert not (tmp_path / "x.parquet").exists()


# --------------------------------------------------------------------------- interactive
def test_without_a_query_a_piped_session_runs_statements_and_dot_commands(paths: Paths) -> None:
    script = (
        ".tables\n"
        "SELECT count(*) AS rows_in_demo\n"
        "  FROM indicators.demo;\n"
        "SELECT * FROM nowhere;\n"
        ".describe demo\n"
        ".quit\n"
        "SELECT 'after quit' AS never;\n"
    )
    res = eudap(paths, "sql", "--csv", stdin=script)
    assert res.returncode == 1, res.stdout + res.stderr  # one statement failed
    out = res.stdout.splitlines()
    assert out[0].split() == ["indicators.demo", "A", "demo", "table"]
    assert out[1:3] == ["rows_in_demo", "100"]
    assert out[3] == "indicators.demo: A demo table"
    assert out[4].split() == ["n", "BIGINT", "The", "row", "number"]
    assert "after quit" not in res.stdout
    assert res.stderr.startswith("FAILED: ") and "nowhere" in res.stderr


def test_a_piped_session_that_succeeds_exits_0(paths: Paths) -> None:
    res = eudap(paths, "sql", stdin="SELECT 42 AS answer;\nSELECT 43 AS more")
    assert res.returncode == 0, res.stderr
    assert "42" in res.stdout and "43" in res.stdout


# ------------------------------------------------------------------------------ describe
def test_describe_lists_tables_and_one_tables_columns(paths: Paths) -> None:
    res = eudap(paths, "describe")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["indicators.demo", "A", "demo", "table"]
    res = eudap(paths, "describe", "indicators.demo")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "indicators.demo: A demo table"
    assert [line.split()[:2] for line in lines[1:]] == [
        ["n", "BIGINT"],
        ["label", "VARCHAR"],
        ["half", "DOUBLE"],
        ["day", "DATE"],
    ]
    res = eudap(paths, "describe", "nowhere")
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.startswith("FAILED: no table 'nowhere'")


# ------------------------------------------------------------------------- import weight
@pytest.mark.parametrize("command", [["sql", "select 1"], ["describe"]])
def test_the_read_only_commands_import_neither_dagster_nor_gx_nor_pandas(
    paths: Paths, command: list[str]
) -> None:
    probe = (
        "import sys\n"
        "from pipelines.cli import main\n"
        f"status = main({command!r})\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules}"
        " & {'dagster', 'great_expectations', 'pandas'})\n"
        "print('HEAVY', heavy, status, file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("EUDAP_")}
    env["EUDAP_DATA_DIR"] = str(paths.data_dir)
    res = subprocess.run(
        [sys.executable, "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip().splitlines()[-1] == "HEAVY [] 0", res.stderr
