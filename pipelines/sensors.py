"""The inbox sensor: files dropped into the inbox start the offline build.

A person who downloaded a refused file by hand drops it into the inbox (`EUDAP_INBOX`,
default `data/inbox/`). The sensor compares the inbox's top level, as the sorted list of
(name, mtime, size) of its waiting files (`pipelines.inbox.inbox_state`), with its cursor:
a change that leaves files waiting requests one `build_offline` run, and the cursor
becomes that list, so the same set of files never starts two runs. The run takes the inbox in first
(`EudapResource.yield_for_execution`) and moves every file to `done/` or `rejected/`, which
empties the top level again.

While a run holds the run lock the sensor skips, naming the holder, and leaves its cursor
alone: the files are considered again at the next tick after that run.

Stopped by default, like the nightly schedule: start it in the UI or with
`dagster sensor start inbox_sensor` (it needs the Dagster daemon, as the schedule does).
"""

from __future__ import annotations

import json

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from pipelines.inbox import inbox_state
from pipelines.resources import EudapResource
from pipelines.runlock import live_holder

OFFLINE_JOB = "build_offline"
INTERVAL_SECONDS = 60


def inbox_sensor() -> SensorDefinition:
    @sensor(
        name="inbox_sensor",
        job_name=OFFLINE_JOB,
        minimum_interval_seconds=INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.STOPPED,
        description="Starts build_offline when new files arrive in the inbox (EUDAP_INBOX, "
        "default data/inbox/); the run takes them in first. Skips while a run holds the "
        "run lock.",
    )
    def _inbox(context: SensorEvaluationContext, eudap: EudapResource) -> SensorResult:
        paths = eudap.paths
        holder = live_holder(paths)
        if holder is not None:
            return SensorResult(
                skip_reason=SkipReason(
                    f"{holder.describe()} holds the run lock; the inbox is looked at again after it"
                )
            )
        state = [list(item) for item in inbox_state(paths.inbox_dir)]
        cursor = json.dumps(state)
        if cursor == context.cursor:
            why = "the same files as at the last look" if state else "nothing new"
            return SensorResult(skip_reason=SkipReason(f"inbox {paths.inbox_dir}: {why}"))
        if not state:
            return SensorResult(
                skip_reason=SkipReason(f"inbox {paths.inbox_dir} holds no file"), cursor=cursor
            )
        names = ", ".join(name for name, _, _ in state)
        return SensorResult(
            run_requests=[
                # No run_key: the cursor already keeps a set from starting two runs, and
                # a file put back after a rejection (same name, mtime, size) must count.
                RunRequest(
                    tags={"eudap/mode": "inbox", "eudap/inbox_files": names[:1000]},
                )
            ],
            cursor=cursor,
        )

    return _inbox
