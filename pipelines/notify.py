"""Run-failure notices: a Dagster run-failure sensor that tells someone a run failed.

Every failed run of the code location (the nightly schedule, a run launched in the UI, or an
`eudap run` recorded in the same Dagster instance) gets:

- one line appended to the failure log (`EUDAP_FAILURE_LOG`, default
  data/warehouse/run-failures.log);
- when `EUDAP_FAILURE_WEBHOOK` is set, the notice POSTed to it as JSON.

Sensors run in the Dagster daemon (`make dev` starts one). Credentials never leave the
process: every URL in a notice is redacted, and the webhook's own URL (whose path often is
the secret) is named by its host only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from dagster import DefaultSensorStatus, RunFailureSensorContext, run_failure_sensor

from pipelines.redact import redact_text
from pipelines.settings import Paths, data_dir_from_env, failure_webhook_from_env

WEBHOOK_TIMEOUT_SECONDS = 10


def failure_notice(context: RunFailureSensorContext) -> dict[str, Any]:
    """What a notice says: which run, which job, when, and why (each failed step)."""
    run = context.dagster_run
    steps = []
    for event in context.get_step_failure_events():
        error = event.step_failure_data.error if event.step_failure_data else None
        cause = error.cause if error and error.cause else error
        message = cause.message.strip() if cause else "unknown error"
        steps.append({"step": event.step_key or "?", "error": redact_text(message)})
    return {
        "event": "eudap run failed",
        "run_id": run.run_id,
        "job": run.job_name,
        "mode": run.tags.get("eudap/mode", "dagster"),
        "failed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "message": redact_text(context.failure_event.message or ""),
        "failed_steps": steps,
    }


def notice_line(notice: dict[str, Any]) -> str:
    """The notice on one line of the failure log."""
    steps = "; ".join(f"{s['step']}: {s['error']}" for s in notice["failed_steps"])
    line = (
        f"{notice['failed_at']} run {notice['run_id']} (job {notice['job']}, "
        f"{notice['mode']}) failed: {notice['message']}" + (f" [{steps}]" if steps else "")
    )
    return " ".join(line.split())  # one line, whatever the error messages hold


def webhook_shown(url: str) -> str:
    """The webhook as a notice may name it: scheme and host, never its path or query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}/…"


def send_notice(notice: dict[str, Any], log: Path, webhook: str | None) -> str | None:
    """Append the notice to `log` and POST it to `webhook`; the webhook's problem, if any
    (it is written to the log too, so a lost notice is never silent)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    lines = [notice_line(notice)]
    problem = None
    if webhook:
        try:
            resp = requests.post(webhook, json=notice, timeout=WEBHOOK_TIMEOUT_SECONDS)
            if resp.status_code >= 300:
                problem = f"HTTP {resp.status_code}"
        except requests.RequestException as exc:
            problem = f"{type(exc).__name__}"
        if problem:
            problem = f"the webhook {webhook_shown(webhook)} did not take the notice: {problem}"
            lines.append(f"{notice['failed_at']} run {notice['run_id']}: {problem}")
    with log.open("a", encoding="utf-8") as out:
        for line in lines:
            out.write(redact_text(line) + "\n")
    return problem


@run_failure_sensor(
    name="run_failure_notice",
    description="Appends a line to the failure log (EUDAP_FAILURE_LOG, default "
    "data/warehouse/run-failures.log) and POSTs the notice as JSON to EUDAP_FAILURE_WEBHOOK "
    "when set, for every failed run.",
    default_status=DefaultSensorStatus.RUNNING,
)
def run_failure_notice(context: RunFailureSensorContext) -> None:
    notice = failure_notice(context)
    log = Paths(data_dir_from_env()).failure_log
    problem = send_notice(notice, log, failure_webhook_from_env())
    context.log.info(f"run {notice['run_id']} failed: notice written to {log}")
    if problem:
        context.log.warning(problem)
