"""`make bench`: the performance figures of issue 11, measured in one run on this machine.

Every measurement runs in a fresh subprocess; its wall time is the process's (imports
included, as a user pays them) and its peak RSS comes from `wait4`, so each figure is its own.

The workload is a generated Eurostat TSV in the layout of `hlth_cd_asdr2` (the real header
`freq,unit,sex,age,icd10,geo\\TIME_PERIOD`, CRLF lines, values with a trailing space, `:` for
missing, flags after the value; see ../shared/upstream/eurostat/estat_hlth_cd_asdr2_filtered.tsv).
1x is 90,000 distinct series x 24 years = 2.16 M cells, 10 % missing. Every code is a real one
(geography from the bundled Eurostat GEO code list, so the geo gate accepts them; see
series_keys).

Figures, in one table (also written to bench/results/latest.json):
  * parse + stage + gate of the 1x file against DuckDB's own read_csv + UNPIVOT + flag split,
    and against a typical pandas script (read_csv + melt + split): ratios (eudap and DuckDB:
    the best of ROUNDS interleaved runs each, with every round's ratio; pandas and the 4x file:
    one run each, compared with eudap's median round);
  * peak RSS of parse + stage + gate at 1x and 4x;
  * the full build (sample mirror over a local HTTP server): cold, then warm with no upstream
    change, with the HTTP status counts of the warm run (conditional requests answer 304);
  * the full offline build with the hlth_cd_asdr2 snapshot at 1x, 4x and 16x of one base size
    (120,960 cells at 1x, 1.94 M at 16x; the same mix of series at every size);
  * analyst query latency (p50, p95) of every docs/sql-cookbook.md query;
  * start-up of the commands that do not run the graph, and whether they import Dagster/GX;
  * the test-suite duration (`BENCH_TESTS=0` skips it).

`BENCH_ONLY=ingest` (or a comma-separated list of the names in PARTS: ingest, cold_warm,
scaling, queries, tests) runs only those parts and prints their rows.
"""

from __future__ import annotations

import contextlib
import csv
import http.server
import itertools
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SAMPLE_MIRROR = ROOT / "data" / "sample"
GEO_CODES = ROOT / "assets" / "reference" / "codelists" / "ESTAT_GEO.tsv"
COOKBOOK = ROOT / "docs" / "sql-cookbook.md"
DATASET = "eurostat.hlth_cd_asdr2"
HEADER_KEY = "freq,unit,sex,age,icd10,geo\\TIME_PERIOD"
SERIES_1X = int(os.environ.get("BENCH_SERIES", "90000"))  # smaller only to try the bench out
YEARS = 24
# The full build's hlth_cd_asdr2 at 1x: 40 geographies x 126 series each (below) x YEARS =
# 120,960 cells, ten times the real filtered request (../shared/upstream/eurostat); 16x is
# 1.94 M cells, the ingest file's size.
SCALE_SERIES_1X = int(os.environ.get("BENCH_SCALE_SERIES", str(40 * 126)))
# Age and cause codes of the real hlth_cd_asdr2 files, sex codes the catalogue's gate takes.
# With TOTAL and TOXICO (the catalogue's own filters) among them, 1 series in 42 is one the
# indicator reads, at every size: the keys run geography by geography (see series_keys).
AGES = ("TOTAL", "Y_LT65", "Y_GE65", "Y_LT15", "Y15-24", "Y25-49", "Y50-64")
CAUSES = ("TOXICO", "A-R_V-Y", "F", "C", "I", "J")
SEXES = ("T", "M", "F")
UNIT_CODES = ROOT / "assets" / "reference" / "codelists" / "ESTAT_UNIT.tsv"


def codes(path: Path) -> list[str]:
    """The codes of a bundled Eurostat code list (first column), in file order."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = csv.reader(fh, delimiter="\t")
        next(rows)
        return [row[0] for row in rows if row and row[0]]


def geo_codes() -> list[str]:
    return codes(GEO_CODES)


def series_keys(series: int) -> list[tuple[str, str, str, str, str]]:
    """`series` distinct keys (unit, sex, age, cause, geo), geography by geography, each
    geography with every sex x age x cause, so that any prefix has the same mix. Past
    the 539,028 keys of unit RT (126 x 4,278 geographies) the next codes of Eurostat's UNIT
    list follow; every code is a real one, so the geo resolution and the gate's code checks
    pass."""
    units = ["RT"] + [u for u in codes(UNIT_CODES) if u != "RT"]
    combos = list(itertools.product(SEXES, AGES, CAUSES))
    keys = (
        (unit, sex, age, cause, geo)
        for unit in units
        for geo in geo_codes()
        for sex, age, cause in combos
    )
    chosen = list(itertools.islice(keys, series))
    if len(chosen) < series:
        raise SystemExit(f"bench: at most {len(chosen):,} distinct series, not {series:,}")
    return chosen


def make_tsv(path: Path, series: int, *, seed: int = 1) -> int:
    """Write `series` distinct series of YEARS years; returns the number of cells."""
    rng = random.Random(seed)
    header = HEADER_KEY + "\t" + "\t".join(f"{2001 + y} " for y in range(YEARS)) + "\r\n"
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(header)
        for unit, sex, age, cause, geo in series_keys(series):
            cells = []
            for _ in range(YEARS):
                r = rng.random()
                if r < 0.10:
                    cells.append(": ")
                else:
                    flag = "p" if r > 0.97 else ("e" if r > 0.95 else "")
                    cells.append(f"{rng.uniform(0, 500):.2f} {flag}")
            fh.write(f"A,{unit},{sex},{age},{cause},{geo}\t" + "\t".join(cells) + "\r\n")
    return series * YEARS


# --- the child processes -------------------------------------------------------------------

CHILD = r"""
import json, sys, time
from pathlib import Path
kind, args = sys.argv[1], sys.argv[2:]
out = {}

def bench_dataset():
    from pipelines.catalogue import ReadLimits, load_catalogue
    ds = load_catalogue().dataset("eurostat.hlth_cd_asdr2")
    return ds.model_copy(update={
        "filters": {"freq": ["A"], "unit": ["RT"]},
        "limits": ReadLimits(max_decompressed_bytes=20_000_000_000),
    })

if kind == "duckdb":
    import duckdb
    src, db = args
    # into a table of a database file, or (a .parquet destination) into a Parquet file
    to_parquet = db.endswith(".parquet")
    con = duckdb.connect() if to_parquet else duckdb.connect(db)
    key = con.execute(
        "SELECT column_name FROM (DESCRIBE SELECT * FROM read_csv(?, delim='\t', header=true, "
        "all_varchar=true, quote='', escape='')) LIMIT 1", [src]).fetchone()[0]
    dims = key.split("\\")[0].split(",")
    q = '"' + key.replace('"', '""') + '"'
    dim_cols = ", ".join(f"k[{i + 1}] AS {d}" for i, d in enumerate(dims))
    query = f'''
        WITH raw AS (SELECT * FROM read_csv('{src}', delim='\t', header=true, all_varchar=true,
                                            quote='', escape='')),
        long AS (UNPIVOT raw ON COLUMNS(* EXCLUDE ({q})) INTO NAME period VALUE cell),
        split AS (SELECT string_split({q}, ',') AS k, trim(period) AS period,
                         string_split(trim(cell), ' ') AS c FROM long)
        SELECT {dim_cols}, CAST(period AS INTEGER) AS period,
               TRY_CAST(nullif(c[1], ':') AS DOUBLE) AS value,
               nullif(c[2], '') AS flags
        FROM split'''
    if to_parquet:
        out["rows"] = con.execute(f"COPY ({query}) TO '{db}' (FORMAT parquet)").fetchone()[0]
    else:
        con.execute(f"CREATE TABLE obs AS {query}")
        out["rows"] = con.execute("SELECT count(*) FROM obs").fetchone()[0]
elif kind == "pandas":
    import pandas as pd
    (src,) = args
    df = pd.read_csv(src, sep="\t", dtype=str, keep_default_na=False)
    key = df.columns[0]
    long = df.melt(id_vars=[key], var_name="period", value_name="cell")
    dims = long[key].str.split(",", expand=True)
    dims.columns = key.split("\\")[0].split(",")
    parts = long["cell"].str.strip().str.split(" ", n=1, expand=True)
    result = dims.assign(
        period=long["period"].str.strip().astype(int),
        value=pd.to_numeric(parts[0].where(parts[0] != ":"), errors="coerce"),
        flags=parts[1],
    )
    out["rows"] = len(result)
elif kind == "register":
    from pipelines.fetch import Fetcher
    from pipelines.snapshots import SnapshotStore
    src, raw = args
    outcome = Fetcher(SnapshotStore(Path(raw))).load_file(bench_dataset(), Path(src))
    out["rows"] = 0
elif kind == "eudap":
    import duckdb
    from pipelines.catalogue import load_catalogue
    from pipelines.geo import GeoResolver
    from pipelines.snapshots import SnapshotStore
    from pipelines.stage import load_snapshot, validate_table
    raw, parquet = args
    ds = bench_dataset()
    snap = SnapshotStore(Path(raw)).latest(ds.id)
    # as a staging step stages (pipelines/parts.py): an in-memory scratch database that
    # spills into a folder of its own, the rows written to the step's Parquet file, the gate
    # run on it
    con = duckdb.connect(config={"temp_directory": parquet + ".spill"})
    rows, _, _ = load_snapshot(
        con, ds.table, ds, snap, GeoResolver(load_catalogue().geo), Path(parquet)
    )
    report = validate_table(con, ds.table, ds)
    if not report.success:
        raise SystemExit("the staging gate failed on the bench file: " + report.summary())
    out["rows"] = rows
elif kind == "build":
    # Dagster is imported only when a run starts: a night with nothing changed starts none
    from pipelines.cli import execute
    def ephemeral():
        from dagster import DagsterInstance
        return DagsterInstance.ephemeral()
    mirror, data_dir = args
    report = execute("bench", mirror=mirror, data_dir=Path(data_dir), instance=ephemeral)
    out["dagster_run"] = report.dagster_run_started
    out["dagster_imported"] = "dagster" in sys.modules
    out["ok"] = report.ok
    out["rows"] = sum(int(d.get("rows") or 0) for d in report.datasets.values())
elif kind == "build_offline":
    # No download: the store's newest snapshots are staged (EUDAP_MIRROR, set by the bench
    # to the sample mirror, lets the demo's sample snapshots of the other datasets stage).
    from dagster import DagsterInstance
    from pipelines.cli import execute
    (data_dir,) = args
    report = execute("bench", offline=True, data_dir=Path(data_dir),
                     instance=DagsterInstance.ephemeral())
    out["ok"] = report.ok
    out["rows"] = sum(int(d.get("rows") or 0) for d in report.datasets.values())
    out["asdr2"] = report.datasets["eurostat.hlth_cd_asdr2"]
elif kind == "load_build_input":
    from pipelines.catalogue import load_catalogue
    from pipelines.fetch import Fetcher
    from pipelines.snapshots import SnapshotStore
    src, raw = args
    Fetcher(SnapshotStore(Path(raw))).load_file(load_catalogue().dataset("eurostat.hlth_cd_asdr2"),
                                               Path(src))
    out["rows"] = 0
elif kind == "queries":
    import duckdb, statistics
    db, queries_file, repeats = args[0], args[1], int(args[2])
    queries = json.loads(Path(queries_file).read_text())
    con = duckdb.connect(db, read_only=True)
    times = []
    for _ in range(repeats):
        for q in queries:
            t = time.perf_counter()
            con.execute(q).fetchall()
            times.append(time.perf_counter() - t)
    times.sort()
    out["rows"] = len(queries)
    out["p50_ms"] = 1000 * times[len(times) // 2]
    out["p95_ms"] = 1000 * times[min(len(times) - 1, int(len(times) * 0.95))]
elif kind == "command":
    # One command's entry run for real: the import of the CLI, then the command itself,
    # then which heavy packages the whole process has imported.
    import contextlib, io
    t = time.perf_counter()
    from pipelines.cli import main
    out["import_s"] = time.perf_counter() - t
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        out["code"] = main(args)
    out["run_s"] = time.perf_counter() - t
    out["heavy"] = sorted(
        name for name in sys.modules
        if "." not in name
        and (name.startswith("dagster") or name in ("great_expectations", "pandas"))
    )
    out["rows"] = 0
print(json.dumps(out))
"""


def child(kind: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one measurement in a fresh process: its result, wall time and peak RSS (wait4
    gives each child's own rusage)."""
    full_env = {**os.environ, "GX_ANALYTICS_ENABLED": "False", **(env or {})}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, kind, *args],
            stdout=out,
            stderr=err,
            text=True,
            cwd=ROOT,
            env=full_env,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"bench step {kind} {args} failed:\n{err.read()[-3000:]}")
        result = json.loads(out.read().strip().splitlines()[-1])
    result["wall_s"] = wall
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    return result


# --- a local HTTP mirror that counts what it answers ---------------------------------------


class CountingHandler(http.server.SimpleHTTPRequestHandler):
    statuses: Counter[int] = Counter()

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        with contextlib.suppress(TypeError, ValueError):
            CountingHandler.statuses[int(code)] += 1

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib name)
        pass


def serve_mirror() -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = lambda *a, **kw: CountingHandler(*a, directory=str(SAMPLE_MIRROR), **kw)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


# --- the measurements ----------------------------------------------------------------------


# The 1x comparison is a ratio of two runs of 1.5-2 s: on a shared machine one run of either
# can be 10-20 % off. Each of its three commands runs ROUNDS times, interleaved, and the best
# run of each stands for it (noise only ever adds time); the ratio of every round is kept too.
ROUNDS = max(1, int(os.environ.get("BENCH_ROUNDS", "3")))


def ingest(tmp: Path, table: dict[str, Any]) -> None:
    """parse + stage + gate against DuckDB alone and pandas, at 1x and 4x."""
    for scale in (1, 4):
        src = tmp / f"asdr2_{scale}x.tsv"
        cells = make_tsv(src, SERIES_1X * scale)
        raw = tmp / f"raw_{scale}x"
        child("register", str(src), str(raw))
        if scale == 4:
            eudap = child("eudap", str(raw), str(tmp / "eudap_4x.parquet"))
            table["eudap_4x"] = {"cells": cells, "mb": src.stat().st_size / 1e6, **eudap}
        else:
            rounds = [_ingest_round(tmp, src, raw, n) for n in range(ROUNDS)]
            for key in ("eudap_1x", "duckdb_1x", "duckdb_parquet_1x"):
                table[key] = min((r[key] for r in rounds), key=lambda run: run["wall_s"])
            table["eudap_1x"].update(cells=cells, mb=src.stat().st_size / 1e6)
            # what the single runs (pandas, 4x) are compared with: a typical eudap run, not
            # its best
            by_wall = sorted((r["eudap_1x"] for r in rounds), key=lambda run: run["wall_s"])
            table["eudap_1x_median"] = by_wall[(len(by_wall) - 1) // 2]
            table["ingest_round_ratios"] = [
                {
                    "duckdb": r["eudap_1x"]["wall_s"] / r["duckdb_1x"]["wall_s"],
                    "duckdb_parquet": r["eudap_1x"]["wall_s"] / r["duckdb_parquet_1x"]["wall_s"],
                }
                for r in rounds
            ]
            table["pandas_1x"] = child("pandas", str(src))  # 13 s: once (its margin is wide)
        src.unlink()


def _ingest_round(tmp: Path, src: Path, raw: Path, n: int) -> dict[str, dict[str, Any]]:
    """One run of each 1x command, each writing a file of its own, removed after."""
    outputs = {
        "duckdb_1x": tmp / f"duckdb_1x_{n}.duckdb",
        "duckdb_parquet_1x": tmp / f"duckdb_1x_{n}.parquet",
        "eudap_1x": tmp / f"eudap_1x_{n}.parquet",
    }
    runs = {
        "duckdb_1x": child("duckdb", str(src), str(outputs["duckdb_1x"])),
        "eudap_1x": child("eudap", str(raw), str(outputs["eudap_1x"])),
        "duckdb_parquet_1x": child("duckdb", str(src), str(outputs["duckdb_parquet_1x"])),
    }
    for path in outputs.values():
        path.unlink(missing_ok=True)
        shutil.rmtree(f"{path}.spill", ignore_errors=True)
    return runs


def cold_warm(tmp: Path, table: dict[str, Any]) -> None:
    server, url = serve_mirror()
    try:
        data = tmp / "http_run"
        for name in ("cold", "warm"):
            CountingHandler.statuses.clear()
            r = child("build", url, str(data))
            r["http_statuses"] = {str(k): v for k, v in sorted(CountingHandler.statuses.items())}
            table[f"build_{name}"] = r
    finally:
        server.shutdown()


def scaling(tmp: Path, table: dict[str, Any]) -> Path:
    """Full offline build with the hlth_cd_asdr2 snapshot at 1x, 4x, 16x of one base size
    (SCALE_SERIES_1X series): every size has the same mix, the indicator's TOTAL/TOXICO
    series among the others, so staging, gates, indicator and trends all grow with it.

    The demo's snapshots come from one demo build; each size gets a copy of that store, its
    generated file loaded as the newest hlth_cd_asdr2 snapshot, and an offline build (a
    build from the mirror would fetch the sample file again and stage that instead)."""
    demo = tmp / "scaling_demo"
    child("build", str(SAMPLE_MIRROR), str(demo))
    warehouse = Path()
    for scale in (1, 4, 16):
        src = tmp / f"build_{scale}x.tsv"
        cells = make_tsv(src, SCALE_SERIES_1X * scale)
        data = tmp / f"build_{scale}x"
        shutil.copytree(demo / "raw", data / "raw")
        child("load_build_input", str(src), str(data / "raw"))
        src.unlink()
        r = child("build_offline", str(data), env={"EUDAP_MIRROR": str(SAMPLE_MIRROR)})
        staged = r.pop("asdr2")
        if staged.get("sample") or staged.get("state") not in ("fresh", "unchanged"):
            raise SystemExit(
                f"bench: the {scale}x build did not stage the generated file: {staged}"
            )
        table[f"build_{scale}x"] = {"cells": cells, "asdr2_rows": staged["rows"], **r}
        warehouse = data / "warehouse" / "warehouse.duckdb"
    return warehouse


def cookbook_queries() -> list[str]:
    return [q.strip() for q in re.findall(r"```sql\n(.*?)```", COOKBOOK.read_text(), re.S)]


def queries(tmp: Path, warehouse: Path, table: dict[str, Any]) -> None:
    qfile = tmp / "queries.json"
    qfile.write_text(json.dumps(cookbook_queries()))
    table["cookbook_queries"] = child("queries", str(warehouse), str(qfile), "20")


# Commands that do not run the graph; `report` renders charts and `load`/`inbox` write the
# store, so they are left to tests/e2e/test_startup.py.
STARTUP_COMMANDS = (
    ["sql", "select 1"],
    ["describe"],
    ["status"],
    ["sources"],
    ["diff"],
    ["suites"],
)


def startup(warehouse: Path, table: dict[str, Any]) -> None:
    """The console script's wall time (best and median of 5, the interpreter's own start
    measured alike), and in one process per command: import time, run time and whether it
    imported Dagster, GX or pandas."""
    eudap = Path(sys.prefix) / "bin" / "eudap"
    data_dir = str(warehouse.parent.parent)
    env = {**os.environ, "EUDAP_DATA_DIR": data_dir, "GX_ANALYTICS_ENABLED": "False"}
    table["startup_python"] = _best_of_5([sys.executable, "-c", "pass"], env)
    for args in STARTUP_COMMANDS[:3]:
        table[f"startup_{args[0]}"] = _best_of_5([str(eudap), *args], env)
    for args in STARTUP_COMMANDS:
        table[f"command_{args[0]}"] = child("command", *args, env={"EUDAP_DATA_DIR": data_dir})


def _best_of_5(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Wall and CPU time (user + system, from wait4: what a loaded machine does not inflate)."""
    times, cpu, codes = [], [], set()
    for _ in range(5):
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT
        )
        _, status, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - t0)
        cpu.append(usage.ru_utime + usage.ru_stime)
        codes.add(os.waitstatus_to_exitcode(status))
    return {
        "best_s": min(times),
        "median_s": statistics.median(times),
        "cpu_best_s": min(cpu),
        "exit": sorted(codes),
    }


def test_suite(table: dict[str, Any]) -> None:
    if os.environ.get("BENCH_TESTS", "1") == "0":
        table["make_test"] = {"skipped": "BENCH_TESTS=0"}
        return
    workers = os.environ.get("PYTEST_WORKERS", "2")  # `make bench` passes make test's count
    # (a number, or an xdist word such as "auto": kept as given)
    t0 = time.perf_counter()
    proc = subprocess.run(
        # as `make test` runs it
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", workers]
        + ["--dist", "loadfile", "--no-loadscope-reorder"],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        capture_output=True,
        text=True,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    table["make_test"] = {
        "workers": workers,
        "wall_s": time.perf_counter() - t0,
        "outcome": lines[-1] if lines else "",
        # pytest's short summary: which test failed, and its message (a flaky test is named)
        "failed": [line for line in lines if line.startswith(("FAILED ", "ERROR "))],
    }


# --- the table ----------------------------------------------------------------------------


def render(t: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(measure, figure, target) rows of the parts that ran."""
    rows: list[tuple[str, str, str]] = []
    if "eudap_1x" in t:
        rows += _ingest_rows(t)
    if "build_cold" in t:
        rows += _cold_warm_rows(t)
    if "build_1x" in t:
        rows += _scaling_rows(t)
    if "cookbook_queries" in t:
        rows += _query_rows(t)
    if "make_test" in t:
        mt = t["make_test"]
        rows.append(
            (
                "test suite (pytest -q)",
                f"{mt['wall_s']:.0f} s, {mt['outcome']}, -n {mt.get('workers', 2)}"
                + "".join(f"; {f[:150]}" for f in mt.get("failed", []))
                if "wall_s" in mt
                else mt["skipped"],
                "< 120 s",
            )
        )
    return rows


def _ingest_rows(t: dict[str, Any]) -> list[tuple[str, str, str]]:
    e1, e4, d1, p1 = t["eudap_1x"], t["eudap_4x"], t["duckdb_1x"], t["pandas_1x"]
    dp, em = t["duckdb_parquet_1x"], t.get("eudap_1x_median", t["eudap_1x"])

    def run(r: dict[str, Any]) -> str:
        return f"{r['wall_s']:.1f} s (CPU {r['cpu_s']:.1f} s), {r['peak_rss_mb']:.0f} MB"

    return [
        ("input (1x)", f"{e1['cells']:,} cells, {e1['mb']:.0f} MB TSV", ""),
        ("DuckDB alone: read_csv + UNPIVOT + flags", run(d1), ""),
        ("  the same into a Parquet file", run(dp), ""),
        ("pandas script: read_csv + melt + split", run(p1), ""),
        ("eudap parse + stage (to Parquet) + gate (1x)", run(e1), ""),
        (
            "  eudap / DuckDB",
            f"{e1['wall_s'] / d1['wall_s']:.2f}x (CPU {e1['cpu_s'] / d1['cpu_s']:.2f}x)"
            + _round_spread(t, "duckdb"),
            "<= 1.5x",
        ),
        (
            "  eudap / DuckDB into Parquet",
            f"{e1['wall_s'] / dp['wall_s']:.2f}x (CPU {e1['cpu_s'] / dp['cpu_s']:.2f}x)"
            + _round_spread(t, "duckdb_parquet"),
            "",
        ),
        (
            "  pandas / eudap",
            f"{p1['wall_s'] / em['wall_s']:.2f}x (CPU {p1['cpu_s'] / em['cpu_s']:.2f}x)"
            + (" against eudap's median round" if em is not e1 else ""),
            ">= 5x",
        ),
        (
            "peak RSS at 1x / 4x",
            f"{e1['peak_rss_mb']:.0f} MB / {e4['peak_rss_mb']:.0f} MB",
            "< 500 MB, flat",
        ),
        (
            "time at 4x / 1x",
            f"{e4['wall_s'] / em['wall_s']:.2f}x (CPU {e4['cpu_s'] / em['cpu_s']:.2f}x)"
            + (" against 1x's median round" if em is not e1 else ""),
            "~4x",
        ),
    ]


def _round_spread(t: dict[str, Any], key: str) -> str:
    """The ratio of every round of `ingest`, in order (the figure itself: best run / best run)."""
    ratios = [r[key] for r in t.get("ingest_round_ratios", [])]
    if len(ratios) < 2:
        return ""
    return "; rounds " + " / ".join(f"{r:.2f}" for r in ratios) + "x"


def _cold_warm_rows(t: dict[str, Any]) -> list[tuple[str, str, str]]:
    cold, warm = t["build_cold"], t["build_warm"]
    return [
        (
            "full build cold (HTTP mirror)",
            f"{cold['wall_s']:.1f} s, HTTP {cold['http_statuses']}",
            "",
        ),
        (
            "full build warm, no upstream change",
            f"{warm['wall_s']:.1f} s, HTTP {warm['http_statuses']}",
            "",
        ),
        ("  warm / cold", f"{warm['wall_s'] / cold['wall_s']:.0%}", "<= 10 %"),
    ]


def _scaling_rows(t: dict[str, Any]) -> list[tuple[str, str, str]]:
    b = [t[f"build_{s}x"] for s in (1, 4, 16)]

    def added(key: str) -> str:
        extra_4, extra_16 = b[1][key] - b[0][key], b[2][key] - b[0][key]
        return f"{extra_16 / extra_4:.1f}" if extra_4 > 0 else "n/a (4x not above 1x)"

    return [
        (
            "full offline build at 1x / 4x / 16x",
            " / ".join(
                f"{r['wall_s']:.1f} s, CPU {r['cpu_s']:.1f} s ({r['asdr2_rows']:,} rows)" for r in b
            ),
            "near-linear",
        ),
        (
            "  added time 16x-1x / 4x-1x",
            f"wall {added('wall_s')}, CPU {added('cpu_s')}",
            "5.0 if linear",
        ),
        ("  peak RSS 1x / 4x / 16x", " / ".join(f"{r['peak_rss_mb']:.0f} MB" for r in b), ""),
    ]


def _query_rows(t: dict[str, Any]) -> list[tuple[str, str, str]]:
    q = t["cookbook_queries"]
    rows = [
        (
            "cookbook query latency",
            f"p50 {q['p50_ms']:.1f} ms, p95 {q['p95_ms']:.1f} ms ({q['rows']} queries)",
            "",
        )
    ]
    py = t["startup_python"]
    rows.append(
        ("start-up: python -c pass", f"best {py['best_s']:.2f} s, CPU {py['cpu_best_s']:.2f} s", "")
    )
    for args in STARTUP_COMMANDS[:3]:
        s = t[f"startup_{args[0]}"]
        rows.append(
            (
                f"start-up: eudap {args[0]}",
                f"best {s['best_s']:.2f} s, median {s['median_s']:.2f} s, "
                f"CPU {s['cpu_best_s']:.2f} s, exit {s['exit']}",
                "< 1 s" if args[0] == "sql" else "",
            )
        )
    for args in STARTUP_COMMANDS:
        c = t[f"command_{args[0]}"]
        rows.append(
            (
                f"in process: eudap {args[0]}",
                f"import {c['import_s']:.2f} s + run {c['run_s']:.2f} s, exit {c['code']}, "
                f"imports {', '.join(c['heavy']) or 'no Dagster, GX or pandas'}",
                "no Dagster or GX",
            )
        )
    return rows


def queries_and_startup(tmp: Path, table: dict[str, Any]) -> None:
    """On the scaling part's 16x warehouse when it ran, else on a demo build."""
    warehouse = tmp / "build_16x" / "warehouse" / "warehouse.duckdb"
    if not warehouse.exists():
        child("build", str(SAMPLE_MIRROR), str(tmp / "demo"))
        warehouse = tmp / "demo" / "warehouse" / "warehouse.duckdb"
    queries(tmp, warehouse, table)
    startup(warehouse, table)


# The parts of the bench, in order; BENCH_ONLY=<part>[,<part>...] runs only those.
PARTS: dict[str, Callable[[Path, dict[str, Any]], object]] = {
    "ingest": ingest,
    "cold_warm": cold_warm,
    "scaling": scaling,
    "queries": queries_and_startup,
    "tests": lambda _tmp, table: test_suite(table),
}


def main() -> int:
    only = [p.strip() for p in os.environ.get("BENCH_ONLY", "").split(",") if p.strip()]
    unknown = sorted(set(only) - set(PARTS))
    if unknown:
        raise SystemExit(f"BENCH_ONLY: unknown part {unknown}; the parts: {', '.join(PARTS)}")
    table: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="eudap-bench-") as tmp_dir:
        for name, part in PARTS.items():
            if only and name not in only:
                continue
            print(f"bench: {name} ...", file=sys.stderr)
            part(Path(tmp_dir), table)
    rows = render(table)
    width = max(len(r[0]) for r in rows)
    fig = max(len(r[1]) for r in rows)
    print(f"{'measure':<{width}}  {'figure':<{fig}}  target")
    for measure, figure, target in rows:
        print(f"{measure:<{width}}  {figure:<{fig}}  {target}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(
        json.dumps(
            {
                "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg()},
                "parts": only or list(PARTS),
                "table": [
                    dict(zip(("measure", "figure", "target"), r, strict=False)) for r in rows
                ],
                "raw": table,
            },
            indent=2,
        )
    )
    print(f"\nwritten to {RESULTS / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
