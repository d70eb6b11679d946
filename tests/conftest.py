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
