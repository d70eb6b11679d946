"""`eudap status`: what a data engineer checks first in the morning.

Datasets with their latest snapshot and the state the published release used, the last run
(with its failed gates and warnings) and the published release. Reads only: the snapshot
store, the run reports and the published warehouse (read-only).
"""

from __future__ import annotations

import json

from pipelines.catalogue import load_catalogue
from pipelines.settings import Paths
from pipelines.snapshots import SnapshotStore
from pipelines.warehouse import open_published


def no_dagster_run(report: dict) -> str:
    """What the outcome line of a saved run report adds when no Dagster run was started."""
    return " (no Dagster run started)" if report.get("dagster_run_started") is False else ""


def last_run_report(paths: Paths) -> dict | None:
    if not paths.runs_dir.is_dir():
        return None
    reports = sorted(paths.runs_dir.glob("*.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(reports[-1].read_text(encoding="utf-8")) if reports else None


def print_status(paths: Paths) -> int:
    cat = load_catalogue()
    store = SnapshotStore(paths.raw_dir)
    con = open_published(paths)
    release = None
    states: dict[str, tuple[str, str | None, str | None]] = {}
    if con is not None:
        try:
            release = con.execute(
                "SELECT release_id, published_at, summary FROM meta.releases "
                "WHERE published_at IS NOT NULL ORDER BY published_at DESC LIMIT 1"
            ).fetchone()
            if release:
                for ds, state, reason, sha in con.execute(
                    "SELECT dataset, state, reason, snapshot_sha256 FROM meta.release_datasets "
                    "WHERE release_id = ?",
                    [release[0]],
                ).fetchall():
                    states[ds] = (state, reason, sha)
        finally:
            con.close()
    if release:
        print(f"Published release {release[0]} at {release[1]:%Y-%m-%d %H:%M} UTC: {release[2]}")
        print(f"  warehouse: {paths.published_warehouse}")
    else:
        print("No published release yet (run `eudap demo` or `eudap run`).")
    print()
    print(f"{'dataset':<34} {'snapshots':>9}  {'latest snapshot':<28} {'released':<10} reason")
    for ds_id in sorted(cat.datasets):
        snaps = store.snapshots(ds_id)
        latest = snaps[0] if snaps else None
        latest_txt = (
            (
                f"{latest.meta.fetched_at[:16]} {latest.meta.sha256[:8]}"
                + (" S" if latest.meta.sample else "")
            )
            if latest
            else "-"
        )
        state, reason, _sha = states.get(ds_id, ("-", None, None))
        # Overdue data are reported by Dagster's freshness checks (pipelines/freshness.py),
        # listed with the last run's warnings below.
        print(f"{ds_id:<34} {len(snaps):>9}  {latest_txt:<28} {state:<10} {reason or ''}")
        for folder in store.incomplete_folders(ds_id):
            print(f"{'':<34} incomplete snapshot folder (ignored): {folder}")
    print("  (S = sample data)")
    run = last_run_report(paths)
    print()
    if run is None:
        print("No run recorded yet.")
        return 0
    verdict = "OK" if run.get("ok") else "FAILED"
    outcome = (
        ""
        if run.get("published")
        else f": {run['nothing_changed']}{no_dagster_run(run)}"
        if run.get("nothing_changed")
        else ", nothing published"
    )
    started = run.get("started_at")
    print(f"Last run {run['run_id']} ({run.get('mode')}) {started} -> {verdict}{outcome}")
    for problem in run.get("problems", []):
        print(f"  - {problem}")
    for w in run.get("warnings", []):
        print(f"  warning: {w['asset']} {w['check']}: {w['description']}")
    return 0 if run.get("ok") else 1
