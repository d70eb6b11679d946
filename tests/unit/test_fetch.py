"""Unit tests for pipelines.fetch against a real local HTTP server (pytest-httpserver).

Nothing is mocked: requests talks to a werkzeug server on localhost, files land in a real
snapshot store under tmp_path. Waits between retries go to a recording fake `sleep`, so no
test waits for real and the requested waits can be asserted.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import io
import json
import re
import socket
import zipfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fault_server import FaultServer, Raw, respond
from helpers import EUROSTAT_TSV, etag_of, make_dataset, serve_directory
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from pipelines.attempts import ATTEMPTS_FILE
from pipelines.catalogue import Dataset
from pipelines.fetch import (
    USER_AGENT,
    Fetcher,
    FetchError,
    FetchOutcome,
    FetchPolicy,
    Mirror,
    MirrorLocationError,
    mirror_key,
    sniff,
)
from pipelines.redact import redact_url
from pipelines.snapshots import META_SUFFIX, REJECTED_DIR, SnapshotStore, utc_now

OTHER_TSV = EUROSTAT_TSV.replace(b"\t12 ", b"\t13 ")  # a revision: one value changed
LAST_MODIFIED = "Wed, 01 May 2024 10:00:00 GMT"
FETCHED_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


# --------------------------------------------------------------------------- fixtures
@pytest.fixture
def store(tmp_path: Path) -> SnapshotStore:
    return SnapshotStore(tmp_path / "raw")


@pytest.fixture
def sleeps() -> list[float]:
    """The waits the fetcher asked for (its `sleep` is this list's append)."""
    return []


def make_fetcher(
    store: SnapshotStore, sleeps: list[float], mirror: Mirror | None = None, **policy: float
) -> Fetcher:
    settings = {"attempts": 3, "backoff_base": 1.0, "max_wait": 60.0, **policy}
    return Fetcher(store, mirror=mirror, policy=FetchPolicy(**settings), sleep=sleeps.append)


@pytest.fixture
def fetcher(store: SnapshotStore, sleeps: list[float]) -> Fetcher:
    return make_fetcher(store, sleeps)


def fetch_one(fetcher: Fetcher, ds: Dataset) -> FetchOutcome:
    outcomes = fetcher.fetch(ds)
    assert len(outcomes) == 1, outcomes
    return outcomes[0]


def files_under(root: Path) -> list[str]:
    """Every file below `root`, relative, sorted (an empty store has none)."""
    if not root.exists():
        return []
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and p.name != ATTEMPTS_FILE  # the attempt log records, stores nothing
    )


def snapshot_folders(store: SnapshotStore, ds: Dataset) -> list[str]:
    base = store.dataset_dir(ds.id)
    return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.exists() else []


def served_dataset(httpserver: HTTPServer, path: str = "/data/sample.tsv", **kw) -> Dataset:
    return make_dataset(url=httpserver.url_for(path), **kw)


def sequence_handler(*responses: Response):
    """A handler answering the given responses in turn, then repeating the last one."""
    queue = list(responses)

    def handler(_request: Request) -> Response:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler


# --------------------------------------------------------------------------- plain download
def test_download_creates_snapshot_with_complete_sidecar(
    httpserver: HTTPServer, fetcher: Fetcher, store: SnapshotStore
):
    httpserver.expect_request("/data/sample.tsv").respond_with_data(
        EUROSTAT_TSV,
        content_type="text/tab-separated-values",
        headers={"ETag": '"v1"', "Last-Modified": LAST_MODIFIED},
    )
    ds = served_dataset(httpserver)

    out = fetch_one(fetcher, ds)

    assert (out.status, out.reason, out.requests_made) == ("new", None, 1)
    assert out.url == ds.resolved_url()
    snap = out.snapshot
    assert snap is not None
    day = snap.meta.fetched_at[:10]
    assert snap.path == store.root / "testsrc" / "sample" / day / "sample.tsv"
    assert snap.path.read_bytes() == EUROSTAT_TSV
    sidecar = json.loads((snap.path.parent / f"sample.tsv{META_SUFFIX}").read_text())
    assert FETCHED_AT.match(sidecar["fetched_at"]), sidecar["fetched_at"]
    assert sidecar == {
        "dataset": "testsrc.sample",
        "file": "sample.tsv",
        "sha256": hashlib.sha256(EUROSTAT_TSV).hexdigest(),
        "bytes": len(EUROSTAT_TSV),
        "fetched_at": sidecar["fetched_at"],
        "origin": "download",
        "url": ds.url,
        "final_url": ds.url,
        "status": 200,
        "etag": '"v1"',
        "last_modified": LAST_MODIFIED,
        "content_type": "text/tab-separated-values",
        "licence": ds.licence,
        "attribution": ds.attribution,
        "sample": False,
        "extra": {},
    }
    assert store.latest(ds.id) == snap
    assert snap.verified_path() == snap.path
    # only the snapshot and its sidecar: no temp file left behind
    assert files_under(store.root) == [
        f"testsrc/sample/{day}/sample.tsv",
        f"testsrc/sample/{day}/sample.tsv{META_SUFFIX}",
    ]
    request = httpserver.log[0][0]
    assert request.headers["User-Agent"] == USER_AGENT
    assert "If-None-Match" not in request.headers  # nothing to revalidate yet


def test_second_fetch_is_conditional_and_304_makes_no_snapshot(
    tmp_path: Path, httpserver: HTTPServer, fetcher: Fetcher, store: SnapshotStore
):
    site = tmp_path / "site"
    (site / "data").mkdir(parents=True)
    (site / "data" / "sample.tsv").write_bytes(EUROSTAT_TSV)
    log = serve_directory(httpserver, site)
    ds = served_dataset(httpserver)

    first = fetch_one(fetcher, ds)
    assert first.status == "new" and first.snapshot is not None
    assert first.snapshot.meta.etag == etag_of(EUROSTAT_TSV)
    second = fetch_one(fetcher, ds)

    assert (second.status, second.reason) == ("unchanged", None)
    assert second.snapshot == first.snapshot
    assert second.requests_made == 1
    assert len(log) == 2
    assert not log[0].conditional
    conditional = log[1]
    assert conditional.headers["If-None-Match"] == etag_of(EUROSTAT_TSV)
    assert conditional.headers["If-Modified-Since"] == first.snapshot.meta.last_modified
    assert conditional.status == 304
    assert snapshot_folders(store, ds) == [first.snapshot.folder]
    assert len(store.snapshots(ds.id)) == 1


def test_last_modified_alone_is_revalidated_with_if_modified_since(
    httpserver: HTTPServer, fetcher: Fetcher, store: SnapshotStore
):
    def handler(request: Request) -> Response:
        if request.headers.get("If-Modified-Since") == LAST_MODIFIED:
            return Response(status=304)
        return Response(EUROSTAT_TSV, headers={"Last-Modified": LAST_MODIFIED})

    httpserver.expect_request("/data/sample.tsv").respond_with_handler(handler)
    ds = served_dataset(httpserver)

    first = fetch_one(fetcher, ds)
    second = fetch_one(fetcher, ds)

    assert first.status == "new" and first.snapshot is not None
    assert first.snapshot.meta.etag is None
    assert second.status == "unchanged" and second.snapshot == first.snapshot
    revalidation = httpserver.log[1][0]
    assert "If-None-Match" not in revalidation.headers
    assert httpserver.log[1][1].status_code == 304
    assert len(store.snapshots(ds.id)) == 1


def test_identical_content_without_validators_makes_no_new_snapshot(
    httpserver: HTTPServer, fetcher: Fetcher, store: SnapshotStore
):
    httpserver.expect_request("/data/sample.tsv").respond_with_data(EUROSTAT_TSV)
    ds = served_dataset(httpserver)

    first = fetch_one(fetcher, ds)
    second = fetch_one(fetcher, ds)

    assert first.status == "new" and first.snapshot is not None
    assert first.snapshot.meta.etag is None and first.snapshot.meta.last_modified is None
    assert (second.status, second.reason) == ("unchanged", None)
    assert second.snapshot == first.snapshot
    # the server gave no validators, so the second request could not be conditional
    second_request = httpserver.log[1][0]
    assert "If-None-Match" not in second_request.headers
    assert "If-Modified-Since" not in second_request.headers
    assert snapshot_folders(store, ds) == [first.snapshot.folder]
    assert not [f for f in files_under(store.root) if ".download-" in f]


def test_changed_content_on_the_same_day_gets_a_numbered_folder(
    httpserver: HTTPServer, fetcher: Fetcher, store: SnapshotStore
):
    httpserver.expect_request("/data/sample.tsv").respond_with_handler(
        sequence_handler(Response(EUROSTAT_TSV), Response(OTHER_TSV))
    )
    ds = served_dataset(httpserver)

    first = fetch_one(fetcher, ds)
    second = fetch_one(fetcher, ds)

    assert first.status == "new" and second.status == "new"
    assert first.snapshot is not None and second.snapshot is not None
    day = first.snapshot.meta.fetched_at[:10]
    assert first.snapshot.folder == day
    assert second.snapshot.folder == f"{day}-2"
    assert second.snapshot.path.read_bytes() == OTHER_TSV
    assert store.latest(ds.id) == second.snapshot
    assert store.snapshots(ds.id) == [second.snapshot, first.snapshot]
    # the earlier snapshot is untouched
    assert first.snapshot.verified_path().read_bytes() == EUROSTAT_TSV


# --------------------------------------------------------------------------- compression
def test_content_encoding_gzip_is_stored_decoded(
    httpserver: HTTPServer, fetcher: Fetcher, store: SnapshotStore
):
    httpserver.expect_request("/data/sample.tsv").respond_with_data(
        gzip.compress(EUROSTAT_TSV), headers={"Content-Encoding": "gzip"}
    )
    ds = served_dataset(httpserver)

    out = fetch_one(fetcher, ds)

    assert out.status == "new" and out.snapshot is not None, out.reason
    assert out.snapshot.path.read_bytes() == EUROSTAT_TSV
    assert out.snapshot.meta.sha256 == hashlib.sha256(EUROSTAT_TSV).hexdigest()
    assert out.snapshot.meta.bytes == len(EUROSTAT_TSV)
    assert "gzip" in httpserver.log[0][0].headers["Accept-Encoding"]


def test_gzip_file_body_is_stored_as_published(
    httpserver: HTTPServer, fetcher: Fetcher, store: SnapshotStore
):
    """Eurostat `compressed=true`: the body is a .gz file, with no Content-Encoding."""
    body = gzip.compress(EUROSTAT_TSV)
    httpserver.expect_request("/data/sample").respond_with_data(
        body, content_type="application/octet-stream"
    )
    ds = make_dataset(
        url=httpserver.url_for("/data/sample") + "?format=TSV&compressed=true",
        file_name="sample.tsv.gz",
    )

    out = fetch_one(fetcher, ds)

    assert out.status == "new" and out.snapshot is not None, out.reason
    assert out.snapshot.path.name == "sample.tsv.gz"
    assert out.snapshot.path.read_bytes() == body
    assert out.snapshot.meta.sha256 == hashlib.sha256(body).hexdigest()
    assert gzip.decompress(out.snapshot.path.read_bytes()) == EUROSTAT_TSV


def test_gzip_file_holding_an_html_page_is_refused(httpserver: HTTPServer, fetcher: Fetcher):
    httpserver.expect_request("/data/sample.tsv.gz").respond_with_data(
        gzip.compress(b"<!DOCTYPE html><html><body>Maintenance</body></html>")
    )
    out = fetch_one(fetcher, served_dataset(httpserver, "/data/sample.tsv.gz"))
    assert out.status == "failed"
    assert "HTML" in (out.reason or "")


# --------------------------------------------------------------------------- retries
def test_retries_server_errors_with_exponential_backoff(
    httpserver: HTTPServer, store: SnapshotStore, sleeps: list[float]
):
    httpserver.expect_request("/data/sample.tsv").respond_with_handler(
        sequence_handler(Response(status=503), Response(status=503), Response(EUROSTAT_TSV))
    )
    fetcher = make_fetcher(store, sleeps, attempts=4, backoff_base=1.0)

    out = fetch_one(fetcher, served_dataset(httpserver))

    assert out.status == "new", out.reason
    assert out.requests_made == 3
    assert len(httpserver.log) == 3
    # wait n (n = 1, 2, ...) is base * 2**(n-1) plus a jitter of at most base
    assert len(sleeps) == 2
    assert 1.0 <= sleeps[0] <= 2.0
    assert 2.0 <= sleeps[1] <= 3.0


def test_backoff_doubles_and_is_capped_at_max_wait(
    httpserver: HTTPServer, store: SnapshotStore, sleeps: list[float]
):
    httpserver.expect_request("/data/sample.tsv").respond_with_data("busy", status=503)
    ds = served_dataset(httpserver)

    out = fetch_one(make_fetcher(store, sleeps, attempts=5, backoff_base=1.0), ds)
    assert out.status == "failed"
    assert len(sleeps) == 4
    for n, wait in enumerate(sleeps):
        assert 2**n <= wait <= 2**n + 1.0, sleeps

    capped: list[float] = []
    fetch_one(make_fetcher(store, capped, attempts=5, backoff_base=1.0, max_wait=3.0), ds)
    assert len(capped) == 4
    assert 1.0 <= capped[0] <= 2.0 and 2.0 <= capped[1] <= 3.0
    assert capped[2:] == [3.0, 3.0]


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("7", 7.0), ("500", 60.0)],  # honoured, but never beyond max_wait (60 here)
    ids=["seconds", "capped-at-max-wait"],
)
def test_429_retry_after_seconds_is_honoured(
    httpserver: HTTPServer,
    store: SnapshotStore,
    sleeps: list[float],
    retry_after: str,
    expected: float,
):
    httpserver.expect_request("/data/sample.tsv").respond_with_handler(
        sequence_handler(
            Response("slow down", status=429, headers={"Retry-After": retry_after}),
            Response(EUROSTAT_TSV),
        )
    )
    out = fetch_one(make_fetcher(store, sleeps), served_dataset(httpserver))
    assert out.status == "new", out.reason
    assert out.requests_made == 2
    assert sleeps == [expected]


@pytest.mark.parametrize("zone", ["GMT", "-0000"])
def test_retry_after_http_date_is_honoured(
    httpserver: HTTPServer, store: SnapshotStore, sleeps: list[float], zone: str
):
    """An HTTP-date is UTC whatever its zone says ("-0000" parses to a naive datetime)."""
    when = utc_now() + timedelta(seconds=20)
    date = email.utils.format_datetime(when, usegmt=True).replace("GMT", zone)
    httpserver.expect_request("/data/sample.tsv").respond_with_handler(
        sequence_handler(
            Response(status=503, headers={"Retry-After": date}), Response(EUROSTAT_TSV)
        )
    )
    out = fetch_one(make_fetcher(store, sleeps), served_dataset(httpserver))
    assert out.status == "new", out.reason
    assert len(sleeps) == 1
    # the date has whole seconds, so the wait is a little under 20 s
    assert 15.0 < sleeps[0] <= 20.0, sleeps


def test_retry_after_date_in_the_past_means_no_wait(
    httpserver: HTTPServer, store: SnapshotStore, sleeps: list[float]
):
    httpserver.expect_request("/data/sample.tsv").respond_with_handler(
        sequence_handler(
            Response(status=503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
            Response(EUROSTAT_TSV),
        )
    )
    out = fetch_one(make_fetcher(store, sleeps), served_dataset(httpserver))
    assert out.status == "new"
    assert sleeps == [0.0]


def test_gives_up_after_the_allowed_attempts(
    httpserver: HTTPServer, store: SnapshotStore, sleeps: list[float]
):
    httpserver.expect_request("/data/sample.tsv").respond_with_data("down", status=503)
    ds = served_dataset(httpserver)

    out = fetch_one(make_fetcher(store, sleeps, attempts=3), ds)

    assert out.status == "failed" and out.snapshot is None
    assert out.requests_made == 3 and len(httpserver.log) == 3
    assert len(sleeps) == 2  # no wait after the last attempt
    reason = out.reason or ""
    assert ds.id in reason and str(ds.url) in reason
    assert "HTTP 503" in reason and "3 attempts" in reason
    assert files_under(store.root) == []


def test_connection_refused_fails_after_retries(store: SnapshotStore, sleeps: list[float]):
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ds = make_dataset(url=f"http://127.0.0.1:{port}/data/sample.tsv")

    out = fetch_one(make_fetcher(store, sleeps, attempts=3), ds)

    assert out.status == "failed"
    assert out.requests_made == 3 and len(sleeps) == 2
    reason = out.reason or ""
    assert ds.id in reason and str(ds.url) in reason and "ConnectionError" in reason
    assert files_under(store.root) == []


def test_404_fails_at_once_and_writes_nothing(
    httpserver: HTTPServer, fetcher: Fetcher, store: SnapshotStore, sleeps: list[float]
):
    httpserver.expect_request("/data/sample.tsv").respond_with_data("no such", status=404)
    ds = served_dataset(httpserver)

    out = fetch_one(fetcher, ds)

    assert out.status == "failed" and out.snapshot is None
    assert "HTTP 404" in (out.reason or "") and str(ds.url) in (out.reason or "")
    assert out.requests_made == 1 and sleeps == []  # a client error is not retried
    assert files_under(store.root) == []


# --------------------------------------------------------------------------- content checks
@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<!DOCTYPE html>\n<html><head><title>Eurostat</title></head></html>", "HTML"),
        (b"", "empty body"),
        (b"  \r\n", "empty body"),
        (b'{"error": {"status": 413, "label": "too many values"}}', "JSON error"),
    ],
    ids=["html", "empty", "blank", "json-error"],
)
def test_implausible_body_is_refused_and_kept_aside(
    httpserver: HTTPServer, fetcher: Fetcher, store: SnapshotStore, body: bytes, why: str
):
    httpserver.expect_request("/data/sample.tsv").respond_with_data(body)
    ds = served_dataset(httpserver)

    out = fetch_one(fetcher, ds)

    assert out.status == "failed" and out.snapshot is None
    assert why in (out.reason or "") and ds.id in (out.reason or "")
    assert store.snapshots(ds.id) == []
    assert snapshot_folders(store, ds) == []
    files = files_under(store.root)
    kept = [f for f in files if f.startswith(f"{REJECTED_DIR}/testsrc/sample/")]
    assert sorted(Path(f).name for f in kept) == ["sample.tsv", f"sample.tsv{META_SUFFIX}"]
    assert files == kept  # nothing outside _rejected, no temp file
    kept_file = store.root / next(f for f in kept if f.endswith("sample.tsv"))
    assert kept_file.read_bytes() == body
    assert str(kept_file) in (out.reason or "")
    meta = json.loads(kept_file.with_name(f"sample.tsv{META_SUFFIX}").read_text())
    assert why in meta["reason"] and meta["url"] == ds.url and meta["status"] == 200


@pytest.mark.parametrize(
    ("fmt", "head", "problem"),
    [
        ("eurostat_tsv", EUROSTAT_TSV, None),
        ("eurostat_tsv", gzip.compress(EUROSTAT_TSV, mtime=0), None),
        ("eurostat_tsv", b"geo,2020\nAT,1\n", "Eurostat TSV header"),
        ("eurostat_tsv", b"\x1f\x8bnot gzip at all", "corrupt gzip"),
        ("sdmx_csv", b"\xef\xbb\xbfDATAFLOW,freq,geo,TIME_PERIOD,OBS_VALUE\n", None),
        ("sdmx_csv", b"<?xml version='1.0'?><message/>", "XML"),
        ("tabular_csv", b"just words\nmore words\n", "no delimiter"),
        ("jsonstat", b'{"version": "2.0", "class": "dataset"}', None),
        ("jsonstat", b"year,value\n2020,1\n", "not a JSON document"),
        ("bulletin_xlsx", b"PK\x03\x04rest-of-zip", None),
        ("bulletin_xlsx", b"year,value\n", "not an XLSX"),
        ("tabular_csv", b"\n\n  <HTML><BODY>Error</BODY></HTML>", "HTML"),
    ],
)
def test_sniff(fmt: str, head: bytes, problem: str | None):
    found = sniff(fmt, head)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_max_bytes_exceeded_leaves_nothing_behind(
    httpserver: HTTPServer, fetcher: Fetcher, store: SnapshotStore
):
    httpserver.expect_request("/data/sample.tsv").respond_with_data(EUROSTAT_TSV * 50)
    ds = served_dataset(httpserver, max_bytes=100)

    out = fetch_one(fetcher, ds)

    assert out.status == "failed" and out.snapshot is None
    assert "max_bytes=100" in (out.reason or "") and ds.id in (out.reason or "")
    assert files_under(store.root) == []  # no snapshot, no rejected copy, no .download-*


def test_max_bytes_applies_to_the_decoded_body(
    httpserver: HTTPServer, fetcher: Fetcher, store: SnapshotStore
):
    """A small gzip transfer that inflates beyond max_bytes is refused (no gzip bomb)."""
    big = EUROSTAT_TSV + b"A,NR,AT\t1 \t2 \n" * 5000
    compressed = gzip.compress(big)
    assert len(compressed) < 10_000 < len(big)
    httpserver.expect_request("/data/sample.tsv").respond_with_data(
        compressed, headers={"Content-Encoding": "gzip"}
    )
    out = fetch_one(fetcher, served_dataset(httpserver, max_bytes=10_000))
    assert out.status == "failed" and "max_bytes" in (out.reason or "")
    assert files_under(store.root) == []


# --------------------------------------------------------------------------- redirects
def test_redirect_to_another_host_is_refused(
    httpserver: HTTPServer, fetcher: Fetcher, store: SnapshotStore
):
    host = urlsplit(httpserver.url_for("/")).hostname
    other = "127.0.0.1" if host == "localhost" else "localhost"  # same server, other name
    target = f"http://{other}:{httpserver.port}/data/elsewhere.tsv"
    httpserver.expect_request("/data/sample.tsv").respond_with_data(
        "", status=302, headers={"Location": target}
    )
    httpserver.expect_request("/data/elsewhere.tsv").respond_with_data(EUROSTAT_TSV)
    ds = served_dataset(httpserver)

    out = fetch_one(fetcher, ds)

    assert out.status == "failed"
    reason = out.reason or ""
    assert f"host {other!r} is not in the allow-list" in reason
    assert repr([host]) in reason and target in reason
    # the redirect was not followed: the other host was never asked
    assert [r.path for r, _ in httpserver.log] == ["/data/sample.tsv"]
    assert files_under(store.root) == []


def test_redirect_within_the_host_is_followed_and_recorded(
    httpserver: HTTPServer, fetcher: Fetcher
):
    httpserver.expect_request("/data/sample.tsv").respond_with_data(
        "", status=301, headers={"Location": "/v2/sample.tsv"}
    )
    httpserver.expect_request("/v2/sample.tsv").respond_with_data(EUROSTAT_TSV)
    ds = served_dataset(httpserver)

    out = fetch_one(fetcher, ds)

    assert out.status == "new" and out.snapshot is not None, out.reason
    assert out.requests_made == 2
    assert out.snapshot.meta.url == ds.url
    assert out.snapshot.meta.final_url == httpserver.url_for("/v2/sample.tsv")
    assert out.snapshot.path.read_bytes() == EUROSTAT_TSV


def test_redirect_loop_is_cut_off(httpserver: HTTPServer, store: SnapshotStore):
    httpserver.expect_request("/data/sample.tsv").respond_with_data(
        "", status=302, headers={"Location": "/data/sample.tsv"}
    )
    fetcher = make_fetcher(store, [], max_redirects=2)
    out = fetch_one(fetcher, served_dataset(httpserver))
    assert out.status == "failed" and "more than 2 redirects" in (out.reason or "")
    assert len(httpserver.log) == 3  # the first request and two redirects followed


# --------------------------------------------------------------------------- mirrors
UPSTREAM = "https://data.example.eu/api/sample?lang=en&format=TSV"
UPSTREAM_KEY = "data.example.eu/api/sample@format=TSV&lang=en"


@pytest.mark.parametrize(
    ("url", "key"),
    [
        # no query string: host and path
        ("https://example.org/files/data.csv", "example.org/files/data.csv"),
        # parameters sorted by name, then value; "?" becomes "@"
        (
            "https://ec.europa.eu/eurostat/api/dissemination/sdmx/2.1/data/crim_off_cat/"
            "A.ICCS0601+ICCS07041+ICCS0101.NR+P_HTHAB.?format=TSV&compressed=true",
            "ec.europa.eu/eurostat/api/dissemination/sdmx/2.1/data/crim_off_cat/"
            "A.ICCS0601+ICCS07041+ICCS0101.NR+P_HTHAB.@compressed=true&format=TSV",
        ),
        ("https://x.eu/d?b=2&a=z&a=y", "x.eu/d@a=y&a=z&b=2"),
        # values are decoded, then re-encoded except letters, digits and -._~+
        # ("+" in a query means a space, "%2B" a plus)
        ("https://x.eu/d?q=drug+deaths&r=a%2Fb&s=1%2B2", "x.eu/d@q=drug%20deaths&r=a%2Fb&s=1+2"),
        ("https://x.eu/d?name=%C3%A9t%C3%A9", "x.eu/d@name=%C3%A9t%C3%A9"),
        # blank values are kept
        ("https://x.eu/d?b=&a=1", "x.eu/d@a=1&b="),
        # the host is lower-cased and the port dropped; the path is kept as written
        ("http://EXAMPLE.org:8080/A%20B/c", "example.org/A%20B/c"),
    ],
)
def test_mirror_key(url: str, key: str):
    assert mirror_key(url) == key


def test_mirror_resolve(tmp_path: Path):
    folder = Mirror(f"{tmp_path}/mirror/")
    assert not folder.is_http and folder.host is None
    assert folder.resolve(UPSTREAM) == str(tmp_path / "mirror" / UPSTREAM_KEY)

    http = Mirror("http://127.0.0.1:8999/base/")
    assert http.is_http and http.host == "127.0.0.1"
    assert http.resolve(UPSTREAM) == f"http://127.0.0.1:8999/base/{UPSTREAM_KEY}"
    # a "%" in a mirror file name is itself encoded in the URL, so that a server that
    # decodes the path once finds the file named by mirror_key
    assert (
        http.resolve("https://x.eu/d?q=drug deaths")
        == "http://127.0.0.1:8999/base/x.eu/d@q=drug%2520deaths"
    )


def write_mirror(root: Path, url: str, body: bytes, sample: bool | None = True) -> Path:
    path = root / mirror_key(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    if sample is not None:
        (root / "MIRROR.json").write_text(json.dumps({"sample": sample}))
    return path


def test_folder_mirror_serves_the_upstream_url(
    tmp_path: Path, store: SnapshotStore, sleeps: list[float]
):
    mirrored = write_mirror(tmp_path / "mirror", UPSTREAM, EUROSTAT_TSV, sample=True)
    ds = make_dataset(url=UPSTREAM)
    fetcher = make_fetcher(store, sleeps, mirror=Mirror(str(tmp_path / "mirror")))

    out = fetch_one(fetcher, ds)

    assert out.status == "new" and out.snapshot is not None, out.reason
    assert out.requests_made == 0
    meta = out.snapshot.meta
    assert (meta.origin, meta.sample, meta.url) == ("mirror", True, UPSTREAM)
    assert meta.final_url == mirrored.as_uri()
    assert meta.status is None and meta.etag is None
    assert out.snapshot.path.read_bytes() == EUROSTAT_TSV
    assert fetch_one(fetcher, ds).status == "unchanged"


def test_a_file_loaded_by_hand_stays_newest_while_the_folder_mirror_is_unchanged(
    tmp_path: Path, store: SnapshotStore, sleeps: list[float]
):
    """A folder has no validators: the snapshot last taken from the same mirror file plays
    the part of the HTTP 304, so the mirror's old file never supersedes a newer loaded one."""
    mirrored = write_mirror(tmp_path / "mirror", UPSTREAM, EUROSTAT_TSV, sample=False)
    ds = make_dataset(url=UPSTREAM)
    fetcher = make_fetcher(store, sleeps, mirror=Mirror(str(tmp_path / "mirror")))
    assert fetch_one(fetcher, ds).status == "new"
    by_hand = tmp_path / "by-hand.tsv"
    by_hand.write_bytes(OTHER_TSV)
    loaded = fetcher.load_file(ds, by_hand)
    assert loaded.status == "new" and loaded.snapshot is not None, loaded.reason

    again = fetch_one(fetcher, ds)

    assert again.status == "unchanged", again.reason
    newest = store.latest(ds.id)
    assert newest is not None and newest.meta.sha256 == loaded.snapshot.meta.sha256
    assert len(store.snapshots(ds.id)) == 2

    mirrored.write_bytes(EUROSTAT_TSV.replace(b"\t12 ", b"\t14 "))  # the mirror changes
    changed = fetch_one(fetcher, ds)
    assert changed.status == "new" and changed.snapshot is not None
    assert store.latest(ds.id).meta.sha256 == changed.snapshot.meta.sha256


def test_folder_mirror_without_manifest_is_not_sample(tmp_path: Path, store: SnapshotStore):
    write_mirror(tmp_path / "mirror", UPSTREAM, EUROSTAT_TSV, sample=None)
    fetcher = make_fetcher(store, [], mirror=Mirror(str(tmp_path / "mirror")))
    out = fetch_one(fetcher, make_dataset(url=UPSTREAM))
    assert out.status == "new" and out.snapshot is not None
    assert out.snapshot.meta.sample is False and out.snapshot.meta.origin == "mirror"


def test_folder_mirror_given_as_relative_path(
    tmp_path: Path, store: SnapshotStore, monkeypatch: pytest.MonkeyPatch
):
    """`--mirror data/sample` (relative) must work: final_url is an absolute file URI."""
    mirrored = write_mirror(tmp_path / "mirror", UPSTREAM, EUROSTAT_TSV)
    monkeypatch.chdir(tmp_path)
    fetcher = make_fetcher(store, [], mirror=Mirror("mirror"))
    out = fetch_one(fetcher, make_dataset(url=UPSTREAM))
    assert out.status == "new" and out.snapshot is not None, out.reason
    assert out.snapshot.meta.final_url == mirrored.as_uri()


def test_folder_mirror_missing_file_fails_naming_the_mirror_path(
    tmp_path: Path, store: SnapshotStore
):
    (tmp_path / "mirror").mkdir()
    fetcher = make_fetcher(store, [], mirror=Mirror(str(tmp_path / "mirror")))
    ds = make_dataset(url=UPSTREAM)

    out = fetch_one(fetcher, ds)

    assert out.status == "failed"
    reason = out.reason or ""
    assert "not in the mirror" in reason
    assert str(tmp_path / "mirror" / UPSTREAM_KEY) in reason and UPSTREAM in reason
    assert files_under(store.root) == []


def test_http_mirror_serves_the_upstream_url_and_revalidates(
    tmp_path: Path, httpserver: HTTPServer, store: SnapshotStore
):
    write_mirror(tmp_path / "mirror", UPSTREAM, EUROSTAT_TSV, sample=True)
    log = serve_directory(httpserver, tmp_path / "mirror")
    mirror = Mirror(httpserver.url_for("/"))
    ds = make_dataset(url=UPSTREAM)  # the upstream host is not the mirror's host
    fetcher = make_fetcher(store, [], mirror=mirror)

    first = fetch_one(fetcher, ds)
    second = fetch_one(fetcher, ds)

    assert first.status == "new" and first.snapshot is not None, first.reason
    meta = first.snapshot.meta
    assert (meta.origin, meta.sample, meta.url, meta.status) == ("mirror", True, UPSTREAM, 200)
    assert meta.final_url == mirror.resolve(UPSTREAM)
    assert meta.etag == etag_of(EUROSTAT_TSV)
    assert first.snapshot.path.read_bytes() == EUROSTAT_TSV
    assert second.status == "unchanged" and second.snapshot == first.snapshot
    data_requests = [r for r in log if r.path == f"/{UPSTREAM_KEY}"]
    assert [(r.conditional, r.status) for r in data_requests] == [(False, 200), (True, 304)]
    assert {r.path for r in log} == {f"/{UPSTREAM_KEY}", "/MIRROR.json"}


def test_folder_and_http_mirror_agree_on_percent_encoded_names(
    tmp_path: Path, httpserver: HTTPServer, store: SnapshotStore
):
    url = "https://data.example.eu/api/sample?q=drug deaths&lang=en"
    mirrored = write_mirror(tmp_path / "mirror", url, EUROSTAT_TSV)
    assert mirrored.name == "sample@lang=en&q=drug%20deaths"
    ds = make_dataset(url=url)
    serve_directory(httpserver, tmp_path / "mirror")

    by_folder = fetch_one(make_fetcher(store, [], mirror=Mirror(str(tmp_path / "mirror"))), ds)
    other_store = SnapshotStore(tmp_path / "raw2")
    by_http = fetch_one(make_fetcher(other_store, [], mirror=Mirror(httpserver.url_for("/"))), ds)

    assert by_folder.status == "new", by_folder.reason
    assert by_http.status == "new", by_http.reason
    assert by_http.snapshot is not None and by_http.snapshot.path.read_bytes() == EUROSTAT_TSV


def test_http_mirror_missing_file_fails_naming_the_mirror_url(
    tmp_path: Path, httpserver: HTTPServer, store: SnapshotStore
):
    (tmp_path / "mirror").mkdir()
    serve_directory(httpserver, tmp_path / "mirror")
    mirror = Mirror(httpserver.url_for("/"))
    out = fetch_one(make_fetcher(store, [], mirror=mirror), make_dataset(url=UPSTREAM))
    assert out.status == "failed"
    assert "HTTP 404" in (out.reason or "")
    assert mirror.resolve(UPSTREAM) in (out.reason or "")
    assert files_under(store.root) == []


def test_http_mirror_does_not_open_the_allow_list_to_other_hosts(
    tmp_path: Path, httpserver: HTTPServer, store: SnapshotStore
):
    """The mirror host is allowed; a redirect from the mirror to a third host is not."""
    host = urlsplit(httpserver.url_for("/")).hostname
    other = "127.0.0.1" if host == "localhost" else "localhost"
    httpserver.expect_request(f"/{UPSTREAM_KEY}").respond_with_data(
        "", status=302, headers={"Location": f"http://{other}:{httpserver.port}/x.tsv"}
    )
    out = fetch_one(
        make_fetcher(store, [], mirror=Mirror(httpserver.url_for("/"))), make_dataset(url=UPSTREAM)
    )
    assert out.status == "failed"
    assert f"host {other!r} is not in the allow-list" in (out.reason or "")
    assert repr(sorted(["data.example.eu", str(host)])) in (out.reason or "")


# --------------------------------------------------------------------------- load_file
def test_load_file_registers_a_local_file(tmp_path: Path, fetcher: Fetcher, store: SnapshotStore):
    source = tmp_path / "downloads" / "by-hand.tsv"
    source.parent.mkdir()
    source.write_bytes(EUROSTAT_TSV)
    ds = make_dataset(url=None)

    out = fetcher.load_file(ds, source)

    assert out.status == "new" and out.snapshot is not None
    meta = out.snapshot.meta
    assert (meta.origin, meta.url, meta.status, meta.sample) == ("load", None, None, False)
    assert meta.final_url == source.resolve().as_uri()
    assert meta.extra == {"loaded_from": str(source.resolve())}
    assert out.snapshot.path.name == ds.file_name  # stored under the catalogue's file name
    assert out.snapshot.path.read_bytes() == EUROSTAT_TSV
    assert source.read_bytes() == EUROSTAT_TSV  # the original is copied, not moved
    assert store.latest(ds.id) == out.snapshot


def test_load_file_refuses_an_html_page(tmp_path: Path, fetcher: Fetcher, store: SnapshotStore):
    page = tmp_path / "saved.tsv"
    page.write_text("<html><body>Please log in</body></html>")
    ds = make_dataset(url=None)

    with pytest.raises(FetchError) as exc:
        fetcher.load_file(ds, page)

    message = str(exc.value)
    assert ds.id in message and "HTML" in message and page.resolve().as_uri() in message
    assert store.snapshots(ds.id) == []
    assert all(f.startswith(f"{REJECTED_DIR}/") for f in files_under(store.root))


def test_load_file_twice_is_unchanged(tmp_path: Path, fetcher: Fetcher, store: SnapshotStore):
    source = tmp_path / "by-hand.tsv"
    source.write_bytes(EUROSTAT_TSV)
    ds = make_dataset(url=None)

    first = fetcher.load_file(ds, source)
    second = fetcher.load_file(ds, source)

    assert first.status == "new"
    assert second.status == "unchanged" and second.snapshot == first.snapshot
    assert len(store.snapshots(ds.id)) == 1
    assert not [f for f in files_under(store.root) if ".download-" in f]


def test_load_file_errors(tmp_path: Path, fetcher: Fetcher, store: SnapshotStore):
    ds = make_dataset(url=None, max_bytes=10)
    with pytest.raises(FetchError, match="is not a file"):
        fetcher.load_file(ds, tmp_path / "missing.tsv")
    big = tmp_path / "big.tsv"
    big.write_bytes(EUROSTAT_TSV)
    with pytest.raises(FetchError, match="larger than max_bytes=10"):
        fetcher.load_file(ds, big)
    assert files_under(store.root) == []


def test_fetch_local_reports_a_refusal_as_a_failed_outcome(
    tmp_path: Path, fetcher: Fetcher, store: SnapshotStore
):
    good, bad = tmp_path / "good.tsv", tmp_path / "bad.tsv"
    good.write_bytes(EUROSTAT_TSV)
    bad.write_text("<!doctype html><title>404</title>")
    ds = make_dataset(url=None)

    refused = fetcher.fetch_local(ds, bad)
    accepted = fetcher.fetch_local(ds, good)

    assert refused.status == "failed" and "HTML" in (refused.reason or "")
    assert accepted.status == "new" and accepted.snapshot is not None
    assert accepted.snapshot.meta.origin == "repository"


def test_dataset_without_url_cannot_be_fetched(fetcher: Fetcher):
    with pytest.raises(FetchError, match="testsrc.sample: the catalogue gives no URL"):
        fetcher.fetch(make_dataset(url=None))


# ------------------------------------------------- incomplete transfers (issue #7, item 1)
# A TSV big enough that half of it is still a plausible file (rows 2..n are whole lines).
BIG_TSV = b"freq,unit,geo\\TIME_PERIOD\t2020 \t2021 \n" + b"".join(
    b"A,NR,G%05d\t%d \t%d \n" % (i, i, i + 1) for i in range(4000)
)


def faulty_dataset(server: FaultServer, path: str = "/data/sample.tsv", **kw) -> Dataset:
    return make_dataset(url=f"{server.url}{path}", **kw)


def no_snapshot_and_no_debris(store: SnapshotStore, ds: Dataset) -> None:
    assert store.snapshots(ds.id) == []
    # no temp file, no half snapshot; a cut transfer is not even kept in _rejected
    assert files_under(store.root) == []


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param(
            respond(
                gzip.compress(BIG_TSV),
                headers={"Content-Encoding": "gzip"},
                content_length=False,
                cut=len(gzip.compress(BIG_TSV)) // 2,
            ),
            "gzip stream ended without its trailer",
            id="gzip-encoded-no-length-cut",
        ),
        pytest.param(
            respond(BIG_TSV, content_length=False, cut=len(BIG_TSV) // 2),
            "cannot be proven complete",
            id="plain-no-length-cut",
        ),
        pytest.param(
            respond(BIG_TSV, cut=len(BIG_TSV) // 2),
            f"got {len(BIG_TSV) // 2} of {len(BIG_TSV)} bytes (Content-Length)",
            id="content-length-short",
        ),
        pytest.param(
            respond(BIG_TSV, chunked=True, last_chunk=False),
            "incomplete transfer",
            id="chunked-without-last-chunk",
        ),
        pytest.param(
            respond(BIG_TSV, chunked=True, cut=len(BIG_TSV) // 2),
            "incomplete transfer",
            id="chunked-cut-mid-chunk",
        ),
        pytest.param(
            respond(
                gzip.compress(BIG_TSV),
                headers={"Content-Encoding": "gzip"},
                cut=len(gzip.compress(BIG_TSV)) // 2,
            ),
            "(Content-Length)",
            id="gzip-encoded-length-short",
        ),
        pytest.param(
            respond(gzip.compress(BIG_TSV), content_length=False, cut=500),
            "gzip file ends without its trailer",
            id="gzip-file-no-length-cut",
        ),
        pytest.param(
            respond(BIG_TSV, content_length=False),
            "cannot be proven complete",
            id="plain-no-length-whole-but-unprovable",
        ),
    ],
)
def test_an_incomplete_transfer_is_retried_then_fails_and_stores_nothing(
    store: SnapshotStore, sleeps: list[float], answer: Raw, expected: str
):
    with FaultServer() as server:
        server.script("/data/sample.tsv", answer)
        ds = faulty_dataset(server)
        out = fetch_one(make_fetcher(store, sleeps, attempts=2), ds)
    assert out.status == "failed"
    assert out.reason is not None and expected in out.reason, out.reason
    assert "incomplete transfer" in out.reason or "trailer" in out.reason, out.reason
    assert out.reason.startswith(f"{ds.id}: gave up on ") and "after 2 attempts" in out.reason
    assert out.requests_made == 2 and len(server.log) == 2 and len(sleeps) == 1
    no_snapshot_and_no_debris(store, ds)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(
            respond(
                gzip.compress(BIG_TSV), headers={"Content-Encoding": "gzip"}, content_length=False
            ),
            id="gzip-encoded-no-length",
        ),
        pytest.param(respond(BIG_TSV, chunked=True), id="chunked"),
        pytest.param(
            respond(gzip.compress(BIG_TSV), content_length=False), id="gzip-file-no-length"
        ),
        pytest.param(
            respond(
                gzip.compress(BIG_TSV[:5000]) + gzip.compress(BIG_TSV[5000:]),
                headers={"Content-Encoding": "gzip"},
            ),
            id="gzip-encoded-two-members",
        ),
    ],
)
def test_a_transfer_proven_complete_is_stored(
    store: SnapshotStore, sleeps: list[float], answer: Raw
):
    with FaultServer() as server:
        server.script("/data/sample.tsv", answer)
        out = fetch_one(make_fetcher(store, sleeps), faulty_dataset(server))
    assert (out.status, out.reason, out.requests_made) == ("new", None, 1)
    assert out.snapshot is not None
    stored = out.snapshot.path.read_bytes()
    assert (gzip.decompress(stored) if stored[:2] == b"\x1f\x8b" else stored) == BIG_TSV


# ------------------------------------------ mid-body resets and stalls (issue #7, item 10)
@pytest.mark.parametrize(
    ("first", "policy"),
    [
        pytest.param(respond(BIG_TSV, cut=3000, reset=True), {}, id="reset-mid-body"),
        pytest.param(
            respond(BIG_TSV, cut=3000, stall=3.0), {"read_timeout": 0.5}, id="stall-mid-body"
        ),
        pytest.param(respond(BIG_TSV, cut=3000), {}, id="content-length-short"),
        pytest.param(
            respond(
                gzip.compress(BIG_TSV),
                headers={"Content-Encoding": "gzip"},
                content_length=False,
                cut=2000,
            ),
            {},
            id="gzip-encoded-cut",
        ),
    ],
)
def test_a_body_cut_short_is_retried_within_the_attempt_budget(
    store: SnapshotStore, sleeps: list[float], first: Raw, policy: dict[str, float]
):
    with FaultServer() as server:
        server.script("/data/sample.tsv", first, respond(BIG_TSV))
        out = fetch_one(make_fetcher(store, sleeps, attempts=3, **policy), faulty_dataset(server))
    assert (out.status, out.reason) == ("new", None)
    assert out.requests_made == 2 and len(sleeps) == 1
    assert out.snapshot is not None and out.snapshot.path.read_bytes() == BIG_TSV


def test_request_and_body_failures_share_one_budget(
    httpserver: HTTPServer, store: SnapshotStore, sleeps: list[float]
):
    """A 503, then a cut body, then a 503: three failed attempts of three, not 3 x 3."""
    with FaultServer() as server:
        server.script(
            "/data/sample.tsv",
            respond(b"busy", status="503 Service Unavailable"),
            respond(BIG_TSV, cut=100),
            respond(b"busy", status="503 Service Unavailable"),
            respond(BIG_TSV),
        )
        out = fetch_one(make_fetcher(store, sleeps, attempts=3), faulty_dataset(server))
    assert out.status == "failed" and out.requests_made == 3 and len(sleeps) == 2
    assert "after 3 attempts: HTTP 503" in (out.reason or "")


# ------------------------------------------ formats whose own end is checked at admission
def test_load_of_a_truncated_gzip_file_is_refused(tmp_path: Path, fetcher: Fetcher, store):
    cut = tmp_path / "crim_off_cat.tsv.gz"
    cut.write_bytes(gzip.compress(BIG_TSV)[:-8])  # the CRC-32 and size trailer is missing
    ds = make_dataset()
    with pytest.raises(FetchError, match="truncated file: .*end-of-stream marker"):
        fetcher.load_file(ds, cut)
    assert store.snapshots(ds.id) == []


def test_load_of_a_gzip_file_with_a_wrong_crc_is_refused(tmp_path: Path, fetcher: Fetcher, store):
    body = bytearray(gzip.compress(BIG_TSV))
    body[-8] ^= 0xFF  # the stored CRC-32
    bad = tmp_path / "crim_off_cat.tsv.gz"
    bad.write_bytes(bytes(body))
    with pytest.raises(FetchError, match="corrupt gzip: .*CRC check failed"):
        fetcher.load_file(make_dataset(), bad)
    assert store.snapshots("testsrc.sample") == []


def test_load_of_a_truncated_xlsx_is_refused(tmp_path: Path, fetcher: Fetcher, store):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>" * 200)
    cut = tmp_path / "table.xlsx"
    cut.write_bytes(buffer.getvalue()[:-30])  # the end of the central directory is gone
    ds = make_dataset(format="bulletin_xlsx", file_name="table.xlsx")
    with pytest.raises(FetchError, match="unreadable workbook: not a readable ZIP archive"):
        fetcher.load_file(ds, cut)
    assert store.snapshots(ds.id) == []


# ------------------------------------------------------- symlinks given to `eudap load`
def test_load_of_a_symlink_is_refused_and_its_target_is_not_copied(
    tmp_path: Path, fetcher: Fetcher, store: SnapshotStore
):
    secret = tmp_path / "private.tsv"
    secret.write_bytes(EUROSTAT_TSV + b"A,NR,SECRETROW\t1 \t2 \n")
    link = tmp_path / "looks_harmless.tsv"
    link.symlink_to(secret)
    ds = make_dataset()
    with pytest.raises(FetchError, match="symbolic link is refused"):
        fetcher.load_file(ds, link)
    assert store.snapshots(ds.id) == []
    kept = files_under(store.root)
    assert len(kept) == 1 and kept[0].endswith(f"looks_harmless.tsv{META_SUFFIX}"), kept
    sidecar = json.loads((store.root / kept[0]).read_text())
    assert sidecar["file"] == "looks_harmless.tsv"
    assert "symbolic link" in sidecar["reason"]
    assert not any(b"SECRETROW" in p.read_bytes() for p in store.root.rglob("*") if p.is_file())


# ------------------------------------------------------ credentials (issue #7, item 7)
@pytest.mark.parametrize(
    "location",
    [
        "http://user:s3cr3t@127.0.0.1:9/",
        "http://127.0.0.1:9/mirror?token=s3cr3t",
        "https://:s3cr3t@h/",
    ],
)
def test_a_mirror_url_with_credentials_is_refused_without_echoing_them(location: str):
    with pytest.raises(MirrorLocationError, match="netrc") as info:
        Mirror(location)
    assert "s3cr3t" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("http://user:s3cr3t@host/a?b=1", "http://***@host/a?b=1"),
        ("https://h/x?format=TSV&token=s3cr3t", "https://h/x?format=TSV&token=***"),
        (
            "https://h/x?SIG=s3cr3t&keyword=1&api_key=s3cr3t",
            "https://h/x?SIG=***&keyword=1&api_key=***",
        ),
        ("https://h/x?X-Amz-Signature=s3cr3t", "https://h/x?X-Amz-Signature=***"),
        (
            "https://ec.europa.eu/a/b?format=TSV&compressed=true",
            "https://ec.europa.eu/a/b?format=TSV&compressed=true",
        ),
        ("url: /f?sig=s3cr3t (Caused by x)", "url: /f?sig=*** (Caused by x)"),
    ],
)
def test_redact_url(url: str, redacted: str):
    assert redact_url(url) == redacted
    assert redact_url(redacted) == redacted  # idempotent


def test_signed_redirect_is_recorded_without_its_signature(
    httpserver: HTTPServer, store: SnapshotStore, sleeps: list[float]
):
    httpserver.expect_request("/data/sample.tsv").respond_with_data(
        "", status=302, headers={"Location": "/signed/sample.tsv?sig=s3cr3t&token=s3cr3t"}
    )
    httpserver.expect_request("/signed/sample.tsv").respond_with_data(EUROSTAT_TSV)
    ds = served_dataset(httpserver)
    out = fetch_one(make_fetcher(store, sleeps), ds)
    assert out.status == "new" and out.snapshot is not None
    assert out.snapshot.meta.final_url.endswith("/signed/sample.tsv?sig=***&token=***")
    assert not [p for p in store.root.rglob("*") if p.is_file() and b"s3cr3t" in p.read_bytes()]


def test_a_failure_at_a_signed_url_is_reported_without_its_signature(
    httpserver: HTTPServer, store: SnapshotStore, sleeps: list[float]
):
    httpserver.expect_request("/data/sample.tsv").respond_with_data(
        "", status=302, headers={"Location": "/signed/sample.tsv?sig=s3cr3t"}
    )
    httpserver.expect_request("/signed/sample.tsv").respond_with_data("gone", status=404)
    out = fetch_one(make_fetcher(store, sleeps), served_dataset(httpserver))
    assert out.status == "failed" and "HTTP 404" in (out.reason or "")
    assert "s3cr3t" not in (out.reason or "") and "sig=***" in (out.reason or "")


# ------------------------------------------------------- a mirror that is down (item 8)
def test_a_mirror_that_is_down_fails_the_download_with_a_reason(
    store: SnapshotStore, sleeps: list[float]
):
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mirror = Mirror(f"http://127.0.0.1:{port}")
    fetcher = make_fetcher(store, sleeps, mirror=mirror, attempts=2)
    ds = make_dataset(url="https://ec.europa.eu/data/sample.tsv")
    out = fetch_one(fetcher, ds)
    assert out.status == "failed" and "gave up" in (out.reason or "")
    # the manifest is what the curated stand-ins and the sample flag depend on
    with pytest.raises(FetchError, match=r"manifest .*MIRROR.json cannot be read"):
        mirror.manifest(fetcher.session)
    curated = fetcher.fetch_local(make_dataset(), Path(__file__))
    assert curated.status == "failed" and "MIRROR.json" in (curated.reason or "")


# --------------------------------------------------------------------------- discovery
def discovered_dataset(httpserver: HTTPServer, **kw) -> Dataset:
    """A dataset whose URL is found on `/pages/release-<year>` of the test server."""
    spec = {"page": httpserver.url_for("/pages/release-{year}"), "pattern": r"sample-{year}\.tsv"}
    return make_dataset(url=None, discover={**spec, "years_back": 2, **kw})


def release_page(year: int) -> bytes:
    """A landing page: the data file linked relatively, with an entity in its query string."""
    return (
        "<!DOCTYPE html><html><body><h1>Release</h1>"
        f'<a href="../files/sample-{year}.tsv?download=1&amp;lang=en">TSV</a>'
        f'<a href="../files/sample-{year}.pdf">PDF</a></body></html>'
    ).encode()


def publish_release(root: Path, year: int, data: bytes = EUROSTAT_TSV) -> None:
    (root / "pages").mkdir(parents=True, exist_ok=True)
    (root / "files").mkdir(parents=True, exist_ok=True)
    (root / "pages" / f"release-{year}").write_bytes(release_page(year))
    (root / "files" / f"sample-{year}.tsv").write_bytes(data)


def test_discovered_url_is_fetched_and_recorded_with_its_page(
    httpserver: HTTPServer, fetcher: Fetcher, store: SnapshotStore, tmp_path: Path
):
    from pipelines.meta import snapshots_frame

    year = utc_now().year - 1  # this year's page does not exist yet: last year's is used
    publish_release(tmp_path / "site", year)
    log = serve_directory(httpserver, tmp_path / "site")
    ds = discovered_dataset(httpserver)

    out = fetch_one(fetcher, ds)

    assert out.status == "new", out.reason
    resolved = httpserver.url_for(f"/files/sample-{year}.tsv") + "?download=1&lang=en"
    page = httpserver.url_for(f"/pages/release-{year}")
    assert out.url == resolved and out.requests_made == 3
    assert [(r.path, r.status) for r in log] == [
        (f"/pages/release-{year + 1}", 404),
        (f"/pages/release-{year}", 200),
        (f"/files/sample-{year}.tsv", 200),
    ]
    meta = out.snapshot.meta
    assert (meta.url, meta.final_url, meta.file) == (resolved, resolved, ds.file_name)
    assert meta.extra["resolved_from"] == page and meta.extra["edition"] == year
    # the page is a snapshot of its own, outside the dataset's history
    page_file = store.root / meta.extra["page_snapshot"]
    assert page_file.read_bytes() == release_page(year)
    assert meta.extra["page_sha256"] == hashlib.sha256(release_page(year)).hexdigest()
    page_meta = json.loads(Path(f"{page_file}{META_SUFFIX}").read_text())
    assert page_meta["url"] == page and page_meta["extra"] == {"landing_page_of": ds.id}
    assert [s.meta.url for s in store.snapshots(ds.id)] == [resolved]
    frame = snapshots_frame(type("Cat", (), {"datasets": {ds.id: ds}})(), store)
    assert frame["resolved_from"].tolist() == [page] and frame["url"].tolist() == [resolved]


def test_discovered_second_fetch_is_conditional_page_and_file(
    httpserver: HTTPServer, fetcher: Fetcher, store: SnapshotStore, tmp_path: Path
):
    year = utc_now().year
    publish_release(tmp_path / "site", year)
    log = serve_directory(httpserver, tmp_path / "site")
    ds = discovered_dataset(httpserver)
    first = fetch_one(fetcher, ds)
    log.clear()

    again = fetch_one(fetcher, ds)

    assert again.status == "unchanged" and again.snapshot == first.snapshot
    assert [(r.path, r.status, r.conditional) for r in log] == [
        (f"/pages/release-{year}", 304, True),
        (f"/files/sample-{year}.tsv", 304, True),
    ]
    pages = store.root / "_pages" / "testsrc" / "sample"
    assert len([p for p in pages.iterdir() if p.is_dir()]) == 1  # no second page snapshot


def test_a_new_edition_is_picked_up_and_an_old_one_kept(
    httpserver: HTTPServer, fetcher: Fetcher, store: SnapshotStore, tmp_path: Path
):
    year = utc_now().year
    publish_release(tmp_path / "site", year - 1)
    serve_directory(httpserver, tmp_path / "site")
    ds = discovered_dataset(httpserver)
    old = fetch_one(fetcher, ds)
    publish_release(tmp_path / "site", year, OTHER_TSV)  # this year's release appears

    new = fetch_one(fetcher, ds)

    assert new.status == "new" and new.snapshot.meta.extra["edition"] == year
    assert new.url.startswith(httpserver.url_for(f"/files/sample-{year}.tsv"))
    assert [s.meta.sha256 for s in store.snapshots(ds.id)] == [
        new.snapshot.meta.sha256,
        old.snapshot.meta.sha256,
    ]


def test_a_refused_landing_page_is_a_refusal_and_the_dataset_keeps_its_last_snapshot(
    httpserver: HTTPServer, fetcher: Fetcher, store: SnapshotStore, tmp_path: Path
):
    year = utc_now().year
    publish_release(tmp_path / "site", year)
    serve_directory(httpserver, tmp_path / "site")
    ds = discovered_dataset(httpserver)
    good = fetch_one(fetcher, ds)
    httpserver.clear()
    httpserver.expect_request(f"/pages/release-{year}").respond_with_data(
        "<html><title>Just a moment...</title></html>", status=403, content_type="text/html"
    )

    out = fetch_one(fetcher, ds)

    assert out.status == "refused" and out.snapshot is None
    page = httpserver.url_for(f"/pages/release-{year}")
    assert out.reason == (
        f"{ds.id}: the publisher refused an automated download (HTTP 403); download {page} "
        "in a browser and drop it into the inbox (data/inbox/, setting EUDAP_INBOX)"
    )
    assert store.latest(ds.id) == good.snapshot


def test_no_page_and_links_to_other_hosts_give_no_url(
    httpserver: HTTPServer, fetcher: Fetcher, store: SnapshotStore, tmp_path: Path
):
    year = utc_now().year
    site = tmp_path / "site" / "pages"
    site.mkdir(parents=True)
    (site / f"release-{year}").write_text(
        f'<a href="https://evil.example.org/files/sample-{year}.tsv">elsewhere</a>'
    )
    log = serve_directory(httpserver, tmp_path / "site")
    ds = discovered_dataset(httpserver, years_back=1)

    out = fetch_one(fetcher, ds)

    assert out.status == "failed" and store.snapshots(ds.id) == []
    assert out.reason.startswith(f"{ds.id}: no link matching the catalogue's discover pattern")
    assert f"release-{year} (0 link(s) matching 'sample-{year}\\\\.tsv')" in out.reason
    assert f"release-{year - 1} (no such page)" in out.reason
    assert [r.path for r in log] == [f"/pages/release-{year}", f"/pages/release-{year - 1}"]


def test_wastewater_is_discovered_through_the_sample_mirror_over_http(
    httpserver: HTTPServer, fetcher: Fetcher, store: SnapshotStore
):
    from pipelines.catalogue import load_catalogue
    from pipelines.settings import SAMPLE_MIRROR_DIR

    serve_directory(httpserver, SAMPLE_MIRROR_DIR)
    fetcher.mirror = Mirror(httpserver.url_for("/"))
    ds = load_catalogue().dataset("euda.wastewater")

    out = fetch_one(fetcher, ds)

    assert out.status == "new", out.reason
    # relative links resolve against the publisher's page URL, not the mirror's
    assert out.url == (
        "https://www.euda.europa.eu/sites/default/files/data/mirror-stand-in/"
        "wastewater-2025/ww2025-all-data.csv"
    )
    assert out.snapshot.meta.final_url == fetcher.mirror.resolve(out.url)
    assert out.snapshot.meta.extra["resolved_from"].endswith("europe-source-data-2025_en")
