"""Running the real `eudap` console script as a user would, in a temporary data dir.

Every command runs in a subprocess with `EUDAP_DATA_DIR` and `DAGSTER_HOME` pointing into a
temporary folder (telemetry off), so nothing touches the repository's data/ or ~/.dagster.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pipelines.settings import PROJECT_ROOT

EUDAP = Path(sys.prefix) / "bin" / "eudap"
SAMPLE_DIR = PROJECT_ROOT / "data" / "sample"
TIMEOUT = 600  # a hung command fails the test instead of hanging the suite (not an assertion)


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    @property
    def first_line(self) -> str:
        return self.out.splitlines()[0] if self.out.strip() else ""

    @property
    def first_error_line(self) -> str:
        return self.err.splitlines()[0] if self.err.strip() else ""


# The Dagster instance of a test's commands keeps its event log in memory (runs stay in
# DAGSTER_HOME's SQLite file). The on-disk event log opens a database connection and commits
# (fsync) for each of the ~500 events of a build: ~3 s of CPU and more of wall time a build.
# Nothing the commands do reads events of another process or an earlier run: the CLI reads
# its own run's events from the run's result (pipelines.runevents), the progress display listens
# in process, and the freshness checks read the materialization their staging step made in
# the same run. Production `eudap run` keeps the on-disk event log the Dagster UI reads; so
# do the tests that read run history across processes
# (tests/integration/test_multiprocess_build.py: a real instance, `instance_for_test`).
DAGSTER_YAML = """telemetry:
  enabled: false
event_log_storage:
  module: dagster._core.storage.event_log
  class: InMemoryEventLogStorage
"""


def environment(base: Path) -> dict[str, str]:
    home = base / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(DAGSTER_YAML, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EUDAP_", "DAGSTER_"))}
    env.update(
        EUDAP_DATA_DIR=str(base / "data"),
        DAGSTER_HOME=str(home),
        GX_ANALYTICS_ENABLED="False",
        PYTHONUNBUFFERED="1",
    )
    return env


def eudap(env: dict[str, str], *args: str) -> Result:
    proc = subprocess.run(
        [str(EUDAP), *args],
        env=env,
        cwd=env["EUDAP_DATA_DIR"].rsplit("/", 1)[0],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def published(env: dict[str, str]) -> Path:
    return Path(env["EUDAP_DATA_DIR"]) / "warehouse" / "warehouse.duckdb"


def copy_demo_data(demo: tuple[dict[str, str], Result], data_dir: Path) -> None:
    """A copy of the published demo's data folder (tests/conftest.py `demo`) at `data_dir`,
    to build on: the demo itself stays one release that every worker reads."""
    env, res = demo
    assert res.code == 0, res.out + res.err  # the demo published
    shutil.copytree(env["EUDAP_DATA_DIR"], data_dir, symlinks=True)
