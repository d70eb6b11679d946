"""The executor of Dagster-launched runs (pipelines/executor.py): multiprocess by default,
and one step at a time among those that write the run's build file, whatever the run config.

The multiprocess run itself is tests/integration/test_multiprocess_build.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, AssetsDefinition
from dagster._core.definitions.reconstruct import ReconstructableRepository
from helpers import launch_in_process

from pipelines.definitions import defs
from pipelines.executor import ONE_BUILD_WRITER, WRITES_BUILD, effective_config
from pipelines.settings import PROJECT_ROOT, Paths
from pipelines.status import last_run_report

INTAKE, PUBLISHED = AssetKey(["meta", "intake"]), AssetKey(["warehouse", "published"])

# The steps that open the build file to write; downloads and staging write the build folder.
WRITERS = {"meta/build", "meta/staged", "meta/coverage", "warehouse/published", "trends"}


def test_the_code_location_runs_multiprocess_with_one_build_writer() -> None:
    executor = defs.resolve_job_def("nightly").executor_def
    assert executor.name == "eudap"
    default = executor.config_schema.as_field().default_value
    assert "multiprocess" in default
    config = effective_config(default)["multiprocess"]
    assert config["tag_concurrency_limits"] == [ONE_BUILD_WRITER]
    assert "forkserver" in config["start_method"]


def test_a_run_config_cannot_lift_the_one_writer_limit() -> None:
    other = {"key": "x", "limit": 3}
    given = {"multiprocess": {"max_concurrent": 4, "tag_concurrency_limits": [other]}}
    config = effective_config(given)["multiprocess"]
    assert config["tag_concurrency_limits"] == [other, ONE_BUILD_WRITER]
    assert config["max_concurrent"] == 4
    assert effective_config({"in_process": {}}) == {"in_process": {}}


def test_every_step_that_writes_the_build_file_carries_the_tag() -> None:
    tagged, untagged = set(), set()
    for assets_def in defs.assets or []:
        assert isinstance(assets_def, AssetsDefinition)
        tags = assets_def.op.tags
        layer = next(iter(assets_def.keys)).path[0]
        name = "/".join(next(iter(assets_def.keys)).path)
        label = "trends" if layer == "trends" else name
        writes = all(tags.get(k) == v for k, v in WRITES_BUILD.items())
        (tagged if writes else untagged).add(label if layer != "indicators" else "indicators")
    assert tagged == WRITERS | {"indicators"}
    assert {n.split("/")[0] for n in untagged} == {"raw", "staging", "meta"}
    assert {n for n in untagged if n.startswith("meta/")} == {"meta/intake"}


def launch(tmp_path: Path, *assets: AssetKey) -> tuple[Paths, Any]:
    """A run of the nightly job's `assets` as Dagster launches one, on an empty data
    folder; (its paths, its result)."""
    job = ReconstructableRepository.for_module(
        "pipelines.definitions", "defs", working_directory=str(PROJECT_ROOT)
    ).get_reconstructable_job("nightly")
    return Paths(tmp_path / "data"), launch_in_process(job, tmp_path / "dagster", list(assets))


@pytest.fixture(autouse=True)
def data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EUDAP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EUDAP_INBOX", str(tmp_path / "inbox"))


def test_a_run_that_does_not_publish_saves_no_run_report(tmp_path: Path) -> None:
    """A few assets materialized from the UI publish nothing by design: such a run must not
    become the "last run" `eudap status` reports (a publishing run saves one:
    tests/integration/test_multiprocess_build.py)."""
    paths, result = launch(tmp_path, INTAKE)
    assert result.success
    assert {e.step_key for e in result.all_events if e.is_step_success} == {"meta__intake"}
    assert not paths.runs_dir.exists() or not list(paths.runs_dir.iterdir())


def test_a_launched_run_that_fails_to_publish_reports_the_failed_step(tmp_path: Path) -> None:
    """Publish with nothing built fails: the run's report, read from the event log, names
    the failed step with its error, and says nothing was published."""
    paths, result = launch(tmp_path, INTAKE, PUBLISHED)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    report = last_run_report(paths)
    assert report and report["run_id"] == result.run_id, report
    assert report["mode"] == "dagster nightly" and report["ok"] is False
    assert report["published"] is False and report["datasets"] == {}
    assert [s["step"] for s in report["failed_steps"]] == ["warehouse__published"]
    error = failure.event_specific_data.error
    cause = (error.cause or error).message.strip()
    assert report["failed_steps"][0]["error"] == cause, (report, cause)
    assert report["problems"][-1].startswith("nothing was published"), report["problems"]
