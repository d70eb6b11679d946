"""The run report: what a run did, as `eudap run --json` prints it and `eudap status` reads it
back (`data/warehouse/runs/<run id>.json`, credentials in URLs masked).

Saved by every run of the CLI (pipelines/cli.py), every run Dagster launched that publishes
(the UI, the schedule, the sensors: pipelines/executor.py saves it when the run's steps are
over), and every night the check before the run found nothing changed, whether the CLI or
the schedule's tick asked (no Dagster run is started then). A report holds what the
warehouse records of the run's release and, for a Dagster run, what its events say
(pipelines/runevents.py).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.redact import redact_text
from pipelines.settings import Paths

if TYPE_CHECKING:  # imported where used: `eudap sql` and `status` start without them
    from pipelines.catalogue import Catalogue
    from pipelines.prerun import PreRunCheck


@dataclass
class RunReport:
    run_id: str
    started_at: str
    finished_at: str = ""
    mode: str = ""
    published: bool = False
    release_summary: str = ""
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed_checks: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    failed_steps: list[dict[str, str]] = field(default_factory=list)
    skipped_publish_reason: str = ""
    inbox_taken: list[str] = field(default_factory=list)
    inbox_rejected: list[str] = field(default_factory=list)
    # a run that built nothing (pipelines/nochange.py): why, and the release that stays current
    nothing_changed: str = ""
    current_release: str = ""
    # False: the check before the run (pipelines/prerun.py) found nothing changed, so no
    # Dagster run was started (run_id is then this check's own id); what it asked
    dagster_run_started: bool = True
    checked_before_run: str = ""

    @property
    def problems(self) -> list[str]:
        out = []
        for step in self.failed_steps:
            out.append(f"step {step['step']} failed: {step['error']}")
        for chk in self.failed_checks:
            out.append(f"gate failed on {chk['asset']}: {chk['description']}")
        for rejected in self.inbox_rejected:
            out.append(f"inbox: rejected {rejected}")
        for ds, info in sorted(self.datasets.items()):
            if info["state"] in ("stale", "missing"):
                out.append(f"{ds} is {info['state']}: {info['reason']}")
        if not self.published and not self.nothing_changed:
            out.append(
                "nothing was published: the previous release stays in place"
                + (f" ({self.skipped_publish_reason})" if self.skipped_publish_reason else "")
            )
        return out

    @property
    def ok(self) -> bool:
        return not self.problems


def no_run_report(
    mode: str, run_id: str, started: str, paths: Paths, check: PreRunCheck, cat: Catalogue
) -> RunReport:
    """The report of a night the check before the run found nothing changed: the one the
    no-op Dagster run gives (the release that stays current, its datasets unchanged, the
    overdue ones warned of), saying that no Dagster run was started."""
    report = RunReport(run_id=run_id, started_at=started, mode=mode)
    report.nothing_changed, report.current_release = check.why, check.release_id
    report.dagster_run_started = False
    report.checked_before_run = check.summary
    read_release(report, paths, cat)
    report.finished_at = now()
    save(report, paths)
    return report


def read_release(
    report: RunReport, paths: Paths, cat: Any = None, build_id: str | None = None
) -> None:
    """The datasets and release of the run, as the warehouse records them
    (meta.release_datasets, meta.releases): the published warehouse when the run published,
    else the run's build file (a run that failed before publishing), else nothing. A run
    that built nothing: the release that stays current, each dataset unchanged since (or
    stale or missing, as published). `build_id`: the run's build and release, when not its
    run id (a re-execution builds its first run's: pipelines/assets.py `build_id`)."""
    import duckdb

    build_id = build_id or report.run_id
    release_id = report.current_release or build_id
    for path in (paths.published_warehouse, paths.build_warehouse(build_id)):
        if not path.exists():
            continue
        with duckdb.connect(str(path), read_only=True) as con:
            has_tables = con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'meta' "
                "AND table_name IN ('release_datasets', 'releases')"
            ).fetchone()[0]
            if has_tables < 2:
                continue
            rows = con.execute(
                "SELECT dataset, state, reason, snapshot_sha256, staged_rows, is_sample, capture "
                "FROM meta.release_datasets WHERE release_id = ? ORDER BY dataset",
                [release_id],
            ).fetchall()
            release = con.execute(
                "SELECT summary FROM meta.releases WHERE release_id = ? "
                "AND published_at IS NOT NULL",
                [release_id],
            ).fetchone()
        if not rows and release is None:
            continue  # the published warehouse of an earlier release
        if report.current_release:  # as published; what was fresh then is unchanged since
            rows = [
                (row[0], "unchanged", None, *row[3:]) if row[1] in ("fresh", "unchanged") else row
                for row in rows
            ]
        report.datasets = {
            ds: {
                "state": state,
                "reason": reason,
                "snapshot_sha256": sha,
                "rows": staged,
                "sample": bool(sample),
                "capture": capture,
            }
            for ds, state, reason, sha, staged, sample, capture in rows
        }
        report.published = (
            path == paths.published_warehouse and release is not None and not report.current_release
        )
        report.release_summary = release[0] if release else ""
        if report.current_release:
            report.warnings += _overdue_warnings(path, release_id, cat)
        return


def _overdue_warnings(warehouse: Path, release_id: str, cat: Any = None) -> list[dict[str, Any]]:
    """A run that built nothing skipped Dagster's freshness checks: the datasets the
    release holds that are overdue now, as the checks would have warned."""
    import duckdb

    from pipelines.catalogue import load_catalogue
    from pipelines.nochange import overdue

    with duckdb.connect(str(warehouse), read_only=True) as con:
        fetched = dict(
            con.execute(
                "SELECT dataset, fetched_at FROM meta.release_datasets WHERE release_id = ?",
                [release_id],
            ).fetchall()
        )
    cat = cat or load_catalogue()
    at = datetime.now(UTC).replace(tzinfo=None)
    return [
        {
            "asset": f"staging/{cat.datasets[ds_id].asset_name}",
            "check": "freshness_check",
            "description": why,
        }
        for ds_id, why in overdue(cat, fetched, at).items()
    ]


def now() -> str:
    """A report's time stamp: UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def report_json(report: RunReport) -> str:
    """The run summary as one JSON document (credentials in URLs masked)."""
    payload = {**report.__dict__, "ok": report.ok, "problems": report.problems}
    return redact_text(json.dumps(payload, indent=2, default=str))


def save(report: RunReport, paths: Paths) -> None:
    """`<runs>/<run id>.json`, written aside and renamed: a reader (`eudap status`) never
    sees half a report, whoever writes one (the CLI, a Dagster run, the schedule's tick)."""
    paths.runs_dir.mkdir(parents=True, exist_ok=True)
    target = paths.runs_dir / f"{report.run_id}.json"
    partial = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    partial.write_text(report_json(report), encoding="utf-8")
    os.replace(partial, target)
