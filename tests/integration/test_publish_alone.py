"""Publish re-executed alone after a failed gate publishes nothing.

Three runs of the Dagster job `build_offline` on one data folder, from a copy of the
catalogue whose EU headlines file is a temporary copy with one figure edited:

1. a good run publishes, with the edited figure (the UI's offline job publishes an edited
   curated file: one half of tests/curated_edit.py's check);
2. the headlines file gains a second citation of an indicator 9 figure with another value:
   it passes its own staging gate (the citations differ), but indicator 9's blocking gate
   (one value per series key and period) fails, so Dagster skips publish. This run is
   launched as the UI launches one (`execute_job` through the code location's executor, in
   process): its run report, read from the run's event log, names the failed gate;
3. only `warehouse/published` is executed again for run 2's build (same run id, as a
   re-execution has): publish reads the build's own gate record and refuses.

The published warehouse stays byte-identical to run 1's.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from curated_edit import EDITED, edited_catalogue, published_values
from dagster import AssetKey, DagsterInstance, JobDefinition, reconstructable
from helpers import launch_in_process

from pipelines.catalogue import Catalogue
from pipelines.definitions import build_definitions
from pipelines.resources import EudapResource
from pipelines.settings import Paths
from pipelines.status import last_run_report

PUBLISHED = AssetKey(["warehouse", "published"])
IND09 = "indicators/ind09_morbidity_mortality"
# Where `offline_job` finds the edited catalogue and the data folder of a launched run.
CATALOGUE_ENV = "EUDAP_TEST_CATALOGUE"


def offline_job() -> JobDefinition:
    """`build_offline` of the catalogue at $EUDAP_TEST_CATALOGUE, for `reconstructable`."""
    resource = EudapResource(data_dir=os.environ["EUDAP_DATA_DIR"])
    cat = Catalogue(Path(os.environ[CATALOGUE_ENV]))
    return build_definitions(cat, resource).resolve_job_def("build_offline")


def launch(cat: Catalogue, paths: Paths, home: Path, monkeypatch: pytest.MonkeyPatch):
    """A run of `build_offline` as Dagster launches one, so the executor saves its report."""
    monkeypatch.setenv(CATALOGUE_ENV, str(cat.root))
    monkeypatch.setenv("EUDAP_DATA_DIR", str(paths.data_dir))
    return launch_in_process(reconstructable(offline_job), home)


def run(cat: Catalogue, paths: Paths, run_id: str, only_publish: bool = False):
    job = build_definitions(cat, EudapResource(data_dir=str(paths.data_dir))).resolve_job_def(
        "build_offline"
    )
    instance = DagsterInstance.ephemeral()
    try:
        return job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_id=run_id,
            asset_selection=[PUBLISHED] if only_publish else None,
        )
    finally:
        instance.dispose()


@pytest.fixture
def catalogue_and_file(tmp_path: Path) -> tuple[Catalogue, Path]:
    return edited_catalogue(tmp_path / "catalogue")


def test_the_offline_job_publishes_an_edited_file_then_publish_alone_after_a_failed_gate_refuses(
    catalogue_and_file: tuple[Catalogue, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cat, headlines = catalogue_and_file
    paths = Paths(tmp_path / "data")

    first = run(cat, paths, "00000000-0000-4000-8000-000000000001")
    assert first.success, [e.message for e in first.all_events if e.is_failure]
    assert EDITED in published_values(paths)
    published = paths.published_warehouse.read_bytes()

    lines = headlines.read_text(encoding="utf-8").splitlines(keepends=True)
    row = next(line for line in lines if line.startswith("9,drug_induced_deaths_eu_headline,"))
    cells = row.split(",")
    cells[4] = str(int(cells[4]) + 1)  # another value
    cells[12] = "A second document citing the same figure"
    headlines.write_text("".join(lines) + ",".join(cells), encoding="utf-8")
    second = launch(cat, paths, tmp_path / "dagster", monkeypatch)
    second_id = second.run_id
    failed = [
        e.asset_check_evaluation_data.asset_key.to_user_string()
        for e in second.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and not e.asset_check_evaluation_data.passed
        and e.asset_check_evaluation_data.check_name == "gate"
    ]
    assert failed == [IND09]
    assert paths.published_warehouse.read_bytes() == published
    assert paths.build_warehouse(second_id).exists()
    report = last_run_report(paths)
    assert report and report["run_id"] == second_id, report
    assert report["mode"] == "dagster build_offline" and report["ok"] is False, report
    assert report["published"] is False and report["failed_steps"] == [], report
    (gate,) = report["failed_checks"]
    assert (gate["asset"], gate["check"]) == (IND09, "gate"), gate
    assert "one value per series key and period" in gate["description"], gate
    assert report["skipped_publish_reason"] == "a blocking gate failed", report

    third = run(cat, paths, second_id, only_publish=True)

    assert not third.success
    errors = " ".join(
        str(e.event_specific_data.error) for e in third.all_events if e.is_step_failure
    )
    assert f"build {second_id} not published" in errors
    assert "indicators.ind09_morbidity_mortality: gate failed" in errors
    assert paths.published_warehouse.read_bytes() == published
