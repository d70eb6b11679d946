"""The run-failure sensor: a real failed in-process run, a real failure log, a real webhook
(pytest-httpserver)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dagster import DagsterInstance, build_run_status_sensor_context, job, op
from pytest_httpserver import HTTPServer

from pipelines.notify import run_failure_notice, send_notice

SECRET_URL = "https://data.example.org/file.tsv?token=s3cr3t"


@op
def download_that_fails() -> None:
    raise RuntimeError(f"download failed: 503 from {SECRET_URL}")


@job(tags={"eudap/mode": "run"})
def failing_job() -> None:
    download_that_fails()


@pytest.fixture()
def failed_context():  # a RunFailureSensorContext of a run that really failed
    with DagsterInstance.ephemeral() as instance:
        result = failing_job.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        yield build_run_status_sensor_context(
            sensor_name="run_failure_notice",
            dagster_event=result.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
        ).for_run_failure()


def test_a_failed_run_appends_one_redacted_line_to_the_failure_log(
    failed_context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "notices" / "run-failures.log"
    monkeypatch.setenv("EUDAP_FAILURE_LOG", str(log))
    monkeypatch.delenv("EUDAP_FAILURE_WEBHOOK", raising=False)
    run_failure_notice(failed_context)
    run_failure_notice(failed_context)  # appends: earlier notices are kept
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    run_id = failed_context.dagster_run.run_id
    assert f"run {run_id} (job failing_job, run) failed:" in lines[0]
    assert "download_that_fails: RuntimeError: download failed: 503 from" in lines[0]
    assert "s3cr3t" not in lines[0]
    assert "token=***" in lines[0]


def test_the_notice_is_posted_to_the_webhook_as_json(
    failed_context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer
) -> None:
    httpserver.expect_oneshot_request("/hooks/T0KEN", method="POST").respond_with_data("ok")
    log = tmp_path / "run-failures.log"
    monkeypatch.setenv("EUDAP_FAILURE_LOG", str(log))
    monkeypatch.setenv("EUDAP_FAILURE_WEBHOOK", httpserver.url_for("/hooks/T0KEN"))
    run_failure_notice(failed_context)
    httpserver.check_assertions()
    (request, _response), *_ = httpserver.log
    notice = json.loads(request.get_data(as_text=True))
    assert request.headers["Content-Type"] == "application/json"
    assert notice["run_id"] == failed_context.dagster_run.run_id
    assert notice["job"] == "failing_job" and notice["mode"] == "run"
    assert notice["failed_steps"][0]["step"] == "download_that_fails"
    assert "s3cr3t" not in json.dumps(notice)
    assert len(log.read_text(encoding="utf-8").splitlines()) == 1  # no webhook problem


def test_a_webhook_that_refuses_is_written_to_the_log_without_its_secret_path(
    failed_context, tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hooks/T0KEN", method="POST").respond_with_data("no", status=500)
    log = tmp_path / "run-failures.log"
    from pipelines.notify import failure_notice

    problem = send_notice(failure_notice(failed_context), log, httpserver.url_for("/hooks/T0KEN"))
    assert problem is not None and "HTTP 500" in problem
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and "did not take the notice: HTTP 500" in lines[1]
    assert "T0KEN" not in "\n".join(lines)


def test_the_sensor_is_in_the_code_location_and_on_by_default() -> None:
    from dagster import DefaultSensorStatus

    from pipelines.definitions import defs

    sensor = defs.resolve_sensor_def("run_failure_notice")
    assert sensor.default_status == DefaultSensorStatus.RUNNING
