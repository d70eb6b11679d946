"""One selection: an edited curated file is published by the UI's offline job and by
`eudap run --offline` alike.

The curated CSVs live in the repository; every run registers them as snapshots (no network).
The test edits a copy of `assets/curated/eu_headlines.csv`, points a copy of the catalogue
at it, and runs the offline build from an empty store through the CLI path (`execute`): it
must publish the edited figure. The same build through the Dagster job definition
`build_offline` (what the UI launches) is the first run of
tests/integration/test_publish_alone.py, which asserts the same (one build fewer).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
import yaml
from dagster import DagsterInstance

from pipelines import catalogue as catalogue_module
from pipelines.catalogue import Catalogue
from pipelines.cli import execute
from pipelines.settings import ASSETS_DIR, PROJECT_ROOT, Paths

MEASURE = "drug_induced_deaths_eu_headline"
EDITED = 4321.0


def edited_headlines(original: Path) -> str:
    """The EU headlines file with its first EU figure of MEASURE set to EDITED."""
    lines = original.read_text(encoding="utf-8").splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if line.startswith(f"9,{MEASURE},EU27_2020,"))
    cells = lines[first].split(",")
    assert float(cells[4]) != EDITED
    cells[4] = f"{EDITED:g}"
    lines[first] = ",".join(cells)
    return "".join(lines)


@pytest.fixture(scope="module")
def edited_catalogue(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    root = tmp_path_factory.mktemp("catalogue")
    shutil.copytree(ASSETS_DIR, root / "assets")
    meta_path = root / "assets" / "datasets" / "curated.eu_headlines.yaml"
    entry = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
    original = PROJECT_ROOT / entry["local_file"]
    edited = root / "eu_headlines.csv"
    edited.write_text(edited_headlines(original), encoding="utf-8")
    entry["local_file"] = str(edited)  # absolute: taken as is beside the project root
    meta_path.write_text(yaml.safe_dump(entry, sort_keys=False), encoding="utf-8")
    return Catalogue(root / "assets")


def published_values(paths: Paths) -> list[float]:
    con = duckdb.connect(str(paths.published_warehouse), read_only=True)
    try:
        rows = con.execute(
            "SELECT value FROM indicators.ind09_morbidity_mortality "
            "WHERE measure = ? AND geo = 'EU27_2020' ORDER BY period",
            [MEASURE],
        ).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def test_run_offline_publishes_an_edited_curated_file(
    edited_catalogue: Catalogue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalogue_module, "load_catalogue", lambda *_: edited_catalogue)
    paths = Paths(tmp_path / "data")
    instance = DagsterInstance.ephemeral()
    try:
        report = execute("offline", offline=True, data_dir=paths.data_dir, instance=instance)
    finally:
        instance.dispose()
    assert report.published, report.problems
    assert EDITED in published_values(paths)
