"""The Statistical Bulletin parser against the 76 real 2019 exports.

Cells are counted again here straight from python-calamine, so every published cell is shown
to give exactly one row (a number, or a text kept as `value_text`).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from python_calamine import CalamineWorkbook

from pipelines.parsers.bulletin_xlsx import match_rule, parse

pytestmark = pytest.mark.conformance

FOLDER = "emcdda_statistical_bulletin_2019"
# What the catalogue would hold: breadcrumb prefixes -> indicator (catalogue data, not code).
RULES: list[dict[str, Any]] = [
    {"prefix": ["Drug law offences"], "indicator": 1},
    {"prefix": ["Price, purity and potency"], "indicator": 4},
    {"prefix": ["Prevalence of drug use"], "indicator": 7},
    {"prefix": ["Overdose deaths"], "indicator": 9},
    {"prefix": ["Treatment demand"], "indicator": 10},
    {"prefix": ["Health and social responses"], "indicator": 10},
]


def files(upstream_dir: Path) -> list[Path]:
    found = sorted((upstream_dir / FOLDER).glob("*.xlsx"))
    assert len(found) == 76
    return found


def independent_count(path: Path) -> tuple[int, int]:
    """(numeric cells, text cells) between the `Country` header and the first blank row,
    leaving out the country, study and year columns."""
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    top = next(i for i, row in enumerate(sheet) if row and row[0] == "Country")
    skip = {0} | {
        i
        for i, h in enumerate(sheet[top])
        if isinstance(h, str) and h.startswith(("Study", "Year"))
    }
    numbers = texts = 0
    for row in sheet[top + 1 :]:
        if not any(str(c).strip() for c in row):
            break
        for i, cell in enumerate(row):
            if i in skip or not str(cell).strip():
                continue
            if isinstance(cell, int | float):
                numbers += 1
            else:
                texts += 1
    return numbers, texts


def test_every_export_parses_and_every_cell_is_one_row(upstream_dir: Path) -> None:
    layouts: Counter[str] = Counter()
    for path in files(upstream_dir):
        parsed = parse(path, {})
        rows = list(parsed.rows)
        numbers, texts = independent_count(path)
        got_numbers = sum(1 for r in rows if r["value"] is not None)
        got_texts = sum(1 for r in rows if r["value"] is None and r["value_text"] is not None)
        assert (got_numbers, got_texts) == (numbers, texts), path.name
        assert len(rows) == numbers + texts, path.name
        keys = {(r["line"], r["column"], r["period"]) for r in rows}
        assert len(keys) == len(rows), f"{path.name}: a cell gave two rows"
        assert all(r["country"] and not r["country"].endswith("*") for r in rows), path.name
        layouts[parsed.attributes["table_layout"]] += 1
    assert layouts == {"years_as_columns": 37, "year_column": 38, "columns_only": 1}


def test_breadcrumbs_map_to_rules(upstream_dir: Path) -> None:
    indicators: Counter[int] = Counter()
    for path in files(upstream_dir):
        attributes = parse(path, {}).attributes
        path_parts = attributes["measure_path"]
        assert len(path_parts) >= 2 and all(p == p.strip() and p for p in path_parts)
        assert "  >  ".join(path_parts) == attributes["breadcrumb"]
        indicators[match_rule(path_parts, RULES, file=path)["indicator"]] += 1
    assert set(indicators) == {1, 4, 7, 9, 10}


def test_male_deaths(upstream_dir: Path) -> None:
    parsed = parse(upstream_dir / FOLDER / "maleDeaths.xlsx", {})
    assert parsed.attributes["measure_path"] == [
        "Overdose deaths",
        "Trends",
        "National definition",
        "Number of deaths",
        "Male",
    ]
    rows = list(parsed.rows)
    germany = [r for r in rows if r["country"] == "Germany" and r["period"] == "2017"]
    assert [(r["value"], r["subnational"], r["study"], r["column"]) for r in germany] == [
        (952.0, None, None, None)
    ]
    periods = [r["period"] for r in rows if r["country"] == "Germany"]
    assert periods[0] == "2017" and periods == sorted(periods, reverse=True)
    # footnotes: general ones unattached, country ones on every row of that country
    assert len(parsed.attributes["footnotes"]) == 3
    uk = {r["note"] for r in rows if r["country"] == "United Kingdom"}
    assert len(uk) == 1
    (uk_note,) = uk
    assert "The UK has made several changes" in uk_note
    assert "\n1) The UK Focal Point" in uk_note and "<br>" not in uk_note
    austria = {r["note"] for r in rows if r["country"] == "Austria"}
    assert len(austria) == 1 and None not in austria


def test_footnotes_accounted_for(upstream_dir: Path) -> None:
    """Every footnote row ends up either on its country or in the unattached list."""
    for path in files(upstream_dir):
        sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
        top = next(i for i, row in enumerate(sheet) if row and row[0] == "Country")
        end = next(
            (i for i in range(top + 1, len(sheet)) if not any(str(c).strip() for c in sheet[i])),
            len(sheet),
        )
        footnote_rows = [r for r in sheet[end:] if any(str(c).strip() for c in r)]
        attributes = parse(path, {}).attributes
        country_notes = attributes["country_notes"]
        attached = sum(len(note.split("\n(")) for note in country_notes.values())
        assert attached + len(attributes["footnotes"]) == len(footnote_rows), path.name


def test_study_and_subnational(upstream_dir: Path) -> None:
    rows = list(parse(upstream_dir / FOLDER / "cocainePriceMean.xlsx", {}).rows)
    belgium = {(r["subnational"], r["study"]) for r in rows if r["country"] == "Belgium"}
    assert belgium == {("A", "BE-1"), ("B", "BE-2")}
    assert all(r["column"] is None for r in rows)


def test_year_column_tables(upstream_dir: Path) -> None:
    parsed = parse(upstream_dir / FOLDER / "prevalance_cannabis.xlsx", {})
    assert parsed.attributes["table_layout"] == "year_column"
    rows = list(parsed.rows)
    austria = {r["column"]: (r["period"], r["value"]) for r in rows if r["country"] == "Austria"}
    assert austria == {
        "Sample size": ("2015", 3477.0),
        "Males": ("2015", 25.6),
        "Females": ("2015", 21.5),
        "Total": ("2015", 23.6),
    }
    treatment = list(parse(upstream_dir / FOLDER / "ageOfTreatment.xlsx", {}).rows)
    assert {"<15", "> 64", "Mean age", "Total"} <= {r["column"] for r in treatment}


def test_text_codes_kept(upstream_dir: Path) -> None:
    parsed = parse(upstream_dir / FOLDER / "opioidSubstitutionProviders.xlsx", {})
    assert parsed.attributes["table_layout"] == "columns_only"
    rows = list(parsed.rows)
    assert all(r["period"] is None and r["value"] is None for r in rows)
    assert Counter(r["value_text"] for r in rows)["Y"] > 100
    assert {"Y (i)", "(ii)"} <= {r["value_text"] for r in rows}
