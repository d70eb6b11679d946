"""The generic CSV parser against the real EUDA files (wastewater, EDR 2024 source data).

Each dataset is parsed with the options its catalogue entry uses; cells are counted again
here with the csv module alone, so every published value is shown to give exactly one row.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from helpers import mirror_download_keys

from pipelines.catalogue import load_catalogue
from pipelines.parsers.tabular_csv import DEFAULT_MISSING, parse
from pipelines.settings import SAMPLE_MIRROR_DIR

pytestmark = pytest.mark.conformance

CATALOGUE = load_catalogue()


def catalogue_options(dataset_id: str) -> dict[str, Any]:
    """The parser options a catalogue entry ships with: what the pipeline really uses."""
    return dict(CATALOGUE.dataset(dataset_id).parser_options)


WASTEWATER = catalogue_options("euda.wastewater")
SITES = catalogue_options("euda.wastewater_sites")


def edr_rule_options(rule: str) -> dict[str, Any]:
    """How the EDR collection's catalogue rule reads that kind of table."""
    (found,) = [r for r in CATALOGUE.dataset("euda.edr").table_rules if r.name == rule]
    return dict(found.read)


GPS_CURRENT = edr_rule_options("gps_current")
GPS_TRENDS = edr_rule_options("gps_trends")
ANNEX_5A = edr_rule_options("annex_prevalence")
ANNEX_5B = edr_rule_options("annex_treatment_entrants")
CANNABIS_3: dict[str, Any] = {
    "dimensions": {
        "Country": "country",
        "City": "city",
        "Substance targeted": "substance",
        "SiteID": "site_id",
    },
    "period": "Current year",
    "melt": {
        "columns": ["Current value", "Previous value", "Percentage change", "Change"],
        "to": "measure_column",
        "period_columns": {"Previous value": "Previous year"},
    },
    "text_values": ["increase", "decrease", "stable", "no previous data"],
    "ignore": ["Location", "Latitude", "Longitude", "Population", "Institution"],
    "repair_mojibake": ["city"],
}
YEARS = {"regex": r"^\d{4}$", "to": "period"}
CANNABIS_5 = {"dimensions": {"Country": "country"}, "melt": YEARS}
CANNABIS_6 = {
    "dimensions": {"Scope": "scope", "Substance": "substance", "Type": "type"},
    "melt": {"columns": ["Number of seizures", "Quantity seized (tonnes)"], "to": "measure"},
}
CANNABIS_7 = {
    "dimensions": {"Scope": "scope", "Substance": "substance", "Type": "type"},
    "melt": YEARS,
}
CANNABIS_8 = {
    "dimensions": {"Country": "country", "Substance": "substance", "Type": "type"},
    "melt": YEARS,
}
CANNABIS_9 = {
    "dimensions": {"Substance": "substance", "Type": "type", "Unit": "unit", "Measure": "measure"},
    "melt": {
        "columns": {"low": "min", "0.25": "p25", "0.75": "p75", "high": "max"},
        "to": "statistic",
    },
}
CANNABIS_10 = {
    "dimensions": {"Substance": "substance", "Type": "type", "Index for": "index_for"},
    "melt": YEARS,
}

EDR_TABLES: list[tuple[str, dict[str, Any]]] = [
    ("edr2024-gps-current-table-1.csv", GPS_CURRENT),
    ("edr2024-gps-trends-table-1.csv", GPS_TRENDS),
    ("edr2024-annex-table-5a-cannabis-prevalence.csv", ANNEX_5A),
    ("edr2024-annex-table-5b-cannabis-treatment.csv", ANNEX_5B),
    ("edr2024-cannabis-table-3.csv", CANNABIS_3),
    ("edr2024-cannabis-table-5.csv", CANNABIS_5),
    ("edr2024-cannabis-table-6.csv", CANNABIS_6),
    ("edr2024-cannabis-table-7.csv", CANNABIS_7),
    ("edr2024-cannabis-table-8.csv", CANNABIS_8),
    ("edr2024-cannabis-table-9.csv", CANNABIS_9),
    ("edr2024-cannabis-table-10.csv", CANNABIS_10),
]


def melted_headers(header: list[str], options: dict[str, Any]) -> list[str]:
    if "value" in options:
        return [options["value"]]
    melt = options["melt"]
    if "regex" in melt:
        return [h for h in header if re.search(melt["regex"], h)]
    return list(melt["columns"])


def count_cells(text: str, options: dict[str, Any]) -> tuple[int, int]:
    """Independently count (non-missing value cells, of which exactly zero) in a CSV text."""
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames is not None
    columns = melted_headers(list(reader.fieldnames), options)
    missing = set(options.get("missing", DEFAULT_MISSING)) | {""}
    cells = [rec[c].strip() for rec in reader for c in columns]
    present = [c for c in cells if c not in missing]
    return len(present), sum(1 for c in present if re.fullmatch(r"0+(\.0*)?", c))


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8-sig")


def rows_of(path: Path, options: dict[str, Any]) -> list[dict[str, Any]]:
    return list(parse(path, options).rows)


# --- wastewater -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ww_path(upstream_dir: Path) -> Path:
    return upstream_dir / "euda_wastewater" / "ww2025-all-data.csv"


@pytest.fixture(scope="module")
def ww_rows(ww_path: Path) -> list[dict[str, Any]]:
    return rows_of(ww_path, WASTEWATER)


def test_wastewater_every_cell_one_row(ww_path: Path, ww_rows: list[dict[str, Any]]) -> None:
    cells, zeros = count_cells(read(ww_path), WASTEWATER)
    assert len(ww_rows) == cells
    keys = {(r["line"], r["statistic"]) for r in ww_rows}
    assert len(keys) == len(ww_rows)
    assert {r["statistic"] for r in ww_rows} == {
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "monday",
        "tuesday",
        "weekday_mean",
        "weekend_mean",
        "daily_mean",
    }
    assert sum(1 for r in ww_rows if r["value"] == 0) == zeros > 0


def test_wastewater_known_value(ww_rows: list[dict[str, Any]]) -> None:
    graz = [
        r
        for r in ww_rows
        if r["site_id"] == "AT001"
        and r["substance"] == "MDMA"
        and r["period"] == "2024"
        and r["statistic"] == "daily_mean"
    ]
    assert len(graz) == 1
    assert graz[0]["value"] == 15.53 and graz[0]["city"] == "Graz" and graz[0]["line"] == 2


def test_wastewater_zero_is_below_loq(ww_rows: list[dict[str, Any]]) -> None:
    zeros = [r for r in ww_rows if r["value"] == 0]
    assert zeros and all(r["value"] == 0.0 and r["flags"] == "<LOQ" for r in zeros)
    assert all(r["flags"] is None for r in ww_rows if r["value"] != 0)
    assert all(r["value"] is not None and r["value_text"] is None for r in ww_rows)


def test_wastewater_country_codes_raw(ww_rows: list[dict[str, Any]]) -> None:
    countries = {r["country"] for r in ww_rows}
    assert {"H", "GR", "GB"} <= countries
    assert "EL" not in countries


def test_wastewater_cp1252_and_na_variant(
    ww_path: Path, ww_rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    """A later release's habits: CP1252, `NA` for missing, minimal quoting with CRLF."""
    text = read(ww_path)
    not_cp1252 = sorted({ch for ch in text if ch.encode("cp1252", "ignore") == b""})
    # Czech letters (Č, ě, ň) have no CP1252 byte: such a release cannot carry them
    assert set(not_cp1252) <= {"Č", "ě", "ň"}

    def lossy(s: str | None) -> str | None:
        return None if s is None else s.encode("cp1252", "replace").decode("cp1252")

    records = list(csv.reader(io.StringIO(text)))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(records[0])
    for rec in records[1:]:
        writer.writerow(rec[:5] + [cell if cell else "NA" for cell in rec[5:]])
    assert ",NA," in buf.getvalue()
    variant = tmp_path / "ww-all-data-cp1252.csv"
    variant.write_bytes(buf.getvalue().encode("cp1252", errors="replace"))

    parsed = parse(variant, WASTEWATER)
    assert parsed.attributes["encoding"] == "cp1252"
    expected = [r | {"city": lossy(r["city"])} for r in ww_rows]
    assert list(parsed.rows) == expected
    cities = {r["city"] for r in expected}
    assert {"Växjö", "Domžale-Kamnik", "Næstved", "Reykjavik Klettagarðar", "Ústí nad Labem"} <= (
        cities
    )
    assert "Plze?" in cities  # what a CP1252 release makes of Plzeň


def test_wastewater_utf8_na_variant_identical(
    ww_path: Path, ww_rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    text = read(ww_path)
    na_text = re.sub(r"(?<=,)(?=,|\n)", "NA", text)
    variant = tmp_path / "ww-na.csv"
    variant.write_text(na_text, encoding="utf-8")
    assert rows_of(variant, WASTEWATER) == ww_rows


# --- site table -----------------------------------------------------------------------------


def test_site_table(upstream_dir: Path) -> None:
    path = upstream_dir / "euda_wastewater" / "ww2025-site-info-table.csv"
    rows = rows_of(path, SITES)
    cells, _ = count_cells(read(path), SITES)
    assert len(rows) == cells
    assert len({r["site_id"] for r in rows}) == 217
    assert all(r["period"] is None for r in rows)
    brugge = {r["attribute"]: r["value"] for r in rows if r["site_id"] == "BE004"}
    assert brugge["population"] == 300000.0
    exponent_lines = [
        n for n, line in enumerate(read(path).splitlines(), 1) if re.search(r",\de\+0\d,", line)
    ]
    assert exponent_lines
    assert {r["line"] for r in rows if r["attribute"] == "population"} >= set(exponent_lines)
    graz = next(r for r in rows if r["site_id"] == "AT001")
    assert graz["website"] is None and graz["institution"] == "Medical University Innsbruck"


# --- EDR 2024 source data -------------------------------------------------------------------


@pytest.mark.parametrize(("name", "options"), EDR_TABLES, ids=[n for n, _ in EDR_TABLES])
def test_edr_table_every_cell_one_row(
    upstream_dir: Path, name: str, options: dict[str, Any]
) -> None:
    path = upstream_dir / "euda_edr2024" / name
    rows = rows_of(path, options)
    cells, _ = count_cells(read(path), options)
    assert len(rows) == cells > 0
    label = options.get("melt", {}).get("to", "period")
    assert len({(r["line"], r.get(label) or r["period"]) for r in rows}) == len(rows)


def test_gps_current_czechia(upstream_dir: Path) -> None:
    rows = rows_of(upstream_dir / "euda_edr2024" / "edr2024-gps-current-table-1.csv", GPS_CURRENT)
    hits = [
        r
        for r in rows
        if r["country"] == "CZ"
        and r["substance"] == "Cannabis"
        and r["recall_period"] == "Lifetime"
        and r["age"] == "All adults (15-64)"
        and r["period"] == "2020"
    ]
    by_measure = {r["measure_column"]: r["value"] for r in hits}
    assert by_measure == {
        "prevalence_pct": 29.9,
        "males_pct": 38.2,
        "females_pct": 21.3,
        "sample_size": 2701.0,
    }


def test_gps_trends_years_to_period(upstream_dir: Path) -> None:
    parsed = parse(upstream_dir / "euda_edr2024" / "edr2024-gps-trends-table-1.csv", GPS_TRENDS)
    assert parsed.attributes["value_columns"] == [str(y) for y in range(1990, 2024)]
    rows = list(parsed.rows)
    austria = [
        (r["period"], r["value"])
        for r in rows
        if r["country"] == "AT"
        and r["recall_period"] == "Lifetime"
        and r["age"] == "All adults (15-64)"
        and r["substance"] == "Cannabis"
    ]
    assert austria[:2] == [("2004", 20.1), ("2008", 14.2)]
    assert {r["period"] for r in rows} <= {str(y) for y in range(1990, 2024)}


def test_annex_dash_missing_values(upstream_dir: Path) -> None:
    path = upstream_dir / "euda_edr2024" / "edr2024-annex-table-5a-cannabis-prevalence.csv"
    rows = rows_of(path, ANNEX_5A)
    malta = {r["measure_column"]: r["value"] for r in rows if r["country"] == "Malta"}
    assert malta == {"gps_lifetime_15_64": 4.3, "school_lifetime_15_16": 12.0}  # `–` is no row
    eu = [r for r in rows if r["country"] == "European Union"]
    assert [(r["measure_column"], r["period"], r["value"]) for r in eu] == [
        ("gps_lifetime_15_64", None, 29.9),  # the survey year is `‒`: period None, value kept
        ("gps_last_year_15_34", None, 15.0),
    ]
    assert not [r for r in rows if r["country"] == "EU, Türkiye and Norway"]
    assert "Sweden (1)" in {r["country"] for r in rows}  # footnote marker kept as published


def test_annex_5b_hyphen_missing(upstream_dir: Path) -> None:
    path = upstream_dir / "euda_edr2024" / "edr2024-annex-table-5b-cannabis-treatment.csv"
    sweden = [r for r in rows_of(path, ANNEX_5B) if r["country"] == "Sweden"]
    assert [r["measure_column"] for r in sweden] == [
        "all_cannabis_entrants_pct",
        "all_cannabis_entrants_count",
        "first_time_cannabis_entrants_pct",
        "first_time_cannabis_entrants_count",
    ]


def test_cannabis_table_3(upstream_dir: Path) -> None:
    rows = rows_of(upstream_dir / "euda_edr2024" / "edr2024-cannabis-table-3.csv", CANNABIS_3)
    bozen = {
        r["measure_column"]: (r["period"], r["value"], r["value_text"])
        for r in rows
        if r["city"] == "Bozen"
    }
    assert bozen == {
        "current_value": ("2023", 57.71, None),
        "previous_value": ("2022", 43.44, None),
        "percentage_change": ("2023", 32.8, None),
        "change": ("2023", None, "increase"),
    }
    cities = {r["city"] for r in rows}
    assert {"Plzeň", "České Budějovice", "Gävle"} <= cities
    assert not [c for c in cities if "Ã" in c or "Å" in c or "Ä" in c]
    assert {r["value_text"] for r in rows if r["value_text"]} <= set(CANNABIS_3["text_values"])


# --- the bundled mirror's copies of the real wastewater files ----------------------------------
def _bundled(ds_id: str) -> Path:
    (key,) = mirror_download_keys(load_catalogue().dataset(ds_id), SAMPLE_MIRROR_DIR)
    return SAMPLE_MIRROR_DIR / key


def test_bundled_wastewater_is_a_cut_of_the_real_file_bytes_kept(upstream_dir: Path) -> None:
    real = (upstream_dir / "euda_wastewater" / "ww2025-all-data.csv").read_bytes().split(b"\n")
    bundled = _bundled("euda.wastewater").read_bytes().split(b"\n")
    assert bundled[0] == real[0]  # the same header, byte for byte
    # every record is a real record, in the publisher's order (rows cut, none rewritten)
    position = {line: n for n, line in enumerate(real)}
    kept = [position[line] for line in bundled[1:] if line]
    assert kept == sorted(kept) and len(kept) == len(set(kept))
    assert bundled[-1] == b"" and all(b"\r" not in line for line in bundled)  # LF, as published
    graz_2024 = {line for line in real if line.startswith(b"2024,") and b'"AT001"' in line}
    assert len(graz_2024) == 5 and graz_2024 <= set(bundled)
    text = b"\n".join(bundled)
    for code in (b'"GR"', b'"GB"', b'"H"', b'"HU"', b'"NO"', b'"TR"'):
        assert code in text  # the publisher's own country codes, kept
    # every site of the kept countries keeps every campaign
    kept_sites = {line.split(b",")[2] for line in bundled[1:] if line}
    assert [line for line in real[1:] if line and line.split(b",")[2] in kept_sites] == [
        line for line in bundled[1:] if line
    ]


def test_bundled_site_table_is_the_real_file(upstream_dir: Path) -> None:
    real = upstream_dir / "euda_wastewater" / "ww2025-site-info-table.csv"
    assert _bundled("euda.wastewater_sites").read_bytes() == real.read_bytes()


def test_bundled_wastewater_parses_with_the_catalogue_options_like_the_real_file(
    upstream_dir: Path,
) -> None:
    real = parse(upstream_dir / "euda_wastewater" / "ww2025-all-data.csv", WASTEWATER)
    bundled = parse(_bundled("euda.wastewater"), WASTEWATER)
    assert (bundled.dimensions, bundled.attributes) == (real.dimensions, real.attributes)
    assert {r["country"] for r in bundled.rows} <= {r["country"] for r in real.rows}
