"""The demo warehouse, built once per test session with the real console script and shared
by the end-to-end tests that read it (tests/e2e/test_cli.py, test_dictionary.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from console import EUDAP, SAMPLE_DIR, Result, environment, eudap


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    if not (SAMPLE_DIR / "MIRROR.json").exists():
        pytest.skip(f"the sample mirror is missing: no {SAMPLE_DIR / 'MIRROR.json'}")
    return SAMPLE_DIR


@pytest.fixture(scope="session")
def demo(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Result]:
    """`eudap demo` in a temporary data folder: (its environment, its result)."""
    if not EUDAP.exists():
        pytest.skip(f"the console script {EUDAP} is not installed in this environment")
    env = environment(tmp_path_factory.mktemp("e2e_demo"))
    return env, eudap(env, "demo")
