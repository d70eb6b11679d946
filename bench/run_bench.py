"""`make bench`: speed and peak memory of the pipeline's stages, on generated inputs.

Each measurement runs in a fresh subprocess so its peak RSS (ru_maxrss) is its own. Inputs
are generated in a temporary folder: Eurostat TSVs of growing size (parser and staging
must stream: peak memory should stay flat as files grow), a trend workload, one Great
Expectations validation, and a full offline build of the sample mirror. Results are
printed as a table and written to bench/results/latest.json.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def make_tsv(path: Path, series: int, years: int = 20, gz: bool = False) -> int:
    rng = random.Random(series)
    header = (
        "freq,iccs,unit,geo\\TIME_PERIOD\t" + "\t".join(f"{2000 + y} " for y in range(years)) + "\n"
    )
    opener = gzip.open if gz else open
    cells = 0
    with opener(path, "wt", encoding="utf-8") as fh:
        fh.write(header)
        for i in range(series):
            key = f"A,ICCS{i // 400:04d},NR,{['AT', 'BE', 'DE', 'FR', 'IT'][i % 5]}{i % 400:03d}"
            vals = []
            for _ in range(years):
                r = rng.random()
                vals.append(
                    ":" if r < 0.1 else f"{rng.randint(0, 99999)} {'p' if r > 0.95 else ''}"
                )
            fh.write(key + "\t" + "\t".join(vals) + "\n")
            cells += years
    return cells


CHILD = r"""
import json, resource, sys, time
from pathlib import Path
kind, arg = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
out = {}
if kind == "parse":
    from pipelines.parsers import eurostat_tsv
    n = sum(1 for _ in eurostat_tsv.parse(Path(arg), {}).rows)
    out["rows"] = n
elif kind == "stage":
    import duckdb
    from pipelines.catalogue import load_catalogue
    from pipelines.geo import GeoResolver
    from pipelines.snapshots import Snapshot, SnapshotMeta, sha256_file
    from pipelines.stage import load_snapshot
    cat = load_catalogue()
    ds = cat.dataset("eurostat.crim_off_cat")
    path = Path(arg)
    meta = SnapshotMeta(dataset=ds.id, file=path.name, sha256=sha256_file(path),
                        bytes=path.stat().st_size, fetched_at="2026-01-01T00:00:00Z",
                        origin="load", url=None, final_url=None, status=None, etag=None,
                        last_modified=None, content_type=None, licence="", attribution="",
                        sample=True)
    con = duckdb.connect(str(path.with_suffix(".duckdb")))
    rows, _, _ = load_snapshot(con, "staging.bench", ds, Snapshot(path, meta), GeoResolver(cat.geo))
    out["rows"] = rows
elif kind == "validate":
    import duckdb
    from pipelines.checks import validate_frame
    con = duckdb.connect(arg, read_only=True)
    df = con.execute("SELECT * FROM staging.eurostat_crim_off_cat").df()
    validate_frame(df, "staging.eurostat_crim_off_cat", "bench")  # warm-up (imports)
    t0 = time.perf_counter()
    report = validate_frame(df, "staging.eurostat_crim_off_cat", "bench")
    out["rows"] = report.rows
elif kind == "trends":
    import duckdb
    from pipelines.catalogue import load_catalogue
    from pipelines.trends import build_trends
    con = duckdb.connect(arg)
    out.update(build_trends(con, load_catalogue()))
    out["rows"] = out["series"]
elif kind == "demo":
    from dagster import DagsterInstance
    from pipelines.cli import execute
    from pipelines.settings import SAMPLE_MIRROR_DIR
    report = execute("bench", mirror=str(SAMPLE_MIRROR_DIR), data_dir=Path(arg),
                     instance=DagsterInstance.ephemeral())
    out["ok"] = report.ok
    out["rows"] = sum(int(d.get("rows") or 0) for d in report.datasets.values())
out["seconds"] = time.perf_counter() - t0
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def child(kind: str, arg: str) -> dict:
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "False"}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, kind, arg],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"bench step {kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def time_command(args: list[str], data_dir: Path, repeats: int = 5) -> dict:
    """Wall-clock start-up of a console command (best of `repeats`), as an analyst sees it."""
    eudap = Path(sys.prefix) / "bin" / "eudap"
    env = {**os.environ, "EUDAP_DATA_DIR": str(data_dir), "GX_ANALYTICS_ENABLED": "False"}
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.run([str(eudap), *args], capture_output=True, env=env, check=False)
        best = min(best, time.perf_counter() - t0)
        if proc.returncode not in (0, 1):  # status exits 1 when the last run had problems
            raise SystemExit(f"bench: eudap {' '.join(args)} failed:\n{proc.stderr[-2000:]!r}")
    return {"rows": 1, "seconds": best, "peak_rss_mb": 0.0}


def main() -> int:
    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="eudap-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        for series in (5_000, 50_000, 200_000):
            path = tmp / f"tsv_{series}.tsv.gz"
            cells = make_tsv(path, series, gz=True)
            mb = path.stat().st_size / 1e6
            for kind in ("parse", "stage"):
                r = child(kind, str(path))
                results.append(
                    {
                        "stage": f"{kind} Eurostat TSV ({series:,} series, {cells:,} "
                        f"cells, {mb:.1f} MB gz)",
                        **r,
                    }
                )
        demo_dir = tmp / "demo"
        r = child("demo", str(demo_dir))
        results.append({"stage": "full demo build (sample mirror, every stage and gate)", **r})
        warehouse = demo_dir / "warehouse" / "warehouse.duckdb"
        for args in (["sql", "select 1"], ["describe"], ["status"]):
            r = time_command(args, demo_dir)
            results.append({"stage": f"start-up: eudap {' '.join(args)} (best of 5)", **r})
        r = child("validate", str(warehouse))
        results.append({"stage": "one GX suite on staging.eurostat_crim_off_cat (warm)", **r})
        work = (
            tmp / "bench-copy.duckdb"
        )  # not trends.duckdb: DuckDB names the catalog after the file
        work.write_bytes(warehouse.read_bytes())
        r = child("trends", str(work))
        results.append({"stage": "trend engine on the demo warehouse", **r})
    print(f"{'stage':<78} {'rows':>10} {'seconds':>8} {'rows/s':>10} {'peak MB':>8}")
    for r in results:
        rate = r["rows"] / r["seconds"] if r["seconds"] else 0
        print(
            f"{r['stage']:<78} {r['rows']:>10,} {r['seconds']:>8.2f} {rate:>10,.0f} "
            f"{r['peak_rss_mb']:>8.0f}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(
        json.dumps(
            {
                "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": {"cpus": os.cpu_count()},
                "results": results,
            },
            indent=2,
        )
    )
    print(f"\nwritten to {RESULTS / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
