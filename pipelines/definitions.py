"""The single entry point of the Dagster code location: everything built from the catalogue."""

from __future__ import annotations

from dagster import Definitions

from pipelines.assets import all_assets
from pipelines.catalogue import Catalogue, load_catalogue
from pipelines.executor import run_executor
from pipelines.freshness import freshness_checks
from pipelines.nochange import quiet_skipped_gate_notices
from pipelines.notify import run_failure_notice
from pipelines.resources import EudapResource
from pipelines.schedules import nightly_job, nightly_schedule, offline_job, source_jobs
from pipelines.sensors import inbox_sensor


def build_definitions(
    cat: Catalogue | None = None, resource: EudapResource | None = None
) -> Definitions:
    cat = cat or load_catalogue()
    quiet_skipped_gate_notices()  # a night that builds nothing skips every step after meta/build
    nightly = nightly_job(cat)
    resource = resource or EudapResource()
    return Definitions(
        assets=all_assets(cat),
        asset_checks=freshness_checks(cat),
        jobs=[nightly, offline_job(cat), *source_jobs(cat)],
        schedules=[nightly_schedule(nightly, cat)],
        sensors=[inbox_sensor(), run_failure_notice],
        resources={"eudap": resource},
        # Multiprocess; one step at a time writes the run's build file (DuckDB allows one
        # writer): see pipelines/executor.py. The CLI runs in process (execute_in_process).
        executor=run_executor(resource),
    )


defs = build_definitions()
