"""The EDR source-data parser: tables recognised by chapter and header, never by number."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines.catalogue import load_catalogue
from pipelines.parsers.base import ParseError
from pipelines.parsers.edr_csv import parse, signature, table_name
from pipelines.stage import parser_options

DS = load_catalogue().dataset("euda.edr")
OPTIONS = parser_options(DS)
BOM = b"\xef\xbb\xbf"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def rows(path: Path) -> list[dict[str, Any]]:
    return list(parse(path, OPTIONS).rows)


def test_signature_normalises_names_and_years() -> None:
    header = ["Country", " Prevalence\u00a0(%) ", "2012", "2023", "", ""]
    assert signature(header) == frozenset({"country", "prevalence (%)", "{year}"})


@pytest.mark.parametrize(
    ("name", "table", "chapter"),
    [
        (
            "edr2024-annex-table-2a-cocaine-prevalence.csv",
            "annex-table-2a-cocaine-prevalence",
            "annex",
        ),
        ("edr2026-cocaine-table-8_en.csv", "cocaine-table-8", "cocaine"),
        (
            "synthetic-stimulants-table-7.csv",
            "synthetic-stimulants-table-7",
            "synthetic-stimulants",
        ),
        ("my-download.csv", "my-download", None),
    ],
)
def test_table_name_and_chapter(name: str, table: str, chapter: str | None) -> None:
    assert table_name(Path(name)) == (table, chapter)


SEIZURES = (
    b'"Scope","Substance","Number of seizures","Quantity seized (tonnes)"\n'
    b'"EU","Cocaine",84000,322.5\n"EU+2","Cocaine",90000,325\n'
)


def test_a_renumbered_2026_table_is_recognised_by_its_header(tmp_path: Path) -> None:
    # the same layout as 2024's cocaine-table-6, under 2026's number and `_en` suffix
    for name in ("edr2024-cocaine-table-6.csv", "edr2026-cocaine-table-8_en.csv"):
        got = rows(write(tmp_path, name, BOM + SEIZURES))
        assert [(r["table_rule"], r["country"], r["measure_column"], r["value"]) for r in got] == [
            ("seizures_eu", "EU", "seizures_number", 84000.0),
            ("seizures_eu", "EU", "seizures_quantity_tonnes", 322.5),
            ("seizures_eu", "EU+2", "seizures_number", 90000.0),
            ("seizures_eu", "EU+2", "seizures_quantity_tonnes", 325.0),
        ]
        assert {r["period"] for r in got} == {"2022"}  # the edition's reference year


def test_an_unknown_table_is_refused_with_its_chapter_and_header(tmp_path: Path) -> None:
    path = write(
        tmp_path, "edr2026-cocaine-table-99_en.csv", b"Country,Mystery column\nBelgium,1\n"
    )
    with pytest.raises(ParseError) as err:
        parse(path, OPTIONS)
    message = str(err.value)
    assert "unknown table" in message and "'cocaine'" in message
    assert "['Country', 'Mystery column']" in message and path.name in message


def test_a_known_header_in_another_chapter_is_not_recognised(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="unknown table"):
        parse(write(tmp_path, "edr2024-prisons-table-1.csv", SEIZURES), OPTIONS)


def test_a_known_unused_table_is_accepted_with_no_rows(tmp_path: Path) -> None:
    # semicolons, trailing `;;`, dd/mm/yyyy dates, no BOM, CRLF (nps notifications)
    data = (
        b"Common name;IUPAC name;EMCDDA classification;Date of formal notification;Country;;\r\n"
        b"X;Y;Opioids;22/12/2023;Portugal;;\r\n"
    )
    parsed = parse(write(tmp_path, "edr2024-nps-table-6-notifications.csv", data), OPTIONS)
    assert parsed.attributes["known_unused"] is True
    assert parsed.attributes["table_rule"].startswith("known_nps")
    assert list(parsed.rows) == []


def test_annex_quirks_cp1252_dashes_grouped_numbers_and_aggregates(tmp_path: Path) -> None:
    header = (
        "Country,Drug-induced deaths - Year,Drug-induced deaths - All ages - Count,"
        "Drug-induced deaths - Cases per million population - Aged 15-64,"
        "Drug-induced deaths - Aged 15-64 - Count,"
        "HIV diagnoses related to injecting drug use (ECDC) - Cases per million population (a),"
        "HIV diagnoses related to injecting drug use (ECDC) - Count (a),"
        "Injecting drug use estimate - Year of estimate,"
        "Injecting drug use estimate - Cases per 1 000 population,"
        "Syringes distributed through specialised programmes\r\n"
    )
    body = (
        "Belgium,2020,172,21,152,3.2,37,2019,0.5-1.0,1 176 600\r\n"
        "Bulgaria,2022,20,4,18,2.6,18,2020,2.1-2.4,\u00a02880\r\n"
        "T\u00fcrkiye,2022,246,4.4,200,-,\u2013,-,-,\u2013\r\n"
        "EU27,,6392,22.5,5484,2.2,968,-,-,\u2013\r\n"
    )
    path = write(
        tmp_path, "edr2024-annex-table-6-other-indicators.csv", (header + body).encode("cp1252")
    )
    got = {(r["country"], r["measure_column"]): (r["period"], r["value"]) for r in rows(path)}
    assert got[("Belgium", "syringes_distributed")] == ("2022", 1176600.0)
    assert got[("Bulgaria", "syringes_distributed")] == ("2022", 2880.0)
    assert got[("Belgium", "drug_induced_deaths")] == ("2020", 172.0)
    assert got[("Türkiye", "drug_induced_deaths")] == ("2022", 246.0)
    assert ("Türkiye", "hiv_diagnoses_injecting") not in got  # `–` is no row
    assert got[("EU27", "drug_induced_deaths")] == ("2022", 6392.0)  # no year: reference year


def test_threshold_and_spreadsheet_error_cells_are_kept_as_text(tmp_path: Path) -> None:
    header = "Country,Heroin - Quantity seized (kg),Heroin - Quantity seized (count)\n"
    path = write(
        tmp_path, "edr2024-annex-table-7-seizures.csv", (header + "Malta,< 1,#VALUE!\n").encode()
    )
    got = [(r["measure_column"], r["value"], r["value_text"]) for r in rows(path)]
    assert got == [
        ("Heroin - Quantity seized (kg)", None, "< 1"),
        ("Heroin - Quantity seized (count)", None, "#VALUE!"),
    ]


def test_the_drug_comes_from_the_file_name_where_the_header_does_not_say(tmp_path: Path) -> None:
    header = (
        'Country,Year of survey,"General population surveys - lifetime, all adults (15-64)",'
        '"General population surveys - last 12 months, young adults (15-34)",'
        '"School surveys - lifetime, students (15-16)"\r\n'
    )
    body = "Czechia,2020,29.9,19.1,28\r\nEuropean Union,\u2012,29.9,15,\u2012\r\n"
    path = write(
        tmp_path, "edr2024-annex-table-5a-cannabis-prevalence.csv", BOM + (header + body).encode()
    )
    got = rows(path)
    assert {r["substance"] for r in got} == {"cannabis"}
    assert ("European Union", None, 29.9) in [(r["country"], r["period"], r["value"]) for r in got]


def test_double_encoded_names_are_repaired_where_they_round_trip(tmp_path: Path) -> None:
    header = "City,Country,lat,lon,Number of facilities\n"
    body = "Plze\u00c5\u02c6,Czechia,49.7,13.4,1\nM\u00fcnster,Germany,51.9,7.6,2\n"
    path = write(tmp_path, "edr2024-harm-reduction-table-4.csv", BOM + (header + body).encode())
    assert [r["breakdown"] for r in rows(path)] == ["Plzeň", "Münster"]
