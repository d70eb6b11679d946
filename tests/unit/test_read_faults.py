"""Bad bytes in the snapshot store and at admission (issue #7, items 1-3).

Every failure while reading a snapshot is a ParseError naming the file (so staging
quarantines it); bytes that are not the declared format are refused by `load`; decompression
and allocation bombs are refused by a named limit before memory is committed; a sharp drop in
observations against the previous good snapshot is quarantined with the figures. Bombs run in
a subprocess, so a crash (exit 134 on a huge allocation) fails the test instead of pytest.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pipelines.catalogue import Catalogue, Dataset, ReadLimits, load_catalogue
from pipelines.fetch import Fetcher, FetchError
from pipelines.geo import GeoResolver
from pipelines.parsers import bulletin_xlsx, eurostat_tsv, tabular_csv
from pipelines.parsers.admission import content_problem
from pipelines.parsers.base import LimitExceeded, ParseError
from pipelines.settings import PROJECT_ROOT
from pipelines.snapshots import META_SUFFIX, SnapshotMeta, SnapshotStore, utc_now
from pipelines.stage import PublishedUse, stage_dataset

CRIM = "eurostat.crim_off_cat"
WASTEWATER = "euda.wastewater"
BULLETIN = "euda.bulletin"
SAMPLE = PROJECT_ROOT / "data" / "sample"
CRIM_SAMPLE = next(p for p in (SAMPLE / "ec.europa.eu").rglob("crim_off_cat/**/*") if p.is_file())
BULLETIN_SAMPLE = next(SAMPLE.rglob("maleDeaths.xlsx"))
WASTEWATER_SAMPLE = next(SAMPLE.rglob("ww*-all-data*.csv"))
SMALL = ReadLimits(
    max_decompressed_bytes=1_000_000,
    ratio_check_after_bytes=100_000,
    max_line_bytes=10_000,
    max_sheet_rows=1_000,
    max_sheet_cols=100,
    max_cells=10_000,
)


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


@pytest.fixture
def store(tmp_path: Path) -> SnapshotStore:
    return SnapshotStore(tmp_path / "raw")


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(tmp_path / "build.duckdb"))
    yield connection
    connection.close()


def write(tmp_path: Path, name: str, body: bytes) -> Path:
    path = tmp_path / "incoming" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


def put_in_store(store: SnapshotStore, ds: Dataset, body: bytes, tmp_path: Path, name: str = ""):
    """A snapshot written without admission checks: what an older store may already hold."""
    import hashlib

    tmp = write(tmp_path, f"raw-{len(list(tmp_path.glob('incoming/*')))}", body)
    meta = SnapshotMeta(
        dataset=ds.id,
        file=name or ds.file_name,
        sha256=hashlib.sha256(body).hexdigest(),
        bytes=len(body),
        fetched_at=utc_now().isoformat(timespec="microseconds").replace("+00:00", "Z"),
        origin="load",
        url=None,
        final_url=None,
        status=None,
        etag=None,
        last_modified=None,
        content_type=None,
        licence=ds.licence,
        attribution=ds.attribution,
        sample=False,
    )
    snap = store.add(ds.id, tmp, meta, dedupe_any=ds.collection)
    assert snap is not None
    return snap


def crim_with_rows(n: int) -> bytes:
    """The sample crim_off_cat file with only its first `n` observations (the rest `:`)."""
    body = CRIM_SAMPLE.read_bytes()
    lines = (gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body).decode().splitlines()
    out, kept = [lines[0]], 0
    for line in lines[1:]:
        cells = line.split("\t")
        for i in range(1, len(cells)):
            if cells[i].strip() != ":":
                if kept >= n:
                    cells[i] = ": "
                else:
                    kept += 1
        out.append("\t".join(cells))
    return gzip.compress(("\n".join(out) + "\n").encode())


def stage(con, ds, store, cat, published=None):
    return stage_dataset(
        con,
        ds,
        store.snapshots(ds.id),
        GeoResolver(cat.geo),
        published_sha=published.snapshot_sha256 if published else None,
        fetch_problem=None,
        published=published,
    )


# -- item 1: a sharp drop in observations -----------------------------------------------------
def test_drop_from_1346_to_612_rows_is_quarantined_with_the_figures(
    cat: Catalogue, store: SnapshotStore, con, tmp_path: Path
) -> None:
    ds = cat.dataset(CRIM)
    good = Fetcher(store).load_file(ds, write(tmp_path, "good.tsv.gz", crim_with_rows(1346)))
    assert good.snapshot is not None
    published = PublishedUse(good.snapshot.meta.sha256, "2026-11-01T02:00:00Z", 1346)
    short = Fetcher(store).load_file(ds, write(tmp_path, "short.tsv.gz", crim_with_rows(612)))
    assert short.status == "new" and short.snapshot is not None

    result = stage(con, ds, store, cat, published)

    assert result.state == "stale"
    assert result.snapshot == good.snapshot and result.rows == 1346
    reason = result.reason or ""
    for figure in ("612 rows", "1,346", "54.5%", "max_row_drop 20%", "the published release"):
        assert figure in reason, reason
    assert good.snapshot.meta.sha256 in reason and short.snapshot.meta.sha256 in reason
    assert "2026-11-01T02:00:00Z" in reason and short.snapshot.meta.fetched_at in reason
    assert [q["snapshot_sha256"] for q in result.quarantined] == [short.snapshot.meta.sha256]


def test_drop_without_a_published_release_compares_with_the_previous_snapshot(
    cat: Catalogue, store: SnapshotStore, con, tmp_path: Path
) -> None:
    ds = cat.dataset(CRIM)
    put_in_store(store, ds, crim_with_rows(1346), tmp_path)
    put_in_store(store, ds, crim_with_rows(612), tmp_path)
    result = stage(con, ds, store, cat)
    assert result.state == "stale" and result.rows == 1346
    assert "the previous snapshot" in (result.reason or "")


def test_a_small_drop_or_an_expected_drop_is_staged_fresh(
    cat: Catalogue, store: SnapshotStore, con, tmp_path: Path
) -> None:
    ds = cat.dataset(CRIM)
    put_in_store(store, ds, crim_with_rows(1346), tmp_path)
    newer = put_in_store(store, ds, crim_with_rows(1200), tmp_path)  # -10.8 %
    assert stage(con, ds, store, cat).state == "fresh"
    short = put_in_store(store, ds, crim_with_rows(612), tmp_path)
    expected = ds.model_copy(update={"expected_drop": [short.meta.sha256[:12]]})
    result = stage(con, expected, store, cat)
    assert result.state == "fresh" and result.rows == 612
    unchecked = ds.model_copy(update={"max_row_drop": None})
    assert stage(con, unchecked, store, cat).state == "fresh"
    assert newer is not None


def test_a_collection_member_that_drops_is_quarantined_alone(
    cat: Catalogue, store: SnapshotStore, con, tmp_path: Path
) -> None:
    ds = cat.dataset(BULLETIN)
    full = put_in_store(store, ds, BULLETIN_SAMPLE.read_bytes(), tmp_path, "maleDeaths.xlsx")
    rows_full = sum(1 for _ in bulletin_xlsx.parse(full.path, {}).rows)
    # The same table with most of its country rows gone.
    book = _rewrite_sheet(BULLETIN_SAMPLE.read_bytes(), keep_rows=6)
    short = put_in_store(store, ds, book, tmp_path, "maleDeaths-2.xlsx")
    published = PublishedUse(None, None, rows_full, [full.meta.sha256])
    result = stage(con, ds, store, cat, published)
    assert result.state == "stale", result.reason
    assert result.members == [full] and short.meta.sha256 in (result.reason or "")
    assert "member table" in (result.reason or "")


def _rewrite_sheet(xlsx: bytes, keep_rows: int) -> bytes:
    """An XLSX whose first sheet keeps only its rows up to `keep_rows`."""
    import re

    src = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                text = re.sub(
                    r'<row r="(\d+)".*?</row>',
                    lambda m: m.group(0) if int(m.group(1)) <= keep_rows else "",
                    text,
                    flags=re.DOTALL,
                )
                data = text.encode()
            dst.writestr(info.filename, data)
    return out.getvalue()


# -- item 2: failures outside the parser's own errors -----------------------------------------
TRUNCATED_GZ = crim_with_rows(1346)[:-40]
XLSX_BYTES = BULLETIN_SAMPLE.read_bytes()
RANDOM_BYTES = bytes((i * 7919 + 13) % 256 for i in range(5000))
NOT_CP1252 = b"a,b,c\n\x81\x8d\x8f,\x90,\x9d\n"


def test_a_truncated_gzip_is_a_parse_error_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "crim.tsv.gz", TRUNCATED_GZ)
    with pytest.raises(ParseError) as err:
        parsed = eurostat_tsv.parse(path, {})
        list(parsed.rows)
    assert err.value.rule == "truncated file" and str(path) in str(err.value)


@pytest.mark.parametrize(
    ("body", "rule"),
    [(XLSX_BYTES, "undecodable bytes"), (RANDOM_BYTES, "undecodable bytes")],
    ids=["xlsx", "random"],
)
def test_binary_bytes_read_as_csv_are_a_parse_error(tmp_path: Path, body: bytes, rule: str) -> None:
    path = write(tmp_path, "data.csv", body)
    options = {"dimensions": {"a": "a"}, "value": "b"}
    with pytest.raises(ParseError) as err:
        list(tabular_csv.parse(path, options).rows)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    ("dataset", "name", "body", "expected"),
    [
        (CRIM, "crim.tsv.gz", TRUNCATED_GZ, "truncated file"),
        (WASTEWATER, "ww.csv", XLSX_BYTES, "ZIP archive"),
        (WASTEWATER, "ww.csv", RANDOM_BYTES, "binary content"),
        (WASTEWATER, "ww.csv", NOT_CP1252, "undecodable bytes"),
        (CRIM, "crim.tsv", b"freq,geo\\TIME_PERIOD\t2020 \nA,AT\t1 \x00\x00\n", "binary content"),
    ],
    ids=["truncated-gzip", "xlsx-as-csv", "random-bytes", "not-cp1252", "nul-bytes"],
)
def test_load_refuses_bytes_that_are_not_the_declared_format(
    cat: Catalogue, store: SnapshotStore, tmp_path: Path, dataset, name, body, expected
) -> None:
    ds = cat.dataset(dataset)
    with pytest.raises(FetchError) as err:
        Fetcher(store).load_file(ds, write(tmp_path, name, body))
    assert expected in str(err.value) and dataset in str(err.value)
    assert store.snapshots(ds.id) == []


@pytest.mark.parametrize(
    ("dataset", "body", "rule"),
    [
        (CRIM, TRUNCATED_GZ, "truncated file"),
        (WASTEWATER, XLSX_BYTES, "undecodable bytes"),
        (WASTEWATER, RANDOM_BYTES, "undecodable bytes"),
    ],
    ids=["truncated-gzip", "xlsx-as-csv", "random-bytes"],
)
def test_a_bad_snapshot_already_in_the_store_is_quarantined(
    cat: Catalogue, store: SnapshotStore, con, tmp_path: Path, dataset, body, rule
) -> None:
    ds = cat.dataset(dataset)
    good_body = CRIM_SAMPLE.read_bytes() if dataset == CRIM else WASTEWATER_SAMPLE.read_bytes()
    good = put_in_store(store, ds, good_body, tmp_path)
    bad = put_in_store(store, ds, body, tmp_path)
    result = stage(con, ds, store, cat)
    assert result.state == "stale" and result.snapshot == good
    assert rule in (result.reason or "") and str(bad.path) in (result.reason or "")


def test_a_data_file_named_like_a_sidecar_is_stored_under_another_name(
    cat: Catalogue, store: SnapshotStore, tmp_path: Path
) -> None:
    ds = cat.dataset(BULLETIN)
    outcome = Fetcher(store).load_file(
        ds, write(tmp_path, "maleDeaths.meta.json", BULLETIN_SAMPLE.read_bytes())
    )
    assert outcome.snapshot is not None
    assert outcome.snapshot.path.name == "maleDeaths.meta.json.data"
    assert outcome.snapshot.meta.extra["original_file"] == "maleDeaths.meta.json"
    assert store.snapshots(ds.id) == [outcome.snapshot]
    assert store.incomplete_folders(ds.id) == []


def test_an_older_store_with_a_data_file_named_like_a_sidecar_stays_readable(
    cat: Catalogue, store: SnapshotStore, tmp_path: Path
) -> None:
    ds = cat.dataset(BULLETIN)
    snap = put_in_store(store, ds, BULLETIN_SAMPLE.read_bytes(), tmp_path, "table.xlsx")
    # What the old store wrote for a file named `x.meta.json`: data under that name.
    folder = snap.path.parent
    data = folder / "x.meta.json"
    snap.path.rename(data)
    sidecar = json.loads((folder / f"table.xlsx{META_SUFFIX}").read_text())
    (folder / f"table.xlsx{META_SUFFIX}").unlink()
    (folder / f"x.meta.json{META_SUFFIX}").write_text(json.dumps({**sidecar, "file": data.name}))
    # and a sidecar that is not JSON at all, in its own folder
    broken = folder.parent / "2000-01-01"
    broken.mkdir()
    (broken / f"y.xlsx{META_SUFFIX}").write_bytes(RANDOM_BYTES)

    snaps = store.snapshots(ds.id)
    assert [s.path for s in snaps] == [data]
    assert store.incomplete_folders(ds.id) == [broken]


# -- item 3: decompression and allocation bombs -----------------------------------------------
def gzip_zeros(size: int) -> bytes:
    """A gzip of one line of `size` zeros, built in 1 MiB steps (small on disk)."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as gz:
        gz.write(b"freq,geo\\TIME_PERIOD\t2020 \nA,AT\t")
        block = b"0" * (1 << 20)
        for _ in range(size >> 20):
            gz.write(block)
    return out.getvalue()


def test_a_gzip_bomb_is_refused_by_decompressed_size(tmp_path: Path) -> None:
    path = write(tmp_path, "bomb.tsv.gz", gzip_zeros(2 << 20))
    limits = SMALL.model_copy(update={"max_line_bytes": 10_000_000, "max_expansion_ratio": 1e9})
    with pytest.raises(LimitExceeded) as err:
        list(eurostat_tsv.parse(path, {}, limits).rows)
    assert err.value.limit == "max_decompressed_bytes" and str(path) in str(err.value)


def test_a_gzip_bomb_is_refused_by_expansion_ratio_and_line_length(tmp_path: Path) -> None:
    path = write(tmp_path, "bomb.tsv.gz", gzip_zeros(1 << 20))
    ratio = SMALL.model_copy(update={"max_line_bytes": 10_000_000})
    with pytest.raises(LimitExceeded) as err:
        list(eurostat_tsv.parse(path, {}, ratio).rows)
    assert err.value.limit == "max_expansion_ratio"
    with pytest.raises(LimitExceeded) as err:
        # (a known encoding: detection would read the whole file and hit the size limit first)
        no_ratio = SMALL.model_copy(update={"max_expansion_ratio": 1e9})
        list(eurostat_tsv.parse(path, {"encoding": "utf-8"}, no_ratio).rows)
    assert err.value.limit == "max_line_bytes" and err.value.line == 2


def minimal_xlsx(sheet_xml: str, compress: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A one-sheet workbook: the parts calamine needs, with the sheet XML given."""
    parts = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats'
        '.org/package/2006/content-types"><Default Extension="rels" ContentType="application/'
        'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
        '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd'
        '.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/'
        'worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats'
        '.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target='
        '"xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats'
        '.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/>'
        "</sheets></workbook>",
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas'
        '.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
        'schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target='
        '"worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": sheet_xml,
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compress) as z:
        for name, text in parts.items():
            z.writestr(name, text)
    return out.getvalue()


def sheet(dimension: str, cells: str) -> str:
    return (
        '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        f'spreadsheetml/2006/main"><dimension ref="{dimension}"/><sheetData>{cells}'
        "</sheetData></worksheet>"
    )


FAR_CELL = sheet("A1:XFD1048576", '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')
HUGE_SHEET_ROWS = "".join(f'<row r="{r}"><c r="A{r}"><v>0</v></c></row>' for r in range(1, 400_001))

BOMB_SCRIPT = """
import sys
from pathlib import Path
from pipelines.catalogue import ReadLimits
from pipelines.parsers.base import ParseError
from pipelines.parsers.bulletin_xlsx import parse
limits = ReadLimits.model_validate_json(sys.argv[2])
try:
    list(parse(Path(sys.argv[1]), {}, limits).rows)
except ParseError as exc:
    print("REFUSED", exc.rule, "|", exc)
    sys.exit(0)
print("PARSED")
"""


def run_isolated(path: Path, limits: ReadLimits) -> subprocess.CompletedProcess[str]:
    """Parse in a child process with a 2 GB address-space cap: a crash fails the test only."""
    return subprocess.run(
        [sys.executable, "-c", _with_memory_cap(BOMB_SCRIPT), str(path), limits.model_dump_json()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=PROJECT_ROOT,
    )


def _with_memory_cap(script: str) -> str:
    return "import resource\nresource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))\n" + script


def test_the_crafted_workbook_is_a_real_xlsx(tmp_path: Path) -> None:
    """The bombs below are built like this sane workbook, which calamine reads."""
    path = write(
        tmp_path, "ok.xlsx", minimal_xlsx(sheet("A1:B2", '<row r="2"><c r="B2"><v>7</v></c></row>'))
    )
    assert bulletin_xlsx.read_sheet(path) == [[7.0]]


def test_a_single_cell_at_xfd1048576_is_refused_with_the_default_limits(tmp_path: Path) -> None:
    path = write(tmp_path, "far.xlsx", minimal_xlsx(FAR_CELL))
    assert path.stat().st_size < 10_000
    proc = run_isolated(path, ReadLimits())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("REFUSED limit max_sheet_rows"), proc.stdout
    assert "far.xlsx" in proc.stdout and "1048576 rows" in proc.stdout


def test_a_zip_bomb_sheet_is_refused_with_small_and_default_limits(tmp_path: Path) -> None:
    filler = "<row><c><v>0</v></c></row>" * 800_000  # ~21 MB of XML, ~30 KB zipped
    path = write(tmp_path, "bomb.xlsx", minimal_xlsx(sheet("A1", filler)))
    assert path.stat().st_size < 200_000
    small = run_isolated(path, SMALL)
    assert small.returncode == 0, small.stderr[-2000:]
    assert small.stdout.startswith("REFUSED limit max_decompressed_bytes"), small.stdout
    default = run_isolated(path, ReadLimits())
    assert default.returncode == 0, default.stderr[-2000:]
    assert default.stdout.startswith("REFUSED limit max_expansion_ratio"), default.stdout


def test_a_sheet_with_too_many_cells_is_refused_while_streaming(tmp_path: Path) -> None:
    path = write(tmp_path, "rows.xlsx", minimal_xlsx(sheet("A1", HUGE_SHEET_ROWS)))
    proc = run_isolated(path, SMALL.model_copy(update={"max_decompressed_bytes": 10**9}))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("REFUSED limit max_sheet_rows"), proc.stdout


def test_load_refuses_bombs_naming_the_limit_and_the_dataset(
    cat: Catalogue, store: SnapshotStore, tmp_path: Path
) -> None:
    crim = cat.dataset(CRIM)
    with pytest.raises(FetchError) as err:
        Fetcher(store).load_file(crim, write(tmp_path, "bomb.tsv.gz", gzip_zeros(24 << 20)))
    assert CRIM in str(err.value) and "limit max_" in str(err.value)
    bulletin = cat.dataset(BULLETIN)
    with pytest.raises(FetchError) as err:
        Fetcher(store).load_file(bulletin, write(tmp_path, "far.xlsx", minimal_xlsx(FAR_CELL)))
    assert BULLETIN in str(err.value) and "limit max_sheet_rows" in str(err.value)
    assert store.snapshots(CRIM) == [] and store.snapshots(BULLETIN) == []
    assert (
        content_problem("tabular_csv", write(tmp_path, "ok.csv", b"a,b\n1,2\n"), ReadLimits())
        is None
    )
