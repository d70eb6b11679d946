"""The nightly job under Dagster's multiprocess executor: two steps at a time, no lock error,
the same warehouse as the in-process build (issue 11, item 4).

Downloads and staging run side by side and never write the run's build file: each leaves
Parquet files in the run's build folder, and meta/build and meta/staged load them (one
writer; pipelines/parts.py). The steps that write the build file run one at a time (the op
tag `eudap/writes: build`, pipelines/executor.py); the run lock is held by the process that
runs the steps, and each step's process goes on under it.

The demo (the bundled mirror, no network) is built twice from the same snapshots:

1. in process (`execute_in_process`, what the CLI does): the session's demo, `eudap demo`
   (tests/conftest.py `demo`, built once for every test that reads it);
2. its snapshot store is copied to a second data folder, and the nightly job runs there
   through `execute_job` with the multiprocess executor (`max_concurrent: 2`), on a real
   Dagster instance, like a run the UI launches: each step's process loads the code
   location `pipelines.definitions:defs` as the UI does, with the paths of the environment
   (EUDAP_DATA_DIR, EUDAP_MIRROR), which the child processes inherit.

The second publishes a warehouse with the same tables, the same column types and the same
rows in every staging, indicator and trend table, and the same gate verdicts, as the first,
and saves its run report as a CLI run does.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import multiprocessing
import shutil
from pathlib import Path

import duckdb
import pytest
from console import Result
from dagster import DagsterEventType, execute_job, instance_for_test
from dagster._core.definitions.reconstruct import ReconstructableRepository

from pipelines.executor import PREFORK_MODULE, STEP_MODULES, effective_config
from pipelines.settings import PROJECT_ROOT, SAMPLE_MIRROR_DIR, Paths
from pipelines.status import last_run_report

COMPARED_SCHEMAS = ("staging", "indicators", "trends")


def tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() ORDER BY 1, 2"
    ).fetchall()


def rows(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple]:
    return con.execute(f'SELECT * FROM "{schema}"."{table}" ORDER BY ALL').fetchall()


def column_types(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple]:
    return con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? "
        "AND table_name = ? ORDER BY column_index",
        [schema, table],
    ).fetchall()


def test_step_processes_are_forked_from_a_server_that_imported_what_they_use() -> None:
    """A module the forkserver cannot import is skipped without a word (Python's
    multiprocessing), and every step would import it again: each one must import."""
    config = effective_config({"multiprocess": {}}, "pipelines.definitions")["multiprocess"]
    preload = config["start_method"]["forkserver"]["preload_modules"]
    assert preload == ["pipelines.definitions", *STEP_MODULES, PREFORK_MODULE]
    for module in preload[:-1]:
        importlib.import_module(module)
    # found, not imported: importing it would freeze this test process's heap
    assert importlib.util.find_spec(PREFORK_MODULE) is not None


def test_the_nightly_job_builds_the_same_warehouse_in_two_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo: tuple[dict, Result]
) -> None:
    if not (SAMPLE_MIRROR_DIR / "MIRROR.json").exists():
        pytest.skip(f"the sample mirror is missing: no {SAMPLE_MIRROR_DIR / 'MIRROR.json'}")
    inbox = tmp_path / "inbox"
    monkeypatch.setenv("EUDAP_INBOX", str(inbox))
    # a file downloaded by hand, identical to a snapshot: meta/intake takes it in, the
    # release does not change, and the run's report lists it
    (crim,) = (SAMPLE_MIRROR_DIR / "ec.europa.eu").rglob("crim_off_cat/*/*")
    inbox.mkdir()
    shutil.copyfile(crim, inbox / "estat_crim_off_cat.tsv")

    # 1. in process, as the CLI runs it: the session's demo (read only)
    env, in_process = demo
    assert in_process.code == 0, in_process.out + in_process.err
    single = Paths(Path(env["EUDAP_DATA_DIR"]))

    # 2. the same snapshots, two processes at a time
    multi = Paths(tmp_path / "multi")
    shutil.copytree(single.raw_dir, multi.raw_dir)
    monkeypatch.setenv("EUDAP_DATA_DIR", str(multi.data_dir))
    monkeypatch.setenv("EUDAP_MIRROR", str(SAMPLE_MIRROR_DIR))
    run_config = {"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}}
    (tmp_path / "dagster").mkdir()
    with instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        result = execute_job(
            ReconstructableRepository.for_module(
                "pipelines.definitions", "defs", working_directory=str(PROJECT_ROOT)
            ).get_reconstructable_job("nightly"),
            instance=instance,
            run_config=run_config,
            raise_on_error=False,
        )
        events = result.all_events
        failures = [
            str(e.event_specific_data.error) if e.event_specific_data else str(e.message)
            for e in events
            if e.event_type == DagsterEventType.STEP_FAILURE
        ]
        assert result.success, failures
        assert not failures
        messages = " ".join(str(e.message) for e in events).lower()
        assert "could not set lock" not in messages and "conflicting lock" not in messages

        # every step ran in a process of its own, and two at a time
        started = {e.step_key: e.pid for e in events if e.event_type == DagsterEventType.STEP_START}
        assert len(started) > 30, started
        assert len(set(started.values())) == len(started), "steps shared a process"
        records = instance.get_records_for_run(result.run_id).records
        times: dict[str, list[float]] = {}
        for record in records:
            event = record.event_log_entry.dagster_event
            if event and event.event_type in (
                DagsterEventType.STEP_START,
                DagsterEventType.STEP_SUCCESS,
            ):
                times.setdefault(event.step_key or "", []).append(record.timestamp)
        spans = sorted((min(t), max(t)) for t in times.values() if len(t) == 2)
        overlapping = sum(
            1 for (_, end), (start, _) in zip(spans, spans[1:], strict=False) if start < end
        )
        assert overlapping > 0, "no two steps ran at the same time"

    # the run's build folder went with the publish; no build file is left
    assert not list(multi.warehouse_dir.glob("build-*")), list(multi.warehouse_dir.iterdir())

    # the run saved its report (pipelines/runreport.py), as a CLI run does: `eudap status`
    # shows it as the last run, with the datasets the release records
    report = last_run_report(multi)
    assert report and report["run_id"] == result.run_id, report
    assert report["mode"] == "dagster nightly" and report["dagster_run_started"] is True
    assert report["ok"] is True and report["published"] is True, report["problems"]
    assert not report["failed_steps"] and not report["failed_checks"], report
    taken = [t for t in report["inbox_taken"] if "estat_crim_off_cat.tsv" in t]
    assert len(taken) == 1 and "identical to a snapshot" in taken[0], report["inbox_taken"]
    assert not report["inbox_rejected"], report["inbox_rejected"]
    with duckdb.connect(str(multi.published_warehouse), read_only=True) as con:
        recorded = dict(
            con.execute(
                "SELECT dataset, state FROM meta.release_datasets WHERE release_id = ?",
                [result.run_id],
            ).fetchall()
        )
    assert recorded and {d: i["state"] for d, i in report["datasets"].items()} == recorded
    assert [p.name for p in multi.runs_dir.iterdir()] == [f"{result.run_id}.json"]

    with (
        duckdb.connect(str(single.published_warehouse), read_only=True) as one,
        duckdb.connect(str(multi.published_warehouse), read_only=True) as two,
    ):
        assert tables(two) == tables(one)
        compared = [(s, t) for s, t in tables(one) if s in COMPARED_SCHEMAS]
        assert {s for s, _ in compared} == set(COMPARED_SCHEMAS)
        for schema, table in compared:
            assert column_types(two, schema, table) == column_types(one, schema, table), table
            assert rows(two, schema, table) == rows(one, schema, table), f"{schema}.{table}"
        gates = "SELECT table_name, suite, passed FROM meta.gate_results ORDER BY ALL"
        assert two.execute(gates).fetchall() == one.execute(gates).fetchall()


def test_step_processes_start_with_the_servers_heap_frozen() -> None:
    """The forkserver's last import (pipelines/prefork.py) froze what it had imported: a
    process forked from it finds those objects in the collector's permanent generation,
    which is empty in a process that never froze anything."""
    config = effective_config({"multiprocess": {}}, "pipelines.definitions")["multiprocess"]
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(config["start_method"]["forkserver"]["preload_modules"])
    with context.Pool(1) as pool:
        frozen = pool.apply(gc.get_freeze_count)
    assert frozen > 0, "the step processes' forkserver did not freeze its heap"
