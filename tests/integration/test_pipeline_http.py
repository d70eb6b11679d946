"""The whole Dagster job, in process, against the sample mirror served over HTTP.

A copy of `data/sample/` is served by pytest-httpserver with ETags and 304s
(`helpers.serve_directory`), and `pipelines.cli.execute("run", mirror=<server>)` runs the
nightly job into a temporary data dir with an ephemeral Dagster instance. Full runs are
slow (~25 s each), so ONE module-scoped story runs four of them in sequence on the same
store, changing the served files between runs; each test reads what one step recorded:

1. first run: everything fresh, published;
2. a killed run leaves debris (a stray build file, an `.incoming-*` snapshot folder), then
   a run with no upstream change: only conditional requests, all answered 304, nothing new;
3. upstream breaks two datasets at once: an HTML error page instead of the EDR
   collection's gps-current member, and a crim_off_cat TSV with a malformed geo code `zz` (sniffing
   passes, its staging gate fails): both stale with their reasons, the rest unchanged, the
   release published from the last good snapshots;
4. upstream fixes both, but the mirror now stands in for the curated EU headlines file with
   a row for indicator 9 (which reads it) that duplicates a Eurostat observation (AT deaths
   from drug dependence, hlth_cd_aro): each dataset passes its own staging gate, and ind09's
   blocking gate (one value per series key and period) fails. A conflict between datasets is
   not pinned on one of them: nothing is published and the published warehouse stays
   byte-identical.

Expected figures are read from the sample files here, independently of the parsers.
Over HTTP the mirror's `repository/` stand-ins for curated files are not used (only a
folder mirror uses them), so curated rows come from the repository, not labelled as sample.

The transport-fault story through the console script is tests/integration/
test_pipeline_faults.py (a file of its own, so both stories run on two workers at once).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import shutil
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import DagsterInstance
from helpers import RecordedRequest, mirror_download_keys, serve_directory
from pytest_httpserver import HTTPServer

from pipelines.catalogue import Catalogue, load_catalogue
from pipelines.cli import RunReport, execute, print_report
from pipelines.fetch import mirror_key
from pipelines.settings import PROJECT_ROOT, SAMPLE_MIRROR_DIR, Paths
from pipelines.snapshots import META_SUFFIX, SnapshotStore

SAMPLE_DIR = PROJECT_ROOT / "data" / "sample"
HTML_DATASET = "euda.edr"
HTML_MEMBER = "gps-current"  # the member of the EDR collection served as an HTML page
GATE_DATASET = "eurostat.crim_off_cat"
CONFLICT_CURATED = "curated.eu_headlines"
HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>503 Service Unavailable</title></head>\n"
    b"<body><h1>Service Unavailable</h1><p>The server is temporarily busy.</p></body></html>\n"
)
KILLED_BUILD = "build-killed-run-0000.duckdb"
INDICATOR_TABLES = 12
# Curated datasets the sample mirror stands in for (its manifest's repository/ entries).
# Datasets whose mirror files are synthetic (MIRROR.json `files`): only they are sample data.
MIRROR_FILES = json.loads((SAMPLE_MIRROR_DIR / "MIRROR.json").read_text("utf-8"))["files"]
SYNTHETIC = sorted({e["dataset"] for e in MIRROR_FILES.values() if e["kind"] == "synthetic"})
STAND_INS = (
    sorted(
        ds_id
        for ds_id, files in json.loads((SAMPLE_MIRROR_DIR / "MIRROR.json").read_text())
        .get("datasets", {})
        .items()
        if any(f.startswith("repository/") for f in files)
    )
    if (SAMPLE_MIRROR_DIR / "MIRROR.json").exists()
    else []
)


# ---------------------------------------------------------------------------------- helpers
def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot_folders(raw_dir: Path) -> set[str]:
    """Every complete snapshot folder of the store (relative paths)."""
    return {
        str(meta.parent.relative_to(raw_dir))
        for meta in raw_dir.glob(f"*/*/*/*{META_SUFFIX}")
        if not meta.parent.name.startswith(".")
        and not meta.relative_to(raw_dir).parts[0].startswith("_")
    }


def mirror_file(mirror: Path, cat: Catalogue, ds_id: str) -> Path:
    """The mirror file of a dataset (of a collection: its HTML_MEMBER member)."""
    keys = mirror_download_keys(cat.dataset(ds_id), mirror)
    return mirror / next((k for k in keys if HTML_MEMBER in k), keys[0])


def discovery_probes(cat: Catalogue, requests: list[RecordedRequest]) -> list[RecordedRequest]:
    """Requests for landing pages of editions the mirror does not have (404): discovery
    looks for this year's edition first."""
    pages = [
        re.compile(re.escape(mirror_key(ds.discover.page)).replace(r"\{year\}", r"\d{4}"))
        for ds in cat.datasets.values()
        if ds.discover is not None
    ]
    return [
        r
        for r in requests
        if r.status == 404 and any(p.fullmatch(r.path.lstrip("/")) for p in pages)
    ]


def tsv_lines(path: Path) -> list[str]:
    body = path.read_bytes()
    return (gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body).decode().splitlines()


def conflicting_year(tsv: Path, series: str) -> str:
    """A year with a value in the series (its TSV key ends with `series`) of the TSV."""
    lines = tsv_lines(tsv)
    periods = [p.strip() for p in lines[0].split("\t")[1:]]
    row = next(line for line in lines[1:] if line.split("\t")[0].endswith(series))
    cells = row.split("\t")[1:]
    return next(p for p, c in zip(periods, cells, strict=True) if not c.strip().startswith(":"))


def write_tsv(path: Path, lines: list[str]) -> None:
    """Plain TSV, as the catalogue's `compress=false` requests are answered."""
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))


def crim_off_cat_cells(lines: list[str]) -> list[dict[str, Any]]:
    """Every numeric cell of a crim_off_cat TSV, by plain splitting (not the parser)."""
    dims = lines[0].split("\t")[0].split("\\")[0].split(",")
    periods = [p.strip() for p in lines[0].split("\t")[1:]]
    cells = []
    for line_no, line in enumerate(lines[1:], start=2):
        parts = line.split("\t")
        key = dict(zip(dims, parts[0].split(","), strict=True))
        for period, cell in zip(periods, parts[1:], strict=True):
            value, _, flags = cell.strip().partition(" ")
            if value != ":":
                cells.append(
                    {**key, "period": int(period), "value": float(value), "line": line_no}
                    | {"flags": flags.strip() or None}
                )
    return cells


@dataclass
class Step:
    """What one run of the story left behind."""

    report: RunReport
    exit_code: int
    printed: str
    requests: list[RecordedRequest]
    warehouse_sha: str | None
    previous_sha: str | None
    snapshots_before: set[str]
    snapshots_after: set[str]
    warehouse_copy: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def connect(self) -> duckdb.DuckDBPyConnection:
        assert self.warehouse_copy is not None, "this step published nothing"
        return duckdb.connect(str(self.warehouse_copy), read_only=True)


@dataclass
class Story:
    cat: Catalogue
    mirror: Path
    data_dir: Path
    steps: dict[str, Step]

    @property
    def paths(self) -> Paths:
        return Paths(self.data_dir)


# ---------------------------------------------------------------------------------- the story
@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    if not (SAMPLE_DIR / "MIRROR.json").exists():
        pytest.skip(f"the sample mirror is missing: no {SAMPLE_DIR / 'MIRROR.json'}")
    base = tmp_path_factory.mktemp("pipeline_http")
    mirror, data_dir, copies = base / "mirror", base / "data", base / "published"
    shutil.copytree(SAMPLE_DIR, mirror)
    copies.mkdir()
    cat = load_catalogue()
    paths = Paths(data_dir)
    server = HTTPServer(host="localhost", port=0)
    server.start()
    log = serve_directory(server, mirror)
    url = server.url_for("").rstrip("/")
    steps: dict[str, Step] = {}

    def run(name: str) -> Step:
        first = len(log)
        before = snapshot_folders(paths.raw_dir)
        instance = DagsterInstance.ephemeral()
        try:
            report = execute("run", mirror=url, data_dir=data_dir, instance=instance)
        finally:
            instance.dispose()
        out = io.StringIO()
        with redirect_stdout(out):
            code = print_report(report)
        step = Step(
            report=report,
            exit_code=code,
            printed=out.getvalue(),
            requests=list(log[first:]),
            warehouse_sha=sha256_of(paths.published_warehouse)
            if paths.published_warehouse.exists()
            else None,
            previous_sha=sha256_of(paths.previous_warehouse)
            if paths.previous_warehouse.exists()
            else None,
            snapshots_before=before,
            snapshots_after=snapshot_folders(paths.raw_dir),
        )
        if report.published:
            step.warehouse_copy = copies / f"{name}.duckdb"
            shutil.copy2(paths.published_warehouse, step.warehouse_copy)
        steps[name] = step
        return step

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(base / "dagster_home"))
        (base / "dagster_home").mkdir()
        mp.delenv("EUDAP_MIRROR", raising=False)
        mp.setenv("EUDAP_DATA_DIR", str(data_dir))
        try:
            # 1. first run
            run("first")

            # 2. a killed run's debris, then a run with nothing changed upstream
            published_before_kill = sha256_of(paths.published_warehouse)
            debris = leave_killed_run_debris(paths, cat, mirror)
            debris["published_sha_after_kill"] = sha256_of(paths.published_warehouse)
            debris["published_sha_before_kill"] = published_before_kill
            run("unchanged").extra.update(debris)

            # 3. an HTML page for one dataset, a gate-failing file for another
            html_target = mirror_file(mirror, cat, HTML_DATASET)
            good_html_target = html_target.read_bytes()
            html_target.write_bytes(HTML_PAGE)
            crim = mirror_file(mirror, cat, GATE_DATASET)
            good_crim = crim.read_bytes()
            lines = tsv_lines(crim)
            zz_line = next(
                i for i, line in enumerate(lines) if i and line.split("\t")[0].endswith(",AT")
            )
            key = lines[zz_line].split("\t")[0]
            lines[zz_line] = key.rsplit(",", 1)[0] + ",zz" + lines[zz_line][len(key) :]
            write_tsv(crim, lines)
            run("broken").extra.update({"zz_line": zz_line + 1, "zz_series": key})

            # 4. both fixed; a curated stand-in now conflicts with hlth_cd_aro in ind09
            html_target.write_bytes(good_html_target)
            crim.write_bytes(good_crim)
            aro = mirror_file(mirror, cat, "eurostat.hlth_cd_aro")
            year = conflicting_year(aro, "A,NR,T,TOTAL,TOXICO,TOT_IN,AT")
            curated = "assets/curated/eu_headlines.csv"
            stand_in = mirror / "repository" / curated
            stand_in.parent.mkdir(parents=True, exist_ok=True)
            stand_in.write_text(
                (PROJECT_ROOT / curated).read_text(encoding="utf-8")
                + f"9,deaths_drug_dependence,AT,{year},1,count,,total,total,,,,Conflict test "
                "document,test,p. 1,https://example.org/conflict,2026-11-29,S,duplicates "
                "Eurostat\n",
                encoding="utf-8",
            )
            manifest = json.loads((mirror / "MIRROR.json").read_text(encoding="utf-8"))
            manifest["datasets"][CONFLICT_CURATED] = [f"repository/{curated}"]
            (mirror / "MIRROR.json").write_text(json.dumps(manifest), encoding="utf-8")
            run("unpublishable").extra["conflict_year"] = year
        finally:
            server.clear()
            server.stop()
    yield Story(cat, mirror, data_dir, steps)


def leave_killed_run_debris(paths: Paths, cat: Catalogue, mirror: Path) -> dict[str, Any]:
    """What a run killed mid-way leaves: a half-built build file and a half-written snapshot.

    The `.incoming-*` folder even holds a sidecar (killed after the sidecar, before the
    rename) naming a newer snapshot with other bytes: readers must still ignore it.
    """
    stray_build = paths.warehouse_dir / KILLED_BUILD
    con = duckdb.connect(str(stray_build))
    con.execute("CREATE SCHEMA indicators")
    con.execute("CREATE TABLE indicators.ind01_organised_crime AS SELECT 'half built' AS marker")
    con.close()
    store = SnapshotStore(paths.raw_dir)
    latest = store.latest(GATE_DATASET)
    assert latest is not None
    folder = store.dataset_dir(GATE_DATASET) / ".incoming-2999-01-01-4242-deadbeefcafe"
    folder.mkdir()
    body = gzip.compress(b"freq,iccs,unit,geo\\TIME_PERIOD\t2022 \nA,ICCS0601,NR,AT\t1 \n")
    (folder / latest.meta.file).write_bytes(body)
    sidecar = json.loads(
        (latest.path.parent / f"{latest.meta.file}{META_SUFFIX}").read_text(encoding="utf-8")
    )
    incoming_sha = hashlib.sha256(body).hexdigest()
    sidecar.update(
        sha256=incoming_sha,
        bytes=len(body),
        fetched_at="2999-01-01T00:00:00Z",
        etag='"from-a-killed-run"',
    )
    (folder / f"{latest.meta.file}{META_SUFFIX}").write_text(json.dumps(sidecar))
    return {"stray_build": stray_build, "incoming": folder, "incoming_sha": incoming_sha}


def indicator_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        f"indicators.{name}"
        for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'indicators' ORDER BY 1"
        ).fetchall()
    ]


def release_states(con: duckdb.DuckDBPyConnection, release_id: str) -> dict[str, str]:
    return dict(
        con.execute(
            "SELECT dataset, state FROM meta.release_datasets WHERE release_id = ?", [release_id]
        ).fetchall()
    )


# ------------------------------------------------------------------------- 1. first run
def test_first_run_publishes_everything_fresh(story: Story) -> None:
    step = story.steps["first"]
    assert step.report.ok, step.report.problems
    assert step.report.published
    assert step.exit_code == 0 and step.printed.startswith("OK:")
    assert "SAMPLE" in step.report.release_summary
    assert set(step.report.datasets) == set(story.cat.datasets)
    assert {d: i["state"] for d, i in step.report.datasets.items()} == dict.fromkeys(
        story.cat.datasets, "fresh"
    )
    # every download went through the mirror server, not the real upstream
    requested = {r.path.lstrip("/") for r in step.requests}
    for ds in story.cat.datasets.values():
        for key in mirror_download_keys(ds, SAMPLE_DIR):
            assert key in requested, f"{ds.id}: {key} was not requested"


def test_first_release_has_every_indicator_table_with_provenance(story: Story) -> None:
    step = story.steps["first"]
    staged = {d for d, info in step.report.datasets.items() if info["rows"]}
    with step.connect() as con:
        tables = indicator_tables(con)
        assert len(tables) == INDICATOR_TABLES, tables
        for ind in story.cat.indicator_list():
            rows, missing_provenance = con.execute(
                f"SELECT count(*), count(*) FILTER (WHERE source_dataset IS NULL "
                f"OR snapshot_sha256 IS NULL OR fetched_at IS NULL OR is_sample IS NULL) "
                f"FROM {ind.table}"
            ).fetchone()
            if set(ind.datasets) & staged:
                assert rows > 0, f"{ind.table} is empty although its inputs were staged"
            assert missing_provenance == 0, f"{ind.table}: rows without provenance"
            # Exactly the rows taken from a synthetic mirror file are sample data: real
            # publisher files of the mirror and the repository's curated files are not.
            wrong_label = con.execute(
                f"SELECT source_dataset, is_sample, count(*) FROM {ind.table} "
                f"WHERE is_sample <> (source_dataset IN "
                f"({', '.join(repr(d) for d in SYNTHETIC)})) GROUP BY ALL"
            ).fetchall()
            assert not wrong_label, f"{ind.table}: sample label wrong: {wrong_label}"
        states = release_states(con, step.report.run_id)
        assert states == dict.fromkeys(story.cat.datasets, "fresh")
        sample_flags = con.execute(
            "SELECT dataset, is_sample FROM meta.release_datasets WHERE release_id = ? "
            "ORDER BY dataset",
            [step.report.run_id],
        ).fetchall()
        assert sample_flags == [(d, d in SYNTHETIC) for d in sorted(story.cat.datasets)]


def test_first_release_values_match_the_sample_files(story: Story) -> None:
    step = story.steps["first"]
    crim = tsv_lines(mirror_file(SAMPLE_DIR, story.cat, GATE_DATASET))
    cell = next(
        c
        for c in reversed(crim_off_cat_cells(crim))
        if c["iccs"] == "ICCS0601" and c["unit"] == "NR" and c["geo"] == "AT"
    )
    with open(
        mirror_file(SAMPLE_DIR, story.cat, "euda.wastewater"), encoding="utf-8", newline=""
    ) as fh:
        ww = next(r for r in csv.DictReader(fh) if r["Daily mean"].strip() not in ("", "0"))
    with open(
        mirror_file(SAMPLE_DIR, story.cat, HTML_DATASET), encoding="utf-8-sig", newline=""
    ) as fh:
        gps = next(r for r in csv.DictReader(fh) if r["Prevalence (%)"].strip())
    with step.connect() as con:
        got = con.execute(
            "SELECT value, flags, source_line, is_sample FROM indicators.ind01_organised_crime "
            "WHERE measure = 'drug_law_offences' AND geo = 'AT' AND period = ?",
            [cell["period"]],
        ).fetchall()
        assert got == [(cell["value"], cell["flags"], cell["line"], False)]  # a real file
        got = con.execute(
            "SELECT value FROM indicators.ind02_emerging_threats "
            "WHERE measure = 'wastewater_daily_mean' AND breakdown = ? AND substance = ? "
            "AND period = ?",
            [f"{ww['Site ID']} ({ww['City']})", ww["Metabolite"], int(ww["Year"])],
        ).fetchall()
        assert got == [(float(ww["Daily mean"]),)]
        got = con.execute(
            "SELECT value FROM indicators.ind07_prevalence "
            "WHERE measure = 'prevalence_latest_survey' AND geo = ? AND period = ? "
            "AND substance = lower(?) AND breakdown = lower(?) AND age = ? AND sex = 'total'",
            [
                gps["Country code"],
                int(gps["Survey year"]),
                gps["Substance"],
                gps["Recall period"],
                gps["Age"],
            ],
        ).fetchall()
        assert got == [(float(gps["Prevalence (%)"]),)]


# --------------------------------------------------- 2. killed run, then nothing changed
def test_a_killed_run_leaves_the_published_warehouse_intact(story: Story) -> None:
    extra = story.steps["unchanged"].extra
    assert extra["published_sha_after_kill"] == extra["published_sha_before_kill"]
    assert extra["published_sha_before_kill"] == story.steps["first"].warehouse_sha


def test_the_run_after_a_killed_run_keeps_the_complete_release(story: Story) -> None:
    """Nothing changed upstream: the run builds nothing (pipelines/nochange.py), so the
    killed run's half-built file is never published and the first release stays current.
    The `.incoming` snapshot is no snapshot: had it counted, its dataset's key would have
    changed and the run would have built."""
    step, first = story.steps["unchanged"], story.steps["first"]
    assert step.report.ok, step.report.problems
    assert not step.report.published and step.report.current_release == first.report.run_id
    assert step.printed.startswith(f"OK: nothing changed since release {first.report.run_id}")
    assert step.warehouse_sha == first.warehouse_sha
    used = step.report.datasets[GATE_DATASET]["snapshot_sha256"]
    assert used == first.report.datasets[GATE_DATASET]["snapshot_sha256"]
    assert used != step.extra["incoming_sha"]
    # the half-written folder of the dead writer was never used, and the next run removed it
    # (its writer's PID is not alive: see pipelines/runlock.py)
    store = SnapshotStore(story.paths.raw_dir)
    assert step.extra["incoming"] not in store.incomplete_folders(GATE_DATASET)
    assert not step.extra["incoming"].exists()


def test_second_run_makes_only_conditional_requests_answered_304(story: Story) -> None:
    step = story.steps["unchanged"]
    assert step.requests, "the second run made no request at all"
    # they are the check before the run (pipelines/prerun.py): no Dagster run was started
    assert step.report.dagster_run_started is False
    assert "No Dagster run was started: " in step.printed, step.printed
    # Reading the mirror's manifest (MIRROR.json) is not a download.
    probes = discovery_probes(story.cat, step.requests)
    data_requests = [r for r in step.requests if r.path != "/MIRROR.json" and r not in probes]
    not_conditional = [r.path for r in data_requests if "If-None-Match" not in r.headers]
    assert not not_conditional, f"unconditional requests: {not_conditional}"
    not_304 = [(r.path, r.status) for r in data_requests if r.status != 304]
    assert not not_304, f"requests not answered 304: {not_304}"
    downloads = sum(
        len(ds.download_targets()) for ds in story.cat.datasets.values() if not ds.local_file
    )
    # a discovered dataset: its landing page (conditional, 304) and the file(s) it links to
    downloads += sum(
        1 + len(mirror_download_keys(ds, SAMPLE_DIR))
        for ds in story.cat.datasets.values()
        if ds.discover is not None
    )
    # the mirror's inbox (the Bulletin tables, no automated download): conditional, 304
    downloads += len(
        json.loads((SAMPLE_DIR / "MIRROR.json").read_text())["datasets"]["euda.bulletin"]
    )
    assert len(data_requests) == downloads + len(STAND_INS)


def test_second_run_writes_no_snapshot_and_everything_is_unchanged(story: Story) -> None:
    step = story.steps["unchanged"]
    assert step.snapshots_after == step.snapshots_before
    assert {d: i["state"] for d, i in step.report.datasets.items()} == dict.fromkeys(
        story.cat.datasets, "unchanged"
    )
    first = story.steps["first"].report.datasets
    for ds_id, info in step.report.datasets.items():
        assert info["snapshot_sha256"] == first[ds_id]["snapshot_sha256"], ds_id
    # nothing built: the first release stays published, byte for byte, and no release moved
    assert step.warehouse_sha == story.steps["first"].warehouse_sha
    assert step.previous_sha == story.steps["first"].previous_sha


# --------------------------------------------- 3. an HTML page and a gate-failing file
def test_html_page_makes_its_dataset_stale_and_is_kept_aside(story: Story) -> None:
    step = story.steps["broken"]
    assert step.report.dagster_run_started  # the check before the run got changed files
    info = step.report.datasets[HTML_DATASET]
    assert info["state"] == "stale"
    assert "HTML" in info["reason"], info["reason"]
    assert HTML_DATASET in info["reason"]
    # the last good snapshot is what the release used
    assert (
        info["snapshot_sha256"]
        == story.steps["first"].report.datasets[HTML_DATASET]["snapshot_sha256"]
    )
    source, name = HTML_DATASET.split(".")
    rejected = [
        p
        for p in (story.paths.raw_dir / "_rejected" / source / name).rglob("*")
        if p.is_file() and not p.name.endswith(META_SUFFIX)
    ]
    assert [p.read_bytes() for p in rejected] == [HTML_PAGE], rejected
    meta = json.loads(
        rejected[0].with_name(rejected[0].name + META_SUFFIX).read_text(encoding="utf-8")
    )
    assert "HTML" in meta["reason"]
    # the refused page is no snapshot
    new = step.snapshots_after - step.snapshots_before
    assert not [f for f in new if f.startswith(f"{source}/{name}/")], new


def test_gate_failure_makes_its_dataset_stale_with_dataset_rule_and_line(story: Story) -> None:
    step = story.steps["broken"]
    info = step.report.datasets[GATE_DATASET]
    assert info["state"] == "stale"
    problem = next(p for p in step.report.problems if p.startswith(GATE_DATASET))
    assert "geo code known" in problem, problem  # the rule of the staging suite
    assert f"line={step.extra['zz_line']}" in problem, problem
    assert "'zz'" in problem, problem
    # the bad file was kept as a snapshot (evidence), quarantined, and not used
    new = step.snapshots_after - step.snapshots_before
    assert len(new) == 1 and new.pop().startswith("eurostat/crim_off_cat/")
    first_sha = story.steps["first"].report.datasets[GATE_DATASET]["snapshot_sha256"]
    assert info["snapshot_sha256"] == first_sha


def test_one_bad_file_does_not_take_the_others_down(story: Story) -> None:
    step = story.steps["broken"]
    assert not step.report.ok
    assert step.report.published, "a stale dataset must not stop the release"
    assert step.exit_code != 0
    assert step.printed.startswith("FAILED: ")
    assert "anyway, from last good snapshots" in step.printed
    others = {
        d: i["state"]
        for d, i in step.report.datasets.items()
        if d not in (HTML_DATASET, GATE_DATASET)
    }
    assert others == dict.fromkeys(others, "unchanged")
    with step.connect() as con:
        states = release_states(con, step.report.run_id)
        assert states[HTML_DATASET] == "stale"
        assert states[GATE_DATASET] == "stale"
        assert {d: s for d, s in states.items() if d in others} == others
        quarantined = con.execute(
            "SELECT quarantined_snapshots FROM meta.release_datasets "
            "WHERE release_id = ? AND dataset = ?",
            [step.report.run_id, GATE_DATASET],
        ).fetchone()[0]
        assert len(quarantined) == 1


def test_stale_datasets_keep_their_previous_values_published(story: Story) -> None:
    step, first = story.steps["broken"], story.steps["first"]
    query = {
        GATE_DATASET: "SELECT * EXCLUDE (fetched_at) FROM indicators.ind01_organised_crime "
        "WHERE source_dataset = 'eurostat.crim_off_cat' ORDER BY ALL",
        HTML_DATASET: "SELECT * FROM indicators.ind07_prevalence "
        "WHERE source_dataset = 'euda.edr' ORDER BY ALL",
    }
    for ds_id, sql in query.items():
        with first.connect() as con:
            before = con.execute(sql).fetchall()
        with step.connect() as con:
            after = con.execute(sql).fetchall()
        assert before, ds_id
        assert after == before, f"{ds_id}: published values changed although it is stale"
    with step.connect() as con:
        zz = con.execute(
            "SELECT count(*) FROM staging.eurostat_crim_off_cat WHERE geo_raw = 'zz'"
        ).fetchone()
    assert zz == (0,)


# ------------------------------------------------------------- 4. nothing can be published
def test_indicator_gate_failure_publishes_nothing(story: Story) -> None:
    step, before = story.steps["unpublishable"], story.steps["broken"]
    assert not step.report.published
    assert not step.report.ok
    assert step.exit_code != 0
    assert step.report.skipped_publish_reason
    failed = [c for c in step.report.failed_checks if c["check"] == "gate"]
    assert [c["asset"] for c in failed] == ["indicators/ind09_morbidity_mortality"], failed
    assert "one value per series key and period" in failed[0]["description"]
    assert not step.report.failed_steps, step.report.failed_steps  # no crash, a gate
    first_line = step.printed.splitlines()[0]
    assert first_line.startswith("FAILED: gate failed on indicators/ind09_morbidity_mortality")
    assert "nothing was published" in step.printed
    # each dataset passed its own gate: this is not a quarantine
    # (crim_off_cat is back to the content the published release used: unchanged)
    assert step.report.datasets[GATE_DATASET]["state"] == "unchanged"
    assert step.report.datasets[CONFLICT_CURATED]["state"] == "fresh"
    # byte-identical: the published release and the previous one are untouched
    assert step.warehouse_sha == before.warehouse_sha
    assert step.previous_sha == before.previous_sha
    assert (story.paths.exports_dir / "current").resolve().name == before.report.run_id
    with duckdb.connect(str(story.paths.published_warehouse), read_only=True) as con:
        (release,) = con.execute(
            "SELECT release_id FROM meta.releases ORDER BY published_at DESC LIMIT 1"
        ).fetchone()
        assert release == before.report.run_id
        assert con.execute(
            "SELECT count(*) FROM indicators.ind09_morbidity_mortality "
            "WHERE source_dataset = ? AND measure = 'deaths_drug_dependence'",
            [CONFLICT_CURATED],
        ).fetchone() == (0,)
