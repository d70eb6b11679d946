"""A Dagster run's events into its run report (pipelines/runreport.py): the check
evaluations, the failed steps, meta/build's "nothing changed" and the inbox files the run's
meta/intake step took in (the mirror's inbox; the CLI takes the local inbox in before the
run and lists those files itself). The CLI reads the events from the run's result, the
executor of Dagster-launched runs from the instance's event log (only REPORTED_EVENTS)."""

from __future__ import annotations

from collections.abc import Iterable

from dagster import DagsterEvent, DagsterEventType

from pipelines.runreport import RunReport, now, read_release, save
from pipelines.settings import Paths

REPORTED_EVENTS = {
    DagsterEventType.ASSET_CHECK_EVALUATION,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.ASSET_OBSERVATION,
    DagsterEventType.ASSET_MATERIALIZATION,
}
# meta/intake's metadata: the files it took in and rejected (pipelines/assets.py)
INTAKE_TAKEN, INTAKE_REJECTED = "taken_files", "rejected_files"


def complete_and_save(
    report: RunReport,
    events: Iterable[DagsterEvent],
    paths: Paths,
    build_id: str | None = None,
) -> RunReport:
    """The report of a Dagster run, from its events and the warehouse (`build_id`: see
    `read_release`): saved."""
    listed = list(events)
    taken, rejected = inbox_of(listed)
    # new lists: the ones the report holds may be its caller's (the CLI's own intake)
    report.inbox_taken = [*report.inbox_taken, *taken]
    report.inbox_rejected = [*report.inbox_rejected, *rejected]
    _nothing_changed(report, listed)
    read_release(report, paths, build_id=build_id)
    _collect(report, listed)
    report.finished_at = now()
    save(report, paths)
    return report


def _nothing_changed(report: RunReport, events: list[DagsterEvent]) -> None:
    """Whether meta/build found nothing changed (its observation says so): then nothing
    was built and the published release stays current."""
    from pipelines.nochange import MESSAGE_KEY

    for event in events:
        if not event.is_asset_observation:
            continue
        metadata = event.asset_observation_data.asset_observation.metadata
        if MESSAGE_KEY in metadata:
            report.nothing_changed = str(metadata[MESSAGE_KEY].value)
            report.current_release = str(metadata["release_id"].value)


def _collect(report: RunReport, events: list[DagsterEvent]) -> None:
    """What only Dagster knows: the check evaluations and failed steps of the run."""
    checks = [
        e.event_specific_data
        for e in events
        if e.event_type_value == DagsterEventType.ASSET_CHECK_EVALUATION.value
    ]
    for ev in checks:
        entry = {
            "asset": ev.asset_key.to_user_string(),
            "check": ev.check_name,
            "description": ev.description or "",
        }
        if not ev.passed:
            if ev.severity.value == "ERROR":
                report.failed_checks.append(entry)
            elif ev.check_name not in ("current", "download_ok"):
                # stale/missing, and the failed or refused download behind them, are
                # listed once as problems already
                report.warnings.append(entry)
    for ev in (e for e in events if e.is_step_failure):
        err = ev.event_specific_data.error if ev.event_specific_data else None
        if err and err.cls_name == "DagsterAssetCheckFailedError" and report.failed_checks:
            continue  # a blocking gate failed: already reported, with its rule, above
        message = err.message.strip() if err else "unknown error"
        if err and err.cause:
            message = err.cause.message.strip()
        report.failed_steps.append({"step": ev.step_key or "?", "error": message})
    if not report.published and report.failed_checks:
        report.skipped_publish_reason = "a blocking gate failed"


def inbox_of(events: Iterable[DagsterEvent]) -> tuple[list[str], list[str]]:
    """The files meta/intake took in and rejected, as its materialization lists them."""
    from pipelines.assets import META_INTAKE  # assets imports the executor, which imports this

    for event in events:
        if not event.is_step_materialization:
            continue
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key == META_INTAKE:
            metadata = materialization.metadata
            taken, rejected = metadata.get(INTAKE_TAKEN), metadata.get(INTAKE_REJECTED)
            return (list(taken.value) if taken else [], list(rejected.value) if rejected else [])
    return [], []
