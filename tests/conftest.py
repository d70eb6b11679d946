"""Fixtures shared by every test layer.

The demo warehouse (`eudap demo`, the real console script) is built ONCE per `make test`, by
whichever pytest-xdist worker asks for it first; the other workers wait for that build and
read the same folder (`built_once`). Tests only read it, or copy its data folder first.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from console import EUDAP, SAMPLE_DIR, Result, environment, eudap

PROJECT_ROOT = Path(__file__).resolve().parents[1]
UPSTREAM_DIR = PROJECT_ROOT.parent / "shared" / "upstream"

# Files that make full builds, slowest first. They are handed to the xdist workers first
# (`make test` passes --no-loadscope-reorder so this order is kept), so the end of the run is
# the many short files, not a long build one worker started last. Any file not listed keeps
# its place after these.
SLOW_FIRST = [
    "tests/integration/test_multiprocess_build.py",
    "tests/integration/test_pipeline_faults.py",
    "tests/e2e/test_cli.py",
    "tests/integration/test_nothing_twice.py",
    "tests/integration/test_pipeline_http.py",
    "tests/conformance/test_pipeline_conformance.py",
    "tests/e2e/test_cli_concurrent.py",
    "tests/integration/test_bad_snapshots_twice.py",
    "tests/e2e/test_run_output.py",
    "tests/e2e/test_gates_both_ways.py",
    "tests/integration/test_refusal_and_inbox.py",
    "tests/unit/test_publish.py",
    "tests/integration/test_publish_alone.py",
    "tests/e2e/test_report.py",
    "tests/unit/test_revisions.py",
    "tests/e2e/test_dictionary.py",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(SLOW_FIRST)}

    def position(item: pytest.Item) -> int:
        return rank.get(item.nodeid.split("::", 1)[0], len(SLOW_FIRST))

    items.sort(key=position)  # stable: the order within a file and among the rest is kept


@pytest.fixture(scope="session")
def upstream_dir() -> Path:
    """The real publisher files in ../shared/upstream (conformance tests skip without them)."""
    if not UPSTREAM_DIR.is_dir():
        pytest.skip(f"real upstream samples not found at {UPSTREAM_DIR} (../shared is absent)")
    return UPSTREAM_DIR


@pytest.fixture(scope="session")
def session_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary folder of this test session that every xdist worker sees (the workers'
    own base folders are its subfolders `popen-gw<N>`)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(folder: Path, make: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
    """`make(folder)` runs once per test session, in the first worker that asks; every
    worker gets what it returned (a JSON document). A maker that failed is tried again."""
    done = folder.with_name(folder.name + ".json")
    with open(folder.with_name(folder.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if not done.exists():
            if folder.exists():
                shutil.rmtree(folder)  # what a failed attempt left
            folder.mkdir()
            done.write_text(json.dumps(make(folder)), encoding="utf-8")
        return json.loads(done.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    if not (SAMPLE_DIR / "MIRROR.json").exists():
        pytest.skip(f"the sample mirror is missing: no {SAMPLE_DIR / 'MIRROR.json'}")
    return SAMPLE_DIR


@pytest.fixture(scope="session")
def demo(sample_dir: Path, session_tmp: Path) -> tuple[dict, Result]:
    """`eudap demo` in a temporary data folder: (its environment, its result). One build for
    the whole session: read it, or copy its data folder before running anything on it."""
    if not EUDAP.exists():
        pytest.skip(f"the console script {EUDAP} is not installed in this environment")

    def make(base: Path) -> dict[str, Any]:
        env = environment(base)
        return {"env": env, "result": asdict(eudap(env, "demo"))}

    built = built_once(session_tmp / "e2e_demo", make)
    return built["env"], Result(**built["result"])
