"""Jobs and schedules: the nightly full job and one job per source.

Every job builds the whole warehouse (staging, indicators, trends, publish) from the latest
good snapshot of every dataset; what differs is which downloads it makes. `selection` says
which assets a run materialises: the Dagster jobs and every `eudap` command that runs the
pipeline (run, run --offline, run --select, demo) take it from there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
)

from pipelines.catalogue import Catalogue
from pipelines.prerun import Mode, downloaded_datasets, scheduled_check
from pipelines.resources import EudapResource

BUILD_GROUPS = ("meta", "staging", "indicators", "trends", "publish")
NIGHTLY_CRON = "0 2 * * *"
TIMEZONE = "Europe/Brussels"


def selection(cat: Catalogue, mode: Mode, datasets: Iterable[str] = ()) -> AssetSelection:
    """The assets a run materialises: always the whole build and publish, plus downloads.

    full: every download; offline: none; datasets: those of `datasets` (dataset ids). The
    curated files kept in the repository are registered as snapshots in every mode (that
    needs no network), so an edited curated file is picked up by any run.
    """
    if mode == "full":
        return AssetSelection.all()
    downloads = downloaded_datasets(cat, mode, datasets)  # what the CLI asks before a run
    raw = [["raw", cat.datasets[ds_id].asset_name] for ds_id in downloads]
    return AssetSelection.groups(*BUILD_GROUPS) | AssetSelection.assets(*raw)


def nightly_job(cat: Catalogue) -> Any:
    return define_asset_job(
        "nightly",
        selection=selection(cat, "full"),
        description="Fetch every dataset, stage, gate, compute indicators and trends, publish.",
    )


def offline_job(cat: Catalogue) -> Any:
    return define_asset_job(
        "build_offline",
        selection=selection(cat, "offline"),
        description="Rebuild and publish from the snapshots already in the store and the "
        "curated files of the repository; no download.",
    )


def source_jobs(cat: Catalogue) -> list[Any]:
    jobs: list[Any] = []
    for source in cat.sources:
        ids = [ds.id for ds in cat.datasets.values() if ds.source == source and ds.downloads]
        if not ids:
            continue
        jobs.append(
            define_asset_job(
                f"source_{source}",
                selection=selection(cat, "datasets", ids),
                description=f"Fetch the {source} datasets only, then rebuild and publish "
                "everything.",
            )
        )
    return jobs


def nightly_schedule(job: Any, cat: Catalogue) -> ScheduleDefinition:
    @schedule(
        name="nightly_0200_brussels",
        job=job,
        cron_schedule=NIGHTLY_CRON,
        execution_timezone=TIMEZONE,
        default_status=DefaultScheduleStatus.STOPPED,
        description="Full run every night at 02:00 Brussels time (start it in the UI or with "
        "`dagster schedule start`). Each tick first asks every source whether anything "
        "changed (conditional requests, nothing downloaded: pipelines/prerun.py); when "
        "nothing did, it starts no run and the tick names the release that stays current.",
    )
    def _nightly(
        context: ScheduleEvaluationContext, eudap: EudapResource
    ) -> RunRequest | SkipReason:
        why = scheduled_check(
            cat, eudap.paths, eudap.mirror, rebuild=eudap.rebuild, note=context.log.info
        )
        return SkipReason(why) if why else RunRequest()

    return _nightly
