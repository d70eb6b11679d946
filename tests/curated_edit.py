"""One selection: an edited curated file is published by the UI's offline job and by
`eudap run --offline` alike.

The curated CSVs live in the repository; every run registers them as snapshots (no network).
`edited_catalogue` copies the catalogue and points it at a copy of
`assets/curated/eu_headlines.csv` with one EU figure set to EDITED. Two offline builds on it
must publish that figure: the Dagster job definition `build_offline` (what the UI launches;
tests/integration/test_publish_alone.py, its first run) and the CLI path `execute("offline")`
(tests/integration/test_bad_snapshots_twice.py, its first build). Those builds are there
anyway, so the check costs no build of its own.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import yaml

from pipelines.catalogue import Catalogue
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


def edited_catalogue(root: Path) -> tuple[Catalogue, Path]:
    """A copy of the catalogue under `root` whose EU headlines file is `root/eu_headlines.csv`,
    the repository's with one figure edited: (the catalogue, that file)."""
    shutil.copytree(ASSETS_DIR, root / "assets")
    meta_path = root / "assets" / "datasets" / "curated.eu_headlines.yaml"
    entry = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
    edited = root / "eu_headlines.csv"
    edited.write_text(edited_headlines(PROJECT_ROOT / entry["local_file"]), encoding="utf-8")
    entry["local_file"] = str(edited)  # absolute: taken as is beside the project root
    meta_path.write_text(yaml.safe_dump(entry, sort_keys=False), encoding="utf-8")
    return Catalogue(root / "assets"), edited


def published_values(paths: Paths) -> list[float]:
    """The published EU values of MEASURE (indicator 9), by period."""
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
