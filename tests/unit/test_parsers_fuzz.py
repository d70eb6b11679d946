"""Property tests (hypothesis) for every parser: any input parses or raises ParseError.

No other exception escapes `parse` or the iteration of its rows, the error names the file,
and each example is bounded in time (hypothesis' deadline) and memory (inputs are small and
the read limits apply). Inputs are random bytes, mutations of a valid file of the format
(truncated, gzipped, spliced with random bytes) and, for the XLSX reader, mutated workbooks.
"""

from __future__ import annotations

import gzip
import io
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.catalogue import ReadLimits
from pipelines.parsers import (
    bulletin_xlsx,
    curated_csv,
    eurostat_tsv,
    jsonstat,
    sdmx_csv,
    tabular_csv,
)
from pipelines.parsers.base import ParseError
from pipelines.settings import PROJECT_ROOT

FUZZ = settings(
    max_examples=60,
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
LIMITS = ReadLimits(
    max_decompressed_bytes=1_000_000,
    ratio_check_after_bytes=50_000,
    max_line_bytes=20_000,
    max_sheet_rows=2_000,
    max_sheet_cols=200,
    max_cells=50_000,
)

SEEDS: dict[str, bytes] = {
    "eurostat_tsv": b"freq,unit,geo\\TIME_PERIOD\t2020 \t2021 \n"
    b"A,NR,AT\t10 \t12 p\nA,NR,BE\t: c\t7 \n",
    "sdmx_csv": b"DATAFLOW,LAST UPDATE,freq,geo,TIME_PERIOD,OBS_VALUE,OBS_FLAG\n"
    b"ESTAT:X(1.0),01/01/24,A,AT,2020,1.5,\nESTAT:X(1.0),01/01/24,A,BE,2020,,c\n",
    "jsonstat": b'{"version":"2.0","class":"dataset","id":["geo","time"],"size":[2,2],'
    b'"dimension":{"geo":{"category":{"index":{"AT":0,"BE":1}}},'
    b'"time":{"category":{"index":["2020","2021"]}}},"value":{"0":1.5,"3":2},"status":{"1":"c"}}',
    "tabular_csv": b"Country,Year,Value\nAT,2020,1.5\nBE,2021,NA\n",
    "curated_csv": (PROJECT_ROOT / "assets" / "curated" / "eu_headlines.csv").read_bytes()[:4000],
}
OPTIONS: dict[str, dict[str, Any]] = {
    "eurostat_tsv": {},
    "sdmx_csv": {},
    "jsonstat": {},
    "tabular_csv": {"dimensions": {"Country": "country"}, "period": "Year", "value": "Value"},
    "curated_csv": {},
}
PARSERS = {
    "eurostat_tsv": eurostat_tsv.parse,
    "sdmx_csv": sdmx_csv.parse,
    "jsonstat": jsonstat.parse,
    "tabular_csv": tabular_csv.parse,
    "curated_csv": curated_csv.parse,
    "bulletin_xlsx": bulletin_xlsx.parse,
}
XLSX_SEED = next((PROJECT_ROOT / "data" / "sample").rglob("maleDeaths.xlsx")).read_bytes()


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """A valid file, then cut, spliced with random bytes or text, and maybe gzipped."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, 4))):
        pos = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["cut", "insert", "replace", "text"]))
        if kind == "cut":
            data = data[:pos]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(max_size=20))
        elif kind == "replace":
            end = draw(st.integers(pos, len(data)))
            data[pos:end] = draw(st.binary(max_size=20))
        else:
            text = draw(
                st.text(
                    alphabet=st.sampled_from(list(',;\t\n\r":\\/{}[]<>#0123456789.eE-+ abc')),
                    max_size=30,
                )
            )
            data[pos:pos] = text.encode()
    body = bytes(data)
    if draw(st.booleans()):
        body = gzip.compress(body)
        if draw(st.booleans()):
            body = body[: draw(st.integers(0, len(body)))]
    return body


def check(fmt: str, body: bytes) -> None:
    """Parse `body` as `fmt`: either it parses (all rows) or it raises ParseError."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz.{fmt}"
        path.write_bytes(body)
        try:
            parsed = PARSERS[fmt](path, OPTIONS.get(fmt, {}), LIMITS)
            for row in parsed.rows:
                assert isinstance(row, dict)
        except ParseError as exc:
            assert str(path) in str(exc), exc
            assert exc.rule


TEXT_FORMATS = sorted(SEEDS)


@FUZZ
@given(fmt=st.sampled_from(TEXT_FORMATS), body=st.binary(max_size=300))
def test_random_bytes_parse_or_raise_parse_error(fmt: str, body: bytes) -> None:
    check(fmt, body)


@FUZZ
@given(data=st.data(), fmt=st.sampled_from(TEXT_FORMATS))
def test_mutated_files_parse_or_raise_parse_error(data: st.DataObject, fmt: str) -> None:
    check(fmt, data.draw(mutated(SEEDS[fmt])))


@st.composite
def mutated_workbook(draw: st.DrawFn) -> bytes:
    """The sample workbook with its sheet XML or its zip bytes damaged."""
    if draw(st.booleans()):
        return draw(mutated(XLSX_SEED))
    src = zipfile.ZipFile(io.BytesIO(XLSX_SEED))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            part = src.read(info)
            if info.filename.startswith("xl/worksheets/") or info.filename.endswith(
                "sharedStrings.xml"
            ):
                part = draw(mutated(part).filter(lambda b: b[:2] != b"\x1f\x8b"))
            dst.writestr(info.filename, part)
    return out.getvalue()


@settings(FUZZ, max_examples=40)
@given(body=st.one_of(st.binary(max_size=300), mutated_workbook()))
def test_damaged_workbooks_parse_or_raise_parse_error(body: bytes) -> None:
    check("bulletin_xlsx", body)
