"""The staging gate alone, both ways, on the 2 M-row table of `make bench` (issue 11, item 2).

`python bench/gates.py [series]` stages the generated Eurostat TSV of bench/run_bench.py
(90,000 series x 24 years = 2.16 M cells by default) into a temporary DuckDB file once, then
runs `validate_table` on it in fresh processes: the SQL gate (the default) and Great
Expectations on the table read into pandas (`engine="gx"`), plus a process that only opens
the table (the floor). Each process's wall time and peak RSS (wait4) are printed; the gate's
own time is measured inside the process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_bench import ROOT, make_tsv  # noqa: E402

CHILD = r"""
import json, sys, time
from pathlib import Path
kind, raw, db = sys.argv[1:4]
out = {}
import duckdb
from pipelines.catalogue import ReadLimits, load_catalogue
ds = load_catalogue().dataset("eurostat.hlth_cd_asdr2")
ds = ds.model_copy(update={
    "filters": {"freq": ["A"], "unit": ["RT"]},
    "limits": ReadLimits(max_decompressed_bytes=20_000_000_000),
})
if kind == "stage":
    from pipelines.fetch import Fetcher
    from pipelines.geo import GeoResolver
    from pipelines.snapshots import SnapshotStore
    from pipelines.stage import load_snapshot
    Fetcher(SnapshotStore(Path(raw))).load_file(ds, Path(sys.argv[4]))
    snap = SnapshotStore(Path(raw)).latest(ds.id)
    con = duckdb.connect(db)
    con.execute("CREATE SCHEMA IF NOT EXISTS staging")
    out["rows"], _, _ = load_snapshot(con, ds.table, ds, snap, GeoResolver(load_catalogue().geo))
else:
    from pipelines.stage import validate_table
    con = duckdb.connect(db, read_only=True)
    out["rows"] = con.execute(f"SELECT count(*) FROM {ds.table}").fetchone()[0]
    if kind in ("sql", "gx"):
        t = time.perf_counter()
        report = validate_table(con, ds.table, ds, engine=kind)
        out["gate_s"] = time.perf_counter() - t
        out["success"] = report.success
        out["expectations"] = report.evaluated
print(json.dumps(out))
"""


def child_with(script: str, *args: str) -> dict[str, Any]:
    """One fresh process: its JSON result, wall time and peak RSS (wait4 gives the child's
    own rusage)."""
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "False"}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", script, *args], stdout=out, stderr=err, cwd=ROOT, env=env
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{args[0]} failed:\n{err.read()[-3000:]}")
        result = json.loads(out.read().strip().splitlines()[-1])
    return {**result, "wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024}


def main() -> None:
    series = int(sys.argv[1]) if len(sys.argv) > 1 else 90_000
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        src = base / "hlth_cd_asdr2.tsv"
        cells = make_tsv(src, series)
        raw, db = str(base / "raw"), str(base / "bench.duckdb")
        staged = child_with(CHILD, "stage", raw, db, str(src))
        print(f"{cells:,} cells, {staged['rows']:,} staged rows ({staged['wall_s']:.1f} s)")
        results = {}
        for kind in ("open", "sql", "gx"):
            results[kind] = r = child_with(CHILD, kind, raw, db)
            gate = f"gate {r['gate_s']:6.2f} s, " if "gate_s" in r else " " * 16
            print(
                f"{kind:5} {gate}process {r['wall_s']:6.2f} s, peak RSS {r['peak_rss_mb']:7.0f} MB"
                + (
                    f", {r['expectations']} expectations, success={r['success']}"
                    if "gate_s" in r
                    else ""
                )
            )
        print(json.dumps(results))


if __name__ == "__main__":
    main()
