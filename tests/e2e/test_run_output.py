"""What `eudap run` and `eudap demo` print, driven through the real console script: usage
errors (exit 2, nothing built, Dagster never imported), progress on stderr, `--json` (one
JSON document on stdout, the summary as the warehouse records it). `--quiet` on a build
that has problems and still publishes is checked on such a run of tests/e2e/test_cli.py
(an HTML page upstream), not on a build of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from console import EUDAP, SAMPLE_DIR, TIMEOUT, Result, environment, eudap, published

pytestmark = pytest.mark.e2e

USAGE_ERRORS = [
    (["run", "--select", "eurostat.nope"], "unknown dataset in --select: eurostat.nope; known:"),
    (["run", "--mirror", "/no/such/mirror"], "is neither an http(s) URL nor a folder"),
    (["run", "--mirror", "https://user:pw@example.org/m"], "refused"),
    (["run", "--offline", "--select", "eurostat.crim_off_cat"], "--offline makes no downloads"),
    (["demo", "--quiet", "--progress"], "not allowed with argument"),
    (["run", "--wait", "soon"], "invalid float value"),
]


@pytest.fixture(scope="module", autouse=True)
def console_script() -> None:
    if not EUDAP.exists():
        pytest.skip(f"the console script {EUDAP} is not installed in this environment")
    if not (SAMPLE_DIR / "MIRROR.json").exists():
        pytest.skip(f"the sample mirror is missing: no {SAMPLE_DIR / 'MIRROR.json'}")


@pytest.mark.parametrize(("args", "message"), USAGE_ERRORS)
def test_a_usage_error_exits_2_with_its_message_and_builds_nothing(
    args: list[str], message: str, tmp_path: Path
) -> None:
    env = environment(tmp_path)
    res = eudap(env, *args)
    assert res.code == 2, res.out + res.err
    assert res.out == ""
    assert message in res.err, res.err
    assert "pw@" not in res.err
    assert "Traceback" not in res.err
    data = Path(env["EUDAP_DATA_DIR"])
    assert not data.exists() or not any(data.rglob("*")), list(data.rglob("*"))
    assert sorted(p.name for p in Path(env["DAGSTER_HOME"]).iterdir()) == ["dagster.yaml"]


def main_in_a_process(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`eudap ARGS` through `pipelines.cli.main` in a fresh process, whose last line of stdout
    is then the exit code and whether Dagster was imported."""
    probe = (
        "import sys\n"
        "from pipelines.cli import main\n"
        f"code = main({list(args)!r})\n"
        "print(code, 'dagster' in sys.modules)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_a_usage_error_is_found_without_importing_dagster(tmp_path: Path) -> None:
    proc = main_in_a_process(environment(tmp_path), "run", "--select", "eurostat.nope")
    assert proc.stdout.split() == ["2", "False"], proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def json_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Result]:
    """`eudap demo --json` with stderr not a terminal: plain progress lines there."""
    env = environment(tmp_path_factory.mktemp("json_demo"))
    return env, eudap(env, "demo", "--json")


def test_demo_json_prints_one_document_and_nothing_else_on_stdout(
    json_demo: tuple[dict, Result],
) -> None:
    _, res = json_demo
    assert res.code == 0, res.err
    summary = json.loads(res.out)  # the whole of stdout is one JSON document
    assert summary["ok"] is True and summary["published"] is True
    assert summary["problems"] == []
    assert "SAMPLE" in summary["release_summary"]


def test_demo_json_summary_is_what_the_published_warehouse_records(
    json_demo: tuple[dict, Result],
) -> None:
    env, res = json_demo
    summary = json.loads(res.out)
    with duckdb.connect(str(published(env)), read_only=True) as con:
        (recorded,) = con.execute(
            "SELECT summary FROM meta.releases WHERE release_id = ?", [summary["run_id"]]
        ).fetchone()
        rows = con.execute(
            "SELECT dataset, state, snapshot_sha256, staged_rows, is_sample, capture "
            "FROM meta.release_datasets WHERE release_id = ?",
            [summary["run_id"]],
        ).fetchall()
    assert summary["release_summary"] == recorded
    assert {
        ds: (i["state"], i["snapshot_sha256"], i["rows"], i["sample"], i["capture"])
        for ds, i in summary["datasets"].items()
    } == {ds: (state, sha, n, sample, capture) for ds, state, sha, n, sample, capture in rows}


def test_the_demos_report_lists_the_mirror_inbox_files_the_run_took_in(
    json_demo: tuple[dict, Result],
) -> None:
    """The demo's Bulletin tables come from the mirror's inbox, taken in by the run's
    meta/intake step (not by the CLI before the run): its summary and its saved run report
    list each file, as a Dagster-launched run's report does."""
    env, res = json_demo
    summary = json.loads(res.out)
    expected = sorted(p.name for p in (SAMPLE_DIR / "inbox").iterdir() if p.is_file())
    assert expected, "the sample mirror's inbox is empty: nothing checks the listing any more"
    taken = summary["inbox_taken"]
    assert sorted(t.split(" -> ", 1)[0].rsplit("/", 1)[-1] for t in taken) == expected, taken
    assert all(" -> euda.bulletin (new snapshot" in t for t in taken), taken
    assert summary["inbox_rejected"] == []
    saved = Path(env["EUDAP_DATA_DIR"]) / "warehouse" / "runs" / f"{summary['run_id']}.json"
    assert json.loads(saved.read_text(encoding="utf-8"))["inbox_taken"] == taken


def test_demo_progress_is_one_line_per_step_on_stderr_when_it_is_no_terminal(
    json_demo: tuple[dict, Result],
) -> None:
    _, res = json_demo
    lines = res.err.splitlines()
    steps = [line for line in lines if line.startswith("[")]
    assert any(" download eurostat_crim_off_cat: ok " in line for line in steps), lines
    download = next(line for line in steps if "download eurostat_crim_off_cat" in line)
    assert download.rstrip().endswith("kB"), download  # the bytes it downloaded
    assert any(" stage eurostat_crim_off_cat: ok " in line for line in steps), lines
    assert any(" indicator ind01_organised_crime: ok " in line for line in steps), lines
    assert steps[-1].startswith("[") and " publish: ok " in steps[-1], lines
    assert "\x1b[" not in res.err  # no terminal codes in a log


def test_progress_goes_to_stderr_itself_not_through_dagsters_log_capture(
    json_demo: tuple[dict, Result],
) -> None:
    """Dagster captures a run's output for its compute logs (descriptor 2 pointed at a file,
    copied back by `tail`, which may stop before the last lines): the progress lines are
    written to stderr itself, so none passes through that file and none can be lost."""
    env, res = json_demo
    captured = sorted(Path(env["DAGSTER_HOME"]).glob("storage/*/compute_logs/*.err"))
    assert captured, "the run left no compute log: nothing checks the capture any more"
    for path in captured:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert " publish: ok " not in text and "] stage " not in text, (path, text[-500:])
    assert " publish: ok " in res.err


def test_a_second_demo_with_nothing_changed_builds_nothing_and_says_so(
    json_demo: tuple[dict, Result],
) -> None:
    env, first = json_demo
    release = json.loads(first.out)["run_id"]
    before = published(env).read_bytes()
    res = eudap(env, "demo", "--json")
    assert res.code == 0, res.out + res.err
    summary = json.loads(res.out)
    assert summary["ok"] is True and summary["problems"] == []
    assert summary["published"] is False and summary["current_release"] == release
    assert summary["nothing_changed"].startswith(f"nothing changed since release {release} (")
    assert summary["nothing_changed"].endswith("datasets unchanged; release stays current")
    assert {i["state"] for i in summary["datasets"].values()} == {"unchanged"}
    assert published(env).read_bytes() == before
    # The check before the run (pipelines/prerun.py) found the mirror's files unchanged: no
    # Dagster run was started, so no step ran, and stderr and the summary say so.
    assert summary["dagster_run_started"] is False
    assert summary["checked_before_run"].endswith("every file unchanged")
    lines = res.err.splitlines()
    assert lines[-1] == (
        f"{summary['checked_before_run']}: {summary['nothing_changed']}; no Dagster run started"
    ), lines
    assert not any(line.startswith("[") for line in lines), lines  # no Dagster step
    status = eudap(env, "status")
    assert f"-> OK: {summary['nothing_changed']} (no Dagster run started)" in status.out, status.out


def test_a_night_with_nothing_changed_never_imports_dagster(
    json_demo: tuple[dict, Result],
) -> None:
    env, _ = json_demo
    proc = main_in_a_process(env, "demo", "--quiet")
    out = proc.stdout.splitlines()
    assert out[-1].split() == ["0", "False"], proc.stdout + proc.stderr
    assert out[0].startswith("OK: nothing changed since release "), out
    assert out[0].endswith("; release stays current (no Dagster run started)"), out
