"""The HTML indicator report, rendered by a real headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from dagster import DagsterInstance

from pipelines.cli import execute
from pipelines.settings import SAMPLE_MIRROR_DIR

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def demo_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (SAMPLE_MIRROR_DIR / "MIRROR.json").exists():
        pytest.skip("the sample mirror data/sample is missing")
    data = tmp_path_factory.mktemp("report-data")
    report = execute(
        "demo", mirror=str(SAMPLE_MIRROR_DIR), data_dir=data, instance=DagsterInstance.ephemeral()
    )
    assert report.published, report.problems
    return data / "warehouse" / "exports" / "current" / "report.html"


def chromium(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_report_renders_every_indicator_and_the_sample_warning(
    demo_release: Path, tmp_path: Path
) -> None:
    dom = chromium(["--dump-dom", demo_release.as_uri()], tmp_path).stdout
    assert "SAMPLE DATA" in dom, "a release built from the sample mirror must say so"
    for number in range(1, 13):
        assert f'id="ind{number:02d}"' in dom, f"indicator {number} has no section"
    assert "Sources in this release" in dom
    assert "eurostat.crim_off_cat" in dom


def test_report_screenshot_is_a_real_page(demo_release: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    chromium([f"--screenshot={shot}", "--window-size=1300,1600", demo_release.as_uri()], tmp_path)
    assert shot.exists() and shot.stat().st_size > 20_000, "chromium rendered no page"
