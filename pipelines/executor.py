"""The executor of the jobs launched by Dagster (the UI, the schedule, the sensors).

Dagster's `multi_or_in_process_executor`, with three additions:

- one writer at a time: every step that opens the run's build file to write carries the op
  tag `eudap/writes: build` (assets.WRITES_BUILD), and the multiprocess mode always limits
  that tag to one step at a time, whatever the run's config says. The steps that run side by
  side (downloads, staging) write the run's build folder instead (pipelines/parts.py);
- the run lock (pipelines/runlock.py) is held by the process that runs the steps, for the
  whole run: each step's process finds its run holding it and goes on
  (resources.EudapResource.yield_for_execution);
- a run that publishes (its plan holds the publish step) saves its run report when its steps
  are over, as a run of the CLI does (pipelines/runreport.py: `eudap status` reads it). A run
  of a few assets from the UI saves none: it publishes nothing by design and is not "the last
  run" a morning check asks about.

Multiprocess is the default (as many processes as cores; `max_concurrent` sets it; step
processes are forked from a `forkserver` that imported, once, the code location and what every
step process imports next: Dagster's instance and storage, and the modules the steps import
lazily (STEP_MODULES); it then freezes that heap out of the garbage collector's reach
(pipelines/prefork.py)):

    execution:
      config:
        multiprocess:
          max_concurrent: 2

The CLI runs the job with `execute_in_process`, which uses Dagster's in-process executor,
not this one (on a small machine, one process pays Dagster's start-up once).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dagster import Executor, ExecutorDefinition, InitExecutorContext, multi_or_in_process_executor
from dagster._core.definitions.reconstruct import ReconstructableJob

from pipelines.resources import EudapResource
from pipelines.runevents import REPORTED_EVENTS, complete_and_save
from pipelines.runlock import hold_for_run
from pipelines.runreport import RunReport, now

WRITES_BUILD = {"eudap/writes": "build"}
ONE_BUILD_WRITER = {"key": "eudap/writes", "value": "build", "limit": 1}
# What a step process imports beyond the code location: Dagster's instance and its storage
# (SQLAlchemy, Alembic, universal-pathlib: `DagsterInstance.from_ref` in every step), and the
# modules the assets import inside their functions. Imported once in the forkserver, they cost
# nothing per step; imported in each step's process they cost 1-3 s a step, most of a small
# step's time.
STEP_MODULES = (
    "dagster._core.instance.factory",
    "dagster._core.storage.sqlite_storage",
    "dagster._core.storage.event_log",
    "dagster._core.storage.runs",
    "dagster._core.storage.schedules",
    "dagster._core.execution.backfill",
    "dagster._daemon",
    "dagster._core.storage.defs_state.blob_storage_state_storage",
    "upath.core",
    "pandas",
    "pyarrow.compute",
    "pipelines.coverage",
    "pipelines.fetch",
    "pipelines.geo",
    "pipelines.inbox",
    "pipelines.indicators",
    "pipelines.meta",
    "pipelines.nochange",
    "pipelines.publish",
    "pipelines.stage",
    "pipelines.trends",
)
# Imported last by the forkserver: freezes what it imported out of the garbage collector's
# reach (pipelines/prefork.py).
PREFORK_MODULE = "pipelines.prefork"


class _RunLockedExecutor(Executor):  # type: ignore[misc]
    """Runs the wrapped executor while holding the run lock; a run that publishes saves its
    run report at the end."""

    def __init__(self, inner: Executor, resource: EudapResource):
        self._inner = inner
        self._resource = resource

    @property
    def retries(self) -> Any:
        return self._inner.retries

    @property
    def step_dependency_config(self) -> Any:
        return self._inner.step_dependency_config

    def execute(self, plan_context: Any, execution_plan: Any) -> Iterator[Any]:
        from pipelines.assets import PUBLISHED  # assets imports this module

        run = plan_context.dagster_run
        started = now()
        publishes = PUBLISHED.to_python_identifier() in execution_plan.step_keys_to_execute
        closed = False
        with hold_for_run(
            self._resource.paths,
            run.root_run_id or run.run_id,
            run.tags.get("eudap/mode") or "dagster",
            self._resource.run_lock_wait_seconds,
            plan_context.log.warning,
        ):
            try:
                yield from self._inner.execute(plan_context, execution_plan)
            except GeneratorExit:
                # Dropped by its caller, not finished: steps may still be writing the build,
                # so there is nothing to report from yet.
                closed = True
                raise
            finally:
                if publishes and not closed:
                    self._save_report(plan_context, started)

    def _save_report(self, plan_context: Any, started: str) -> None:
        """The run report `eudap status` reads (pipelines/runreport.py), from the events the
        run's steps stored (a terminated or failed run's too); a report that cannot be saved
        is a warning, never the run's failure."""
        run = plan_context.dagster_run
        report = RunReport(run_id=run.run_id, started_at=started, mode=f"dagster {run.job_name}")
        try:
            records = plan_context.instance.all_logs(run.run_id, of_type=REPORTED_EVENTS)
            events = [r.dagster_event for r in records if r.dagster_event is not None]
            complete_and_save(report, events, self._resource.paths, run.root_run_id or run.run_id)
        except Exception as exc:  # noqa: BLE001 - the run's own outcome stands
            plan_context.log.warning(f"the run report was not saved: {type(exc).__name__}: {exc}")


def effective_config(config: dict[str, Any], module: str | None = None) -> dict[str, Any]:
    """The executor config a run gets: in multiprocess mode, the one-writer limit is added
    and, unless the config says otherwise, step processes are forked from a server that
    imported the code location's `module` (else `dagster`) and STEP_MODULES once
    (`forkserver`), not started afresh (`spawn`: each step would import Dagster and the
    project again, seconds per step)."""
    if "multiprocess" not in config:
        return config
    mode = dict(config["multiprocess"] or {})
    limits = [lim for lim in mode.get("tag_concurrency_limits") or [] if lim != ONE_BUILD_WRITER]
    mode["tag_concurrency_limits"] = [*limits, ONE_BUILD_WRITER]
    start = dict(mode.get("start_method") or {"forkserver": {}})
    if "forkserver" in start:
        server = dict(start["forkserver"] or {})
        server.setdefault("preload_modules", [module or "dagster", *STEP_MODULES, PREFORK_MODULE])
        start["forkserver"] = server
    mode["start_method"] = start
    return {**config, "multiprocess": mode}


def run_executor(resource: EudapResource) -> ExecutorDefinition:
    def _create(init_context: InitExecutorContext) -> Executor:
        job = init_context.job
        module = job.get_module() if isinstance(job, ReconstructableJob) else None
        config = effective_config(dict(init_context.executor_config), module)
        create = multi_or_in_process_executor.executor_creation_fn
        assert create is not None
        inner = create(init_context._replace(executor_config=config))
        return _RunLockedExecutor(inner, resource)

    return ExecutorDefinition(
        name="eudap",
        config_schema=multi_or_in_process_executor.config_schema,
        requirements=multi_or_in_process_executor.get_requirements,
        executor_creation_fn=_create,
        description="Dagster's multi_or_in_process_executor (multiprocess by default), one "
        "step at a time writing the build file, under the run lock for the whole run; a run "
        "that publishes saves its run report (eudap status).",
    )
