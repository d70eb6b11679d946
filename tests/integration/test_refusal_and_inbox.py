"""Refusal and inbox, end to end: the whole job against the sample mirror over HTTP.

1. a good build from the mirror: a copy of the session's demo (tests/conftest.py; a first run
over HTTP is tests/integration/test_pipeline_http.py's); 2. the mirror answers every EUDA
path with 403: the run exits 1, publishes from the last good snapshots (EUDA datasets
`stale`, the reason naming the 403) and tells the user about the inbox; 3. a file dropped
into the inbox before `run --offline` is published and moved to inbox/done/; an unknown
file is rejected.
"""

from __future__ import annotations

import io
import re
import shutil
from contextlib import redirect_stdout
from pathlib import Path

import duckdb
from console import Result, copy_demo_data
from dagster import DagsterInstance
from helpers import serve_directory
from pytest_httpserver import HTTPServer

from pipelines.cli import RunReport, execute, print_report
from pipelines.settings import SAMPLE_MIRROR_DIR, Paths

WASTEWATER = (
    SAMPLE_MIRROR_DIR
    / "www.euda.europa.eu/sites/default/files/data/mirror-stand-in/wastewater-2025"
    / "ww2025-all-data.csv"
)


def run(mode: str, data_dir: Path, mirror: str = "") -> tuple[RunReport, int, str]:
    instance = DagsterInstance.ephemeral()
    try:
        report = execute(
            mode, mirror=mirror, offline=mode == "offline", data_dir=data_dir, instance=instance
        )
    finally:
        instance.dispose()
    out = io.StringIO()
    with redirect_stdout(out):
        status = print_report(report)
    return report, status, out.getvalue()


def test_refused_run_then_inbox(
    demo: tuple[dict, Result], httpserver: HTTPServer, tmp_path: Path
) -> None:
    mirror_root = tmp_path / "mirror"
    shutil.copytree(SAMPLE_MIRROR_DIR, mirror_root)
    data_dir = tmp_path / "data"
    url = httpserver.url_for("/").rstrip("/")

    copy_demo_data(demo, data_dir)  # the good build, published (asserted there)
    assert Paths(data_dir).published_warehouse.is_file()

    httpserver.expect_request(re.compile(r"^/www\.euda\.europa\.eu/.*")).respond_with_data(
        "<html><head><title>Just a moment...</title></head></html>", 403
    )
    serve_directory(httpserver, mirror_root)
    refused, status, out = run("run", data_dir, url)
    assert status == 1 and refused.published
    # the Bulletin has no automated download to refuse: the mirror's inbox/ holds it
    assert refused.datasets["euda.bulletin"]["state"] == "unchanged"
    euda = {
        ds: info
        for ds, info in refused.datasets.items()
        if ds.startswith("euda.") and ds != "euda.bulletin"
    }
    assert euda and all(info["state"] == "stale" for info in euda.values()), euda
    for ds, info in euda.items():
        assert "the publisher refused an automated download (HTTP 403" in info["reason"], ds
        assert "in a browser and drop it into" in info["reason"] and "inbox/" in info["reason"]
    assert out.count("euda.wastewater: the publisher refused") == 1, out

    inbox = Paths(data_dir).inbox_dir
    inbox.mkdir()
    # a newer release than the (sample) snapshots: bytes identical to a sample snapshot
    # would be that snapshot, which a run not fed by the sample mirror never publishes
    newer = WASTEWATER.read_bytes().replace(b",15.53\n", b",15.54\n", 1)
    assert newer != WASTEWATER.read_bytes()
    (inbox / "ww2026-all-data_en.csv").write_bytes(newer)
    (inbox / "unknown.txt").write_text("hello\n", encoding="utf-8")
    offline, status, out = run("offline", data_dir)
    assert offline.published
    assert offline.datasets["euda.wastewater"]["state"] in ("fresh", "unchanged")
    assert "inbox: took in ww2026-all-data_en.csv -> euda.wastewater" in out
    assert "inbox: rejected unknown.txt: no catalogue dataset claims it" in out
    assert [p.name for p in inbox.glob("done/*/*")] == ["ww2026-all-data_en.csv"]
    assert sorted(p.name for p in inbox.glob("rejected/*/*")) == [
        "unknown.txt",
        "unknown.txt.reason.txt",
    ]
    con = duckdb.connect(str(Paths(data_dir).published_warehouse), read_only=True)
    try:
        (n,) = con.execute("SELECT count(*) FROM staging.euda_wastewater").fetchone()
    finally:
        con.close()
    assert n > 0
