"""Two runs at once, and a hostile CSV cell, through the real `eudap` console script.

A data folder holds one real snapshot (the EDR gps-current table, loaded by hand) whose value
cell is an HTML payload; then three `eudap run --offline` on it: the first, and once it holds
the run lock, two more at once (one without --wait: busy; one with --wait: publishes after
it). (Split from tests/e2e/test_cli.py so its builds run on another worker than the demo's.)
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from console import EUDAP, TIMEOUT, Result, environment, eudap, published
from test_cli import edr_gps_current_key

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", autouse=True)
def console_script() -> None:
    if not EUDAP.exists():
        pytest.skip(f"the console script {EUDAP} is not installed in this environment")


XSS = "<img src=x onerror=alert(1)>"
XSS_DATASET = "euda.edr"  # its gps-current table, loaded by hand


@dataclass(frozen=True)
class ConcurrentRuns:
    env: dict[str, str]
    first: Result
    second: Result  # started while the first holds the lock, without --wait
    waiting: Result  # started at the same moment, with --wait
    first_run_id: str  # as the lock recorded it while the first run held it


def run_id_of(res: Result) -> str:
    lines = [line for line in res.out.splitlines() if line.startswith("Run ")]
    assert lines, res.out
    return lines[-1].split()[1].rstrip(";")


@pytest.fixture(scope="module")
def concurrent_runs(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ConcurrentRuns:
    """A data folder holding one real snapshot whose value cell is an HTML payload; then three
    `eudap run --offline` on it: the first, and once it holds the lock, two more at once."""
    base = tmp_path_factory.mktemp("e2e_concurrent")
    env = environment(base)
    key = edr_gps_current_key()
    lines = (sample_dir / key).read_text(encoding="utf-8-sig").splitlines()
    cells = lines[1].split(",")
    cells[3] = f'"{XSS}"'  # "Prevalence (%)"
    hostile = base / key.rsplit("/", 1)[-1]  # the collection knows a table by its name
    hostile.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    loaded = eudap(env, "load", XSS_DATASET, str(hostile))
    assert loaded.code == 0, loaded.out + loaded.err

    def start(*extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(EUDAP), "run", "--offline", *extra],
            env=env,
            cwd=str(base),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def finish(proc: subprocess.Popen[str]) -> Result:
        out, err = proc.communicate(timeout=TIMEOUT)
        return Result(proc.returncode, out, err)

    lock = Path(env["EUDAP_DATA_DIR"]) / "warehouse" / "run.lock"
    first = start()
    holder = ""
    for _ in range(TIMEOUT * 10):  # until the first run has recorded itself in the lock
        holder = lock.read_text(encoding="utf-8") if lock.exists() else ""
        if holder or first.poll() is not None:
            break
        time.sleep(0.1)
    assert holder, "the first run never took the run lock"
    # the waiting run would find nothing changed (pipelines/nochange.py): it rebuilds
    second, waiting = start(), start("--wait", str(TIMEOUT), "--rebuild")
    return ConcurrentRuns(
        env,
        first=finish(first),
        second=finish(second),
        waiting=finish(waiting),
        first_run_id=json.loads(holder)["run_id"],
    )


def releases_of(env: dict[str, str]) -> list[str]:
    with duckdb.connect(str(published(env)), read_only=True) as con:
        rows = con.execute("SELECT release_id FROM meta.releases ORDER BY 1").fetchall()
    return [r for (r,) in rows]


def test_a_second_run_exits_busy_naming_the_running_one(concurrent_runs: ConcurrentRuns) -> None:
    first, second = concurrent_runs.first, concurrent_runs.second
    assert "Published release" in first.out, first.out + first.err
    assert second.code == 75, second.out + second.err
    assert second.first_line.startswith("FAILED: another run is going"), second.out
    assert f"run {concurrent_runs.first_run_id}" in second.first_line
    assert "PID " in second.first_line and "since " in second.first_line
    assert "Published" not in second.out and "Traceback" not in second.out + second.err


def test_a_waiting_run_publishes_after_the_first_and_both_releases_are_kept(
    concurrent_runs: ConcurrentRuns,
) -> None:
    first, waiting = concurrent_runs.first, concurrent_runs.waiting
    assert "Published release" in waiting.out, waiting.out + waiting.err
    assert run_id_of(first) == concurrent_runs.first_run_id
    assert sorted([run_id_of(first), run_id_of(waiting)]) == releases_of(concurrent_runs.env)


def test_a_hostile_cell_in_a_quarantine_reason_reaches_the_report_escaped(
    concurrent_runs: ConcurrentRuns,
) -> None:
    env = concurrent_runs.env
    with duckdb.connect(str(published(env)), read_only=True) as con:
        (reason,) = con.execute(
            "SELECT reason FROM meta.release_datasets WHERE dataset = ? "
            "ORDER BY release_id LIMIT 1",
            [XSS_DATASET],
        ).fetchone()
    assert XSS in reason  # the payload really travelled into the quarantine reason
    report = Path(env["EUDAP_DATA_DIR"]) / "warehouse" / "exports" / "current" / "report.html"
    html = report.read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img" not in html and "onerror=alert(1)>" not in html
