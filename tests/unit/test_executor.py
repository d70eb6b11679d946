"""The executor of Dagster-launched runs (pipelines/executor.py): multiprocess by default,
and one step at a time among those that write the run's build file, whatever the run config.

The multiprocess run itself is tests/integration/test_multiprocess_build.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey, AssetsDefinition, execute_job, instance_for_test
from dagster._core.definitions.reconstruct import ReconstructableRepository

from pipelines.definitions import defs
from pipelines.executor import ONE_BUILD_WRITER, WRITES_BUILD, effective_config
from pipelines.settings import PROJECT_ROOT, Paths

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


def test_a_run_that_does_not_publish_saves_no_run_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A few assets materialized from the UI publish nothing by design: such a run must not
    become the "last run" `eudap status` reports (a publishing run saves one:
    tests/integration/test_multiprocess_build.py)."""
    paths = Paths(tmp_path / "data")
    monkeypatch.setenv("EUDAP_DATA_DIR", str(paths.data_dir))
    monkeypatch.setenv("EUDAP_INBOX", str(tmp_path / "inbox"))
    job = ReconstructableRepository.for_module(
        "pipelines.definitions", "defs", working_directory=str(PROJECT_ROOT)
    ).get_reconstructable_job("nightly")
    (tmp_path / "dagster").mkdir()
    with instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        result = execute_job(
            job,
            instance=instance,
            asset_selection=[AssetKey(["meta", "intake"])],
            run_config={"execution": {"config": {"in_process": {}}}},
            raise_on_error=False,
        )
        assert result.success
        steps = {e.step_key for e in result.all_events if e.is_step_success}
    assert steps == {"meta__intake"}, steps
    assert not paths.runs_dir.exists() or not list(paths.runs_dir.iterdir())
