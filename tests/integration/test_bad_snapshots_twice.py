"""Bad snapshots in the store never block later runs (issue #7, items 1 and 2).

A store that already holds bad snapshots (written before admission checked content, as an
older version of eudap did): a truncated `.tsv.gz`, an XLSX kept as a CSV dataset, random
bytes, a data file named `*.meta.json` (old layout); and a valid file whose observations
dropped from 1,346 to 612. Two consecutive offline builds (the second a rebuild: nothing
changed) each publish, from the last good snapshots: each bad dataset is `stale` with a
reason naming the file and the rule, and the published values are those of the first
release. `eudap status` works on that store.

The catalogue is a copy whose EU headlines file has one figure edited: the first build
(`execute("offline")`, the CLI path) publishes it (one half of tests/curated_edit.py's check,
on a build this test makes anyway).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import duckdb
import pytest
from curated_edit import EDITED, edited_catalogue, published_values
from dagster import DagsterInstance

from pipelines import catalogue as catalogue_module
from pipelines.catalogue import Catalogue
from pipelines.cli import execute
from pipelines.fetch import Fetcher
from pipelines.settings import PROJECT_ROOT, Paths
from pipelines.snapshots import META_SUFFIX, SnapshotMeta, SnapshotStore, utc_now
from pipelines.status import print_status

SAMPLE = PROJECT_ROOT / "data" / "sample"
CRIM, ARO, WASTEWATER, BULLETIN = (
    "eurostat.crim_off_cat",
    "eurostat.hlth_cd_aro",
    "euda.wastewater",
    "euda.bulletin",
)
VALUE_SQL = (
    "SELECT count(*), sum(value) FROM indicators.ind01_organised_crime "
    "WHERE source_dataset = 'eurostat.crim_off_cat'"
)


def sample_file(pattern: str) -> Path:
    return next(p for p in sorted(SAMPLE.rglob(pattern)) if p.is_file())


def plain(body: bytes) -> bytes:
    return gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body


def crim_with_rows(n: int) -> bytes:
    lines = plain(sample_file("crim_off_cat/**/*").read_bytes()).decode().splitlines()
    out, kept = [lines[0]], 0
    for line in lines[1:]:
        cells = line.split("\t")
        for i in range(1, len(cells)):
            if cells[i].strip() != ":":
                if kept >= n:
                    cells[i] = ": "
                else:
                    kept += 1
        out.append("\t".join(cells))
    return gzip.compress(("\n".join(out) + "\n").encode())


def put_in_store(store: SnapshotStore, cat: Catalogue, ds_id: str, body: bytes, tmp: Path):
    """A snapshot stored without admission checks (what an older store may hold)."""
    ds = cat.dataset(ds_id)
    path = tmp / f"raw-{hashlib.sha256(body).hexdigest()[:8]}"
    path.write_bytes(body)
    meta = SnapshotMeta(
        dataset=ds.id,
        file=ds.file_name,
        sha256=hashlib.sha256(body).hexdigest(),
        bytes=len(body),
        fetched_at=utc_now().isoformat(timespec="microseconds").replace("+00:00", "Z"),
        origin="load",
        url=None,
        final_url=None,
        status=None,
        etag=None,
        last_modified=None,
        content_type=None,
        licence=ds.licence,
        attribution=ds.attribution,
        sample=False,
    )
    snap = store.add(ds.id, path, meta)
    assert snap is not None
    return snap


def old_layout_sidecar_clash(store: SnapshotStore, cat: Catalogue, body: bytes) -> Path:
    """A Bulletin member stored by the old code under the name `table.meta.json`."""
    ds = cat.dataset(BULLETIN)
    folder = store.dataset_dir(BULLETIN) / "2026-01-01"
    folder.mkdir(parents=True)
    data = folder / "table.meta.json"
    data.write_bytes(body)
    meta = {
        "dataset": BULLETIN,
        "file": data.name,
        "sha256": hashlib.sha256(body).hexdigest(),
        "bytes": len(body),
        "fetched_at": "2026-01-01T00:00:00Z",
        "origin": "load",
        "url": None,
        "final_url": None,
        "status": None,
        "etag": None,
        "last_modified": None,
        "content_type": None,
        "licence": ds.licence,
        "attribution": ds.attribution,
        "sample": False,
        "extra": {},
    }
    (folder / f"{data.name}{META_SUFFIX}").write_text(json.dumps(meta), encoding="utf-8")
    return data


def build(data_dir: Path, *, rebuild: bool = False):
    instance = DagsterInstance.ephemeral()
    try:
        return execute(
            "offline", offline=True, data_dir=data_dir, instance=instance, rebuild=rebuild
        )
    finally:
        instance.dispose()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if not (SAMPLE / "MIRROR.json").exists():
        pytest.skip("the sample mirror is missing")
    cat, _ = edited_catalogue(tmp_path / "catalogue")
    monkeypatch.setattr(catalogue_module, "load_catalogue", lambda *_: cat)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    monkeypatch.delenv("EUDAP_MIRROR", raising=False)
    monkeypatch.setenv("EUDAP_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_bad_snapshots_are_quarantined_on_two_consecutive_offline_builds(
    env: Path, tmp_path: Path
) -> None:
    cat = catalogue_module.load_catalogue()  # the edited copy (`env`)
    paths = Paths(env)
    store = SnapshotStore(paths.raw_dir)
    fetcher = Fetcher(store)
    for ds_id, pattern in (
        (ARO, "hlth_cd_aro/**/*"),
        (WASTEWATER, "ww*-all-data*.csv"),
        (BULLETIN, "maleDeaths.xlsx"),
    ):
        assert fetcher.load_file(cat.dataset(ds_id), sample_file(pattern)).status == "new"
    good_crim = tmp_path / "crim.tsv.gz"
    good_crim.write_bytes(crim_with_rows(1346))
    assert fetcher.load_file(cat.dataset(CRIM), good_crim).status == "new"

    first = build(env)
    assert first.published, first.problems
    assert EDITED in published_values(paths)  # `run --offline` publishes an edited curated file
    with duckdb.connect(str(paths.published_warehouse), read_only=True) as con:
        published_crim = con.execute(VALUE_SQL).fetchone()
    assert published_crim[0] > 0

    short = tmp_path / "crim-short.tsv.gz"
    short.write_bytes(crim_with_rows(612))
    assert fetcher.load_file(cat.dataset(CRIM), short).status == "new"  # valid, but a drop
    truncated = put_in_store(
        store,
        cat,
        ARO,
        gzip.compress(plain(sample_file("hlth_cd_aro/**/*").read_bytes()))[:-30],
        tmp_path,
    )
    xlsx = put_in_store(
        store, cat, WASTEWATER, sample_file("maleDeaths.xlsx").read_bytes(), tmp_path
    )
    clash = old_layout_sidecar_clash(store, cat, sample_file("cannabisTreatment.xlsx").read_bytes())

    expected = {
        CRIM: ["observations dropped by 54.5%", "612 rows against 1,346"],
        ARO: ["truncated file", str(truncated.path)],
        WASTEWATER: ["undecodable bytes", str(xlsx.path)],
    }
    for run in ("second", "third"):
        # the third has nothing new to build from (pipelines/nochange.py): a rebuild
        report = build(env, rebuild=run == "third")
        assert report.published, f"{run}: {report.problems}"
        for ds_id, words in expected.items():
            info = report.datasets[ds_id]
            assert info["state"] == "stale", f"{run}: {ds_id}: {info}"
            for word in words:
                assert word in info["reason"], f"{run}: {ds_id}: {info['reason']}"
        assert report.datasets[BULLETIN]["state"] in ("fresh", "unchanged"), report.datasets[
            BULLETIN
        ]
        with duckdb.connect(str(paths.published_warehouse), read_only=True) as con:
            assert con.execute(VALUE_SQL).fetchone() == published_crim
            members = con.execute(
                "SELECT member_snapshots FROM meta.release_datasets rd JOIN meta.releases r "
                "USING (release_id) WHERE dataset = ? ORDER BY r.published_at DESC LIMIT 1",
                [BULLETIN],
            ).fetchone()[0]
        assert hashlib.sha256(clash.read_bytes()).hexdigest() in members

    out = io.StringIO()
    with redirect_stdout(out):
        print_status(paths)
    assert CRIM in out.getvalue() and "Traceback" not in out.getvalue()
