"""Publishing a fully checked build: exports, release record, atomic swap.

Order matters, so that a crash at any point leaves the published warehouse either the
previous release or the complete new one, never something in between:

0. verify the build: its own gate record (meta.gate_results) must show that every blocking
   gate of this run ran and passed, or nothing is published (PublishError naming the gates),
   however publish was started (the whole job, or publish re-executed alone); a table copied
   from the published release (pipelines/reuse.py) must carry the input key its source
   release recorded and that this code and catalogue give for its inputs;
1. finish the build: record the release in meta.releases and what it changed in
   meta.revisions (pipelines/revisions.py), CHECKPOINT, close;
2. write the exports (Parquet, CSV, workbook, datapackage.json: pipelines/exports.py) and the
   report into exports/<release>/ (new folder); a failure here publishes nothing;
3. hard-link the current warehouse.duckdb to warehouse.previous.duckdb (atomic rename of a
   temporary link), then rename the build onto warehouse.duckdb (atomic on POSIX);
4. point exports/current at the new folder (atomic symlink swap).

Readers that opened the old file keep their consistent view until they reconnect.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.catalogue import Catalogue
from pipelines.dictionary import apply_dictionary
from pipelines.exports import write_datapackage, write_tables
from pipelines.report import write_report
from pipelines.reuse import copy_problems
from pipelines.revisions import record_revisions
from pipelines.settings import PROJECT_ROOT, Paths
from pipelines.warehouse import gate_problems

KEEP_EXPORTS = 5  # export folders of the latest releases kept beside the current one
# Build files of failed or killed runs are removed when the next run starts, under the run
# lock (pipelines/runlock.py), which knows that no other run is alive.


class PublishError(RuntimeError):
    pass


@dataclass(frozen=True)
class Release:
    release_id: str
    warehouse: Path
    exports: Path
    states: dict[str, str]
    summary: str


def code_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _record_release(con: duckdb.DuckDBPyConnection, release_id: str) -> tuple[dict[str, str], str]:
    rows = con.execute(
        "SELECT dataset, state, coalesce(is_sample, false) FROM meta.release_datasets "
        "WHERE release_id = ? ORDER BY dataset",
        [release_id],
    ).fetchall()
    if not rows:
        raise PublishError(f"build {release_id} records no dataset: nothing was staged")
    states = {d: s for d, s, _ in rows}
    count = {
        s: sum(1 for v in states.values() if v == s)
        for s in ("fresh", "unchanged", "stale", "missing")
    }
    sample = any(flag for _, _, flag in rows)
    summary = ", ".join(f"{n} {s}" for s, n in count.items() if n) + (
        "; built from SAMPLE data" if sample else ""
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    from pipelines import __version__

    con.execute("DELETE FROM meta.releases WHERE release_id = ?", [release_id])
    con.execute(
        "INSERT INTO meta.releases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            release_id,
            now,
            now,
            __version__,
            code_revision(),
            len(states),
            count["fresh"],
            count["unchanged"],
            count["stale"],
            count["missing"],
            sample,
            summary,
        ],
    )
    return states, summary


def write_exports(con: duckdb.DuckDBPyConnection, folder: Path, release_id: str) -> list[str]:
    """Parquet and CSV of every published table and the monitoring workbook
    (pipelines/exports.py); a failure removes the folder it created. Returns the tables whose
    files are hard links to the previous release's (copied tables: their rows are its rows)."""
    return write_tables(con, folder, release_id)


def _swap_symlink(link: Path, target: Path) -> None:
    tmp = link.with_name(f".{link.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target.name)
    os.replace(tmp, link)


def comment_tables(con: duckdb.DuckDBPyConnection, cat: Catalogue) -> list[str]:
    """Every published table and column carries its description (indicator tables also their
    sources' attribution): see pipelines/dictionary.py. Returns what nothing describes."""
    return apply_dictionary(con, cat)


def gated_tables(cat: Catalogue) -> list[str]:
    """Every table of a build behind a blocking gate: staging, indicators, trends."""
    from pipelines.indicators import sql_path
    from pipelines.trend_tables import TABLES

    return (
        [ds.table for ds in cat.datasets.values()]
        + [ind.table for ind in cat.indicator_list() if sql_path(ind).exists()]
        + [f"trends.{t.name}" for t in TABLES]
    )


def publish_build(paths: Paths, release_id: str, cat: Catalogue) -> Release:
    build = paths.build_warehouse(release_id)
    if not build.exists():
        raise PublishError(f"no build file {build} to publish")
    con = duckdb.connect(str(build))
    try:
        problems = gate_problems(con, release_id, gated_tables(cat))
        problems += copy_problems(con, release_id, cat, paths)
        if problems:
            raise PublishError(
                f"build {release_id} not published: its gate record does not clear it: "
                + "; ".join(problems)
            )
        for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'staging' AND table_name LIKE '\\_candidate\\_%' ESCAPE '\\'"
        ).fetchall():
            con.execute(f'DROP TABLE staging."{name}"')
        states, summary = _record_release(con, release_id)
        record_revisions(con, release_id)
        comment_tables(con, cat)
        exports = paths.exports_dir / release_id
        write_exports(con, exports, release_id)
        write_report(con, release_id, exports, cat.scorecard)
        (exports / "release.json").write_text(
            json.dumps({"release_id": release_id, "datasets": states, "summary": summary}, indent=2)
        )
        write_datapackage(con, exports, release_id)  # last: it lists every file
        con.execute("CHECKPOINT")
    finally:
        con.close()
    wal = build.with_name(build.name + ".wal")
    if wal.exists():
        raise PublishError(f"{build} still has a write-ahead log after CHECKPOINT; not publishing")
    published, previous = paths.published_warehouse, paths.previous_warehouse
    if published.exists():
        tmp_prev = previous.with_name(f".{previous.name}.tmp-{os.getpid()}")
        tmp_prev.unlink(missing_ok=True)
        try:
            os.link(published, tmp_prev)
        except OSError:
            shutil.copy2(published, tmp_prev)
        os.replace(tmp_prev, previous)
    os.replace(build, published)
    _swap_symlink(paths.exports_dir / "current", exports)
    prune_exports(paths.exports_dir, keep=KEEP_EXPORTS)
    return Release(release_id, published, exports, states, summary)


def prune_exports(folder: Path, keep: int) -> None:
    """Drop the export folders of all but the `keep` latest releases."""
    releases = sorted(
        (p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in releases[keep:]:
        shutil.rmtree(old, ignore_errors=True)
