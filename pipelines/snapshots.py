"""The raw snapshot store: immutable, dated, content-addressed copies of every download.

Layout::

    data/raw/<source>/<dataset>/<YYYY-MM-DD>[-N]/<file>              the bytes as published
    data/raw/<source>/<dataset>/<YYYY-MM-DD>[-N]/<file>.meta.json    provenance sidecar
    data/raw/_rejected/<source>/<dataset>/<timestamp>/<file>[.meta.json]   refused downloads

A snapshot is written to a temporary name and renamed into place, sidecar last, so a
killed run never leaves a half snapshot: a folder without its sidecar is ignored (and
reported by `eudap status`). Identical content to the latest snapshot makes no new one.
Reading a snapshot back verifies its sha256 against the sidecar.

A data file may never be taken for a sidecar: a file name ending in `.meta.json` (or
starting with a dot) is stored as `<name>.data` (the original name is kept in the sidecar's
`extra.original_file`). Stores written before that rule stay readable: a sidecar is only a
`*.meta.json` file that holds a valid sidecar for the file its name points to, and a file
that another sidecar names as its data is data. An unreadable sidecar makes its folder
incomplete (ignored, reported by `eudap status`), never a crash.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

META_SUFFIX = ".meta.json"
REJECTED_DIR = "_rejected"


class SnapshotError(RuntimeError):
    """A snapshot that is missing, incomplete or does not match its recorded checksum."""


@dataclass(frozen=True)
class SnapshotMeta:
    """The provenance sidecar of one snapshot (`<file>.meta.json`)."""

    dataset: str
    file: str
    sha256: str
    bytes: int
    fetched_at: str  # ISO 8601, UTC
    origin: str  # "download" | "mirror" | "load"
    url: str | None
    final_url: str | None
    status: int | None
    etag: str | None
    last_modified: str | None
    content_type: str | None
    licence: str
    attribution: str
    sample: bool
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def capture(self) -> str | None:
        """ "bundled copy, capture date unknown (...)" (or "bundled copy captured <date>") for a
        real publisher file of the demo mirror (`fetch.capture_label`), else None."""
        label = self.extra.get("bundled_capture")
        return str(label) if label else None


@dataclass(frozen=True)
class Snapshot:
    path: Path
    meta: SnapshotMeta

    @property
    def folder(self) -> str:
        return self.path.parent.name

    def verified_path(self) -> Path:
        """The file, after checking its bytes still hash to the recorded sha256."""
        actual = sha256_file(self.path)
        if actual != self.meta.sha256:
            raise SnapshotError(
                f"{self.meta.dataset}: snapshot {self.path} is corrupt: sha256 {actual} "
                f"does not match the recorded {self.meta.sha256}"
            )
        return self.path


def stored_file_name(name: str) -> str:
    """The name a data file is stored under: never one a sidecar or a temp file can take."""
    if name.endswith(META_SUFFIX) or name.startswith("."):
        return f"{name}.data"
    return name


def read_folder(folder: Path) -> list[Snapshot]:
    """The snapshots of one snapshot folder; unreadable or foreign `*.meta.json` are skipped."""
    found: list[Snapshot] = []
    for meta_path in sorted(folder.glob(f"*{META_SUFFIX}")):
        try:
            payload = json.loads(meta_path.read_text(encoding="utf-8"))
            meta = SnapshotMeta(**payload) if isinstance(payload, dict) else None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError):
            meta = None
        if meta is not None and f"{meta.file}{META_SUFFIX}" == meta_path.name:
            found.append(Snapshot(folder / meta.file, meta))
    data_files = {s.meta.file for s in found}
    # A data file named `*.meta.json` (an older store) that happens to be sidecar-shaped.
    return [s for s in found if f"{s.meta.file}{META_SUFFIX}" not in data_files]


def _folder_order(folder: str) -> tuple[str, int]:
    """`2026-11-29-10` after `2026-11-29-9`: the day, then the same-day sequence number."""
    day, _, seq = folder[:10], folder[10:11], folder[11:]
    return day, int(seq) if seq.isdigit() else 1


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def utc_now() -> datetime:
    return datetime.now(UTC)


def _write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class SnapshotStore:
    """Snapshots of every dataset under one root folder (`data/raw`)."""

    def __init__(self, root: Path):
        self.root = root

    def dataset_dir(self, dataset_id: str) -> Path:
        source, name = dataset_id.split(".", 1)
        return self.root / source / name

    def snapshots(self, dataset_id: str) -> list[Snapshot]:
        """Every complete snapshot of a dataset, newest first (by fetch time)."""
        base = self.dataset_dir(dataset_id)
        found: list[Snapshot] = []
        if not base.is_dir():
            return found
        for folder in base.iterdir():
            if not folder.is_dir() or folder.name.startswith("."):
                continue
            found.extend(read_folder(folder))
        found.sort(key=lambda s: (s.meta.fetched_at, _folder_order(s.folder)), reverse=True)
        return found

    def latest(self, dataset_id: str) -> Snapshot | None:
        snaps = self.snapshots(dataset_id)
        return snaps[0] if snaps else None

    def incomplete_folders(self, dataset_id: str) -> list[Path]:
        """Folders left by a killed write, ignored by readers: a staging folder (`.incoming-*`,
        even one whose sidecar was written before the rename) or data without a readable
        sidecar."""
        base = self.dataset_dir(dataset_id)
        if not base.is_dir():
            return []
        return [
            f
            for f in base.iterdir()
            if f.is_dir() and (f.name.startswith(".") or not read_folder(f))
        ]

    def add(
        self, dataset_id: str, tmp_file: Path, meta: SnapshotMeta, dedupe_any: bool = False
    ) -> Snapshot | None:
        """Move a fully written temp file into the store.

        Returns None (and drops the temp file) when the content is identical to the latest
        snapshot, or with `dedupe_any` (collections) to any snapshot of the dataset. A
        dataset whose content returns to an older version gets a new snapshot: the latest
        snapshot is what the publisher publishes now.
        """
        if stored_file_name(meta.file) != meta.file:
            original = meta.file
            meta = replace(
                meta,
                file=stored_file_name(original),
                extra={**meta.extra, "original_file": original},
            )
        existing = self.snapshots(dataset_id)
        compare = existing if dedupe_any else existing[:1]
        if any(s.meta.sha256 == meta.sha256 for s in compare):
            tmp_file.unlink(missing_ok=True)
            return None
        base = self.dataset_dir(dataset_id)
        base.mkdir(parents=True, exist_ok=True)
        day = meta.fetched_at[:10]
        folder = base / day
        n = 1
        while folder.exists():
            n += 1
            folder = base / f"{day}-{n}"
        staging = base / f".incoming-{day}-{os.getpid()}-{meta.sha256[:12]}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        target = staging / meta.file
        shutil.move(str(tmp_file), target)
        with open(target, "rb") as fh:
            os.fsync(fh.fileno())
        _write_json_atomic(staging / f"{meta.file}{META_SUFFIX}", asdict(meta))
        os.replace(staging, folder)  # the snapshot appears whole or not at all
        return Snapshot(folder / meta.file, meta)

    def reject(self, dataset_id: str, tmp_file: Path | None, meta: dict[str, Any]) -> Path:
        """Keep a refused download for inspection, outside the snapshot history."""
        source, name = dataset_id.split(".", 1)
        stamp = utc_now().strftime("%Y-%m-%dT%H%M%S.%fZ")
        folder = self.root / REJECTED_DIR / source / name / stamp
        folder.mkdir(parents=True, exist_ok=True)
        file_name = str(meta.get("file") or "body")
        if tmp_file is not None and tmp_file.exists():
            shutil.move(str(tmp_file), folder / file_name)
        _write_json_atomic(folder / f"{file_name}{META_SUFFIX}", meta)
        return folder / file_name
