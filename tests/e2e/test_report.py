"""The indicator scorecard, rendered by a real headless Chromium.

The session's demo (tests/e2e/conftest.py: `eudap demo` on the bundled mirror); its release
folder holds report.html and report/ind01..12.html. Each page is loaded at 1280 px through
the DevTools protocol: no console error, nothing wider than the window, every chart drawn
with its data points, human labels instead of codes. Screenshots of every page are written
to a pytest temporary folder (printed), and copied to $EUDAP_REPORT_SCREENSHOTS when set.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from cdp import CHROMIUM, HEADLESS_FLAGS, chromium
from console import Result

from pipelines.cli import RunReport
from pipelines.settings import PROJECT_ROOT

WIDTH = 1280
PAGES = ["report.html", *[f"report/ind{n:02d}.html" for n in range(1, 13)]]
# What a page reports about itself, evaluated in Chromium after load.
CHECK = """(() => {
  // Chart texts drawn outside the chart's viewBox, or on top of another text of the chart.
  const textProblems = svg => {
    const vb = svg.viewBox.baseVal, boxes = [], problems = [];
    for (const t of svg.querySelectorAll('text')) {
      const b = t.getBBox();
      if (b.x < vb.x - 1 || b.y < vb.y - 1 || b.x + b.width > vb.x + vb.width + 1
          || b.y + b.height > vb.y + vb.height + 1) problems.push('outside: ' + t.textContent);
      for (const [o, ob] of boxes) {
        if (b.x < ob.x + ob.width - 1 && ob.x < b.x + b.width - 1
            && b.y < ob.y + ob.height - 1 && ob.y < b.y + b.height - 1)
          problems.push('overlaps: ' + t.textContent + ' / ' + o);
      }
      boxes.push([t.textContent, b]);
    }
    return problems;
  };
  const figures = [...document.querySelectorAll('figure.chart')].map(f => {
    const svg = f.querySelector('svg.chart-svg');
    return {
      caption: (f.querySelector('figcaption') || {}).textContent,
      declared: Number(f.dataset.points),
      marks: svg ? svg.querySelectorAll('g[id*="-pt-"] use, g[id*="-bar-"] path').length : 0,
      viewBox: svg ? svg.getAttribute('viewBox') : null,
      width: svg ? svg.getBoundingClientRect().width : 0,
      provenance: f.querySelectorAll('.provenance li').length,
      textProblems: svg ? textProblems(svg) : [],
    };
  });
  const sparks = [...document.querySelectorAll('.spark')].map(s => ({
    declared: Number(s.dataset.points),
    marks: s.querySelectorAll('g[id*="-pt-"] use').length,
  }));
  return {
    scrollWidth: document.documentElement.scrollWidth,
    sparks,
    figures,
    indicators: [...document.querySelectorAll('tr.indicator')].map(r => r.id),
    legend: document.querySelectorAll('#legend .cls').length,
    sampleNotice: !!document.querySelector('#sample-warning'),
    text: document.body.innerText,
  };
})()"""


@pytest.fixture(scope="module")
def demo_run(demo: tuple[dict, Result]) -> tuple[RunReport, Path]:
    """The session's demo (tests/e2e/conftest.py) and the run report it saved."""
    env, res = demo
    assert res.code == 0, res.out + res.err
    data = Path(env["EUDAP_DATA_DIR"])
    (run_line,) = [line for line in res.out.splitlines() if line.startswith("Run ")]
    run_id = run_line.split()[1].rstrip(";")
    saved = json.loads((data / "warehouse" / "runs" / f"{run_id}.json").read_text("utf-8"))
    report = RunReport(**{f.name: saved[f.name] for f in dataclasses.fields(RunReport)})
    assert report.published, report.problems
    return report, data


@pytest.fixture(scope="module")
def demo_release(demo_run: tuple[RunReport, Path]) -> Path:
    return demo_run[1] / "warehouse" / "exports" / "current" / "report.html"


def run_chromium(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    return subprocess.run(
        [CHROMIUM, *HEADLESS_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_report_renders_every_indicator_and_the_sample_warning(
    demo_release: Path, tmp_path: Path
) -> None:
    dom = run_chromium(["--dump-dom", demo_release.as_uri()], tmp_path).stdout
    assert "SAMPLE DATA" in dom, "a release built from the sample mirror must say so"
    for number in range(1, 13):
        assert f'id="ind{number:02d}"' in dom, f"indicator {number} has no section"
    assert "Sources in this release" in dom
    assert "eurostat.crim_off_cat" in dom


@pytest.fixture(scope="module")
def rendered(demo_release: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every page of the release's report as Chromium saw it at 1280 px (page -> result)."""
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    folder = demo_release.parent
    shots = tmp_path_factory.mktemp("report-screenshots")
    results = {}
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as browser:
        for page in PAGES:
            result = browser.visit((folder / page).as_uri(), CHECK, width=WIDTH)
            (shots / page.replace("/", "-").replace(".html", ".png")).write_bytes(result.screenshot)
            results[page] = result
    copy_to = os.environ.get("EUDAP_REPORT_SCREENSHOTS")
    if copy_to:
        shutil.copytree(shots, copy_to, dirs_exist_ok=True)
    print(f"\nreport screenshots: {shots}" + (f" (copied to {copy_to})" if copy_to else ""))
    return results


def test_every_page_loads_without_console_errors_and_fits_1280_px(
    rendered: dict[str, Any],
) -> None:
    assert set(rendered) == set(PAGES)
    for page, result in rendered.items():
        assert result.errors == [], f"{page}: {result.errors}"
        assert result.value["scrollWidth"] <= WIDTH, f"{page} overflows: {result.value}"
        assert result.value["sampleNotice"], f"{page} does not say it holds sample data"
        assert len(result.screenshot) > 20_000, f"{page}: chromium rendered no page"


def test_the_overview_lists_the_12_indicators_with_a_legend(rendered: dict[str, Any]) -> None:
    overview = rendered["report.html"].value
    assert overview["indicators"] == [f"ind{n:02d}" for n in range(1, 13)]
    assert overview["legend"] == 6  # every SDG class with its symbol and its name
    text = overview["text"]
    for heading in ("Key messages", "EU headline figures beside their computed counterparts"):
        assert heading in text
    assert "Member States since 2020" in text  # a generated key message
    sparks = overview["sparks"]  # the EU series' shape beside its latest value
    assert len(sparks) >= 4 and all(s["marks"] == s["declared"] > 1 for s in sparks), sparks


def test_every_chart_has_its_data_points_and_provenance(rendered: dict[str, Any]) -> None:
    charted = 0
    for page in PAGES[1:]:
        for fig in rendered[page].value["figures"]:
            assert fig["declared"] > 0, f"{page}: {fig['caption']} has no data"
            assert fig["marks"] == fig["declared"], f"{page}: {fig}"
            assert fig["viewBox"] and 0 < fig["width"] <= WIDTH, f"{page}: {fig}"
            assert fig["provenance"] >= 1, f"{page}: {fig['caption']} has no source"
            assert fig["textProblems"] == [], f"{page}: {fig['caption']}: {fig['textProblems']}"
            charted += 1
    assert charted >= 20, f"only {charted} charts in 12 indicator pages"
    assert any(
        "change per city" in f["caption"] for f in rendered["report/ind02.html"].value["figures"]
    )


def test_pages_show_human_labels_not_codes(
    rendered: dict[str, Any], demo_run: tuple[RunReport, Path]
) -> None:
    with duckdb.connect(str(demo_run[1] / "warehouse" / "warehouse.duckdb"), read_only=True) as con:
        measures = [m for (m,) in con.execute("SELECT measure FROM meta.measures").fetchall()]
    for page, result in rendered.items():
        text = result.value["text"]
        for code in ("EU_NO_TR", "EU27_2020", "ESPAD_AVG", "EU_EWS"):
            assert code not in text, f"{page} shows the code {code}"
        shown = [m for m in measures if "_" in m and m in text]
        assert shown == [], f"{page} shows measure names {shown}"


def test_the_demo_fires_no_headline_warning_and_shows_the_comparison(
    demo_run: tuple[RunReport, Path], rendered: dict[str, Any]
) -> None:
    report, data = demo_run
    assert not [w for w in report.warnings if w["check"] == "headline_consistency"], report.warnings
    with duckdb.connect(str(data / "warehouse" / "warehouse.duckdb"), read_only=True) as con:
        statuses = dict(
            con.execute(
                "SELECT status, count(*) FROM meta.headline_comparison GROUP BY 1"
            ).fetchall()
        )
    assert statuses.get("agrees", 0) >= 5 and "differs" not in statuses, statuses
    text = rendered["report/ind05.html"].value["text"]
    assert "agrees" in text and "New psychoactive substances" in text


def test_eudap_report_renders_from_the_published_warehouse_without_dagster(
    demo_run: tuple[RunReport, Path], tmp_path: Path
) -> None:
    out = tmp_path / "scorecard"
    code = (
        "import sys\nfrom pipelines.cli import main\nrc = main(['report', '--out', sys.argv[1]])\n"
        "print('dagster imported' if 'dagster' in sys.modules else 'no dagster')\nsys.exit(rc)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "EUDAP_DATA_DIR": str(demo_run[1])},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no dagster" in done.stdout
    assert f"{out / 'report.html'}" in done.stdout
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.html"))
    assert written == sorted(PAGES)
    release = (
        demo_run[1] / "warehouse" / "exports" / "current" / "report" / "ind01.html"
    ).read_text()
    assert (out / "report" / "ind01.html").read_text() == release  # the same renderer


def test_eudap_report_without_a_warehouse_says_so(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "report"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "EUDAP_DATA_DIR": str(tmp_path / "empty")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: no published warehouse at ")
