"""Dagster resources: where the stores are, the mirror, and DuckDB connections to a build.

The run never writes the published warehouse: every asset of a run writes the run's own
build file `data/warehouse/build-<run>.duckdb` (keyed by the root run, so a re-execution
from failure continues the same build), and only the publish step swaps it into place.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
from dagster import ConfigurableResource, DagsterRun, InitResourceContext
from pydantic import Field

from pipelines.runlock import held_by_run, hold_for_run
from pipelines.settings import Paths, data_dir_from_env
from pipelines.snapshots import SnapshotStore
from pipelines.warehouse import open_build

if TYPE_CHECKING:  # imported when used: loading the code location needs no HTTP stack
    from pipelines.fetch import Fetcher

# A Dagster-launched run (the schedule, the UI) waits this long for a CLI run to end.
RUN_LOCK_WAIT_SECONDS = 3 * 3600.0


def run_downloads(run: DagsterRun | None) -> bool:
    """Whether a run downloads anything: its asset selection holds a raw asset (a job
    launched whole, by a schedule or a sensor: any job but build_offline)."""
    if run is None:
        return False
    if run.asset_selection:  # execute_in_process of a whole job records an empty one
        return any(key.path[0] == "raw" for key in run.asset_selection)
    return run.job_name != "build_offline"


class EudapResource(ConfigurableResource):  # type: ignore[misc]
    """Configuration of one run. Defaults come from the environment (EUDAP_DATA_DIR,
    EUDAP_MIRROR); the CLI sets them per run."""

    data_dir: str = ""
    mirror: str = ""
    duckdb_threads: int = 2
    duckdb_memory_limit: str = "4GB"
    run_lock_wait_seconds: float = RUN_LOCK_WAIT_SECONDS
    rebuild: bool = Field(
        default=False,
        description="Build and publish even when nothing changed since the published release "
        "(by default such a run builds nothing: pipelines/nochange.py); tables whose inputs "
        "did not change are still copied from it.",
    )

    @contextlib.contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[Any]:
        """A whole Dagster run holds the run lock (see pipelines/runlock.py); at its start
        it removes what dead runs left behind (the inbox is taken in by the first asset,
        meta/intake). The CLI already holds the lock: re-entrant. The step processes of a
        multiprocess run go on under the lock their run holds (pipelines/executor.py). A
        sensor's evaluation (no run) takes nothing."""
        run = context.dagster_run
        if run is None:  # a sensor's evaluation, not a run: it writes nothing
            yield self
            return
        run_id = run.root_run_id or run.run_id
        if held_by_run(self.paths, run_id):  # a step of a multiprocess run: its run holds it
            yield self
            return
        command = run.tags.get("eudap/mode") or "dagster"
        with hold_for_run(
            self.paths, run_id, command, self.run_lock_wait_seconds, context.log.warning
        ):
            yield self

    @property
    def paths(self) -> Paths:
        return Paths(Path(self.data_dir).resolve() if self.data_dir else data_dir_from_env())

    def store(self) -> SnapshotStore:
        return SnapshotStore(self.paths.raw_dir)

    def fetcher(self) -> Fetcher:
        from pipelines.fetch import Fetcher, FetchPolicy, Mirror

        location = self.mirror or os.environ.get("EUDAP_MIRROR", "")
        return Fetcher(
            self.store(),
            Mirror(location) if location else None,
            FetchPolicy.from_env(),
            inbox=self.paths.inbox_dir,
        )

    def sample_run(self) -> bool:
        """Whether this run is fed by a sample mirror (the demo): `fetch.sample_mirror`; a
        mirror location that cannot be read is none."""
        import requests

        from pipelines.fetch import Mirror, MirrorLocationError, sample_mirror

        location = self.mirror or os.environ.get("EUDAP_MIRROR", "")
        try:
            mirror = Mirror(location) if location else None
        except MirrorLocationError:
            return False
        return sample_mirror(mirror, requests.Session())

    @contextlib.contextmanager
    def build(self, build_id: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection to the run's build file (created on first use)."""
        with open_build(
            self.paths,
            build_id,
            threads=self.duckdb_threads,
            memory_limit=self.duckdb_memory_limit,
        ) as con:
            yield con
