"""Unit tests for the Eurostat parsers: TSV, SDMX-CSV and JSON-stat, on small inline files."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.parsers import eurostat_tsv, jsonstat, sdmx_csv
from pipelines.parsers.base import ROW_KEYS, ParseError


def write(tmp_path: Path, name: str, text: str, *, gz: bool = False, bom: bool = False) -> Path:
    data = ("\ufeff" if bom else "").encode() + text.encode("utf-8")
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def rows_of(module: Any, path: Path, **options: Any) -> list[dict[str, Any]]:
    return list(module.parse(path, options).rows)


def assert_error(exc: pytest.ExceptionInfo[ParseError], path: Path, rule: str, line: int | None):
    """The error names the file, the line and the rule, in its attributes and its message."""
    err = exc.value
    assert err.rule == rule
    assert err.line == line
    assert err.file == str(path)
    message = str(err)
    assert str(path) in message and rule in message
    if line is not None:
        assert f"line {line}" in message


# --------------------------------------------------------------------------- Eurostat TSV

TSV = (
    "freq,iccs,unit,geo\\TIME_PERIOD\t2021 \t2022 \n"
    "A,ICCS0601,NR,AT\t35461 \t35232 \n"
    "A,ICCS0601,NR,BE\t8.3 bep\t: c\n"
    "A,ICCS0601,NR,BG\t: \t:\n"
    "A,ICCS0601,NR,CY\t-1.5e2 d\t0.11 d\n"
)


def test_tsv_backslash_header_values_and_flags(tmp_path: Path) -> None:
    path = write(tmp_path, "a.tsv", TSV)
    parsed = eurostat_tsv.parse(path, {})
    assert parsed.dimensions == ["freq", "iccs", "unit", "geo"]
    assert parsed.attributes["time_key"] == "TIME_PERIOD"
    rows = list(parsed.rows)
    got = [(r["geo"], r["period"], r["value"], r["flags"], r["line"]) for r in rows]
    assert got == [
        ("AT", "2021", 35461.0, None, 2),
        ("AT", "2022", 35232.0, None, 2),
        ("BE", "2021", 8.3, "bep", 3),
        ("BE", "2022", None, "c", 3),  # confidential: a row without a value
        # BG: ": " and ":" are missing values without flags, hence no rows
        ("CY", "2021", -150.0, "d", 5),
        ("CY", "2022", 0.11, "d", 5),
    ]
    first = rows[0]
    assert list(first) == ["freq", "iccs", "unit", "geo", *ROW_KEYS]
    assert first["value_text"] is None and first["note"] is None
    assert first["freq"] == "A" and first["iccs"] == "ICCS0601" and first["unit"] == "NR"


@pytest.mark.parametrize(
    ("key_cell", "dims", "time_key"),
    [
        ("freq,iccs,unit,geo\\TIME_PERIOD", ["freq", "iccs", "unit", "geo"], "TIME_PERIOD"),
        ("unit,sex,age,icd10,geo\\time", ["unit", "sex", "age", "icd10", "geo"], "time"),
        ("UNIT,GEO/TIME_PERIOD", ["unit", "geo"], "TIME_PERIOD"),
        ("unit,geo/time", ["unit", "geo"], "time"),
        ("geo\\time", ["geo"], "time"),
    ],
)
def test_tsv_header_forms(tmp_path: Path, key_cell: str, dims: list[str], time_key: str) -> None:
    codes = ",".join(["X"] * (len(dims) - 1) + ["AT"])
    path = write(tmp_path, "h.tsv", f"{key_cell}\t2008 \t2009\n{codes}\t1 \t2 p\n")
    parsed = eurostat_tsv.parse(path, {})
    assert parsed.dimensions == dims
    assert parsed.attributes["time_key"] == time_key
    rows = list(parsed.rows)
    assert [r["period"] for r in rows] == ["2008", "2009"]  # "2008 " is stripped
    assert rows[-1]["geo"] == "AT" and rows[-1]["flags"] == "p"


@pytest.mark.parametrize(
    ("gz", "bom", "newline"),
    [(False, False, "\r\n"), (True, False, "\n"), (False, True, "\n"), (True, True, "\r\n")],
)
def test_tsv_crlf_gzip_bom(tmp_path: Path, gz: bool, bom: bool, newline: str) -> None:
    path = write(tmp_path, "a.tsv.gz", TSV.replace("\n", newline), gz=gz, bom=bom)
    parsed = eurostat_tsv.parse(path, {})
    assert parsed.dimensions == ["freq", "iccs", "unit", "geo"]  # no BOM in "freq"
    rows = list(parsed.rows)
    assert len(rows) == 6
    assert rows[2]["flags"] == "bep" and rows[1]["period"] == "2022"
    assert rows[-1]["line"] == 5


def test_tsv_blank_trailing_line_is_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "a.tsv", TSV + "\n")
    assert len(rows_of(eurostat_tsv, path)) == 6


@pytest.mark.parametrize(
    ("body", "rule", "line"),
    [
        ("freq,geo,TIME_PERIOD\t2021\nA,AT\t1\n", "header time separator", 1),
        ("freq,geo\\\t2021\nA,AT\t1\n", "header time separator", 1),
        ("geo\\time\t2021\t2021\nAT\t1\t2\n", "header time separator", 1),
        ("geo\\time\t2021\t2022\nAT\t1\t2\nBE\t1\n", "cell count", 3),  # missing trailing cell
        ("geo\\time\t2021\t2022\nAT\t1\t2\t3\n", "cell count", 2),
        ("freq,geo\\time\t2021\nA,AT\t1\nA,BE,X\t1\n", "series key", 3),
        ("freq,geo\\time\t2021\nAT\t1\n", "series key", 2),
        ("geo\\time\t2021\t2022\nAT\t1\tn/a\n", "non-numeric value", 2),
        ("geo\\time\t2021\nAT\t1,5\n", "non-numeric value", 2),
        ("geo\\time\t2021\nAT\tnan\n", "non-numeric value", 2),
        ("geo\\time\t2021\nAT\t\n", "non-numeric value", 2),
        ("geo\\time\t2021\nAT\t1 x\n", "unknown flag", 2),
        ("geo\\time\t2021\nAT\t: X\n", "unknown flag", 2),
        ("geo\\time\t2021\nAT\t1 b p\n", "unknown flag", 2),  # a space is not a flag letter
        ("", "not a Eurostat TSV", 1),
        ("\n\n", "not a Eurostat TSV", 1),
        (
            "<!DOCTYPE html>\n<html><body>Service unavailable</body></html>\n",
            "not a Eurostat TSV",
            1,
        ),
        ("<html>\n</html>\n", "not a Eurostat TSV", 1),
    ],
)
def test_tsv_errors_name_file_line_rule(tmp_path: Path, body: str, rule: str, line: int) -> None:
    path = write(tmp_path, "bad.tsv", body)
    with pytest.raises(ParseError) as exc:
        rows_of(eurostat_tsv, path)
    assert_error(exc, path, rule, line)


def test_tsv_every_obs_flag_letter_and_composites_are_accepted(tmp_path: Path) -> None:
    cells = ["1 b", "1 c", "1 d", "1 e", "1 f", "1 n", "1 p", "1 s", "1 u", "1 z", "1 bdep", ": bc"]
    header = "geo\\time\t" + "\t".join(str(2000 + i) for i in range(len(cells)))
    path = write(tmp_path, "f.tsv", f"{header}\nAT\t" + "\t".join(cells) + "\n")
    flags = [r["flags"] for r in rows_of(eurostat_tsv, path)]
    assert flags == ["b", "c", "d", "e", "f", "n", "p", "s", "u", "z", "bdep", "bc"]


def test_tsv_rows_are_streamed(tmp_path: Path) -> None:
    """`parse` reads the header only: a broken line far down surfaces only when reached."""
    lines = ["geo\\time\t2021 \t2022 "] + [f"X{i}\t{i} \t: " for i in range(20_000)]
    lines.append("BROKEN\t1")  # ragged row on line 20_002
    path = write(tmp_path, "big.tsv", "\n".join(lines) + "\n")
    parsed = eurostat_tsv.parse(path, {})  # no error yet: nothing beyond the header was read
    assert isinstance(parsed.rows, Iterator)
    assert next(parsed.rows)["geo"] == "X0"
    with pytest.raises(ParseError) as exc:
        for _ in parsed.rows:
            pass
    assert_error(exc, path, "cell count", 20_002)


# --------------------------------------------------------------------------- SDMX-CSV

SDMX_CODES = (
    "DATAFLOW,LAST UPDATE,freq,unit,geo,TIME_PERIOD,OBS_VALUE,OBS_FLAG,CONF_STATUS\n"
    "ESTAT:CRIM_OFF_CAT(1.0),20/12/24 11:00:00,A,NR,AT,2021,35461,,F\n"
    "ESTAT:CRIM_OFF_CAT(1.0),20/12/24 11:00:00,A,NR,AT,2022,35232,p,\n"
    "ESTAT:CRIM_OFF_CAT(1.0),20/12/24 11:00:00,A,NR,BE,2021,,u,\n"
    "ESTAT:CRIM_OFF_CAT(1.0),20/12/24 11:00:00,A,NR,BE,2022,,,\n"
    "ESTAT:CRIM_OFF_CAT(1.0),20/12/24 11:00:00,A,NR,BG,2022,,,C\n"
)

SDMX_LABELS = (
    "DATAFLOW,LAST UPDATE,freq,unit,geo,TIME_PERIOD,OBS_VALUE,OBS_FLAG\r\n"
    'ESTAT:TIPSNA40(1.0),20/12/24 11:00:00,Annual,"Chain linked volumes (2015), euro",'
    "Austria,1995,30290,\r\n"
    "ESTAT:TIPSNA40(1.0),20/12/24 11:00:00,Annual,Percentage,Austria,1996,,bu\r\n"
    "ESTAT:TIPSNA40(1.0),20/12/24 11:00:00,Annual,Percentage,Belgium,1996,,\r\n"
    "ESTAT:TIPSNA40(1.0),20/12/24 11:00:00,Annual,Percentage,Belgium,1997,12.5,bd\r\n"
)


def test_sdmx_codes_variant_with_conf_status(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", SDMX_CODES)
    parsed = sdmx_csv.parse(path, {})
    assert parsed.dimensions == ["freq", "unit", "geo"]
    assert parsed.attributes["variant"] == "codes"
    assert parsed.attributes["dataflow"] == "ESTAT:CRIM_OFF_CAT(1.0)"
    assert parsed.attributes["last_update"] == "20/12/24 11:00:00"
    assert parsed.attributes["attribute_columns"] == ["CONF_STATUS"]
    rows = list(parsed.rows)
    got = [(r["geo"], r["period"], r["value"], r["flags"], r["note"], r["line"]) for r in rows]
    assert got == [
        ("AT", "2021", 35461.0, None, None, 2),  # CONF_STATUS=F (free) is the default: no note
        ("AT", "2022", 35232.0, "p", None, 3),
        ("BE", "2021", None, "u", None, 4),  # empty value with a flag: a row
        # BE 2022: no value, no flag: no row
        ("BG", "2022", None, "c", "CONF_STATUS=C", 6),  # confidential: like TSV ": c"
    ]
    assert list(rows[0]) == ["freq", "unit", "geo", *ROW_KEYS]


@pytest.mark.parametrize(("gz", "bom"), [(False, False), (True, True)])
def test_sdmx_labels_variant_crlf(tmp_path: Path, gz: bool, bom: bool) -> None:
    path = write(tmp_path, "l.csv", SDMX_LABELS, gz=gz, bom=bom)
    parsed = sdmx_csv.parse(path, {"keep_labels": True})
    assert parsed.dimensions == ["freq", "unit", "geo"]
    assert parsed.attributes["variant"] == "labels"
    assert parsed.attributes["dataflow"] == "ESTAT:TIPSNA40(1.0)"
    rows = list(parsed.rows)
    got = [(r["unit"], r["geo"], r["period"], r["value"], r["flags"], r["line"]) for r in rows]
    assert got == [
        ("Chain linked volumes (2015), euro", "Austria", "1995", 30290.0, None, 2),
        ("Percentage", "Austria", "1996", None, "bu", 3),
        ("Percentage", "Belgium", "1997", 12.5, "bd", 5),
    ]
    assert rows[0]["freq"] == "Annual"


def test_sdmx_labels_variant_is_mapped_to_codes_with_the_code_lists(tmp_path: Path) -> None:
    body = (
        "DATAFLOW,LAST UPDATE,freq,unit,geo,TIME_PERIOD,OBS_VALUE,OBS_FLAG\r\n"
        "ESTAT:X(1.0),06/12/24 23:00:00,Annual,Percentage,Austria,2022,1.5,p\r\n"
        "ESTAT:X(1.0),06/12/24 23:00:00,Annual,Percentage,Greece,2022,2,\r\n"
    )
    rows = rows_of(sdmx_csv, write(tmp_path, "l.csv", body))
    assert [(r["freq"], r["unit"], r["geo"], r["value"]) for r in rows] == [
        ("A", "PC", "AT", 1.5),
        ("A", "PC", "EL", 2.0),
    ]


def test_sdmx_labels_variant_refused_where_no_code_list_exists(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", SDMX_LABELS.replace(",unit,", ",na_item,", 1))
    with pytest.raises(ParseError) as exc:
        sdmx_csv.parse(path, {})
    assert_error(exc, path, "labels variant", 2)
    assert "dimension(s) na_item" in str(exc.value) and "codes variant" in str(exc.value)
    bad = write(tmp_path, "b.csv", SDMX_LABELS.replace("Austria", "Atlantis"))
    with pytest.raises(ParseError, match=r"dimension (unit|geo): label '.*' is not in"):
        rows_of(sdmx_csv, bad)


def test_sdmx_csv_2_0_data_browser_pairs_code_and_label_columns(tmp_path: Path) -> None:
    body = (
        "STRUCTURE,STRUCTURE_ID,STRUCTURE_NAME,freq,Time frequency,geo,Geopolitical entity "
        "(reporting),TIME_PERIOD,Time,OBS_VALUE,Observation value,OBS_FLAG,Observation status "
        "(Flag) V2 structure,CONF_STATUS,Confidentiality status (flag)\n"
        "dataflow,ESTAT:TPS00001(1.0),Population,A,Annual,AT,Austria,2014,,8507786,,,,,\n"
        "dataflow,ESTAT:TPS00001(1.0),Population,A,Annual,DE,Germany,2023,,83118501,,b,"
        "break in time series,,\n"
    )
    parsed = sdmx_csv.parse(write(tmp_path, "t.csv", body), {})
    assert parsed.dimensions == ["freq", "geo"]
    assert parsed.attributes["sdmx_csv_version"] == "2.0"
    assert parsed.attributes["dataflow"] == "ESTAT:TPS00001(1.0)"
    got = [(r["geo"], r["period"], r["value"], r["flags"], r["note"]) for r in parsed.rows]
    assert got == [("AT", "2014", 8507786.0, None, None), ("DE", "2023", 83118501.0, "b", None)]


def test_sdmx_labels_variant_rejected_with_codes_only(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", SDMX_LABELS)
    with pytest.raises(ParseError) as exc:
        sdmx_csv.parse(path, {"codes_only": True})
    assert_error(exc, path, "labels variant", 2)
    codes = write(tmp_path, "c.csv", SDMX_CODES)
    assert len(rows_of(sdmx_csv, codes, codes_only=True)) == 4


def test_sdmx_both_variant_keeps_codes(tmp_path: Path) -> None:
    body = (
        "DATAFLOW,LAST UPDATE,freq:Time frequency,geo:Geopolitical entity (reporting),"
        "TIME_PERIOD:Time,OBS_VALUE:Observation value,OBS_FLAG:Observation status (Flag)\n"
        "ESTAT:X(1.0),01/01/25 11:00:00,A:Annual,AT:Austria,2022,1.5,p\n"
        "ESTAT:X(1.0),01/01/25 11:00:00,A:Annual,EU27_2020:European Union - 27 countries"
        " (from 2020),2022,2,\n"
    )
    path = write(tmp_path, "b.csv", body)
    parsed = sdmx_csv.parse(path, {"codes_only": True})
    assert parsed.dimensions == ["freq", "geo"]
    assert parsed.attributes["variant"] == "both"
    rows = list(parsed.rows)
    assert [(r["freq"], r["geo"], r["period"], r["flags"]) for r in rows] == [
        ("A", "AT", "2022", "p"),
        ("A", "EU27_2020", "2022", None),
    ]


def test_sdmx_code_label_values_under_plain_header(tmp_path: Path) -> None:
    body = "DATAFLOW,freq,geo,TIME_PERIOD,OBS_VALUE\nX,A:Annual,AT: Austria,2022,3\n"
    parsed = sdmx_csv.parse(write(tmp_path, "p.csv", body), {})
    assert parsed.dimensions == ["freq", "geo"]  # no LAST UPDATE: dims start after DATAFLOW
    assert parsed.attributes["variant"] == "both"
    assert [(r["freq"], r["geo"], r["flags"]) for r in parsed.rows] == [("A", "AT", None)]


def test_sdmx_rows_are_lazy(tmp_path: Path) -> None:
    body = SDMX_CODES + "ESTAT:X,20/12/24 11:00:00,A,NR,CY,2022,abc,,\n"
    parsed = sdmx_csv.parse(write(tmp_path, "lazy.csv", body), {})
    assert isinstance(parsed.rows, Iterator)
    assert next(parsed.rows)["geo"] == "AT"


@pytest.mark.parametrize(
    ("body", "rule", "line"),
    [
        ("DATAFLOW,freq,geo,OBS_VALUE,OBS_FLAG\nX,A,AT,1,\n", "missing column", 1),
        ("DATAFLOW,freq,geo,TIME_PERIOD,OBS_FLAG\nX,A,AT,2022,\n", "missing column", 1),
        (
            "DATAFLOW,freq,TIME_PERIOD,OBS_VALUE,OBS_FLAG\nX,A,2021,1,\nX,A,2022,2\n",
            "field count",
            3,
        ),
        ("DATAFLOW,freq,TIME_PERIOD,OBS_VALUE,OBS_FLAG\nX,A,2022,1,,extra\n", "field count", 2),
        (
            "DATAFLOW,freq,TIME_PERIOD,OBS_VALUE,OBS_FLAG\nX,A,2021,1,\nX,A,2022,1.5x,\n",
            "non-numeric value",
            3,
        ),
        (
            'DATAFLOW,freq,TIME_PERIOD,OBS_VALUE,OBS_FLAG\nX,A,2021,1,\nX,A,2022,"1,5",\n',
            "non-numeric value",
            3,
        ),
        ("", "not an SDMX-CSV", 1),
        ("<html><body>Error</body></html>\n", "not an SDMX-CSV", 1),
    ],
)
def test_sdmx_errors_name_file_line_rule(tmp_path: Path, body: str, rule: str, line: int) -> None:
    path = write(tmp_path, "bad.csv", body)
    with pytest.raises(ParseError) as exc:
        rows_of(sdmx_csv, path)
    assert_error(exc, path, rule, line)


# --------------------------------------------------------------------------- JSON-stat


# 3 dimensions: unit (1) x geo (2: AT, BE) x time (3: 2020, 2021, 2022) -> 6 cells.
# Row-major, last varies fastest: flat = unit*6 + geo*3 + time.
#   AT/2020=0  AT/2021=1  AT/2022=2  BE/2020=3  BE/2021=4  BE/2022=5
def jsonstat_doc(value: Any, status: Any = None, **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "version": "2.0",
        "class": "dataset",
        "label": "Test dataset",
        "updated": "2024-12-20T11:00:00+0100",
        "id": ["unit", "geo", "time"],
        "size": [1, 2, 3],
        "dimension": {
            "unit": {"category": {"index": {"NR": 0}, "label": {"NR": "Number"}}},
            "geo": {"category": {"index": ["AT", "BE"], "label": {"AT": "Austria"}}},
            "time": {"category": {"index": {"2022": 2, "2020": 0, "2021": 1}}},
        },
        "value": value,
    }
    if status is not None:
        doc["status"] = status
    doc.update(overrides)
    return doc


def write_json(tmp_path: Path, doc: Any, name: str = "d.json", **kw: Any) -> Path:
    return write(tmp_path, name, json.dumps(doc), **kw)


def summary(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["unit"], r["geo"], r["period"], r["value"], r["flags"], r["line"]) for r in rows]


def test_jsonstat_sparse_value_and_status(tmp_path: Path) -> None:
    doc = jsonstat_doc({"0": 1.5, "4": 2, "5": 7.25}, {"4": "p", "2": "c"})
    parsed = jsonstat.parse(write_json(tmp_path, doc), {})
    assert parsed.dimensions == ["unit", "geo"]
    assert parsed.attributes["time_key"] == "time"
    assert parsed.attributes["label"] == "Test dataset"
    rows = list(parsed.rows)
    assert summary(rows) == [
        ("NR", "AT", "2020", 1.5, None, 1),  # flat 0
        ("NR", "AT", "2022", None, "c", 3),  # flat 2: status without value
        ("NR", "BE", "2021", 2.0, "p", 5),  # flat 4 = 1*3 + 1
        ("NR", "BE", "2022", 7.25, None, 6),  # flat 5 = 1*3 + 2
    ]
    assert list(rows[0]) == ["unit", "geo", *ROW_KEYS]


def test_jsonstat_dense_lists_gzip_bom(tmp_path: Path) -> None:
    doc = jsonstat_doc([1, None, 3, None, None, 6], [None, "e", "", None, None, "bep"])
    path = write_json(tmp_path, doc, gz=True, bom=True)
    assert summary(rows_of(jsonstat, path)) == [
        ("NR", "AT", "2020", 1.0, None, 1),
        ("NR", "AT", "2021", None, "e", 2),
        ("NR", "AT", "2022", 3.0, None, 3),
        ("NR", "BE", "2022", 6.0, "bep", 6),
    ]


def test_jsonstat_three_dimensions_by_hand(tmp_path: Path) -> None:
    """sex (2) x geo (3) x TIME_PERIOD (2): flat = sex*6 + geo*2 + time."""
    doc = {
        "version": "2.0",
        "class": "dataset",
        "id": ["sex", "GEO", "TIME_PERIOD"],
        "size": [2, 3, 2],
        "dimension": {
            "sex": {"category": {"index": {"F": 0, "M": 1}}},
            "GEO": {"category": {"index": {"AT": 0, "BE": 1, "CY": 2}}},
            "TIME_PERIOD": {"category": {"index": ["2021", "2022"]}},
        },
        # F/BE/2022 = 0*6 + 1*2 + 1 = 3; M/AT/2021 = 6; M/CY/2022 = 6 + 4 + 1 = 11
        "value": {"3": 10.0, "6": 20.0, "11": 30.0},
        "status": {"11": "d", "9": "c"},  # M/BE/2022 = 6 + 2 + 1 = 9
    }
    parsed = jsonstat.parse(write_json(tmp_path, doc), {})
    assert parsed.dimensions == ["sex", "geo"]
    assert parsed.attributes["time_key"] == "TIME_PERIOD"
    got = [
        (r["sex"], r["geo"], r["period"], r["value"], r["flags"], r["line"]) for r in parsed.rows
    ]
    assert got == [
        ("F", "BE", "2022", 10.0, None, 4),
        ("M", "AT", "2021", 20.0, None, 7),
        ("M", "BE", "2022", None, "c", 10),
        ("M", "CY", "2022", 30.0, "d", 12),
    ]
    assert jsonstat.decode_index(11, [2, 3, 2]) == [1, 2, 1]


def test_jsonstat_single_category_without_index(tmp_path: Path) -> None:
    doc = jsonstat_doc({"1": 4})
    doc["dimension"]["unit"] = {"category": {"label": {"NR": "Number"}}}
    assert summary(rows_of(jsonstat, write_json(tmp_path, doc))) == [
        ("NR", "AT", "2021", 4.0, None, 2)
    ]


def test_jsonstat_rows_are_lazy(tmp_path: Path) -> None:
    parsed = jsonstat.parse(write_json(tmp_path, jsonstat_doc({"0": 1, "1": "oops"})), {})
    assert isinstance(parsed.rows, Iterator)
    assert next(parsed.rows)["value"] == 1.0
    with pytest.raises(ParseError) as exc:
        next(parsed.rows)
    assert exc.value.rule == "non-numeric value" and exc.value.line == 2


def renamed_time_dimension() -> dict[str, Any]:
    doc = jsonstat_doc({"0": 1}, id=["unit", "geo", "year"])
    doc["dimension"]["year"] = doc["dimension"].pop("time")
    return doc


@pytest.mark.parametrize(
    ("doc", "rule", "line"),
    [
        ({"error": [{"status": 413, "label": "EXTRACTION_TOO_BIG"}]}, "error response", None),
        ({"error": {"status": 404, "label": "Dataset not found"}}, "error response", None),
        ({k: v for k, v in jsonstat_doc({}).items() if k != "id"}, "JSON-stat structure", None),
        ({k: v for k, v in jsonstat_doc({}).items() if k != "size"}, "JSON-stat structure", None),
        ({k: v for k, v in jsonstat_doc({}).items() if k != "value"}, "JSON-stat structure", None),
        (jsonstat_doc({}, size=[1, 2]), "JSON-stat structure", None),  # size/id lengths differ
        (jsonstat_doc({}, size=[1, 2, 4]), "JSON-stat structure", None),  # 3 time categories
        (jsonstat_doc({"6": 1}), "index out of range", None),
        (jsonstat_doc({"0": 1}, {"-1": "p"}), "index out of range", None),
        (jsonstat_doc({"0": 1}, {"x": "p"}), "JSON-stat structure", None),
        (jsonstat_doc([1, 2, 3]), "JSON-stat structure", None),  # dense list of the wrong length
        (jsonstat_doc({"0": 1}, id=["unit", "geo", "year"]), "JSON-stat structure", None),
        (renamed_time_dimension(), "JSON-stat structure", None),  # no time dimension
    ],
)
def test_jsonstat_errors(tmp_path: Path, doc: Any, rule: str, line: int | None) -> None:
    path = write_json(tmp_path, doc)
    with pytest.raises(ParseError) as exc:
        rows_of(jsonstat, path)
    assert_error(exc, path, rule, line)


def test_jsonstat_error_response_message_and_bad_json(tmp_path: Path) -> None:
    path = write_json(tmp_path, {"error": [{"status": 413, "label": "EXTRACTION_TOO_BIG"}]})
    with pytest.raises(ParseError, match="status 413: EXTRACTION_TOO_BIG"):
        jsonstat.parse(path, {})
    bad = write(tmp_path, "bad.json", '{"version": "2.0",\n "id": [')
    with pytest.raises(ParseError) as exc:
        jsonstat.parse(bad, {})
    assert_error(exc, bad, "invalid JSON", 2)


def test_jsonstat_role_time_and_status_string(tmp_path: Path) -> None:
    doc = jsonstat_doc({"0": 1, "3": 2}, "e", id=["unit", "geo", "year"], role={"time": ["year"]})
    doc["dimension"]["year"] = doc["dimension"].pop("time")
    parsed = jsonstat.parse(write_json(tmp_path, doc), {})
    assert parsed.dimensions == ["unit", "geo"]
    assert parsed.attributes["time_key"] == "year"
    rows = list(parsed.rows)
    # one status string for the whole dataset: every cell carries it, even without a value
    assert len(rows) == 6 and {r["flags"] for r in rows} == {"e"}
    assert [r["value"] for r in rows] == [1.0, None, None, 2.0, None, None]
