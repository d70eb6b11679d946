"""Layout drift, per source: a renamed column in any tabular dataset is refused by name.

For every catalogue dataset with a delimited or JSON-stat format, take its file as the
sample mirror (or the repository, for curated inputs) holds it, rename one column of the
header, and stage it: the error must say "layout drift" and name the missing and the
unexpected column, and the dataset must end up quarantined, not half staged.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest
from helpers import mirror_download_keys

from pipelines.catalogue import Dataset, load_catalogue
from pipelines.fetch import Fetcher
from pipelines.geo import GeoResolver
from pipelines.settings import PROJECT_ROOT, SAMPLE_MIRROR_DIR
from pipelines.snapshots import SnapshotStore
from pipelines.stage import stage_dataset

CATALOGUE = load_catalogue()
TEXT_FORMATS = ("eurostat_tsv", "sdmx_csv", "tabular_csv", "curated_csv")
DATASETS = [d for d in CATALOGUE.datasets.values() if d.format in (*TEXT_FORMATS, "jsonstat")]


def source_file(ds: Dataset) -> Path:
    if ds.local_file:
        return PROJECT_ROOT / ds.local_file
    return SAMPLE_MIRROR_DIR / mirror_download_keys(ds, SAMPLE_MIRROR_DIR)[0]


def drift_text(text: str) -> tuple[str, str]:
    """Rename the first column of the header (after comment lines); returns (text, name)."""
    lines = text.splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if not line.startswith("#"))
    header = lines[i]
    sep = "\t" if "\t" in header else ","
    cells = header.split(sep)
    first = cells[0]
    bare = first.lstrip("\ufeff").strip('"')
    if ds_is_eurostat_key(first):
        bare = first.split(",", 1)[0]
    if "LAST UPDATE" in cells:  # SDMX-CSV: DATAFLOW and LAST UPDATE are not dimensions
        bare = cells[cells.index("LAST UPDATE") + 1]
    lines[i] = header.replace(bare, f"{bare}_renamed", 1)
    return "".join(lines), bare


def ds_is_eurostat_key(cell: str) -> bool:
    return "\\" in cell or "/" in cell


def drifted_copy(ds: Dataset, src: Path, dst: Path) -> str:
    raw = src.read_bytes()
    gz = raw[:2] == b"\x1f\x8b"
    if gz:
        raw = gzip.decompress(raw)
    if ds.format == "jsonstat":
        doc = json.loads(raw)
        victim = next(d for d in doc["id"] if d not in ("time", "TIME_PERIOD", "geo"))
        doc["id"] = [f"{d}_renamed" if d == victim else d for d in doc["id"]]
        doc["dimension"][f"{victim}_renamed"] = doc["dimension"].pop(victim)
        out = json.dumps(doc).encode()
    else:
        text, victim = drift_text(raw.decode("utf-8-sig"))
        out = text.encode("utf-8")
    dst.write_bytes(gzip.compress(out) if gz else out)
    return victim


@pytest.mark.parametrize("ds", DATASETS, ids=[d.id for d in DATASETS])
def test_renamed_column_is_layout_drift(ds: Dataset, tmp_path: Path) -> None:
    src = source_file(ds)
    if not src.exists():
        pytest.skip(f"no file for {ds.id} at {src}")
    drifted = tmp_path / src.name.replace("&", "_")
    victim = drifted_copy(ds, src, drifted)
    store = SnapshotStore(tmp_path / "raw")
    Fetcher(store).load_file(ds, drifted)
    con = duckdb.connect(str(tmp_path / "build.duckdb"))
    con.execute("CREATE SCHEMA staging")
    result = stage_dataset(
        con,
        ds,
        store.snapshots(ds.id),
        GeoResolver(CATALOGUE.geo),
        published_sha=None,
        fetch_problem=None,
    )
    assert result.state == "missing", f"{ds.id}: a drifted file must not be staged"
    reason = result.reason or ""
    assert "layout drift" in reason, reason
    assert victim.lower() in reason.lower(), f"the reason must name {victim!r}: {reason}"
    assert con.execute(f"SELECT count(*) FROM {ds.table}").fetchone()[0] == 0
