"""Jobs and schedules: the nightly full job and one job per source.

Every job builds the whole warehouse (staging, indicators, trends, publish) from the latest
good snapshot of every dataset; what differs is which downloads it makes.
"""

from __future__ import annotations

from typing import Any

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    ScheduleDefinition,
    define_asset_job,
)

from pipelines.catalogue import Catalogue

BUILD_GROUPS = ("meta", "staging", "indicators", "trends", "publish")
NIGHTLY_CRON = "0 2 * * *"
TIMEZONE = "Europe/Brussels"


def build_selection() -> AssetSelection:
    return AssetSelection.groups(*BUILD_GROUPS)


def nightly_job() -> Any:
    return define_asset_job(
        "nightly",
        selection=AssetSelection.all(),
        description="Fetch every dataset, stage, gate, compute indicators and trends, publish.",
    )


def offline_job() -> Any:
    return define_asset_job(
        "build_offline",
        selection=build_selection(),
        description="Rebuild and publish from the snapshots already in the store; no download.",
    )


def source_jobs(cat: Catalogue) -> list[Any]:
    jobs: list[Any] = []
    for source in cat.sources:
        keys = [
            ["raw", ds.asset_name]
            for ds in cat.datasets.values()
            if ds.source == source and ds.downloads
        ]
        if not keys:
            continue
        jobs.append(
            define_asset_job(
                f"source_{source}",
                selection=AssetSelection.assets(*keys) | build_selection(),
                description=f"Fetch the {source} datasets only, then rebuild and publish "
                "everything.",
            )
        )
    return jobs


def nightly_schedule(job: Any) -> ScheduleDefinition:
    return ScheduleDefinition(
        name="nightly_0200_brussels",
        job=job,
        cron_schedule=NIGHTLY_CRON,
        execution_timezone=TIMEZONE,
        default_status=DefaultScheduleStatus.STOPPED,
        description="Full run every night at 02:00 Brussels time (start it in the UI or with "
        "`dagster schedule start`).",
    )
