"""One writer at a time: the run lock, and the leftovers of runs that no longer live.

Every run (`eudap run`, `eudap demo`, a Dagster-launched run) and every `eudap load` holds an
exclusive `flock` on `data/warehouse/run.lock` for its whole duration. The kernel releases
the lock when the process ends, however it ends (a SIGKILL included), so a crash never
leaves a lock behind; the file's content names the holder (PID, host, run id, command,
start time) so that a refused second run can say which run is going. Content found in a
lock that nobody holds is the record of a run that died without releasing it (a stale
lock): it is reported and overwritten.

A run holding the lock is the only writer of the snapshot store and the warehouse folder,
so at its start everything a dead run left behind is removed: build files (and their WAL)
of other runs, and the temporary names a writer uses before its atomic rename, which all
carry the writer's PID (`.download-<pid>-*`, `.incoming-<day>-<pid>-<sha>`, `*.tmp-<pid>`).
A temporary name whose PID is a live process is kept.

`flock` is local to one machine: the data folder must not be shared by runs on two hosts.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from pipelines.settings import Paths

POLL_SECONDS = 0.5
_held: dict[Path, int] = {}  # lock files this process holds -> nesting depth


@dataclass(frozen=True)
class LockHolder:
    """What a lock file records about the process holding it."""

    pid: int
    host: str
    run_id: str
    command: str
    started_at: str

    def describe(self) -> str:
        return (
            f"run {self.run_id} (`eudap {self.command}`, PID {self.pid} on {self.host}, "
            f"since {self.started_at})"
        )


class RunLockBusy(RuntimeError):
    """Another run holds the lock (and waiting was not asked for, or timed out)."""

    def __init__(self, lock_path: Path, holder: LockHolder | None, waited: float):
        who = holder.describe() if holder else "a process that has not recorded itself yet"
        waited_text = f" after waiting {waited:.0f} s" if waited else ""
        super().__init__(
            f"another run is going{waited_text}: {who}; lock {lock_path}. "
            "Wait for it to end, or run again with --wait"
        )
        self.holder = holder


def read_holder(lock_path: Path) -> LockHolder | None:
    """The holder recorded in a lock file (also the record a dead holder left behind)."""
    try:
        text = lock_path.read_text(encoding="utf-8")
        return LockHolder(**json.loads(text)) if text.strip() else None
    except (OSError, ValueError, TypeError):
        return None


def live_holder(paths: Paths) -> LockHolder | None:
    """The run holding the lock now, without touching the lock (None: nobody holds it).

    Read from the holder record, not by trying the lock: a probe that took the lock for an
    instant could make a run starting at that instant exit as busy. A record whose process
    no longer lives on this host is a dead holder's (the kernel released its lock).
    """
    holder = read_holder(paths.run_lock)
    if holder is None or holder.host != socket.gethostname() or not pid_alive(holder.pid):
        return None
    return holder


def _try_flock(fh: IO[str]) -> bool:
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _acquire(fh: IO[str], lock_path: Path, wait_seconds: float) -> None:
    start = time.monotonic()
    while not _try_flock(fh):
        waited = time.monotonic() - start
        if waited >= wait_seconds:
            raise RunLockBusy(lock_path, read_holder(lock_path), waited if wait_seconds else 0)
        time.sleep(POLL_SECONDS)


@dataclass
class Acquired:
    """The outcome of taking the lock: who we are, and the record of a dead holder if any."""

    holder: LockHolder
    stale: LockHolder | None


@contextlib.contextmanager
def run_lock(
    paths: Paths, run_id: str, command: str, wait_seconds: float = 0.0
) -> Iterator[Acquired | None]:
    """Hold the run lock for the block. Raises RunLockBusy if another process holds it
    after `wait_seconds` (math.inf: wait as long as it takes). Re-entrant within one
    process (then yields None): the CLI takes it before the Dagster run it starts, whose
    resource takes it again."""
    lock_path = paths.run_lock
    if _held.get(lock_path):
        _held[lock_path] += 1
        try:
            yield None
        finally:
            _held[lock_path] -= 1
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    # "a+": opening must not truncate the record of the process that holds the lock.
    with open(lock_path, "a+", encoding="utf-8") as fh:
        _acquire(fh, lock_path, wait_seconds)
        try:
            stale = read_holder(lock_path)
            me = LockHolder(
                pid=os.getpid(),
                host=socket.gethostname(),
                run_id=run_id,
                command=command,
                started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            )
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps(asdict(me)))
            fh.flush()
            os.fsync(fh.fileno())
            _held[lock_path] = 1
            yield Acquired(me, stale)
        finally:
            _held.pop(lock_path, None)
            fh.seek(0)
            fh.truncate()  # a clean end leaves no record: content means a dead holder
            fh.flush()
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def held_by_run(paths: Paths, run_id: str) -> bool:
    """Whether another live process of run `run_id` holds the lock: the process that runs
    the steps of a multiprocess run (pipelines/executor.py) holds it for the whole run, and
    each step's process goes on under it."""
    holder = live_holder(paths)
    return holder is not None and holder.run_id == run_id and holder.pid != os.getpid()


@contextlib.contextmanager
def hold_for_run(
    paths: Paths, run_id: str, command: str, wait_seconds: float, warn: Callable[[str], None]
) -> Iterator[None]:
    """Hold the run lock for a run (re-entrant: the CLI already holds it) and, at its
    start, remove what dead runs left behind; `warn` says what was removed."""
    with run_lock(paths, run_id, command, wait_seconds) as acquired:
        clean_up_after_dead_runs(paths, run_id, warn)
        if acquired and acquired.stale:
            warn(f"the lock's last holder died: {acquired.stale.describe()}")
        yield


def clean_up_after_dead_runs(paths: Paths, run_id: str, warn: Callable[[str], None]) -> None:
    """Remove what dead runs left behind (`find_leftovers`), saying what through `warn`.
    The caller holds the run lock: a run at its start, or the CLI's check before a run."""
    leftovers = find_leftovers(paths, current_build=run_id)
    if leftovers:
        warn(
            f"removing {len(leftovers)} leftovers of runs that are over "
            f"({sum(item.bytes for item in leftovers):,} bytes): "
            + ", ".join(f"{item.path} ({item.why})" for item in leftovers)
        )
        remove_leftovers(leftovers)


# -- leftovers ----------------------------------------------------------------------------------
_PID_NAMES = (
    re.compile(r"^\.download-(\d+)-"),  # fetch: a download being written
    re.compile(r"^\.incoming-\d{4}-\d{2}-\d{2}-(\d+)-[0-9a-f]+$"),  # snapshots: before rename
    re.compile(r"\.tmp-(\d+)$"),  # sidecars, warehouse.previous link, exports/current link
)
_UNOWNED_DOWNLOAD = re.compile(r"^\.download-[^0-9]")  # older random names: no PID recorded


@dataclass(frozen=True)
class Leftover:
    path: Path
    bytes: int
    why: str


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # a live process of another user
    return True


def _size(path: Path) -> int:
    if path.is_dir() and not path.is_symlink():
        return sum(p.lstat().st_size for p in path.rglob("*") if not p.is_dir())
    return path.lstat().st_size


def _temp_owner(name: str) -> int | None:
    for pattern in _PID_NAMES:
        if m := pattern.search(name):
            return int(m.group(1))
    return None


def find_leftovers(paths: Paths, current_build: str) -> list[Leftover]:
    """What dead runs left behind: other runs' build files and temporary names of dead PIDs.
    Only meaningful while holding the run lock (no other run is alive then)."""
    found: list[Leftover] = []
    keep_build = paths.build_warehouse(current_build).name
    keep_parts = paths.build_parts(current_build).name
    if paths.warehouse_dir.is_dir():
        for build in paths.warehouse_dir.glob("build-*.duckdb*"):
            if not build.name.startswith(keep_build):
                found.append(Leftover(build, _size(build), "build file of a run that is over"))
        for parts in paths.warehouse_dir.glob("build-*.parts"):
            if parts.name != keep_parts:
                found.append(Leftover(parts, _size(parts), "build folder of a run that is over"))
    for root in (paths.raw_dir, paths.warehouse_dir):
        if not root.is_dir():
            continue
        for folder, dirs, files in os.walk(root):
            for name in [*dirs, *files]:
                path = Path(folder) / name
                pid = _temp_owner(name)
                if pid is not None and not pid_alive(pid):
                    found.append(Leftover(path, _size(path), f"temporary of dead PID {pid}"))
                elif pid is None and _UNOWNED_DOWNLOAD.match(name):
                    found.append(Leftover(path, _size(path), "download temporary, no owner"))
            dirs[:] = [d for d in dirs if _temp_owner(d) is None]  # never descend into one
    return found


def remove_leftovers(leftovers: list[Leftover]) -> None:
    for item in leftovers:
        if item.path.is_dir() and not item.path.is_symlink():
            shutil.rmtree(item.path, ignore_errors=True)
        else:
            item.path.unlink(missing_ok=True)
