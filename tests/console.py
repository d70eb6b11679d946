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


def environment(base: Path) -> dict[str, str]:
    home = base / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
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
