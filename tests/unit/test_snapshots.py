"""Unit tests for pipelines.snapshots: the dated, content-addressed raw snapshot store."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest

from pipelines.snapshots import (
    META_SUFFIX,
    REJECTED_DIR,
    Snapshot,
    SnapshotError,
    SnapshotMeta,
    SnapshotStore,
)

DATASET = "eurostat.crim_off_cat"


@pytest.fixture
def store(tmp_path: Path) -> SnapshotStore:
    return SnapshotStore(tmp_path / "raw")


def meta_for(data: bytes, fetched_at: str = "2024-05-01T10:00:00Z", **kw: Any) -> SnapshotMeta:
    fields: dict[str, Any] = {
        "dataset": DATASET,
        "file": "crim_off_cat.tsv.gz",
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "fetched_at": fetched_at,
        "origin": "download",
        "url": "https://ec.europa.eu/eurostat/x",
        "final_url": "https://ec.europa.eu/eurostat/x",
        "status": 200,
        "etag": '"abc"',
        "last_modified": None,
        "content_type": "application/octet-stream",
        "licence": "CC BY 4.0",
        "attribution": "Source: Eurostat",
        "sample": False,
        **kw,
    }
    return SnapshotMeta(**fields)


def temp_file(store: SnapshotStore, data: bytes, name: str = ".download-test") -> Path:
    """A fully written download waiting in the dataset folder, as the fetcher leaves it."""
    folder = store.dataset_dir(DATASET)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def add(store: SnapshotStore, data: bytes, fetched_at: str = "2024-05-01T10:00:00Z"):
    return store.add(DATASET, temp_file(store, data), meta_for(data, fetched_at))


def test_dataset_dir_is_source_then_name(store: SnapshotStore):
    assert store.dataset_dir(DATASET) == store.root / "eurostat" / "crim_off_cat"


def test_empty_store(store: SnapshotStore):
    assert store.snapshots(DATASET) == []
    assert store.latest(DATASET) is None
    assert store.incomplete_folders(DATASET) == []


def test_add_moves_the_file_into_a_dated_folder_with_its_sidecar(store: SnapshotStore):
    data = b"payload v1"
    tmp = temp_file(store, data)
    meta = meta_for(data, extra={"note": "first"})

    snap = store.add(DATASET, tmp, meta)

    assert snap is not None
    folder = store.dataset_dir(DATASET) / "2024-05-01"
    assert snap.path == folder / "crim_off_cat.tsv.gz" and snap.folder == "2024-05-01"
    assert snap.path.read_bytes() == data
    assert not tmp.exists()  # moved, not copied
    sidecar = folder / f"crim_off_cat.tsv.gz{META_SUFFIX}"
    assert json.loads(sidecar.read_text()) == asdict(meta)
    assert sorted(p.name for p in folder.iterdir()) == [
        sidecar.name.removesuffix(META_SUFFIX),
        sidecar.name,
    ]
    # no staging folder left behind
    assert [p.name for p in store.dataset_dir(DATASET).iterdir()] == ["2024-05-01"]
    assert store.snapshots(DATASET) == [snap]
    assert store.latest(DATASET) == snap


def test_identical_to_the_latest_makes_no_snapshot(store: SnapshotStore):
    first = add(store, b"same")
    tmp = temp_file(store, b"same")

    again = store.add(DATASET, tmp, meta_for(b"same", "2024-05-02T10:00:00Z"))

    assert first is not None and again is None
    assert not tmp.exists()  # the duplicate temp file is dropped
    assert store.snapshots(DATASET) == [first]


def test_content_returning_to_an_older_version_is_a_new_snapshot(store: SnapshotStore):
    """Only the latest snapshot counts: A, B, A is three snapshots (A is current again)."""
    a1 = add(store, b"A", "2024-05-01T10:00:00Z")
    b = add(store, b"B", "2024-05-02T10:00:00Z")
    a2 = add(store, b"A", "2024-05-03T10:00:00Z")
    assert None not in (a1, b, a2)
    assert store.snapshots(DATASET) == [a2, b, a1]


def test_same_day_snapshots_are_numbered(store: SnapshotStore):
    snaps = [add(store, f"v{n}".encode(), "2024-05-01T10:00:00Z") for n in range(3)]
    nextday = add(store, b"v3", "2024-05-02T08:00:00Z")
    assert [s.folder for s in snaps if s] == ["2024-05-01", "2024-05-01-2", "2024-05-01-3"]
    assert nextday is not None and nextday.folder == "2024-05-02"
    # newest first: by fetch time, then (same second) by folder
    assert store.snapshots(DATASET) == [nextday, snaps[2], snaps[1], snaps[0]]


def test_snapshots_are_ordered_by_fetch_time_not_by_folder(store: SnapshotStore):
    late = add(store, b"late", "2024-05-03T10:00:00Z")
    noon = add(store, b"noon", "2024-05-01T12:00:00Z")
    # recorded afterwards but fetched earlier (e.g. restored from a backup): its folder
    # is 2024-05-01-2, yet it is older than the 2024-05-01 snapshot
    morning = add(store, b"morning", "2024-05-01T09:00:00Z")
    assert late and noon and morning
    assert (noon.folder, morning.folder) == ("2024-05-01", "2024-05-01-2")
    assert store.snapshots(DATASET) == [late, noon, morning]
    assert store.latest(DATASET) == late


def test_incomplete_folders_are_ignored_and_reported(store: SnapshotStore):
    complete = add(store, b"good")
    assert complete is not None
    base = store.dataset_dir(DATASET)
    staging = base / ".incoming-2024-05-02-4242-0123456789ab"  # killed while moving data
    staging.mkdir()
    (staging / "crim_off_cat.tsv.gz").write_bytes(b"half")
    # killed after writing the sidecar, before the rename: complete-looking, still staging
    staged = base / ".incoming-2024-05-02-4242-ba9876543210"
    shutil.copytree(complete.path.parent, staged)
    no_sidecar = base / "2024-05-03"  # data moved in, sidecar never written
    no_sidecar.mkdir()
    (no_sidecar / "crim_off_cat.tsv.gz").write_bytes(b"unverified")

    assert store.snapshots(DATASET) == [complete]
    assert store.latest(DATASET) == complete
    assert sorted(store.incomplete_folders(DATASET)) == sorted([staging, staged, no_sidecar])


def test_a_failed_add_leaves_only_an_ignored_staging_folder(store: SnapshotStore):
    """The sidecar is written last: if writing it fails, no snapshot appears."""
    first = add(store, b"v1")
    data = b"v2"
    bad_meta = meta_for(data, extra={"not json": object()})  # json.dumps will fail

    with pytest.raises(TypeError):
        store.add(DATASET, temp_file(store, data), bad_meta)

    assert store.snapshots(DATASET) == [first]
    leftovers = store.incomplete_folders(DATASET)
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".incoming-")
    # and the next good add of the same content still succeeds
    retry = store.add(DATASET, temp_file(store, data), meta_for(data))
    assert retry is not None and retry.folder == "2024-05-01-2"
    assert store.latest(DATASET) == retry


def test_add_never_reuses_a_folder_left_without_sidecar(store: SnapshotStore):
    orphan = store.dataset_dir(DATASET) / "2024-05-01"
    orphan.mkdir(parents=True)
    (orphan / "crim_off_cat.tsv.gz").write_bytes(b"orphan")

    snap = add(store, b"fresh")

    assert snap is not None and snap.folder == "2024-05-01-2"
    assert (orphan / "crim_off_cat.tsv.gz").read_bytes() == b"orphan"


def test_verified_path_detects_an_altered_file(store: SnapshotStore):
    snap = add(store, b"original")
    assert snap is not None
    assert snap.verified_path() == snap.path

    snap.path.write_bytes(b"edited by hand")

    with pytest.raises(SnapshotError) as exc:
        store.latest(DATASET).verified_path()  # type: ignore[union-attr]
    message = str(exc.value)
    assert message.startswith(f"{DATASET}: ")
    assert str(snap.path) in message and "corrupt" in message
    assert snap.meta.sha256 in message
    assert hashlib.sha256(b"edited by hand").hexdigest() in message


def test_verified_path_of_a_sidecar_that_lies(store: SnapshotStore):
    snap = add(store, b"content")
    assert snap is not None
    wrong = replace(snap.meta, sha256="0" * 64)
    with pytest.raises(SnapshotError, match=DATASET):
        Snapshot(snap.path, wrong).verified_path()


def test_reject_keeps_the_file_and_its_reason(store: SnapshotStore):
    body = b"<html>maintenance</html>"
    tmp = temp_file(store, body)
    meta = {**asdict(meta_for(body)), "reason": "body is an HTML page, not data"}

    kept = store.reject(DATASET, tmp, meta)

    assert kept.read_bytes() == body and not tmp.exists()
    assert kept.name == "crim_off_cat.tsv.gz"
    assert kept.parent.parent == store.root / REJECTED_DIR / "eurostat" / "crim_off_cat"
    sidecar = json.loads(kept.with_name(f"{kept.name}{META_SUFFIX}").read_text())
    assert sidecar["reason"] == "body is an HTML page, not data"
    assert sidecar["sha256"] == hashlib.sha256(body).hexdigest()
    # a rejected download is not part of the history
    assert store.snapshots(DATASET) == []
    assert store.incomplete_folders(DATASET) == []


def test_reject_without_a_file_keeps_the_reason(store: SnapshotStore):
    kept = store.reject(DATASET, None, {"reason": "connection reset"})
    assert kept.name == "body" and not kept.exists()
    sidecar = json.loads(kept.with_name(f"body{META_SUFFIX}").read_text())
    assert sidecar == {"reason": "connection reset"}
