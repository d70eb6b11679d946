"""The layers point one way: only the wiring modules know Dagster, and the wiring only wires.

Read from the source with `ast` (every import, at module level or inside a function).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from pipelines.settings import PROJECT_ROOT

PIPELINES = PROJECT_ROOT / "pipelines"
# The Dagster wiring; cli.py runs the job (its imports are inside functions).
DAGSTER_MODULES = {
    "assets.py",
    "resources.py",
    "schedules.py",
    "sensors.py",
    "notify.py",
    "freshness.py",
    "definitions.py",
    "executor.py",
    "runevents.py",
    "cli.py",
}


@functools.cache  # the tests below parse every module of pipelines/, some twice
def imported_modules(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return frozenset(names)


def test_only_the_wiring_imports_dagster() -> None:
    offenders = sorted(
        str(path.relative_to(PROJECT_ROOT))
        for path in PIPELINES.rglob("*.py")
        if path.name not in DAGSTER_MODULES or path.parent != PIPELINES
        if any(m == "dagster" or m.startswith("dagster.") for m in imported_modules(path))
    )
    assert offenders == []


def test_no_engine_module_imports_the_wiring() -> None:
    wiring = {f"pipelines.{name.removesuffix('.py')}" for name in DAGSTER_MODULES}
    offenders = sorted(
        f"{path.relative_to(PROJECT_ROOT)} imports {sorted(imported_modules(path) & wiring)}"
        for path in PIPELINES.rglob("*.py")
        if path.name not in DAGSTER_MODULES or path.parent != PIPELINES
        if imported_modules(path) & wiring
    )
    assert offenders == []


def test_tests_do_not_import_the_asset_factories() -> None:
    """Logic lives in Dagster-free modules; a test that needs it imports it from there."""
    offenders = sorted(
        str(path.relative_to(PROJECT_ROOT))
        for path in (PROJECT_ROOT / "tests").rglob("*.py")
        if "pipelines.assets" in imported_modules(path)
    )
    assert offenders == []
