"""Publisher responses of every documented shape load without code changes.

The fixtures (tests/fixtures/eurostat/README.md says where each shape comes from) are not
in ../shared and not in the sample mirror: they go through `eudap load`, through the inbox
(identified by content) and through staging with its real gate, as a genuine response
captured by someone else would.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pipelines.catalogue import Catalogue, load_catalogue
from pipelines.cli import main
from pipelines.fetch import Fetcher
from pipelines.geo import GeoResolver
from pipelines.inbox import identify, take_in
from pipelines.parsers import eurostat_tsv, jsonstat
from pipelines.parsers.base import ParseError
from pipelines.parsers.detect import sniff
from pipelines.snapshots import SnapshotStore
from pipelines.stage import stage_dataset

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eurostat"
STATISTICS_API = FIXTURES / "sdg_16_10_statistics_api_shape.json"
DENSE = FIXTURES / "sdg_16_10_dense_arrays.json"
CSVDATA = FIXTURES / "crim_off_cat_csvdata_2_0.csv"
# (geo, period, value, flags) of both sdg_16_10 fixtures; EA21 has no data at all
SDG_CELLS = [
    ("AT", "2021", 0.53, None),
    ("AT", "2022", 0.61, None),
    ("AT", "2023", 0.48, "p"),
    ("DE", "2021", 0.71, None),
    ("DE", "2022", 0.66, None),
    ("DE", "2023", 0.69, "p"),
    ("EA20", "2021", 0.79, "e"),
    ("EA20", "2022", 0.77, "e"),
    ("EA20", "2023", None, "c"),
]


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(tmp_path / "build.duckdb"))
    yield connection
    connection.close()


def cells(path: Path) -> list[tuple]:
    parsed = jsonstat.parse(path, {})
    assert parsed.dimensions == ["freq", "unit", "icd10", "sex", "age", "geo"]
    return [(r["geo"], r["period"], r["value"], r["flags"]) for r in parsed.rows]


@pytest.mark.parametrize("fixture", [STATISTICS_API, DENSE], ids=["sparse+extension", "dense"])
def test_every_json_stat_form_of_the_same_cells_reads_the_same(fixture: Path) -> None:
    assert sniff(fixture) == "jsonstat"
    assert cells(fixture) == SDG_CELLS


def test_the_statistics_api_shape_keeps_its_metadata_and_ignores_the_extension() -> None:
    attributes = jsonstat.parse(STATISTICS_API, {}).attributes
    assert attributes["updated"] == "2026-03-12T23:00:00+0100"
    assert attributes["source"] == "ESTAT" and attributes["time_key"] == "time"
    assert "extension" not in attributes


def test_one_status_for_every_value_and_a_status_string(tmp_path: Path) -> None:
    doc = json.loads(DENSE.read_text())
    for status in (["p"], "p"):
        doc["status"] = status
        path = tmp_path / "one-status.json"
        path.write_text(json.dumps(doc))
        flags = {r["flags"] for r in jsonstat.parse(path, {}).rows}
        assert flags == {"p"}  # EA21's cells now carry a status, and no value


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("error_object.json", "status 400, code 100: No results found"),
        ("error_list.json", "status 400, code 150: Semantic error"),
    ],
)
def test_an_error_document_is_a_clear_error(name: str, message: str) -> None:
    with pytest.raises(ParseError, match="error response") as err:
        jsonstat.parse(FIXTURES / name, {})
    assert message in str(err.value) and name in str(err.value)


def test_forms_the_api_does_not_send_are_refused_not_guessed(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps({"sdg_16_10": {"dimension": {"id": ["geo"], "size": [1]}}}))
    with pytest.raises(ParseError, match="JSON-stat 1.x bundle"):
        jsonstat.parse(bundle, {})
    doc = json.loads(DENSE.read_text())
    doc["dimension"]["geo"]["category"] = {"label": {"AT": "Austria", "DE": "Germany"}}
    no_index = tmp_path / "no-index.json"
    no_index.write_text(json.dumps(doc))
    with pytest.raises(ParseError, match="'geo' has 4 categories and no category index"):
        jsonstat.parse(no_index, {})


def test_a_tsv_header_with_an_unknown_time_key_is_refused(tmp_path: Path) -> None:
    """SDMX 2.1 and 3.0 TSV share one header (`...,geo\\TIME_PERIOD`, Eurostat TSV FAQ);
    another time key is not guessed at."""
    path = tmp_path / "odd.tsv"
    path.write_text("freq,unit,geo\\OBS_TIME\t2022 \nA,NR,AT\t1 \n")
    with pytest.raises(ParseError, match="none of the documented TIME_PERIOD or time"):
        eurostat_tsv.parse(path, {})


def test_eudap_load_takes_the_statistics_api_shape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("EUDAP_DATA_DIR", str(tmp_path / "data"))
    assert main(["load", "eurostat.sdg_16_10", str(STATISTICS_API)]) == 0
    assert "eurostat.sdg_16_10: added snapshot" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("fixture", "dataset"),
    [(STATISTICS_API, "eurostat.sdg_16_10"), (CSVDATA, "eurostat.crim_off_cat")],
)
def test_the_inbox_identifies_them_by_content(
    cat: Catalogue, tmp_path: Path, fixture: Path, dataset: str
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    dropped = inbox / "download.bin"  # the name tells nothing: the content does
    shutil.copy(fixture, dropped)
    (claim,) = identify(dropped, cat).claims
    assert claim.dataset.id == dataset
    result = take_in(inbox, cat, Fetcher(SnapshotStore(tmp_path / "raw"), inbox=inbox))
    assert result.rejected == [] and len(result.taken) == 1


@pytest.mark.parametrize(
    ("fixture", "dataset", "where", "expected"),
    [
        (
            STATISTICS_API,
            "eurostat.sdg_16_10",
            "geo_raw = 'DE' AND period = 2023",
            [(0.69, "p")],
        ),
        (DENSE, "eurostat.sdg_16_10", "geo_raw = 'EA20' AND period = 2023", [(None, "c")]),
        (CSVDATA, "eurostat.crim_off_cat", "geo_raw = 'AT' AND period = 2022", [(35232.0, None)]),
    ],
)
def test_their_values_are_staged_through_the_gate(
    cat: Catalogue,
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    fixture: Path,
    dataset: str,
    where: str,
    expected: list[tuple],
) -> None:
    ds = cat.dataset(dataset)
    store = SnapshotStore(tmp_path / "raw")
    Fetcher(store).load_file(ds, fixture)
    result = stage_dataset(
        con,
        ds,
        store.snapshots(ds.id),
        GeoResolver(cat.geo),
        published_sha=None,
        fetch_problem=None,
    )
    assert result.state == "fresh", result.reason
    assert result.report is None or result.report.success
    got = con.execute(f"SELECT value, flags FROM {ds.table} WHERE {where}").fetchall()
    assert got == expected


def test_an_error_document_is_never_stored_as_a_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("EUDAP_DATA_DIR", str(tmp_path / "data"))
    for dataset in ("eurostat.sdg_16_10", "eurostat.crim_off_cat"):  # JSON-stat, and TSV
        assert main(["load", dataset, str(FIXTURES / "error_object.json")]) == 1
        out = capsys.readouterr().out
        assert "body is a JSON error message, not data: status 400, code 100: No results" in out
    assert SnapshotStore(tmp_path / "data" / "raw").snapshots("eurostat.sdg_16_10") == []
