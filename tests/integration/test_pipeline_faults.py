"""Transport faults against the real `eudap run` (issue #7, items 1, 7 and 8).

A story driven through the console script in subprocesses (so stdout and stderr are
captured as a user sees them), against `fault_server.FaultServer` serving a copy of the
sample mirror marked as real (not sample) data, so a stale dataset can fall back on its last
good snapshot:

1. "signed": every file is fine, but crim_off_cat is reached through a redirect to a signed
   URL (`?sig=<secret>&token=<secret>`): published, the URL recorded without the secret;
2. "cut": crim_off_cat answers `Content-Encoding: gzip` without Content-Length and the
   connection drops mid-body; the wastewater CSV answers without Content-Length and drops
   mid-body: both stale, naming the incomplete transfer, exit 1, published values kept;
3. "down": the mirror's port is closed: every download fails with a reason, staging goes
   on from the last good snapshots (stale), no step crashes, exit 1;
4. `--mirror http://user:<secret>@...`: refused with exit 2 before anything runs.

Afterwards no output, file, warehouse or Dagster record holds the secret.

(Split from tests/integration/test_pipeline_http.py, whose helpers it uses, so the two
stories run on two pytest-xdist workers at once.)
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import pytest
from fault_server import FaultServer, respond
from test_pipeline_http import (
    GATE_DATASET,
    SAMPLE_DIR,
    crim_off_cat_cells,
    mirror_file,
    snapshot_folders,
    tsv_lines,
)

from pipelines.catalogue import load_catalogue
from pipelines.fetch import mirror_key
from pipelines.settings import Paths

SECRET = "s3cr3t-7f3a9c"
EUDAP = Path(sys.prefix) / "bin" / "eudap"
WASTEWATER = "euda.wastewater"


@dataclass
class CliRun:
    code: int
    out: str
    err: str
    report: dict[str, Any]
    snapshots_before: set[str]
    snapshots_after: set[str]
    pl_value: float | None


@dataclass
class FaultStory:
    base: Path
    data_dir: Path
    pl_period: int
    runs: dict[str, CliRun]
    refused: subprocess.CompletedProcess[str]


def _pl_drug_offences(crim: Path) -> tuple[int, float]:
    """The latest PL drug law offences count in the crim_off_cat file (plain splitting)."""
    cells = [
        c
        for c in crim_off_cat_cells(tsv_lines(crim))
        if c["geo"] == "PL" and c["iccs"] == "ICCS0601" and c["unit"] == "NR"
    ]
    latest = max(cells, key=lambda c: c["period"])
    return latest["period"], latest["value"]


def _published_pl_value(paths: Paths, period: int) -> float | None:
    if not paths.published_warehouse.exists():
        return None
    with duckdb.connect(str(paths.published_warehouse), read_only=True) as con:
        row = con.execute(
            "SELECT value FROM indicators.ind01_organised_crime WHERE geo = 'PL' "
            "AND measure = 'drug_law_offences' AND period = ? AND source_dataset = ?",
            [period, GATE_DATASET],
        ).fetchone()
    return row[0] if row else None


@pytest.fixture(scope="module")
def fault_story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStory]:
    if not (SAMPLE_DIR / "MIRROR.json").exists():
        pytest.skip(f"the sample mirror is missing: no {SAMPLE_DIR / 'MIRROR.json'}")
    if not EUDAP.exists():
        pytest.skip(f"the console script {EUDAP} is not installed in this environment")
    base = tmp_path_factory.mktemp("pipeline_faults")
    mirror, data_dir, home = base / "mirror", base / "data", base / "dagster_home"
    shutil.copytree(SAMPLE_DIR, mirror)
    manifest = json.loads((mirror / "MIRROR.json").read_text(encoding="utf-8"))
    (mirror / "MIRROR.json").write_text(json.dumps({**manifest, "sample": False}))
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EUDAP_", "DAGSTER_"))}
    env.update(
        EUDAP_DATA_DIR=str(data_dir),
        DAGSTER_HOME=str(home),
        EUDAP_LOG_LEVEL="INFO",  # more log lines: more places a secret could leak into
        EUDAP_FETCH_ATTEMPTS="2",
        EUDAP_FETCH_BACKOFF="0.01",
        GX_ANALYTICS_ENABLED="False",
        PYTHONUNBUFFERED="1",
    )
    cat = load_catalogue()
    paths = Paths(data_dir)
    crim = mirror_file(mirror, cat, GATE_DATASET)
    crim_path = "/" + mirror_key(cat.dataset(GATE_DATASET).resolved_url() or "")
    waste = mirror_file(mirror, cat, WASTEWATER)
    waste_path = "/" + waste.relative_to(mirror).as_posix()  # found through its landing page
    pl_period, _ = _pl_drug_offences(crim)
    runs: dict[str, CliRun] = {}

    def eudap(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(EUDAP), *args],
            env=env,
            cwd=base,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def run(name: str, url: str) -> CliRun:
        before = snapshot_folders(paths.raw_dir)
        reports = set(paths.runs_dir.glob("*.json")) if paths.runs_dir.exists() else set()
        proc = eudap("run", "--mirror", url)
        new_reports = set(paths.runs_dir.glob("*.json")) - reports
        assert len(new_reports) == 1, (proc.stdout, proc.stderr)
        runs[name] = CliRun(
            code=proc.returncode,
            out=proc.stdout,
            err=proc.stderr,
            report=json.loads(new_reports.pop().read_text(encoding="utf-8")),
            snapshots_before=before,
            snapshots_after=snapshot_folders(paths.raw_dir),
            pl_value=_published_pl_value(paths, pl_period),
        )
        return runs[name]

    server = FaultServer(root=mirror)
    try:
        signed = f"/signed{crim_path}"
        server.script(
            crim_path,
            respond(
                b"",
                status="302 Found",
                headers={"Location": f"{quote(signed)}?sig={SECRET}&token={SECRET}"},
            ),
        )
        server.script(signed, respond(crim.read_bytes()))
        run("signed", server.url)

        body = gzip.compress(crim.read_bytes())  # sent gzip-encoded, as Eurostat may
        server.script(
            crim_path,
            respond(
                body, headers={"Content-Encoding": "gzip"}, content_length=False, cut=len(body) // 2
            ),
        )
        rows = waste.read_bytes()
        server.script(waste_path, respond(rows, content_length=False, cut=len(rows) // 2))
        run("cut", server.url)
    finally:
        server.stop()
    run("down", server.url)  # nobody listens on that port any more
    refused = eudap("run", "--mirror", f"http://eudap:{SECRET}@127.0.0.1:{server.port}/")
    yield FaultStory(base, data_dir, pl_period, runs, refused)


def test_signed_run_publishes_and_records_the_url_without_its_secret(
    fault_story: FaultStory,
) -> None:
    run = fault_story.runs["signed"]
    assert run.report["published"], run.out
    assert run.report["datasets"][GATE_DATASET]["state"] == "fresh"
    assert run.pl_value is not None
    paths = Paths(fault_story.data_dir)
    with duckdb.connect(str(paths.published_warehouse), read_only=True) as con:
        final_urls = [
            u
            for (u,) in con.execute(
                "SELECT final_url FROM meta.snapshots WHERE dataset = ?", [GATE_DATASET]
            ).fetchall()
        ]
    # the redirect was followed and recorded, with the signature masked
    assert any("/signed/" in u and "sig=***&token=***" in u for u in final_urls), final_urls


def test_a_connection_dropped_mid_body_publishes_nothing_new(fault_story: FaultStory) -> None:
    run, good = fault_story.runs["cut"], fault_story.runs["signed"]
    assert run.code == 1, run.out
    assert run.out.startswith("FAILED: ")
    datasets = run.report["datasets"]
    crim, waste = datasets[GATE_DATASET], datasets[WASTEWATER]
    assert crim["state"] == "stale", crim
    assert "incomplete transfer" in crim["reason"], crim["reason"]
    assert "gzip stream ended without its trailer" in crim["reason"], crim["reason"]
    assert waste["state"] == "stale", waste
    assert "incomplete transfer" in waste["reason"], waste["reason"]
    assert "cannot be proven complete" in waste["reason"], waste["reason"]
    # no snapshot of the cut bodies; the release uses the last good ones
    new = run.snapshots_after - run.snapshots_before
    assert not [f for f in new if f.startswith(("eurostat/crim_off_cat/", "euda/wastewater/"))]
    for ds_id in (GATE_DATASET, WASTEWATER):
        assert (
            datasets[ds_id]["snapshot_sha256"] == good.report["datasets"][ds_id]["snapshot_sha256"]
        )
        assert datasets[ds_id]["rows"] == good.report["datasets"][ds_id]["rows"]
    # the PL drug law offences figure published before is still the one published
    assert run.report["published"]
    assert run.pl_value == good.pl_value is not None


def test_a_mirror_that_is_down_leaves_every_dataset_stale_and_no_step_crashes(
    fault_story: FaultStory,
) -> None:
    run, good = fault_story.runs["down"], fault_story.runs["signed"]
    assert run.code == 1, run.out
    assert not run.report["failed_steps"], run.report["failed_steps"]
    states = {d: i["state"] for d, i in run.report["datasets"].items()}
    downloaded = {
        d for d, ds in load_catalogue().datasets.items() if ds.downloads and not ds.local_file
    }
    assert {d: states[d] for d in downloaded} == dict.fromkeys(downloaded, "stale")
    for ds_id in downloaded:
        reason = run.report["datasets"][ds_id]["reason"]
        assert "download failed" in reason and "ConnectionError" in reason, (ds_id, reason)
    assert run.report["published"], "the last good snapshots are published"
    assert run.pl_value == good.pl_value
    assert run.snapshots_after == run.snapshots_before


def test_a_mirror_url_with_a_password_is_refused_with_exit_2(fault_story: FaultStory) -> None:
    refused = fault_story.refused
    assert refused.returncode == 2, (refused.stdout, refused.stderr)
    assert "netrc" in refused.stderr and "refused" in refused.stderr
    assert SECRET not in refused.stdout + refused.stderr


def test_no_output_file_or_record_holds_the_secret(fault_story: FaultStory) -> None:
    printed = [
        (name, stream)
        for name, run in fault_story.runs.items()
        for stream in (run.out, run.err)
        if SECRET in stream
    ]
    assert not printed, printed
    leaking = [
        str(p.relative_to(fault_story.base))
        for p in fault_story.base.rglob("*")
        if p.is_file()
        and not p.is_relative_to(fault_story.base / "mirror")
        and SECRET.encode() in p.read_bytes()
    ]
    assert not leaking, leaking
    # the published warehouse may compress strings: ask it too
    paths = Paths(fault_story.data_dir)
    with duckdb.connect(str(paths.published_warehouse), read_only=True) as con:
        for schema, table, column in con.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE data_type LIKE 'VARCHAR%' AND table_schema = 'meta'"
        ).fetchall():
            hits = con.execute(
                f'SELECT count(*) FROM "{schema}"."{table}" '
                f'WHERE CAST("{column}" AS VARCHAR) LIKE ?',
                [f"%{SECRET}%"],
            ).fetchone()
            assert hits == (0,), f"{schema}.{table}.{column} holds the secret"
