"""The `eudap` command: demo, run, load, status, sql, describe, diff.

Runs execute the same Dagster job the nightly schedule runs (in process, recorded in the
local Dagster instance so the UI of `make dev` shows them). Progress goes to stderr
(pipelines/progress.py); the summary to stdout, as the warehouse records the release. On
failure the first line printed says what failed; the exit status is non-zero whenever
anything failed, even when a release was published from last good snapshots; 2 for a
command line that cannot run, before anything is built.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import signal
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipelines.progress import RunView, choose_view
from pipelines.redact import redact_text
from pipelines.runlock import Acquired, RunLockBusy, run_lock
from pipelines.runreport import RunReport, no_run_report, now, report_json
from pipelines.settings import PROJECT_ROOT, SAMPLE_MIRROR_DIR, Paths, data_dir_from_env

# EXIT_BUSY is EX_TEMPFAIL (sysexits.h): another run holds the lock; try again later.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 75


class UsageError(ValueError):
    """A command line that cannot run (exit 2); the message never repeats a credential."""


def ensure_dagster_home() -> None:
    """Use the project's Dagster instance (telemetry off) unless one is configured."""
    if not os.environ.get("DAGSTER_HOME"):
        home = PROJECT_ROOT / ".dagster_home"
        home.mkdir(exist_ok=True)
        yaml_path = home / "dagster.yaml"
        if not yaml_path.exists():
            yaml_path.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
        os.environ["DAGSTER_HOME"] = str(home)


def execute(
    mode: str,
    *,
    mirror: str = "",
    offline: bool = False,
    select: list[str] | None = None,
    data_dir: Path | None = None,
    instance: Any = None,
    wait_seconds: float = 0.0,
    view: Callable[[int], RunView] | None = None,
    rebuild: bool = False,
) -> RunReport:
    """Run the full job once, holding the run lock. `select` limits which datasets are
    downloaded; `view` makes the progress display, given the number of assets to build;
    `rebuild` builds and publishes even when nothing changed since the published release;
    `instance` is the Dagster instance (default: the project's), or a function making one,
    called only when a Dagster run starts (a night with nothing changed starts none:
    pipelines/prerun.py). Raises UsageError for a request that cannot run (before
    anything is built), RunLockBusy when another run holds the lock after `wait_seconds`."""
    check_run_request(mirror, select)
    paths = Paths(data_dir or data_dir_from_env())
    run_id = str(uuid.uuid4())  # Dagster's run id format; known before the lock is taken
    with run_lock(paths, run_id, mode, wait_seconds) as acquired:
        _note_dead_holder(acquired)
        return _execute_locked(
            mode, run_id, paths, mirror, offline, select, instance, view, rebuild
        )


def check_run_request(mirror: str, select: list[str] | None) -> None:
    """UsageError for a mirror or dataset selection that cannot run. Reads the catalogue
    only: nothing is built, locked or imported from Dagster."""
    from pipelines.catalogue import load_catalogue
    from pipelines.fetch import mirror_url_problem

    if mirror.startswith(("http://", "https://")):
        problem = mirror_url_problem(mirror)
        if problem:
            raise UsageError(problem)  # before the URL reaches Dagster's run records
    elif mirror and not Path(mirror).is_dir():
        raise UsageError(f"the mirror {redact_text(mirror)} is neither an http(s) URL nor a folder")
    if not select:
        return
    cat = load_catalogue()
    unknown = [ds_id for ds_id in select if ds_id not in cat.datasets]
    if unknown:
        raise UsageError(
            f"unknown dataset{'s' if len(unknown) > 1 else ''} in --select: "
            f"{', '.join(unknown)}; known: {', '.join(sorted(cat.datasets))}"
        )
    no_download = [ds_id for ds_id in select if not cat.dataset(ds_id).downloads]
    if no_download:
        raise UsageError(
            f"nothing to download for {', '.join(no_download)}: only `eudap load` or the "
            "inbox brings in its files"
        )


def _note_dead_holder(acquired: Acquired | None) -> None:
    if acquired and acquired.stale:
        print(
            f"note: the previous {acquired.stale.describe()} ended without releasing the run "
            "lock (killed?); this run removes what it left behind",
            file=sys.stderr,
        )


def _execute_locked(
    mode: str,
    run_id: str,
    paths: Paths,
    mirror: str,
    offline: bool,
    select: list[str] | None,
    instance: Any,
    view: Callable[[int], RunView] | None,
    rebuild: bool = False,
) -> RunReport:
    from pipelines.catalogue import load_catalogue
    from pipelines.prerun import check_before_run, downloaded_datasets

    started = now()
    cat = load_catalogue()
    intake = take_in_inbox(paths, cat)  # files downloaded by hand come first
    run_mode = "offline" if offline else "datasets" if select else "full"
    if not rebuild and not intake.taken and not intake.rejected:
        notes = view(0) if view else RunView(0)
        check = check_before_run(
            cat, paths, mirror, downloaded_datasets(cat, run_mode, select or []), run_id, notes.note
        )
        if not check.start_run:
            notes.note(f"{check.summary}: {check.why}; no Dagster run started")
            return no_run_report(mode, run_id, started, paths, check, cat)
        notes.note(f"starting the Dagster run: {check.why}")
    ensure_dagster_home()
    from dagster import DagsterInstance

    from pipelines.definitions import build_definitions
    from pipelines.resources import EudapResource
    from pipelines.runevents import complete_and_save
    from pipelines.schedules import selection

    resource = EudapResource(data_dir=str(paths.data_dir), mirror=mirror, rebuild=rebuild)
    defs = build_definitions(cat, resource)
    job = defs.resolve_job_def("nightly")
    keys = list(selection(cat, run_mode, select or []).resolve(defs.resolve_asset_graph()))
    inst = (instance() if callable(instance) else instance) or DagsterInstance.get()
    log_level = os.environ.get("EUDAP_LOG_LEVEL", "ERROR").upper()
    display = view(len(keys)) if view else RunView(len(keys))
    inst.add_event_listener(run_id, display.on_event)
    with display:
        result = job.execute_in_process(
            instance=inst,
            asset_selection=keys,
            raise_on_error=False,
            run_id=run_id,
            tags={"eudap/mode": mode},
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
    report = RunReport(run_id=result.run_id, started_at=started, mode=mode)
    report.inbox_taken, report.inbox_rejected = intake.taken, intake.rejected
    return complete_and_save(report, result.all_events, paths)


def take_in_inbox(paths: Paths, cat: Any) -> Any:
    """Take in the inbox (see pipelines/inbox.py); the caller holds the run lock."""
    from pipelines.inbox import take_in_store

    return take_in_store(paths, cat)


def provenance_label(info: dict[str, Any]) -> str:
    """What a summary row says of its snapshot: synthetic sample data, or a bundled capture."""
    if info.get("sample"):
        return " [sample data: synthetic]"
    return f" [{info['capture']}]" if info.get("capture") else ""


def print_report(report: RunReport, style: str = "full") -> int:
    """Print the run summary on stdout: "full", "quiet" (the outcome line, then the
    problems when it failed) or "json" (one JSON document). Returns the exit status."""
    if style == "json":
        print(report_json(report))
        return EXIT_OK if report.ok else EXIT_FAILED
    with contextlib.redirect_stdout(_Redacting(sys.stdout)):
        return _print_report(report, quiet=style == "quiet")


class _Redacting(io.TextIOBase):
    """A text stream that masks credentials in URLs before passing text on."""

    def __init__(self, target: Any):
        self.target = target

    def write(self, text: str) -> int:
        self.target.write(redact_text(text))
        return len(text)

    def flush(self) -> None:
        self.target.flush()


def _print_report(report: RunReport, *, quiet: bool = False) -> int:
    if report.ok and report.nothing_changed:
        from pipelines.status import no_dagster_run

        print(f"OK: {report.nothing_changed}{no_dagster_run(report.__dict__)}")
    elif report.ok:
        print(f"OK: published release {report.run_id}: {report.release_summary}")
    else:
        problems = report.problems
        print(f"FAILED: {problems[0]}")
        for line in problems[1:]:
            print(f"  - {line}")
        if report.published:
            print(
                f"Published release {report.run_id} anyway, from last good snapshots: "
                f"{report.release_summary}"
            )
        elif report.nothing_changed:
            print(f"Nothing built: {report.nothing_changed}")
    if quiet:
        return EXIT_OK if report.ok else EXIT_FAILED
    for taken in report.inbox_taken:
        print(f"  inbox: took in {taken}")
    for ds, info in sorted(report.datasets.items()):
        sha = (info.get("snapshot_sha256") or "")[:12] or "-"
        print(
            f"  {ds:<34} {info['state']:<9} {str(info.get('rows')):>8} rows  snapshot {sha}"
            f"{provenance_label(info)}"
        )
    for w in report.warnings:
        print(f"  warning: {w['asset']} {w['check']}: {w['description']}")
    if not report.dagster_run_started:
        print(f"No Dagster run was started: {report.checked_before_run}")
        print(f"Check {report.run_id}; details: eudap status, eudap sources")
    else:
        print(f"Run {report.run_id}; details: eudap status")
    return EXIT_OK if report.ok else EXIT_FAILED


# -- commands ---------------------------------------------------------------------------------
def output_style(args: argparse.Namespace) -> str:
    return "json" if args.json else "quiet" if args.quiet else "full"


def run_and_report(args: argparse.Namespace, mode: str, **options: Any) -> int:
    """Execute a run with its progress on stderr and print its summary on stdout."""
    style = output_style(args)

    def view(total_assets: int) -> RunView:
        return choose_view(total_assets, quiet=args.quiet, force=args.progress)

    # Under --json stdout carries the summary alone: whatever else prints goes to stderr.
    quiet_stdout = (
        contextlib.redirect_stdout(sys.stderr) if style == "json" else contextlib.nullcontext()
    )
    try:
        with quiet_stdout:
            report = execute(mode, wait_seconds=args.wait or 0.0, view=view, **options)
    except UsageError as exc:  # raised before anything is locked, imported or built
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return print_report(report, style)


def cmd_demo(args: argparse.Namespace) -> int:
    status = run_and_report(args, "demo", mirror=str(SAMPLE_MIRROR_DIR), rebuild=args.rebuild)
    if output_style(args) == "full":
        print(
            f"Built from the bundled mirror {SAMPLE_MIRROR_DIR}, no network: real publisher "
            "files where one exists (each row labelled 'bundled copy, capture date unknown "
            "(...)'), synthetic sample data elsewhere (labelled 'sample data', is_sample in "
            "every table; never in a live release). Its README.md says which file is which."
        )
    return status


def cmd_run(args: argparse.Namespace) -> int:
    mirror = args.mirror or os.environ.get("EUDAP_MIRROR", "")
    if args.offline and (args.mirror or args.select):
        print(
            "error: --offline makes no downloads; it cannot go with --mirror or --select",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return run_and_report(
        args,
        "offline" if args.offline else "run",
        mirror=mirror,
        offline=args.offline,
        select=args.select,
        rebuild=args.rebuild,
    )


def cmd_load(args: argparse.Namespace) -> int:
    from pipelines.catalogue import load_catalogue
    from pipelines.fetch import Fetcher, FetchError
    from pipelines.snapshots import SnapshotStore

    ds = load_catalogue().dataset(args.dataset)
    paths = Paths(data_dir_from_env())
    fetcher = Fetcher(SnapshotStore(paths.raw_dir))
    # A load writes the snapshot store: never while a run reads it or cleans up after
    # the dead.
    with run_lock(paths, f"load-{uuid.uuid4()}", "load", args.wait or 0.0) as acquired:
        _note_dead_holder(acquired)
        try:
            outcome = fetcher.load_file(ds, Path(args.file))
        except FetchError as exc:
            print(f"FAILED: {exc}")
            return EXIT_FAILED
    snap = outcome.snapshot
    assert snap is not None
    if outcome.status == "unchanged":
        print(
            f"{ds.id}: {args.file} is identical to the latest snapshot "
            f"{snap.meta.sha256[:12]} ({snap.path}); nothing added"
        )
    else:
        print(f"{ds.id}: added snapshot {snap.meta.sha256[:12]} at {snap.path}")
    print("It is staged and gated by the next build: eudap run --offline")
    return EXIT_OK


def cmd_inbox(args: argparse.Namespace) -> int:
    from pipelines.catalogue import load_catalogue

    paths = Paths(data_dir_from_env())
    with run_lock(paths, f"inbox-{uuid.uuid4()}", "inbox", args.wait or 0.0) as acquired:
        _note_dead_holder(acquired)
        result = take_in_inbox(paths, load_catalogue())
    for line in result.lines() or [f"inbox: {paths.inbox_dir} holds no file"]:
        print(redact_text(line))
    if result.taken:
        print("Taken in files are staged and gated by the next build: eudap run --offline")
    return EXIT_FAILED if result.rejected else EXIT_OK


def cmd_sources(args: argparse.Namespace) -> int:
    from pipelines.sources import print_sources

    return print_sources(Paths(data_dir_from_env()), check=args.check, as_json=args.json)


def cmd_status(args: argparse.Namespace) -> int:
    from pipelines.status import print_status

    return print_status(Paths(data_dir_from_env()))


def cmd_sql(args: argparse.Namespace) -> int:
    from pipelines.sqlshell import Output, ShellUsageError, parquet_target, sql_command

    paths = Paths(data_dir_from_env())
    try:
        fmt = "csv" if args.csv else "json" if args.json else "parquet" if args.parquet else "table"
        target = parquet_target(paths, args.parquet) if args.parquet else None
        out = Output(fmt, args.max_rows, target)
    except ShellUsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return sql_command(paths, args.query, out)


def cmd_describe(args: argparse.Namespace) -> int:
    from pipelines.sqlshell import describe_command

    return describe_command(Paths(data_dir_from_env()), args.table)


def cmd_report(args: argparse.Namespace) -> int:
    from pipelines.report import report_command

    return report_command(Paths(data_dir_from_env()), args.out)


def cmd_diff(args: argparse.Namespace) -> int:
    from pipelines.revisions import diff_command
    from pipelines.warehouse import open_published

    con = open_published(Paths(data_dir_from_env()))
    if con is None:
        print(
            "FAILED: no published warehouse yet; run `eudap demo` or `eudap run`", file=sys.stderr
        )
        return EXIT_FAILED
    try:
        status, out, err = diff_command(con, args.old, args.new)
    finally:
        con.close()
    sys.stdout.write(out)
    sys.stderr.write(err)
    return status


def cmd_suites(args: argparse.Namespace) -> int:
    from pipelines.catalogue import load_catalogue
    from pipelines.suites import GENERATED_DIR, generated_suites, stale_files, write_generated

    cat = load_catalogue()
    if args.write:
        written = write_generated(cat)
        for path in written:
            print(f"wrote {path.relative_to(GENERATED_DIR.parent.parent)}")
        print(
            f"{len(generated_suites(cat))} generated suites in {GENERATED_DIR}, "
            f"{len(written)} changed"
        )
        return EXIT_OK
    problems = stale_files(cat)
    for name, suite in generated_suites(cat).items():
        print(f"{name}: {len(suite['expectations'])} generated expectations")
    for problem in problems:
        print(f"STALE: expectations/generated/{problem}")
    if problems:
        print("Run `eudap suites --write` and review the diff.")
        return EXIT_FAILED
    return EXIT_OK


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def add_wait_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--wait",
        nargs="?",
        type=float,
        const=math.inf,
        metavar="SECONDS",
        help="if another run is going, wait for it to end (at most SECONDS) instead of "
        f"exiting at once with status {EXIT_BUSY}",
    )


def add_rebuild_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--rebuild",
        action="store_true",
        help="build and publish a new release even when nothing changed since the published "
        "one (by default such a run builds nothing and the release stays current); tables "
        "whose inputs did not change are still copied from it",
    )


def add_output_options(command: argparse.ArgumentParser) -> None:
    shown = command.add_mutually_exclusive_group()
    shown.add_argument(
        "--progress",
        action="store_true",
        help="live progress on stderr even when it is not a terminal (default: live progress "
        "on a terminal, one plain line per step otherwise)",
    )
    shown.add_argument(
        "--quiet",
        action="store_true",
        help="for cron: print only errors and the one-line outcome",
    )
    command.add_argument(
        "--json",
        action="store_true",
        help="print the run summary as one JSON document on stdout, and nothing else there",
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="eudap", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="build the warehouse from the bundled sample mirror (no network)"
    )
    add_wait_option(demo)
    add_output_options(demo)
    add_rebuild_option(demo)
    run = sub.add_parser("run", help="fetch, stage, gate and publish (the nightly job)")
    add_wait_option(run)
    add_output_options(run)
    add_rebuild_option(run)
    run.add_argument(
        "--mirror",
        help="folder or http(s) URL laid out as <mirror>/<host>/<path> "
        "(default: $EUDAP_MIRROR, else the real upstream); credentials come from ~/.netrc "
        "(or $NETRC), never the URL",
    )
    run.add_argument(
        "--offline",
        action="store_true",
        help="no downloads: build from the snapshots already in the store",
    )
    run.add_argument(
        "--select",
        nargs="+",
        metavar="DATASET",
        help="download only these datasets (the build still uses all)",
    )
    load = sub.add_parser("load", help="register a file downloaded by hand as a snapshot")
    load.add_argument("dataset")
    load.add_argument("file")
    add_wait_option(load)
    inbox = sub.add_parser(
        "inbox", help="take in the files downloaded by hand into the inbox (data/inbox/)"
    )
    add_wait_option(inbox)
    sources = sub.add_parser(
        "sources", help="per dataset: URL, last attempt and outcome, snapshot in use and age"
    )
    sources.add_argument(
        "--check",
        action="store_true",
        help="probe every source now (no snapshot stored); exit 1 if any is refused or failed",
    )
    sources.add_argument("--json", action="store_true", help="print JSON")
    sub.add_parser("status", help="datasets, snapshots, last run and release, gate results")
    sql = sub.add_parser(
        "sql",
        help="query the published warehouse (read-only); without a query, an interactive prompt",
    )
    sql.add_argument("query", nargs="?", help="one SQL statement (default: a prompt)")
    output = sql.add_mutually_exclusive_group()
    output.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    output.add_argument("--json", action="store_true", help="print one JSON array of rows")
    output.add_argument(
        "--parquet",
        metavar="FILE",
        help="write the result to a Parquet file (not inside the data folder's stores)",
    )
    sql.add_argument(
        "--max-rows",
        type=non_negative_int,
        default=40,
        metavar="N",
        help="rows shown in a table (first and last halves; default 40); CSV, JSON and "
        "Parquet get every row",
    )
    describe = sub.add_parser(
        "describe", help="the data dictionary: tables, or one table's columns, with comments"
    )
    describe.add_argument("table", nargs="?", help="schema.table, or a table name")
    report = sub.add_parser(
        "report",
        help="render the indicator scorecard (static HTML, charts inline) from the published "
        "warehouse",
    )
    report.add_argument(
        "--out",
        metavar="DIR",
        help="folder for report.html and report/ (default: data/warehouse/report)",
    )
    diff = sub.add_parser(
        "diff",
        help="what changed between two releases: new periods and series, revised values "
        "(old -> new, with the snapshot that revised them), vanished series",
    )
    diff.add_argument(
        "old",
        nargs="?",
        metavar="A",
        help="release id or a unique prefix (default: the one before B)",
    )
    diff.add_argument(
        "new", nargs="?", metavar="B", help="release id or a unique prefix (default: the latest)"
    )
    suites = sub.add_parser(
        "suites",
        help="the expectations generated from the catalogue: list them and check "
        "expectations/generated/ is current (exit 1 if stale)",
    )
    suites.add_argument(
        "--write", action="store_true", help="write them to expectations/generated/ for review"
    )
    return p


COMMANDS = {
    "demo": cmd_demo,
    "run": cmd_run,
    "load": cmd_load,
    "inbox": cmd_inbox,
    "sources": cmd_sources,
    "status": cmd_status,
    "sql": cmd_sql,
    "describe": cmd_describe,
    "report": cmd_report,
    "diff": cmd_diff,
    "suites": cmd_suites,
}


def main(argv: list[str] | None = None) -> int:
    if hasattr(signal, "SIGPIPE"):  # `eudap sql ... | head` ends quietly
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except RunLockBusy as exc:
        print(f"FAILED: {exc}")
        return EXIT_BUSY
    except Exception as exc:
        # Not imported up front: `eudap sql` and `describe` never load the catalogue.
        catalogue = sys.modules.get("pipelines.catalogue")
        if catalogue is not None and isinstance(exc, catalogue.CatalogueError):
            print(f"FAILED: catalogue error: {exc}")
            return EXIT_FAILED
        raise


if __name__ == "__main__":
    sys.exit(main())
