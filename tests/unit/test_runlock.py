"""One writer at a time (issue 7, items 4 and 9): the run lock and the leftovers of dead runs.

The lock is held by real processes (a subprocess holding it, one killed with SIGKILL) and
taken by real Dagster runs of the project's own job, on a temporary data folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance

from pipelines import cli, runlock
from pipelines.catalogue import load_catalogue
from pipelines.definitions import build_definitions
from pipelines.fetch import Fetcher
from pipelines.resources import EudapResource
from pipelines.runlock import RunLockBusy, held_by_run, read_holder, run_lock
from pipelines.settings import PROJECT_ROOT, Paths
from pipelines.snapshots import SnapshotStore

# A process that takes the run lock of the data folder argv[1] as run argv[2], says so, and
# holds it until its stdin closes (or it is killed).
HOLDER = """
import sys
from pathlib import Path
from pipelines.runlock import run_lock
from pipelines.settings import Paths
with run_lock(Paths(Path(sys.argv[1])), sys.argv[2], "run"):
    print("HOLDING", flush=True)
    sys.stdin.readline()
"""
TIMEOUT = 60  # a hung helper process fails the test instead of hanging it


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(tmp_path / "data")


@pytest.fixture
def holder(paths: Paths) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(paths.data_dir), "run-first"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "HOLDING"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=TIMEOUT)


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


# ------------------------------------------------------------------------------- the lock
def test_a_second_run_is_refused_naming_the_running_one(
    paths: Paths, holder: subprocess.Popen[str]
) -> None:
    with pytest.raises(RunLockBusy) as refused, run_lock(paths, "run-second", "run"):
        pytest.fail("took a lock another process holds")
    message = str(refused.value)
    assert "run run-first" in message
    assert f"PID {holder.pid}" in message
    assert "since " in message and "--wait" in message
    # the refused run left the holder's record alone
    recorded = read_holder(paths.run_lock)
    assert recorded is not None and recorded.pid == holder.pid


def test_waiting_gives_up_after_its_timeout_then_gets_the_lock_once_free(
    paths: Paths, holder: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runlock, "POLL_SECONDS", 0.02)  # the same loop, polled in ms
    started = time.monotonic()
    busy = pytest.raises(RunLockBusy, match="after waiting")
    with busy, run_lock(paths, "run-second", "run", wait_seconds=0.2):
        pytest.fail("took a lock another process holds")
    assert time.monotonic() - started >= 0.2
    holder.communicate("\n", timeout=TIMEOUT)  # the first run ends
    with run_lock(paths, "run-second", "run", wait_seconds=5.0) as acquired:
        assert acquired is not None and acquired.stale is None  # a clean end leaves no record
        recorded = read_holder(paths.run_lock)
        assert recorded is not None and recorded.run_id == "run-second"
    assert read_holder(paths.run_lock) is None


def test_a_killed_holder_frees_the_lock_and_is_reported_as_stale(
    paths: Paths, holder: subprocess.Popen[str]
) -> None:
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=TIMEOUT)
    with run_lock(paths, "run-after-crash", "run") as acquired:
        assert acquired is not None
        assert acquired.stale is not None and acquired.stale.pid == holder.pid
        assert acquired.stale.run_id == "run-first"


def test_the_lock_is_reentrant_within_one_process(paths: Paths) -> None:
    with run_lock(paths, "outer", "run") as outer, run_lock(paths, "inner", "dagster") as inner:
        assert outer is not None and inner is None
        recorded = read_holder(paths.run_lock)
        assert recorded is not None and recorded.run_id == "outer"
    assert read_holder(paths.run_lock) is None


def test_a_step_process_recognises_the_lock_its_own_run_holds(
    paths: Paths, holder: subprocess.Popen[str]
) -> None:
    # the holder stands for the process running a multiprocess run's steps
    assert held_by_run(paths, "run-first")
    assert not held_by_run(paths, "run-second")
    holder.communicate("\n", timeout=TIMEOUT)  # the run ends: nobody holds it
    assert not held_by_run(paths, "run-first")
    with run_lock(paths, "run-first", "run"):  # held by this very process: not another's
        assert not held_by_run(paths, "run-first")


def test_load_exits_busy_while_a_run_holds_the_lock(
    paths: Paths,
    holder: subprocess.Popen[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("EUDAP_DATA_DIR", str(paths.data_dir))
    source = paths.data_dir / "by_hand.csv"
    source.write_text("a,b\n1,2\n", encoding="utf-8")
    status = cli.main(["load", "euda.wastewater", str(source)])
    out = capsys.readouterr().out
    assert status == cli.EXIT_BUSY == 75, out
    assert out.startswith("FAILED: another run is going"), out
    assert f"PID {holder.pid}" in out
    assert not (paths.raw_dir / "euda" / "wastewater").exists()  # nothing written


# ----------------------------------------------------------------------- Dagster runs
def offline_job_run(paths: Paths, run_id: str, wait_seconds: float = 0.0, select: str = "all"):
    cat = load_catalogue()
    resource = EudapResource(data_dir=str(paths.data_dir), run_lock_wait_seconds=wait_seconds)
    job = build_definitions(cat, resource).resolve_job_def("build_offline")
    keys = [AssetKey(["meta", "build"])] if select == "meta" else None
    return job.execute_in_process(
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
        run_id=run_id,
        asset_selection=keys,
    )


def test_a_dagster_launched_run_honours_the_lock_of_a_cli_run(
    paths: Paths, holder: subprocess.Popen[str]
) -> None:
    result = offline_job_run(paths, "0f0e0d0c-0000-4000-8000-000000000001")
    assert not result.success
    messages = " ".join(
        str(event.message) + str(getattr(event.event_specific_data, "error", ""))
        for event in result.all_events
    )
    assert "another run is going" in messages and f"PID {holder.pid}" in messages
    assert not list(paths.warehouse_dir.glob("build-*")), "the refused run started a build"


def test_the_dagster_instance_runs_one_run_at_a_time(tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text(
        (PROJECT_ROOT / ".dagster_home" / "dagster.yaml").read_text(encoding="utf-8")
    )
    instance = DagsterInstance.from_config(str(tmp_path))
    try:
        queue = instance.get_concurrency_config().run_queue_config
        assert queue is not None and queue.max_concurrent_runs == 1
    finally:
        instance.dispose()


# ------------------------------------------------------------------------------ leftovers
def test_a_run_removes_what_dead_runs_left_and_keeps_what_live_ones_own(paths: Paths) -> None:
    dead = dead_pid()
    live = subprocess.Popen(["sleep", "120"])
    run_id = "0f0e0d0c-0000-4000-8000-000000000002"
    try:
        folder = paths.raw_dir / "eurostat" / "crim_off_cat"
        snapshot = folder / "2026-01-01"
        snapshot.mkdir(parents=True)
        (snapshot / "kept.tsv").write_text("kept")
        planted_gone = [
            folder / f".download-{dead}-k2j3h4",
            folder / ".download-k2j3h4",  # a name from before temp names carried the PID
            folder / f".incoming-2026-01-02-{dead}-0123456789ab",
            paths.raw_dir / "_rejected" / "x" / "y" / f".body.meta.json.tmp-{dead}",
            paths.warehouse_dir / "build-killed.duckdb",
            paths.warehouse_dir / "build-killed.duckdb.wal",
            paths.warehouse_dir / f".warehouse.previous.duckdb.tmp-{dead}",
            paths.warehouse_dir / "build-killed.parts" / "staging" / "x" / "tables.json",
            paths.build_parts(run_id) / "staging" / f".x.tmp-{dead}" / "tables.json",
        ]
        planted_kept = [
            snapshot / "kept.tsv",
            paths.build_parts(run_id) / "staging" / "earlier_step" / "tables.json",
            folder / f".download-{live.pid}-a1b2c3",
            folder / f".incoming-2026-01-02-{live.pid}-0123456789ab",
        ]
        for path in planted_gone + planted_kept:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.name.startswith(".incoming-"):
                path.mkdir()
                (path / "part.tsv").write_bytes(b"x" * 1000)
            elif not path.exists():
                path.write_bytes(b"x" * 1000)
        current_link = paths.exports_dir / f".current.tmp-{dead}"
        current_link.parent.mkdir(parents=True)
        current_link.symlink_to("release-that-never-was")
        # the run's own build (a re-execution continues it) is kept, contents and all
        with duckdb.connect(str(paths.build_warehouse(run_id))) as con:
            con.execute("CREATE TABLE earlier_step AS SELECT 42 AS answer")

        result = offline_job_run(paths, run_id, select="meta")

        assert result.success
        for path in planted_gone + [current_link]:
            assert not path.exists() and not path.is_symlink(), f"{path} was not removed"
        for path in planted_kept:
            assert path.exists(), f"{path} was removed"
        with duckdb.connect(str(paths.build_warehouse(run_id)), read_only=True) as con:
            assert con.execute("SELECT answer FROM earlier_step").fetchone() == (42,)
    finally:
        live.kill()
        live.wait()


def test_download_temporaries_carry_the_writer_pid(tmp_path: Path) -> None:
    fetcher = Fetcher(SnapshotStore(tmp_path / "raw"))
    tmp = fetcher._temp_for(load_catalogue().dataset("euda.wastewater"))
    assert tmp.name.startswith(f".download-{os.getpid()}-")
