"""Helpers shared by the test layers (unit, integration, e2e).

`tests/` has no ``__init__.py``, so pytest puts this folder on ``sys.path`` when it loads
``tests/conftest.py``: import these helpers as ``from helpers import make_dataset, ...``.

- `make_dataset` builds a valid catalogue `Dataset` (validated like a catalogue file) whose
  URL points wherever the test wants, usually at pytest-httpserver.
- `serve_directory` serves a folder (e.g. a mirror laid out ``<host>/<path>`` as
  `pipelines.fetch.mirror_key` names it) from pytest-httpserver like a static file server
  with validators: strong ETag, Last-Modified, 304 on a matching conditional request, 404
  for a missing file. It records every request it answers, so a test can assert which
  requests were made (e.g. "only conditional requests on the second run").
- `launch_in_process` runs a job as Dagster launches one: through the code location's own
  executor (which saves a publishing run's report), not `execute_in_process`.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import math
import mimetypes
import re
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from pipelines.catalogue import Dataset
from pipelines.checks import ExpectationFailure, ValidationReport
from pipelines.discover import Page, discover
from pipelines.fetch import mirror_key
from pipelines.snapshots import utc_now

# A small, valid Eurostat TSV (the layout of the SDMX 2.1 `format=TSV` answer).
EUROSTAT_TSV = b"freq,unit,geo\\TIME_PERIOD\t2020 \t2021 \nA,NR,AT\t10 \t12 \nA,NR,BE\t7 \t: \n"


def dataset_fields(**overrides: Any) -> dict[str, Any]:
    """The fields of a valid catalogue dataset (as a YAML file would hold them)."""
    fields: dict[str, Any] = {
        "id": "testsrc.sample",
        "publisher": "Test publisher",
        "title": "Sample dataset for tests",
        "url": "http://localhost/data/sample.tsv",
        "format": "eurostat_tsv",
        "file_name": "sample.tsv",
        "licence": "CC BY 4.0 (test)",
        "attribution": "Source: test publisher, sample dataset",
        "update_cadence": "annual",
        "expected_update_days": 400,
        "indicators": [1],
        "dimensions": ["freq", "unit", "geo"],
        "geo_dimension": "geo",
    }
    fields.update(overrides)
    return fields


def make_dataset(**overrides: Any) -> Dataset:
    """A valid `Dataset` (eurostat_tsv, dimensions freq/unit/geo); any field can be overridden.

    The model is validated as a catalogue file would be, so an invalid override raises
    pydantic's ValidationError.
    """
    return Dataset.model_validate(dataset_fields(**overrides))


def mirror_download_keys(ds: Dataset, mirror: Path) -> list[str]:
    """Mirror paths of a dataset's downloads in a folder mirror: its fixed URLs, or for a
    `discover:` dataset the links found on the mirror's landing page, as the fetcher finds them."""
    if ds.discover is None:
        return [mirror_key(url) for url, _ in ds.download_targets()]

    def read(url: str) -> Page | None:
        path = mirror / mirror_key(url)
        return Page(url, path.read_bytes(), url) if path.is_file() else None

    found = discover(ds.id, ds.discover, read, utc_now().date(), ds.collection)
    return [mirror_key(url) for url in found.links]


@dataclass(frozen=True)
class RecordedRequest:
    """One request answered by `serve_directory`."""

    method: str
    path: str  # percent-decoded URL path, e.g. "/ec.europa.eu/eurostat/...@format=TSV"
    headers: dict[str, str]
    status: int  # the status the handler answered

    @property
    def conditional(self) -> bool:
        return "If-None-Match" in self.headers or "If-Modified-Since" in self.headers


def etag_of(data: bytes) -> str:
    """The strong ETag `serve_directory` gives a file with these bytes."""
    return f'"{hashlib.sha256(data).hexdigest()}"'


def serve_directory(httpserver: HTTPServer, root: Path) -> list[RecordedRequest]:
    """Serve every file under `root` at its relative URL path; return the request log.

    ``GET /a/b%20c`` serves ``root/"a"/"b c"`` (the path is percent-decoded once, as any
    static file server does). Answers carry ``ETag: "<sha256 of the bytes>"`` and
    ``Last-Modified`` (the file's mtime). A request whose ``If-None-Match`` lists the
    current ETag (or ``*``), or, without ``If-None-Match``, whose ``If-Modified-Since`` is
    not older than the file, gets ``304 Not Modified``. Missing files and paths outside
    `root` get 404. The returned list grows as requests arrive.
    """
    root = root.resolve()
    log: list[RecordedRequest] = []

    def handler(request: Request) -> Response:
        response = _answer(request, root)
        log.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                headers=dict(request.headers.items()),
                status=response.status_code,
            )
        )
        return response

    httpserver.expect_request(re.compile(r"^/.*")).respond_with_handler(handler)
    return log


def _answer(request: Request, root: Path) -> Response:
    if request.method not in ("GET", "HEAD"):
        return Response("method not allowed\n", status=405, headers={"Allow": "GET, HEAD"})
    # werkzeug gives request.path already percent-decoded (once).
    target = (root / request.path.lstrip("/")).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        return Response(f"not found: {request.path}\n", status=404, mimetype="text/plain")
    data = target.read_bytes()
    mtime = int(target.stat().st_mtime)
    validators = {
        "ETag": etag_of(data),
        "Last-Modified": email.utils.formatdate(mtime, usegmt=True),
    }
    if _not_modified(request, validators["ETag"], mtime):
        return Response(status=304, headers=validators)
    content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    body = b"" if request.method == "HEAD" else data
    response = Response(body, status=200, headers=validators, content_type=content_type)
    response.headers["Content-Length"] = str(len(data))
    return response


def _not_modified(request: Request, etag: str, mtime: int) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or etag in tags
    if_modified_since = request.headers.get("If-Modified-Since")
    if if_modified_since:
        try:
            since = email.utils.parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:  # an HTTP-date is always UTC
            since = since.replace(tzinfo=UTC)
        return since.timestamp() >= mtime
    return False


# -- gates --------------------------------------------------------------------------------------
def gate_failures(report: ValidationReport) -> list[tuple[Any, ...]]:
    """A report's failures as data, sorted: GX reports them in an order of its own (the SQL
    gate in suite order), rewrites kwargs (a row_condition as a dict, pairs as tuples, None
    dropped) and its sample rows hold numpy/pandas scalars; both must agree on the rest."""

    def kwargs(f: ExpectationFailure) -> str:
        kw = {k: v for k, v in f.kwargs.items() if v is not None}  # GX drops None kwargs
        if isinstance(kw.get("row_condition"), dict):
            kw["row_condition"] = kw["row_condition"]["pass_through_filter"]
        return json.dumps(json.loads(json.dumps(kw), parse_int=float), sort_keys=True)

    def plain(value: Any) -> Any:
        if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
            return None
        if isinstance(value, (bool, str)):
            return value
        if hasattr(value, "tolist") and getattr(value, "ndim", 0):
            value = value.tolist()
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if hasattr(value, "isoformat"):  # a pandas Timestamp or a datetime
            return value.replace(tzinfo=None).isoformat()
        return float(value)

    rows = [
        (
            f.expectation,
            kwargs(f),
            f.rule,
            f.unexpected_count,
            [{k: plain(v) for k, v in r.items()} for r in f.sample_rows],
        )
        for f in report.failures
    ]
    return sorted(rows, key=lambda failure: failure[:3])


def emptied_database(database: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A connection of its own (temp objects and settings do not carry over) to `database`
    with every schema an earlier test made dropped and an empty `staging` schema: a module
    can share one DuckDB file instead of opening one per test (~20 ms of CPU each)."""
    user_schemas = database.execute(
        "SELECT schema_name FROM duckdb_schemas() "
        "WHERE NOT internal AND database_name = current_database()"
    ).fetchall()
    for (schema,) in user_schemas:
        database.execute(f'DROP SCHEMA "{schema}" CASCADE')
    if database.execute("SELECT count(*) FROM duckdb_tables()").fetchone() != (0,):
        raise AssertionError("a test left a table outside its schemas in the shared database")
    database.execute("CREATE SCHEMA staging")
    return database.cursor()


def assert_parquet_stages_as_the_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    ds: Any,
    snap: Any,
    geo: Any,
    folder: Path,
) -> None:
    """The snapshot `load_snapshot` just staged into `table`, staged again as a staging step
    stages it (into a Parquet file, `table` a view of it): the same rows in the same order,
    with the same column types."""
    from pipelines.stage import load_snapshot

    in_table = con.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
    types = con.execute(f"DESCRIBE {table}").fetchall()
    parquet = folder / "staged.parquet"
    rows = load_snapshot(con, table, ds, snap, geo, parquet)[0]
    assert parquet.is_file()
    assert con.execute(f"DESCRIBE {table}").fetchall() == types
    assert con.execute(f"SELECT * FROM {table}").fetchall() == in_table  # in the file's order
    assert rows == len(in_table)


def launch_in_process(job: Any, home: Path, assets: list[Any] | None = None) -> Any:
    """A run of the reconstructable `job` (its `assets`, or all) as Dagster launches one: the
    job's own executor, in process, on a real instance under `home` whose event log is kept
    in memory (the executor reads the run's events back from it all the same)."""
    from dagster import execute_job, instance_for_test

    home.mkdir(parents=True, exist_ok=True)
    in_memory = {"module": "dagster._core.storage.event_log", "class": "InMemoryEventLogStorage"}
    with instance_for_test(temp_dir=str(home), overrides={"event_log_storage": in_memory}) as inst:
        return execute_job(
            job,
            instance=inst,
            asset_selection=assets,
            run_config={"execution": {"config": {"in_process": {}}}},
            raise_on_error=False,
        )
