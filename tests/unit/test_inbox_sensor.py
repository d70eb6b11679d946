"""The inbox sensor, evaluated for real with `dagster.build_sensor_context` on a temp inbox."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    DefaultSensorStatus,
    SensorResult,
    asset,
    build_sensor_context,
    materialize,
)

from pipelines.definitions import build_definitions
from pipelines.resources import EudapResource
from pipelines.runlock import run_lock
from pipelines.sensors import OFFLINE_JOB, inbox_sensor
from pipelines.settings import SAMPLE_MIRROR_DIR, Paths

META_INTAKE = AssetKey(["meta", "intake"])

WASTEWATER = (
    SAMPLE_MIRROR_DIR
    / "www.euda.europa.eu/sites/default/files/data/mirror-stand-in/wastewater-2025"
    / "ww2025-all-data.csv"
)


@pytest.fixture
def inbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "hand-downloads"
    folder.mkdir()
    monkeypatch.setenv("EUDAP_INBOX", str(folder))
    return folder


def evaluate(tmp_path: Path, cursor: str | None) -> SensorResult:
    resource = EudapResource(data_dir=str(tmp_path / "data"))
    with build_sensor_context(cursor=cursor, resources={"eudap": resource}) as context:
        result = inbox_sensor()(context)
    assert isinstance(result, SensorResult)
    return result


def test_a_new_file_requests_one_offline_build_and_the_same_files_do_not(
    tmp_path: Path, inbox: Path
) -> None:
    empty = evaluate(tmp_path, None)
    assert not empty.run_requests and empty.cursor == "[]"
    assert "holds no file" in empty.skip_reason.skip_message

    shutil.copy(WASTEWATER, inbox / "ww2025-all-data_en.csv")
    (inbox / "next.csv.crdownload").write_bytes(b"still downloading")  # not yet a file
    (inbox / "done").mkdir()  # the inbox's own folders are not waiting files
    first = evaluate(tmp_path, empty.cursor)
    assert len(first.run_requests) == 1
    assert first.run_requests[0].tags["eudap/mode"] == "inbox"
    st = (inbox / "ww2025-all-data_en.csv").stat()
    assert json.loads(first.cursor) == [["ww2025-all-data_en.csv", st.st_mtime_ns, st.st_size]]

    again = evaluate(tmp_path, first.cursor)
    assert not again.run_requests and again.cursor is None  # the cursor stays
    assert "the same files" in again.skip_reason.skip_message

    os.utime(inbox / "ww2025-all-data_en.csv", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    touched = evaluate(tmp_path, first.cursor)  # dropped again (newer copy): a new run
    assert len(touched.run_requests) == 1 and touched.cursor != first.cursor


def test_the_sensor_skips_while_a_run_holds_the_lock(tmp_path: Path, inbox: Path) -> None:
    shutil.copy(WASTEWATER, inbox / "ww2025-all-data_en.csv")
    paths = Paths((tmp_path / "data").resolve())
    with run_lock(paths, "run-holding-the-lock", "run"):
        held = evaluate(tmp_path, None)
    assert not held.run_requests and held.cursor is None  # looked at again after the run
    message = held.skip_reason.skip_message
    assert "run run-holding-the-lock (`eudap run`" in message and "holds the run lock" in message
    after = evaluate(tmp_path, None)
    assert len(after.run_requests) == 1


def test_the_sensor_is_registered_stopped_and_targets_the_offline_build() -> None:
    defs = build_definitions()
    sensor = defs.resolve_sensor_def("inbox_sensor")
    assert sensor.default_status == DefaultSensorStatus.STOPPED
    assert sensor.job_name == OFFLINE_JOB
    assert defs.resolve_job_def(OFFLINE_JOB) is not None


def test_a_dagster_run_takes_the_inbox_in_before_its_assets(
    tmp_path: Path, inbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What every run does first (meta/intake, upstream of every download and of the build):
    an asset that depends on it sees the inbox already handled."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    shutil.copy(WASTEWATER, inbox / "ww2025-all-data_en.csv")
    (inbox / "notes.txt").write_text("not a publisher file\n")
    seen: list[list[str]] = []

    @asset(deps=[META_INTAKE])
    def inbox_after_take_in(eudap: EudapResource) -> None:
        seen.append(sorted(p.name for p in inbox.iterdir()))

    resource = EudapResource(data_dir=str(tmp_path / "data"))
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [build_definitions().get_assets_def(META_INTAKE), inbox_after_take_in],
            resources={"eudap": resource},
            instance=instance,
        )
    assert result.success
    assert seen == [["done", "rejected"]]  # both handled before the asset ran
    snaps = resource.store().snapshots("euda.wastewater")
    assert [s.meta.origin for s in snaps] == ["inbox"]
    assert list((inbox / "rejected").rglob("notes.txt.reason.txt"))
