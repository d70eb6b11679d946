"""Unit tests of the Statistical Bulletin parser on in-memory sheets (lists of rows).

`parse_rows` takes what python-calamine returns for a sheet, so layouts are tested without
XLSX files (python-calamine only reads them); the real exports are in the conformance tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines.parsers.base import ROW_KEYS, ParseError
from pipelines.parsers.bulletin_xlsx import (
    DIMENSIONS,
    match_rule,
    parse,
    parse_footnote,
    parse_rows,
    split_breadcrumb,
    split_country,
)

FILE = "bulletin/maleDeaths.xlsx"
CRUMB = "Overdose deaths  >  Trends  >  National definition  >  Number of deaths  >  Male"


def sheet(header: list[object], data: list[list[object]], footnotes: list[str] = ()) -> list:
    """A sheet as python-calamine returns it: every row padded to the same width."""
    body: list[list[object]] = [[], [CRUMB], [], header, *data]
    if footnotes:
        body += [[]] + [[f] for f in footnotes]
    width = max(len(r) for r in body) + 1  # the exports carry one trailing empty column
    return [list(r) + [""] * (width - len(r)) for r in body]


def rows_of(rows: list, options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return list(parse_rows(rows, FILE, options).rows)


def key(row: dict[str, Any]) -> tuple:
    return (row["country"], row["subnational"], row["study"], row["column"], row["period"])


YEARS_SHEET = sheet(
    ["Country", 2017.0, 2016.0, 2015.0],
    [
        ["Austria *", 125.0, 127.0, ""],
        ["Germany", 952.0, "", 1.0],
        ["Belgium-A", "", " ", 3.0],
        ["United Kingdom *", "n.a.", 2.0, ""],
    ],
    [
        "(1) National definitions usually refer to acute deaths.",
        "(2) Austria: Data for 2016 revised.",
        "(3) United Kingdom: United Kingdom: England and Wales only.<br>Second line.",
        "(4) Austria: A second note.",
        "(5) -: No reliable data on syringes distributed in England are available.",
        "(6) Belgium: Flemish community only.",
        "(7) Narnia: not in the table.",
    ],
)


# --- years as columns -----------------------------------------------------------------------


def test_years_as_columns() -> None:
    parsed = parse_rows(YEARS_SHEET, FILE)
    assert parsed.dimensions == DIMENSIONS == ["country", "subnational", "study", "column"]
    assert parsed.attributes["table_layout"] == "years_as_columns"
    assert parsed.attributes["breadcrumb"] == CRUMB
    assert parsed.attributes["measure_path"] == [
        "Overdose deaths",
        "Trends",
        "National definition",
        "Number of deaths",
        "Male",
    ]
    assert parsed.attributes["header"] == ["Country", "2017", "2016", "2015"]
    rows = list(parsed.rows)
    assert [(key(r), r["value"], r["value_text"], r["line"]) for r in rows] == [
        (("Austria", None, None, None, "2017"), 125.0, None, 5),
        (("Austria", None, None, None, "2016"), 127.0, None, 5),
        (("Germany", None, None, None, "2017"), 952.0, None, 6),
        (("Germany", None, None, None, "2015"), 1.0, None, 6),
        (("Belgium", "A", None, None, "2015"), 3.0, None, 7),
        (("United Kingdom", None, None, None, "2017"), None, "n.a.", 8),
        (("United Kingdom", None, None, None, "2016"), 2.0, None, 8),
    ]
    assert all(list(r)[-len(ROW_KEYS) :] == list(ROW_KEYS) for r in rows)
    assert all(r["flags"] is None for r in rows)


def test_footnotes_attach_to_their_country() -> None:
    parsed = parse_rows(YEARS_SHEET, FILE)
    notes = {r["country"]: r["note"] for r in parsed.rows}
    assert notes["Austria"] == "(2) Data for 2016 revised.\n(4) A second note."
    assert notes["United Kingdom"] == "(3) England and Wales only.\nSecond line."
    assert notes["Belgium"] == "(6) Flemish community only."
    assert notes["Germany"] is None
    assert parsed.attributes["footnotes"] == [
        "(1) National definitions usually refer to acute deaths.",
        "(5) -: No reliable data on syringes distributed in England are available.",
        "(7) Narnia: not in the table.",
    ]


def test_other_edition_more_years_other_order() -> None:
    rows = rows_of(
        sheet(
            ["Country", 2019.0, 2020.0, 2021.0, 2022.0, 2023.0],
            [["Czechia", 1.0, 2.0, 3.0, 4.0, 5.0]],
        )
    )
    assert [r["period"] for r in rows] == ["2019", "2020", "2021", "2022", "2023"]


def test_year_headers_as_text() -> None:
    rows = rows_of(sheet(["Country", "2017", "2016"], [["Czechia", 1.0, 2.0]]))
    assert [r["period"] for r in rows] == ["2017", "2016"]


def test_study_column() -> None:
    parsed = parse_rows(
        sheet(
            ["Country", "Study", 2017.0, 2016.0],
            [["Austria", "AT-1", "", 80.0], ["Cyprus", "", 5.0, ""], ["Belgium-B", "BE-2", 1.5, 2]],
        ),
        FILE,
    )
    assert parsed.attributes["table_layout"] == "years_as_columns"
    assert [(key(r), r["value"]) for r in parsed.rows] == [
        (("Austria", None, "AT-1", None, "2016"), 80.0),
        (("Cyprus", None, None, None, "2017"), 5.0),
        (("Belgium", "B", "BE-2", None, "2017"), 1.5),
        (("Belgium", "B", "BE-2", None, "2016"), 2.0),
    ]


# --- a Year column with value columns -------------------------------------------------------


def test_year_column_layout() -> None:
    parsed = parse_rows(
        sheet(
            ["Country", "Year", "Sample size", "Males", "Females", "Total"],
            [
                ["Austria", 2015.0, 982.0, 4.4, 3.9, 4.2],
                ["Bulgaria", "", "", "", "", ""],
                ["Czechia", 2017.0, 1000.0, "", "", 0.0],
            ],
            ["(1) General note.", "(2) Czechia: A note."],
        ),
        FILE,
    )
    assert parsed.attributes["table_layout"] == "year_column"
    rows = list(parsed.rows)
    assert [(key(r), r["value"], r["note"]) for r in rows] == [
        (("Austria", None, None, "Sample size", "2015"), 982.0, None),
        (("Austria", None, None, "Males", "2015"), 4.4, None),
        (("Austria", None, None, "Females", "2015"), 3.9, None),
        (("Austria", None, None, "Total", "2015"), 4.2, None),
        (("Czechia", None, None, "Sample size", "2017"), 1000.0, "(2) A note."),
        (("Czechia", None, None, "Total", "2017"), 0.0, "(2) A note."),
    ]


def test_year_column_other_name_and_html_header() -> None:
    rows = rows_of(
        sheet(
            ["Country", "Year of Treatment", "Mean age", "&lt;15", " > 64"],
            [["Austria", 2017.0, 30.0, 32.0, 5.0]],
        )
    )
    assert [r["column"] for r in rows] == ["Mean age", "<15", "> 64"]


def test_year_column_empty_year_with_values_keeps_row() -> None:
    rows = rows_of(sheet(["Country", "Year", "Total"], [["Malta", "", 4.0]]))
    assert rows[0]["period"] is None and rows[0]["value"] == 4.0


def test_year_column_bad_year() -> None:
    with pytest.raises(ParseError) as err:
        rows_of(sheet(["Country", "Year", "Total"], [["Malta", "2015/16", 4.0]]))
    assert err.value.rule == "bad year" and err.value.line == 5


# --- no period at all -----------------------------------------------------------------------


def test_columns_only_layout_keeps_text_codes() -> None:
    header = ["Country", "(METHADONE) pharmacies", "(METHADONE) other provider"]
    rows_in = [["Austria", "Y", " "], ["Spain", "", "Y (i)"]]
    parsed = parse_rows(sheet(header, rows_in), FILE)
    assert parsed.attributes["table_layout"] == "columns_only"
    rows = list(parsed.rows)
    assert [(key(r), r["value"], r["value_text"]) for r in rows] == [
        (("Austria", None, None, "(METHADONE) pharmacies", None), None, "Y"),
        (("Spain", None, None, "(METHADONE) other provider", None), None, "Y (i)"),
    ]
    with_period = rows_of(sheet(header, rows_in), {"period": "2019"})
    assert {r["period"] for r in with_period} == {"2019"}


# --- country labels, footnotes, breadcrumbs -------------------------------------------------


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Austria *", ("Austria", None)),
        ("Austria*", ("Austria", None)),
        ("Belgium-A", ("Belgium", "A")),
        ("United Kingdom-D", ("United Kingdom", "D")),
        ("UK - Wales", ("UK", "Wales")),
        ("UK- England", ("UK", "England")),
        ("Bulgaria-B *", ("Bulgaria", "B")),
        ("Czechia", ("Czechia", None)),
    ],
)
def test_split_country(label: str, expected: tuple[str, str | None]) -> None:
    import re

    from pipelines.parsers.bulletin_xlsx import DEFAULT_SUBNATIONAL

    assert split_country(label, re.compile(DEFAULT_SUBNATIONAL)) == expected


def test_subnational_pattern_option() -> None:
    rows = rows_of(
        sheet(["Country", 2017.0], [["Guinea-Bissau", 1.0], ["Guinea-Bissau/N", 2.0]]),
        {"subnational_pattern": r"(?P<country>[^/]+)/(?P<subnational>.+)"},
    )
    assert [(r["country"], r["subnational"]) for r in rows] == [
        ("Guinea-Bissau", None),
        ("Guinea-Bissau", "N"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(7) United Kingdom: Data for E&W.", ("United Kingdom", "(7) Data for E&W.")),
        ("(6) United Kingdom: United Kingdom: E&W only.", ("United Kingdom", "(6) E&W only.")),
        ("(1) Plain general note.", (None, "(1) Plain general note.")),
        ("(2) a<br>b", (None, "(2) a\nb")),
        (
            "(9) Notes: Other providers: (i) Hospitals",
            ("Notes", "(9) Other providers: (i) Hospitals"),
        ),
        ("No number: text &amp; more", ("No number", "text & more")),
    ],
)
def test_parse_footnote(text: str, expected: tuple[str | None, str]) -> None:
    assert parse_footnote(text) == expected


def test_split_breadcrumb() -> None:
    assert split_breadcrumb(" A  >  B > C  >  D ") == ["A", "B", "C", "D"]
    # the separator needs whitespace on both sides: an age band may read `>=65`
    assert split_breadcrumb("Deaths  >  5-year age breakdown  >  >=65") == [
        "Deaths",
        "5-year age breakdown",
        ">=65",
    ]


def test_country_notes_kept_for_countries_without_values() -> None:
    rows = sheet(
        ["Country", 2017.0],
        [["Austria", 1.0], ["Bulgaria *", ""]],
        ["(1) Bulgaria: No data reported.", "(2) Austria: Provisional."],
    )
    parsed = parse_rows(rows, FILE)
    assert [r["note"] for r in parsed.rows] == ["(2) Provisional."]
    assert parsed.attributes["country_notes"] == {
        "Bulgaria": "(1) No data reported.",
        "Austria": "(2) Provisional.",
    }
    assert parsed.attributes["footnotes"] == []


@pytest.mark.parametrize("a2", ["", "Overdose deaths", "Overdose deaths  >  ", 2017.0])
def test_no_breadcrumb(a2: object) -> None:
    rows = sheet(["Country", 2017.0], [["Austria", 1.0]])
    rows[1][0] = a2
    with pytest.raises(ParseError) as err:
        parse_rows(rows, FILE)
    assert err.value.rule == "no breadcrumb" and err.value.line == 2
    assert FILE in str(err.value) and "line 2" in str(err.value)


# --- layout drift ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        ["Land", 2017.0],  # not Country
        ["Country", "Year", 2017.0],  # both a year column and year headers
        ["Country", 2017.0, "Total"],  # year headers mixed with a value column
        ["Country", "Year"],  # year column without value columns
        ["Country"],  # nothing at all
        ["Country", "Year", "Year of Treatment", "Total"],  # two year columns
        ["Country", "Total", "Total"],  # duplicate headers
        ["Country", "", "Total"],  # a gap in the header
    ],
)
def test_header_layout_drift(header: list[object]) -> None:
    with pytest.raises(ParseError) as err:
        parse_rows(sheet(header, [["Austria", 1.0, 2.0]]), FILE)
    assert err.value.rule == "layout drift" and err.value.line == 4
    assert "layout drift" in str(err.value)


def test_expected_layout_option() -> None:
    rows = sheet(["Country", "Year", "Total"], [["Austria", 2017.0, 1.0]])
    assert parse_rows(rows, FILE, {"layout": "year_column"}).attributes["table_layout"]
    with pytest.raises(ParseError, match="expected layout years_as_columns"):
        parse_rows(rows, FILE, {"layout": "years_as_columns"})


def test_header_found_after_extra_blank_rows() -> None:
    rows = [[""], [CRUMB], [""], [""], ["Country", 2017.0], ["Austria", 5.0]]
    got = list(parse_rows(rows, FILE).rows)
    assert got[0]["line"] == 6 and got[0]["value"] == 5.0


def test_cells_beyond_header_are_drift() -> None:
    rows = sheet(["Country", 2017.0], [["Austria", 1.0, 99.0]])
    with pytest.raises(ParseError) as err:
        rows_of(rows)
    assert err.value.rule == "layout drift" and err.value.line == 5


def test_data_row_without_country() -> None:
    with pytest.raises(ParseError) as err:
        rows_of(sheet(["Country", 2017.0], [["Austria", 1.0], ["", 2.0]]))
    assert err.value.rule == "missing country" and err.value.line == 6


def test_second_table_after_footnotes_is_an_error() -> None:
    rows = sheet(["Country", 2017.0], [["Austria", 1.0]], ["(1) Note."])
    rows.append(["Belgium", 3.0, ""])
    with pytest.raises(ParseError) as err:
        parse_rows(rows, FILE)
    assert err.value.rule == "unexpected content after table"


def test_invalid_options() -> None:
    for options in ({"layout": "sideways"}, {"colour": 1}, {"subnational_pattern": "(x)"}):
        with pytest.raises(ParseError) as err:
            parse_rows(YEARS_SHEET, FILE, options)
        assert err.value.rule == "invalid options"


def test_unreadable_workbook(tmp_path: Path) -> None:
    path = tmp_path / "table.xlsx"
    path.write_text("not a workbook")
    with pytest.raises(ParseError) as err:
        parse(path, {})
    assert err.value.rule == "unreadable workbook"


# --- breadcrumb rules -----------------------------------------------------------------------

RULES = [
    {"prefix": ["Overdose deaths", "Trends", "National definition", "Mean age"], "measure": "age"},
    {"prefix": ["Overdose deaths"], "indicator": 9},
    {"prefix": ["Drug law offences"], "indicator": 1},
]


def test_match_rule_first_prefix_wins() -> None:
    assert match_rule(split_breadcrumb(CRUMB), RULES)["indicator"] == 9
    mean_age = ["Overdose deaths", "Trends", "National definition", "Mean age"]
    assert match_rule(mean_age, RULES)["measure"] == "age"
    assert match_rule(["drug LAW  offences", "Offences By Drug"], RULES)["indicator"] == 1


def test_match_rule_unmapped() -> None:
    path = ["Treatment demand", "Trends"]
    with pytest.raises(ParseError) as err:
        match_rule(path, RULES, file=FILE)
    assert err.value.rule == "unmapped breadcrumb"
    assert "Treatment demand  >  Trends" in str(err.value) and FILE in str(err.value)
    with pytest.raises(ParseError):
        match_rule(["Overdose"], RULES)  # a part is matched whole, not as a string prefix


def test_footnote_naming_a_subnational_label() -> None:
    rows = sheet(
        ["Country", 2017.0],
        [["Belgium-A", 1.0], ["Belgium-B *", 2.0]],
        ["(1) Belgium: Both studies.", "(2) Belgium-B: Flanders only."],
    )
    parsed = parse_rows(rows, FILE)
    assert [r["note"] for r in parsed.rows] == [
        "(1) Both studies.",
        "(1) Both studies.\n(2) Flanders only.",
    ]
    assert parsed.attributes["country_notes"] == {
        "Belgium": "(1) Both studies.",
        "Belgium-B": "(2) Flanders only.",
    }
