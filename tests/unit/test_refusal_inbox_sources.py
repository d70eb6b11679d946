"""Refused downloads (HTTP 403, bot-challenge pages), the inbox, and `eudap sources`."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from helpers import EUROSTAT_TSV, make_dataset, serve_directory
from pytest_httpserver import HTTPServer

from pipelines.attempts import last_attempt
from pipelines.catalogue import load_catalogue
from pipelines.cli import main
from pipelines.fetch import Fetcher, FetchPolicy, Mirror
from pipelines.inbox import identify, take_in, take_in_mirror
from pipelines.settings import SAMPLE_MIRROR_DIR
from pipelines.snapshots import SnapshotStore
from pipelines.sources import probe

CHALLENGE = (
    b"<!DOCTYPE html><html lang=en-US><head><title>Just a moment...</title>"
    b"<script src='/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1'></script>"
    b"</head><body>Enable JavaScript and cookies to continue</body></html>"
)
WASTEWATER = (
    SAMPLE_MIRROR_DIR
    / "www.euda.europa.eu/sites/default/files/data/mirror-stand-in/wastewater-2025"
    / "ww2025-all-data.csv"
)


def fetcher_for(tmp_path: Path, sleeps: list[float]) -> Fetcher:
    store = SnapshotStore(tmp_path / "raw")
    return Fetcher(
        store, policy=FetchPolicy(attempts=4), sleep=sleeps.append, inbox=tmp_path / "inbox"
    )


# -- 4. refusals ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "body", "headers", "why"),
    [
        (403, b"Forbidden", {}, "HTTP 403"),
        (503, CHALLENGE, {"Content-Type": "text/html"}, "HTTP 503, a bot-challenge page"),
        (200, CHALLENGE, {"Content-Type": "text/html"}, "HTTP 200, a bot-challenge page"),
        (403, CHALLENGE, {"cf-mitigated": "challenge"}, "HTTP 403, a bot-challenge page"),
    ],
)
def test_a_refusal_is_reported_once_not_retried_and_logged(
    httpserver: HTTPServer,
    tmp_path: Path,
    status: int,
    body: bytes,
    headers: dict[str, str],
    why: str,
) -> None:
    httpserver.expect_request("/data/a.tsv").respond_with_data(body, status, headers)
    httpserver.expect_request("/data/b.tsv").respond_with_data(EUROSTAT_TSV)
    url_a, url_b = httpserver.url_for("/data/a.tsv"), httpserver.url_for("/data/b.tsv")
    ds = make_dataset(url=None, urls=[url_a, url_b], collection=True)
    sleeps: list[float] = []
    fetcher = fetcher_for(tmp_path, sleeps)

    outcomes = fetcher.fetch(ds)

    assert [o.status for o in outcomes] == ["refused"]  # b.tsv is not asked for either
    assert len(httpserver.log) == 1 and sleeps == []  # one request, never retried
    assert outcomes[0].reason == (
        f"testsrc.sample: the publisher refused an automated download ({why}); "
        f"download {url_a} in a browser and drop it into {tmp_path / 'inbox'}/"
    )
    assert fetcher.store.snapshots(ds.id) == []
    attempt = last_attempt(fetcher.store, ds.id)
    assert attempt is not None and attempt["outcome"] == "refused"
    assert attempt["reasons"] == [outcomes[0].reason]


def test_a_refused_landing_page_names_the_page(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/landing").respond_with_data("Forbidden", 403)
    page = httpserver.url_for("/landing")
    ds = make_dataset(
        url=None,
        discover={"page": page, "pattern": r"data-\d+\.tsv", "years_back": 0},
    )
    outcomes = fetcher_for(tmp_path, []).fetch(ds)
    assert [o.status for o in outcomes] == ["refused"]
    assert f"(HTTP 403); download {page} in a browser" in (outcomes[0].reason or "")


def test_an_ordinary_503_is_still_a_retried_failure(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/data/a.tsv").respond_with_data("busy", 503)
    ds = make_dataset(url=httpserver.url_for("/data/a.tsv"))
    sleeps: list[float] = []
    outcomes = fetcher_for(tmp_path, sleeps).fetch(ds)
    assert [o.status for o in outcomes] == ["failed"] and len(sleeps) == 3


# -- 5. the inbox --------------------------------------------------------------------------------
def test_inbox_takes_in_a_sample_wastewater_file_and_rejects_an_unknown_one(
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(WASTEWATER, inbox / WASTEWATER.name)
    (inbox / "notes.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    fetcher = fetcher_for(tmp_path, [])

    result = take_in(inbox, load_catalogue(), fetcher)

    assert [t.split(" ")[:3] for t in result.taken] == [[WASTEWATER.name, "->", "euda.wastewater"]]
    assert fetcher.store.latest("euda.wastewater") is not None
    assert [p.name for p in (inbox / "done").glob("*/*")] == [WASTEWATER.name]
    rejected = sorted(p.name for p in (inbox / "rejected").glob("*/*"))
    assert rejected == ["notes.csv", "notes.csv.reason.txt"]
    reason = next((inbox / "rejected").glob("*/notes.csv.reason.txt")).read_text()
    assert "no catalogue dataset claims it; candidates considered:" in reason
    assert "eurostat.crim_off_cat: not a Eurostat TSV" in reason
    assert "euda.wastewater: file name does not match" in reason
    assert list(inbox.glob("*.csv")) == []


def test_the_bulletin_has_no_url_and_comes_from_the_mirrors_inbox_by_identification(
    tmp_path: Path,
) -> None:
    """No made-up URL: the demo's Bulletin tables sit in the mirror's inbox/ and go through
    the inbox's identify + load path, marked as MIRROR.json marks them (synthetic)."""
    cat = load_catalogue()
    bulletin = cat.dataset("euda.bulletin")
    assert bulletin.url is None and bulletin.urls == [] and not bulletin.downloads
    assert bulletin.download_by_hand == "https://www.euda.europa.eu/data/stats2026/<topic>_en"
    store = SnapshotStore(tmp_path / "raw")
    fetcher = Fetcher(store, Mirror(str(SAMPLE_MIRROR_DIR)))

    result = take_in_mirror(cat, fetcher)

    assert result.rejected == []
    assert len(result.taken) == 5
    assert all("-> euda.bulletin (new snapshot; Bulletin breadcrumb" in t for t in result.taken)
    snaps = store.snapshots("euda.bulletin")
    assert sorted(s.meta.file for s in snaps) == sorted(
        p.name for p in (SAMPLE_MIRROR_DIR / "inbox").iterdir()
    )
    assert {(s.meta.origin, s.meta.sample, s.meta.url) for s in snaps} == {("mirror", True, None)}
    assert (SAMPLE_MIRROR_DIR / "inbox" / "maleDeaths.xlsx").is_file()  # never moved
    again = take_in_mirror(cat, fetcher)
    assert all("identical to a snapshot" in t for t in again.taken)
    assert len(store.snapshots("euda.bulletin")) == 5


def test_an_http_mirrors_inbox_files_are_asked_for_conditionally(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    requests_seen = serve_directory(httpserver, SAMPLE_MIRROR_DIR)
    cat = load_catalogue()
    store = SnapshotStore(tmp_path / "raw")
    fetcher = Fetcher(store, Mirror(httpserver.url_for("/").rstrip("/")))

    first = take_in_mirror(cat, fetcher)
    assert first.rejected == [] and len(store.snapshots("euda.bulletin")) == 5
    assert all(s.meta.etag for s in store.snapshots("euda.bulletin"))
    requests_seen.clear()
    second = take_in_mirror(cat, fetcher)

    assert all("(unchanged: HTTP 304)" in t for t in second.taken) and len(second.taken) == 5
    inbox_requests = [r for r in requests_seen if r.path.startswith("/inbox/")]
    assert len(inbox_requests) == 5
    assert all(r.conditional and r.status == 304 for r in inbox_requests)


def test_a_mirror_that_is_down_has_no_inbox_files_and_breaks_nothing(tmp_path: Path) -> None:
    mirror = Mirror("http://127.0.0.1:9")  # the discard port: nobody answers
    fetcher = Fetcher(SnapshotStore(tmp_path / "raw"), mirror)
    result = take_in_mirror(load_catalogue(), fetcher)
    assert result.taken == []
    (line,) = result.rejected
    assert line.startswith("mirror inbox: the mirror's manifest http://127.0.0.1:9/MIRROR.json")


def test_a_mirror_inbox_file_another_dataset_claims_is_refused(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(SAMPLE_MIRROR_DIR, mirror)
    manifest = json.loads((mirror / "MIRROR.json").read_text(encoding="utf-8"))
    shutil.copy(WASTEWATER, mirror / "inbox" / WASTEWATER.name)
    manifest["datasets"]["euda.bulletin"].append(f"inbox/{WASTEWATER.name}")
    (mirror / "MIRROR.json").write_text(json.dumps(manifest), encoding="utf-8")

    result = take_in_mirror(
        load_catalogue(), Fetcher(SnapshotStore(tmp_path / "raw"), Mirror(str(mirror)))
    )

    assert result.rejected == [
        f"mirror inbox/{WASTEWATER.name}: listed for euda.bulletin, but claimed by euda.wastewater"
    ]
    assert len(result.taken) == 5


def test_inbox_never_overwrites_a_done_file(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    fetcher = fetcher_for(tmp_path, [])
    for _ in range(2):
        shutil.copy(WASTEWATER, inbox / WASTEWATER.name)
        take_in(inbox, load_catalogue(), fetcher)
    assert sorted(p.name for p in (inbox / "done").glob("*/*")) == [
        "ww2025-all-data-2.csv",
        "ww2025-all-data.csv",
    ]


def test_inbox_identifies_a_real_eurostat_download(tmp_path: Path, upstream_dir: Path) -> None:
    real = upstream_dir / "eurostat" / "estat_crim_off_cat.tsv"
    copy = tmp_path / real.name
    shutil.copy(real, copy)
    found = identify(copy, load_catalogue())
    assert [c.dataset.id for c in found.claims] == ["eurostat.crim_off_cat"]
    renamed = tmp_path / "download.tsv"  # no code in the name: the header dimensions decide
    shutil.copy(real, renamed)
    assert [c.dataset.id for c in identify(renamed, load_catalogue()).claims] == [
        "eurostat.crim_off_cat"
    ]


def test_eudap_inbox_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("EUDAP_DATA_DIR", str(tmp_path))
    (tmp_path / "inbox").mkdir()
    shutil.copy(WASTEWATER, tmp_path / "inbox" / WASTEWATER.name)
    assert main(["inbox"]) == 0
    assert f"inbox: took in {WASTEWATER.name} -> euda.wastewater" in capsys.readouterr().out


# -- 8. eudap sources ------------------------------------------------------------------------------
def test_sources_shows_the_last_attempt_and_check_probes_without_storing(
    httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("EUDAP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EUDAP_FETCH_ATTEMPTS", "1")
    httpserver.expect_request(re.compile(r".*/crim_off_cat/.*")).respond_with_data("no", 403)
    httpserver.expect_request(re.compile(".*")).respond_with_data("gone", 404)
    monkeypatch.setenv("EUDAP_MIRROR", httpserver.url_for("/").rstrip("/"))
    cat = load_catalogue()
    store = SnapshotStore(tmp_path / "raw")
    fetcher = Fetcher(store, Mirror(httpserver.url_for("/").rstrip("/")), inbox=tmp_path / "inbox")
    fetcher.fetch(cat.dataset("eurostat.crim_off_cat"))

    assert main(["sources", "--json"]) == 0
    listed = {e["dataset"]: e for e in json.loads(capsys.readouterr().out)}
    crim = listed["eurostat.crim_off_cat"]
    assert crim["outcome"] == "refused" and "HTTP 403" in crim["reason"]
    assert listed["euda.wastewater"]["outcome"] is None

    requests_before = len(httpserver.log)
    assert main(["sources", "--check"]) == 1
    out = capsys.readouterr().out
    assert "check now: refused" in out and "check now: failed" in out
    assert len(httpserver.log) > requests_before
    assert store.snapshots("eurostat.crim_off_cat") == []
    assert (
        "euda.bulletin\n  url:      none; no automated download: drop the files from "
        f"https://www.euda.europa.eu/data/stats2026/<topic>_en into {tmp_path / 'inbox'}/\n"
    ) in out


def test_sources_check_asks_conditionally_and_reads_no_body(
    httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """--check reuses the last snapshot's validators: an unchanged file costs a 304, a
    changed one only its headers (the body is never read), and nothing is stored."""
    served = serve_directory(httpserver, SAMPLE_MIRROR_DIR)
    mirror = httpserver.url_for("/").rstrip("/")
    monkeypatch.setenv("EUDAP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EUDAP_MIRROR", mirror)
    cat = load_catalogue()
    store = SnapshotStore(tmp_path / "raw")
    crim = cat.dataset("eurostat.crim_off_cat")
    Fetcher(store, Mirror(mirror)).fetch(crim)
    (snap,) = store.snapshots(crim.id)
    served.clear()

    unchanged = probe(crim, store, mirror)
    assert unchanged == ("unchanged", None, crim.resolved_url())
    assert [(r.conditional, r.status) for r in served] == [(True, 304)]

    served.clear()
    new_store = SnapshotStore(tmp_path / "other")  # no snapshot: nothing to compare with
    changed = probe(crim, new_store, mirror)
    assert changed[0] == "ok" and changed[1] == "1 of 1 file(s) changed since the last snapshot"
    assert [(r.conditional, r.status) for r in served] == [(False, 200)]
    assert store.snapshots(crim.id) == [snap] and not (tmp_path / "other").exists()

    # a discovered dataset: its landing page is asked for conditionally as well
    waste = cat.dataset("euda.wastewater")
    Fetcher(store, Mirror(mirror)).fetch(waste)
    served.clear()
    assert probe(waste, store, mirror)[0] == "unchanged"
    found = [r for r in served if r.status != 404]  # 404: editions not published (yet)
    assert len(found) == 2 and all(r.conditional and r.status == 304 for r in found), served
