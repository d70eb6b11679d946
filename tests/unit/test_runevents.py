"""A Dagster run's events into its run report (pipelines/runevents.py), on the events of a
real run: what the run's meta/intake step took in from the mirror's inbox, and rejected,
reaches the report the CLI saves (and the executor, which goes through the same function)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from dagster import AssetKey, DagsterInstance

from pipelines.catalogue import load_catalogue
from pipelines.definitions import build_definitions
from pipelines.resources import EudapResource
from pipelines.runevents import complete_and_save
from pipelines.runreport import RunReport, now
from pipelines.settings import PROJECT_ROOT, Paths
from pipelines.status import last_run_report

SAMPLE_INBOX = PROJECT_ROOT / "data" / "sample" / "inbox"
TAKEN = "maleDeaths.xlsx"
UNKNOWN = "euda.no_such_dataset"


def test_the_report_lists_what_the_runs_intake_took_in_and_rejected(tmp_path: Path) -> None:
    # a folder mirror whose inbox holds one Bulletin export and lists a file for a dataset
    # the catalogue does not have
    mirror = tmp_path / "mirror"
    (mirror / "inbox").mkdir(parents=True)
    shutil.copyfile(SAMPLE_INBOX / TAKEN, mirror / "inbox" / TAKEN)
    (mirror / "inbox" / "other.xlsx").write_bytes(b"never read")
    manifest = {
        "sample": True,
        "datasets": {"euda.bulletin": [f"inbox/{TAKEN}"], UNKNOWN: ["inbox/other.xlsx"]},
    }
    (mirror / "MIRROR.json").write_text(json.dumps(manifest), encoding="utf-8")
    paths = Paths(tmp_path / "data")
    resource = EudapResource(data_dir=str(paths.data_dir), mirror=str(mirror))
    job = build_definitions(load_catalogue(), resource).resolve_job_def("nightly")
    # a run that downloads (a raw asset: a curated file, no network) takes the mirror's inbox in
    selection = [AssetKey(["meta", "intake"]), AssetKey(["raw", "curated_espad"])]
    instance = DagsterInstance.ephemeral()
    try:
        result = job.execute_in_process(
            instance=instance, asset_selection=selection, raise_on_error=False
        )
    finally:
        instance.dispose()
    assert result.success

    report = RunReport(run_id=result.run_id, started_at=now(), mode="run")
    report.inbox_taken = ["local.tsv -> eurostat.crim_off_cat (new snapshot; …)"]  # the CLI's
    complete_and_save(report, result.all_events, paths)

    assert report.inbox_taken[0].startswith("local.tsv"), report.inbox_taken
    (mirrored,) = report.inbox_taken[1:]
    assert mirrored.startswith(f"mirror inbox/{TAKEN} -> euda.bulletin (new snapshot"), mirrored
    assert report.inbox_rejected == [
        f"mirror inbox/other.xlsx: listed for {UNKNOWN}, not in the catalogue"
    ]
    assert not report.ok
    assert any("inbox/other.xlsx" in problem for problem in report.problems), report.problems
    saved = last_run_report(paths)
    assert saved and saved["run_id"] == result.run_id
    assert saved["inbox_taken"] == report.inbox_taken
    assert saved["inbox_rejected"] == report.inbox_rejected
