"""Run progress: each view fed by the real events of a small in-process Dagster run (the
listener the CLI registers), and by the download channel the fetcher reports bytes on."""

from __future__ import annotations

import io
import re

import pytest
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    AssetObservation,
    DagsterInstance,
    Definitions,
    asset,
    asset_check,
)

from pipelines.nochange import MESSAGE_KEY
from pipelines.progress import LineView, LiveView, QuietView, RunView, download_progress

SECRET = "https://example.org/f.tsv?token=s3cr3t"


@asset(key=AssetKey(["raw", "eurostat_x"]))
def raw_x() -> None:
    for done in (40_000, 80_000, 120_000):
        download_progress("eurostat.x", done, 120_000)


@asset(key=AssetKey(["staging", "eurostat_x"]), deps=[raw_x])
def staging_x() -> None:
    pass


@asset(key=AssetKey(["staging", "eurostat_y"]))
def staging_y() -> None:
    raise RuntimeError(f"cannot read {SECRET}")


@asset(key=AssetKey(["indicators", "ind01"]), deps=[staging_x, staging_y])
def ind01() -> None:
    pass


@asset_check(asset=staging_x)
def overdue() -> AssetCheckResult:  # a non-blocking check in a step of its own
    return AssetCheckResult(
        passed=False, severity=AssetCheckSeverity.WARN, description="older than 400 days\nmore"
    )


ASSETS = [raw_x, staging_x, staging_y, ind01]
JOB = Definitions(assets=ASSETS, asset_checks=[overdue]).resolve_implicit_global_asset_job_def()


def run_with(view: RunView) -> None:
    with DagsterInstance.ephemeral() as instance:
        run_id = "6f1b2a34-0000-4000-8000-000000000001"
        instance.add_event_listener(run_id, view.on_event)
        with view:
            result = JOB.execute_in_process(
                instance=instance,
                run_id=run_id,
                raise_on_error=False,
                # as the CLI: Dagster's own console log says nothing below CRITICAL here
                run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
            )
        assert not result.success


def test_line_view_writes_one_line_per_step_with_the_bytes_downloaded() -> None:
    out = io.StringIO()
    run_with(LineView(len(ASSETS), out))
    lines = out.getvalue().splitlines()
    (download,) = [line for line in lines if "download eurostat_x: ok" in line]
    assert download.endswith("1 file, 120.0 kB"), download
    assert any("stage eurostat_x: ok" in line for line in lines), lines
    (check,) = [line for line in lines if "check overdue staging/eurostat_x" in line]
    assert ": ok (" in check and check.endswith(" s): warning: older than 400 days"), check
    assert lines[-2].startswith("[2/4] "), lines  # two of the four assets materialized
    failed = [line for line in lines if "stage eurostat_y: FAILED" in line]
    assert failed and "RuntimeError: cannot read" in failed[0]
    assert "s3cr3t" not in out.getvalue() and "token=***" in failed[0]
    assert lines[-1] == "not run (an upstream step or gate failed): indicator ind01", lines


def test_quiet_view_writes_only_the_failure() -> None:
    out = io.StringIO()
    run_with(QuietView(len(ASSETS), out))
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: stage eurostat_y failed: RuntimeError: cannot read")


def test_live_view_shows_steps_and_downloads_and_leaves_no_live_display() -> None:
    out = io.StringIO()
    run_with(LiveView(len(ASSETS), out))
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())  # colours, cursor moves
    assert "downloaded eurostat.x: 120.0 kB" in text
    assert "stage eurostat_x" in text and "stage eurostat_y" in text
    assert "not run (an upstream step or gate failed): indicator ind01" in text
    assert "s3cr3t" not in text


def test_no_view_no_listener(capsys: pytest.CaptureFixture[str]) -> None:
    download_progress("eurostat.x", 1, 1)  # nothing installed: nothing happens
    assert capsys.readouterr() == ("", "")


class BrokenView(RunView):
    def step_finished(self, step: str, seconds: float, *, ok: bool, note: str) -> None:
        raise ValueError("cannot draw")


def test_a_broken_display_stops_displaying_and_the_run_goes_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    view = BrokenView(len(ASSETS), io.StringIO())
    run_with(view)  # the run ends as it would: staging_y fails, the rest runs
    err = capsys.readouterr().err
    assert "note: progress display stopped: ValueError: cannot draw" in err
    assert err.count("progress display stopped") == 1  # said once, then silent


# A night with nothing to build: meta/build observes why and yields no output; Dagster skips
# every step after it (as pipelines/assets.py meta_asset).
NOTHING = "nothing changed since release r1 (2026-11-30 02:15 UTC): 1 datasets unchanged"


@asset(key=AssetKey(["meta", "build"]), output_required=False)
def meta_build():  # noqa: ANN201 - a generator asset
    yield AssetObservation(asset_key=AssetKey(["meta", "build"]), metadata={MESSAGE_KEY: NOTHING})


@asset(key=AssetKey(["staging", "eurostat_z"]), deps=[meta_build])
def staging_z() -> None:
    raise AssertionError("skipped: never runs")


@asset(key=AssetKey(["warehouse", "published"]), deps=[staging_z])
def published() -> None:
    raise AssertionError("skipped: never runs")


NOTHING_JOB = Definitions(
    assets=[meta_build, staging_z, published]
).resolve_implicit_global_asset_job_def()


def run_nothing(view: RunView) -> None:
    with DagsterInstance.ephemeral() as instance:
        run_id = "6f1b2a34-0000-4000-8000-000000000002"
        instance.add_event_listener(run_id, view.on_event)
        with view:
            result = NOTHING_JOB.execute_in_process(
                instance=instance,
                run_id=run_id,
                run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
            )
        assert result.success
        assert result.is_node_skipped("staging__eurostat_z")


def test_a_night_with_nothing_to_build_says_why_and_counts_the_skipped_steps() -> None:
    out = io.StringIO()
    run_nothing(LineView(3, out))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("[0/3] meta build: ok (") and lines[0].endswith(f"s): {NOTHING}")
    assert lines[1] == "skipped, nothing to build: 2 steps (1 stage, 1 publish)"
    live = io.StringIO()
    run_nothing(LiveView(3, live))
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", live.getvalue())
    assert "nothing changed since release r1" in text  # rich wraps the rest
    assert "skipped, nothing to build: 2 steps" in text
    assert "not run" not in text
    quiet = io.StringIO()
    run_nothing(QuietView(3, quiet))
    assert quiet.getvalue() == ""
