"""Nothing twice (issue 11, item 3): a table whose inputs did not change is copied from the
published release, not staged or computed and validated again (pipelines/reuse.py).

Builds from the bundled sample mirror (a folder: no network) on one temp data folder:

1. cold: everything is staged and computed (a copy of the session's demo, tests/conftest.py);
2. warm, nothing changed: the check before the run (pipelines/prerun.py) finds every file
   of the mirror unchanged and starts no Dagster run: the published warehouse stays
   byte-identical, the run ends OK saying since which release nothing changed and that no
   Dagster run was started, and each dataset's attempt log records the check; the nightly
   schedule's tick makes the same check and skips, naming the release, and saves the night's
   run report as the CLI does (`eudap status` reads it); a file dropped into
   the inbox (identical to a snapshot) starts the Dagster run (and the tick's), whose
   meta/build finds nothing changed (pipelines/nochange.py) and builds nothing;
3. the same with a rebuild asked for: every staging, indicator and trend table is copied
   (meta.input_keys.copied_from, state `unchanged`, the reason says so) and holds exactly
   the values of the first release; the gate record carries the published verdicts;
4. one snapshot changed (the mirror's hlth_cd_asdr2 file has one value changed, so the run
   downloads a new snapshot): only that dataset, the indicator reading it and the trend
   tables are rebuilt, and the staged value is the new one;
5. the download of that file fails: the run builds and publishes it stale;
6. another code version: everything is rebuilt.

Publish refuses a copied table whose recorded key is not its source release's; a changed
catalogue entry changes the dataset's key.
"""

from __future__ import annotations

import io
import json
import shutil
from contextlib import redirect_stdout
from pathlib import Path

import duckdb
import pytest
from console import Result, copy_demo_data
from dagster import DagsterInstance, build_schedule_context
from dagster._core.definitions.schedule_definition import ScheduleExecutionData

from pipelines import reuse
from pipelines.attempts import last_attempt
from pipelines.catalogue import load_catalogue
from pipelines.cli import RunReport, execute, print_report
from pipelines.resources import EudapResource
from pipelines.schedules import nightly_job, nightly_schedule
from pipelines.settings import PROJECT_ROOT, Paths
from pipelines.snapshots import SnapshotStore
from pipelines.sources import print_sources
from pipelines.status import last_run_report

SAMPLE = PROJECT_ROOT / "data" / "sample"
ASDR2 = "eurostat.hlth_cd_asdr2"


def mirror_of(data: Path) -> Path:
    return data / "mirror"


def build(
    data: Path, *, rebuild: bool = False, ok: bool = True, dagster_run: bool = True
) -> RunReport:
    """A run; `dagster_run`: whether it must have started a Dagster run (none when the
    check before the run found nothing changed)."""
    instance = DagsterInstance.ephemeral()
    try:
        report = execute(
            "bench", mirror=str(mirror_of(data)), data_dir=data, instance=instance, rebuild=rebuild
        )
        assert instance.get_runs_count() == int(dagster_run), report.problems
    finally:
        instance.dispose()
    assert report.ok == ok, report.problems
    assert report.dagster_run_started == dagster_run
    return report


def tick_of(paths: Paths) -> ScheduleExecutionData:
    """What the nightly schedule's tick returns for the data folder of `paths`."""
    resource = EudapResource(data_dir=str(paths.data_dir), mirror=str(mirror_of(paths.data_dir)))
    schedule = nightly_schedule(nightly_job(load_catalogue()), load_catalogue())
    with build_schedule_context(resources={"eudap": resource}) as context:
        return schedule.evaluate_tick(context)


def latest(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute(
        "SELECT release_id FROM meta.releases ORDER BY published_at DESC LIMIT 1"
    ).fetchone()[0]


def keys(paths: Paths) -> dict[str, str | None]:
    """table -> the release it was copied from (None: rebuilt), in the published release."""
    with duckdb.connect(str(paths.published_warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT table_name, copied_from FROM meta.input_keys WHERE release_id = ? "
            "AND kind <> 'release'",
            [latest(con)],
        ).fetchall()
    return dict(rows)


def table_rows(paths: Paths, table: str) -> list[tuple]:
    with duckdb.connect(str(paths.published_warehouse), read_only=True) as con:
        return con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


@pytest.fixture(scope="module")
def built(demo: tuple[dict, Result], tmp_path_factory: pytest.TempPathFactory) -> Paths:
    """A cold build of the sample mirror: the session's demo, copied."""
    data = tmp_path_factory.mktemp("nothing_twice") / "data"
    copy_demo_data(demo, data)
    shutil.copytree(SAMPLE, mirror_of(data))
    return Paths(data)


def test_nothing_twice(built: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cat = load_catalogue()
    paths = built
    first = keys(paths)
    assert first and all(v is None for v in first.values()), "a cold build copies nothing"
    staged_tables = [ds.table for ds in cat.datasets.values()]
    before = {
        t: table_rows(paths, t) for t in staged_tables + ["indicators.ind09_morbidity_mortality"]
    }
    with duckdb.connect(str(paths.published_warehouse), read_only=True) as con:
        release_1 = latest(con)

    # 2. nothing changed: no Dagster run, nothing built, the published warehouse untouched
    published = paths.published_warehouse.read_bytes()
    noop = build(paths.data_dir, dagster_run=False)
    assert paths.published_warehouse.read_bytes() == published
    assert not noop.published and noop.current_release == release_1
    assert noop.nothing_changed.startswith(f"nothing changed since release {release_1} (")
    assert noop.nothing_changed.endswith(
        f": {len(cat.datasets)} datasets unchanged; release stays current"
    )
    assert {info["state"] for info in noop.datasets.values()} == {"unchanged"}
    assert not paths.build_warehouse(noop.run_id).exists()
    assert noop.checked_before_run.endswith("every file unchanged"), noop.checked_before_run
    saved = json.loads((paths.runs_dir / f"{noop.run_id}.json").read_text(encoding="utf-8"))
    assert saved["dagster_run_started"] is False and saved["ok"] is True
    out = io.StringIO()
    with redirect_stdout(out):
        assert print_report(noop) == 0
    printed = out.getvalue().splitlines()
    assert printed[0] == f"OK: {noop.nothing_changed} (no Dagster run started)", printed
    assert f"No Dagster run was started: {noop.checked_before_run}" in printed, printed
    store = SnapshotStore(paths.raw_dir)
    for ds in cat.datasets.values():
        attempt = last_attempt(store, ds.id)
        if ds.downloads and not ds.local_file:  # the curated files log no attempt
            assert attempt and attempt["outcome"] == "unchanged", (ds.id, attempt)
            assert attempt["checked_before_run"] is True, (ds.id, attempt)
    out = io.StringIO()
    with redirect_stdout(out):
        print_sources(paths)
    assert "unchanged (asked before the run, nothing downloaded: no Dagster run started)" in (
        out.getvalue()
    )

    # the nightly schedule's tick makes the same check: no run, the tick says why
    tick = tick_of(paths)
    assert not tick.run_requests, tick
    assert tick.skip_message and tick.skip_message.startswith(
        f"nothing changed since release {release_1} ("
    ), tick.skip_message
    assert tick.skip_message.endswith("every file unchanged: no run started"), tick.skip_message
    assert paths.published_warehouse.read_bytes() == published
    # ... and saves the night's report, which `eudap status` shows as the last run
    night = last_run_report(paths)
    assert night and night["run_id"].startswith("schedule-"), night
    assert night["mode"] == "dagster schedule" and night["dagster_run_started"] is False
    assert night["ok"] is True and night["current_release"] == release_1
    assert tick.skip_message.startswith(night["nothing_changed"]), (night, tick.skip_message)
    assert {info["state"] for info in night["datasets"].values()} == {"unchanged"}

    # a file in the inbox starts the Dagster run (and the schedule's), even one identical
    # to a snapshot
    (crim,) = (mirror_of(paths.data_dir) / "ec.europa.eu").rglob("crim_off_cat/*/*")
    paths.inbox_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(crim, paths.inbox_dir / "estat_crim_off_cat.tsv")
    tick = tick_of(paths)
    assert len(tick.run_requests or []) == 1 and not tick.skip_message, tick
    inbox_run = build(paths.data_dir)
    assert inbox_run.inbox_taken and "identical to a snapshot" in inbox_run.inbox_taken[0]
    assert inbox_run.nothing_changed.startswith(f"nothing changed since release {release_1} (")
    assert inbox_run.current_release == release_1 and not inbox_run.published
    assert paths.published_warehouse.read_bytes() == published

    # 3. a rebuild asked for (a Dagster run, no check before it): everything copied,
    # identical values, published verdicts
    assert build(paths.data_dir, rebuild=True).published
    second = keys(paths)
    assert set(second) == set(first)
    assert all(v == release_1 for v in second.values()), second
    for table, rows in before.items():
        assert table_rows(paths, table) == rows, table
    with duckdb.connect(str(paths.published_warehouse), read_only=True) as con:
        release_2 = latest(con)
        states = con.execute(
            "SELECT DISTINCT state, reason FROM meta.release_datasets WHERE release_id = ?",
            [release_2],
        ).fetchall()
        gates = con.execute(
            "SELECT table_name, passed, summary FROM meta.gate_results WHERE release_id = ?",
            [release_2],
        ).fetchall()
    assert {s for s, _ in states} == {"unchanged"}
    assert all(r.startswith(f"skipped: unchanged since release {release_1}") for _, r in states)
    assert len(gates) == len(second)
    assert all(p and s.startswith(f"copied from release {release_1}") for _, p, s in gates)

    # publish refuses a copied table whose key is not its source release's
    tampered = paths.build_warehouse("tampered")
    shutil.copyfile(paths.published_warehouse, tampered)
    with duckdb.connect(str(tampered)) as con:
        con.execute(
            "UPDATE meta.input_keys SET release_id = 'tampered', input_key = 'x' || input_key "
            "WHERE release_id = ? AND table_name = 'staging.eurostat_hlth_cd_asdr2'",
            [release_2],
        )
        problems = reuse.copy_problems(con, "tampered", cat, paths)
    tampered.unlink()
    assert len(problems) == 1 and "staging.eurostat_hlth_cd_asdr2" in problems[0], problems

    # 4. one snapshot changed: only that dataset and what reads it are rebuilt
    (mirrored,) = (mirror_of(paths.data_dir) / "ec.europa.eu").rglob("hlth_cd_asdr2/*/*")
    lines = mirrored.read_text(encoding="utf-8").splitlines(keepends=True)
    row = next(i for i, line in enumerate(lines[1:], 1) if any(c.isdigit() for c in line))
    cells = lines[row].split("\t")
    col = next(k for k in range(1, len(cells)) if any(c.isdigit() for c in cells[k]))
    number = cells[col].strip().split(" ")[0]
    new_number = f"{float(number) + 1000:g}"
    cells[col] = cells[col].replace(number, new_number, 1)
    lines[row] = "\t".join(cells)
    mirrored.write_text("".join(lines), encoding="utf-8")
    build(paths.data_dir)
    third = keys(paths)
    rebuilt = {t for t, source in third.items() if source is None}
    trends = {t for t in third if t.startswith("trends.")}
    assert rebuilt == {
        "staging.eurostat_hlth_cd_asdr2",
        "indicators.ind09_morbidity_mortality",
        *trends,
    }, rebuilt
    after = table_rows(paths, "staging.eurostat_hlth_cd_asdr2")
    assert len(after) == len(before["staging.eurostat_hlth_cd_asdr2"])
    assert after != before["staging.eurostat_hlth_cd_asdr2"]
    with duckdb.connect(str(paths.published_warehouse), read_only=True) as con:
        (hits,) = con.execute(
            "SELECT count(*) FROM staging.eurostat_hlth_cd_asdr2 WHERE value = ?",
            [float(new_number)],
        ).fetchone()
    assert hits == 1

    # 5. its download fails (so does the check before the run): built and published, the
    # dataset stale
    mirrored.unlink()
    stale = build(paths.data_dir, ok=False)
    assert stale.published and stale.datasets[ASDR2]["state"] == "stale"
    assert stale.problems == [f"{ASDR2} is stale: {stale.datasets[ASDR2]['reason']}"]
    mirrored.write_text("".join(lines), encoding="utf-8")

    # 6. another code version: everything rebuilt
    reuse.code_sha256.cache_clear()
    monkeypatch.setattr(reuse, "code_sha256", lambda: "another code version")
    build(paths.data_dir)
    assert all(v is None for v in keys(paths).values())


def test_catalogue_entry_changes_the_key(built: Paths) -> None:
    cat = load_catalogue()
    ds = cat.dataset(ASDR2)
    snaps = SnapshotStore(built.raw_dir).snapshots(ASDR2)
    key = reuse.staging_key(cat, ds, snaps, allow_sample=True)
    assert reuse.staging_key(cat, ds, snaps, allow_sample=True) == key
    edited = ds.model_copy(update={"max_row_drop": 0.99})
    assert reuse.staging_key(cat, edited, snaps, allow_sample=True).key != key.key
    assert reuse.staging_key(cat, ds, snaps[1:], allow_sample=True).key != key.key
