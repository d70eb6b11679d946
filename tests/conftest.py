"""Fixtures shared by every test layer."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
UPSTREAM_DIR = PROJECT_ROOT.parent / "shared" / "upstream"


@pytest.fixture(scope="session")
def upstream_dir() -> Path:
    """The real publisher files in ../shared/upstream (conformance tests skip without them)."""
    if not UPSTREAM_DIR.is_dir():
        pytest.skip(f"real upstream samples not found at {UPSTREAM_DIR} (../shared is absent)")
    return UPSTREAM_DIR


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist (`make test`: `-n 2 --dist loadgroup`), one group per test file, so a
    module-scoped build runs in one worker only, and one group for every test of the
    session's demo (tests/e2e/conftest.py), so the demo is built once."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        group = "e2e-demo" if "demo" in item.fixturenames else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))
