"""The probes of the check before a run (pipelines/prerun.py) that `eudap sources --check`
does not make: a curated file kept in the repository, and a file of the mirror's inbox.

Each is taken in for real first (`Fetcher.fetch_local`, `take_in_mirror`), then asked again:
unchanged, it answers `unchanged` with the snapshot it matches (over HTTP: one conditional
request answered 304); changed, `new`, and nothing is stored. The whole check, run by run,
is tests/integration/test_nothing_twice.py (folder mirror) and test_pipeline_http.py (HTTP).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import serve_directory
from pytest_httpserver import HTTPServer

from pipelines.catalogue import load_catalogue
from pipelines.fetch import Fetcher, Mirror
from pipelines.inbox import take_in_mirror
from pipelines.prerun import check_before_run, downloaded_datasets
from pipelines.settings import PROJECT_ROOT, SAMPLE_MIRROR_DIR, Paths
from pipelines.snapshots import SnapshotStore

BULLETIN_FILE = "inbox/maleDeaths.xlsx"


def test_a_curated_file_is_unchanged_until_it_is_edited(tmp_path: Path) -> None:
    cat = load_catalogue()
    curated = next(ds for ds in cat.datasets.values() if ds.local_file)
    copy = tmp_path / "curated.csv"
    shutil.copyfile(PROJECT_ROOT / str(curated.local_file), copy)
    ds = curated.model_copy(update={"local_file": str(copy)})
    store = SnapshotStore(tmp_path / "raw")
    taken = Fetcher(store).fetch_local(ds, copy)
    assert taken.status == "new", taken.reason

    (same,) = Fetcher(store).probe(ds, store)
    assert same.status == "unchanged" and same.snapshot == taken.snapshot

    copy.write_bytes(copy.read_bytes() + b"\n")
    (edited,) = Fetcher(store).probe(ds, store)
    assert edited.status == "new" and edited.snapshot is None
    assert store.snapshots(ds.id) == [taken.snapshot]  # a probe stores nothing


def test_a_mirror_inbox_file_is_asked_conditionally(httpserver: HTTPServer, tmp_path: Path) -> None:
    cat = load_catalogue()
    root = tmp_path / "mirror"
    (root / "inbox").mkdir(parents=True)
    shutil.copyfile(SAMPLE_MIRROR_DIR / BULLETIN_FILE, root / BULLETIN_FILE)
    (root / "MIRROR.json").write_text(
        json.dumps({"datasets": {"euda.bulletin": [BULLETIN_FILE]}}), encoding="utf-8"
    )
    served = serve_directory(httpserver, root)
    mirror = Mirror(httpserver.url_for("/").rstrip("/"))
    store = SnapshotStore(tmp_path / "raw")
    fetcher = Fetcher(store, mirror)
    intake = take_in_mirror(cat, fetcher)
    assert len(intake.taken) == 1 and "new snapshot" in intake.taken[0], intake
    (snap,) = store.snapshots("euda.bulletin")

    served.clear()
    hint = cat.dataset("euda.bulletin")
    same = fetcher.probe_mirror_inbox(BULLETIN_FILE, hint, store)
    assert same.status == "unchanged" and same.snapshot == snap
    assert [(r.path, r.conditional, r.status) for r in served] == [(f"/{BULLETIN_FILE}", True, 304)]

    served.clear()
    (root / BULLETIN_FILE).write_bytes((root / BULLETIN_FILE).read_bytes() + b"\0")
    changed = fetcher.probe_mirror_inbox(BULLETIN_FILE, hint, store)
    assert changed.status == "new" and changed.snapshot is None
    assert [(r.conditional, r.status) for r in served] == [(True, 200)]
    assert store.snapshots("euda.bulletin") == [snap]


def test_no_published_release_starts_the_run_without_asking(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    served = serve_directory(httpserver, SAMPLE_MIRROR_DIR)
    cat = load_catalogue()
    notes: list[str] = []
    check = check_before_run(
        cat,
        Paths(tmp_path / "data"),
        httpserver.url_for("/").rstrip("/"),
        downloaded_datasets(cat, "full"),
        "run-1",
        notes.append,
    )
    assert check.start_run and check.why == "no published release yet"
    assert served == [] and notes == []


@pytest.mark.parametrize("mode", ["full", "offline", "datasets"])
def test_the_datasets_asked_are_those_the_run_downloads(mode: str) -> None:
    cat = load_catalogue()
    ids = downloaded_datasets(cat, mode, ["eurostat.crim_off_cat"])
    curated = {ds.id for ds in cat.datasets.values() if ds.local_file}
    assert curated and curated <= set(ids)
    if mode == "full":
        assert set(ids) == {ds.id for ds in cat.datasets.values() if ds.downloads}
    else:
        assert set(ids) - curated == ({"eurostat.crim_off_cat"} if mode == "datasets" else set())
