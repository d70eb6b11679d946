"""Unit tests of the generic delimited-text parser (pipelines.parsers.tabular_csv)."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

from pipelines.parsers import tabular_csv
from pipelines.parsers.base import ROW_KEYS, ParseError, parse_number
from pipelines.parsers.tabular_csv import parse, repair_mojibake, slug

WW_HEADER = (
    '"Year","Metabolite","Site ID","Country","City","Wednesday","Thursday","Friday",'
    '"Saturday","Sunday","Monday","Tuesday","Weekday mean","Weekend mean","Daily mean"'
)
WW_DAYS = [
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "Monday",
    "Tuesday",
    "Weekday mean",
    "Weekend mean",
    "Daily mean",
]
WW_OPTIONS: dict[str, Any] = {
    "dimensions": {
        "Site ID": "site_id",
        "Country": "country",
        "City": "city",
        "Metabolite": "substance",
    },
    "period": "Year",
    "melt": {"columns": WW_DAYS, "to": "statistic"},
    "zero_flag": "<LOQ",
}
WW_TEXT = (
    WW_HEADER
    + "\n"
    + '2024,"MDMA","AT001","AT","Graz",8.82,12.87,12.45,28.11,26.8,10.5,9.13,10.27,19.47,15.53\n'
    + '2024,"cocaine","SE003","SE","Malmö",0,,1.5,,,,,0,1.5,0.75\n'
    + '2023,"cannabis","H001","H","Budapest",,,,,,,,,,\n'
)


def write(tmp_path: Path, text: str, name: str = "data.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def rows_of(path: Path, options: dict[str, Any]) -> list[dict[str, Any]]:
    return list(parse(path, options).rows)


def without_line(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != "line"} for row in rows]


# --- helpers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "label"),
    [
        ("Weekday mean", "weekday_mean"),
        ("Wednesday", "wednesday"),
        ("Daily mean", "daily_mean"),
        ("Prevalence (%)", "prevalence_pct"),
        ("Sample size", "sample_size"),
        ("  Über-Größe / Total ", "uber_grosse_total"),
        ("All cannabis entrants - count", "all_cannabis_entrants_count"),
    ],
)
def test_slug(header: str, label: str) -> None:
    assert slug(header) == label


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("15.53", 15.53),
        ("3e+05", 300000.0),
        ("32.799999999999997", 32.8),
        ("-23.4", -23.4),
        ("0", 0.0),
        (".5", 0.5),
        ("1,234", None),
        ("1 234", None),
        ("nan", None),
        ("inf", None),
        ("1_000", None),
        ("", None),
    ],
)
def test_parse_number(text: str, number: float | None) -> None:
    assert parse_number(text) == number


def test_repair_mojibake() -> None:
    assert repair_mojibake("PlzeÅˆ") == "Plzeň"
    assert repair_mojibake("ÄŒeskÃ© BudÄ›jovice") == "České Budějovice"
    assert repair_mojibake("Å\xa0aleÅ¡ke Doline") == "Šaleške Doline"
    for clean in ("Plzeň", "Malmö", "Graz", "Ã"):
        assert repair_mojibake(clean) == clean


# --- wastewater-style wide file: melt to a statistic dimension ----------------------------


def test_melt_to_statistic(tmp_path: Path) -> None:
    parsed = parse(write(tmp_path, WW_TEXT), WW_OPTIONS)
    assert parsed.dimensions == ["site_id", "country", "city", "substance", "statistic"]
    rows = list(parsed.rows)
    graz = [r for r in rows if r["site_id"] == "AT001"]
    assert [r["statistic"] for r in graz] == [
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
    ]
    daily = graz[-1]
    assert daily == {
        "site_id": "AT001",
        "country": "AT",
        "city": "Graz",
        "substance": "MDMA",
        "statistic": "daily_mean",
        "period": "2024",
        "value": 15.53,
        "value_text": None,
        "flags": None,
        "note": None,
        "line": 2,
    }
    assert list(daily)[-len(ROW_KEYS) :] == list(ROW_KEYS)
    # empty cells give no row; a record with no values at all gives none
    malmo = [r for r in rows if r["site_id"] == "SE003"]
    assert [r["statistic"] for r in malmo] == [
        "wednesday",
        "friday",
        "weekday_mean",
        "weekend_mean",
        "daily_mean",
    ]
    assert not [r for r in rows if r["site_id"] == "H001"]
    assert parsed.attributes["value_columns"] == WW_DAYS


def test_zero_gets_zero_flag_and_stays_zero(tmp_path: Path) -> None:
    rows = rows_of(write(tmp_path, WW_TEXT), WW_OPTIONS)
    zeros = [r for r in rows if r["value"] == 0]
    assert len(zeros) == 2
    assert all(r["value"] == 0.0 and r["flags"] == "<LOQ" for r in zeros)
    assert all(r["flags"] is None for r in rows if r["value"] != 0)
    no_flag = {**WW_OPTIONS, "zero_flag": None}
    assert all(r["flags"] is None for r in rows_of(write(tmp_path, WW_TEXT), no_flag))


def test_zero_flag_for_any_spelling_of_zero(tmp_path: Path) -> None:
    text = "Site,Value\nA,0.00\nB,-0\nC,0.001\n"
    rows = rows_of(
        write(tmp_path, text),
        {"dimensions": {"Site": "site"}, "value": "Value", "zero_flag": "<LOQ"},
    )
    assert [r["flags"] for r in rows] == ["<LOQ", "<LOQ", None]


def test_country_codes_stay_raw(tmp_path: Path) -> None:
    text = WW_TEXT + '2022,"MDMA","GR001","GR","Athens",1,,,,,,,,,\n'
    text += '2022,"MDMA","H002","H","Pécs",2,,,,,,,,,\n'
    rows = rows_of(write(tmp_path, text), WW_OPTIONS)
    assert {r["country"] for r in rows} == {"AT", "SE", "GR", "H"}


def test_na_and_empty_give_identical_rows(tmp_path: Path) -> None:
    na_text = WW_TEXT.replace(",,", ",NA,").replace(",,", ",NA,").replace(",\n", ",NA\n")
    assert ",NA," in na_text
    empty = rows_of(write(tmp_path, WW_TEXT, "a.csv"), WW_OPTIONS)
    na = rows_of(write(tmp_path, na_text, "b.csv"), WW_OPTIONS)
    assert na == empty


@pytest.mark.parametrize("marker", ["‒", "–", "—", "-", "..", "N/A", "n/a", "NA", " "])
def test_default_missing_markers(tmp_path: Path, marker: str) -> None:
    text = f"Country,Value\nBE,{marker}\nBG,1.5\n"
    rows = rows_of(write(tmp_path, text), {"dimensions": {"Country": "geo"}, "value": "Value"})
    assert [(r["geo"], r["value"]) for r in rows] == [("BG", 1.5)]


def test_custom_missing_list(tmp_path: Path) -> None:
    text = "Country,Value\nBE,x\nBG,-\nCZ,\n"
    options = {"dimensions": {"Country": "geo"}, "value": "Value", "missing": ["x"]}
    with pytest.raises(ParseError) as err:
        rows_of(write(tmp_path, text), options)
    assert err.value.rule == "non-numeric value" and err.value.line == 3
    rows = rows_of(write(tmp_path, "Country,Value\nBE,x\nCZ,\n"), options)
    assert rows == []


# --- encodings, BOM, quoting, line endings, gzip -------------------------------------------


def test_cp1252_and_utf8_give_identical_rows(tmp_path: Path) -> None:
    text = WW_TEXT + '2022,"MDMA","ES002","ES","Castellón",3,,,,,,,,,\n'
    utf8 = rows_of(write(tmp_path, text, "u.csv", "utf-8"), WW_OPTIONS)
    cp1252_path = write(tmp_path, text, "c.csv", "cp1252")
    parsed = parse(cp1252_path, WW_OPTIONS)
    assert parsed.attributes["encoding"] == "cp1252"
    assert list(parsed.rows) == utf8
    assert {"Malmö", "Castellón"} <= {r["city"] for r in utf8}


def test_explicit_encoding_option(tmp_path: Path) -> None:
    path = write(tmp_path, "City,Value\nMalmö,1\n", encoding="latin-1")
    options = {"dimensions": {"City": "city"}, "value": "Value", "encoding": "latin-1"}
    assert rows_of(path, options)[0]["city"] == "Malmö"


def test_utf8_city_with_non_cp1252_letters(tmp_path: Path) -> None:
    path = write(tmp_path, "City,Value\nPlzeň,1\nČeské Budějovice,2\n")
    rows = rows_of(path, {"dimensions": {"City": "city"}, "value": "Value"})
    assert [r["city"] for r in rows] == ["Plzeň", "České Budějovice"]


def test_bom_is_ignored(tmp_path: Path) -> None:
    plain = rows_of(write(tmp_path, WW_TEXT, "a.csv"), WW_OPTIONS)
    bom = rows_of(write(tmp_path, "\ufeff" + WW_TEXT, "b.csv"), WW_OPTIONS)
    assert bom == plain


def test_quoting_styles_and_line_endings_agree(tmp_path: Path) -> None:
    quoted_lf = (
        '"Country","Substance","2012","2013"\n'
        '"Italy","Cannabis",1.5,"2.5"\n'
        '"Spain, mainland","Cannabis",,3\n'
    )
    minimal_crlf = (
        'Country,Substance,2012,2013\r\nItaly,Cannabis,1.5,2.5\r\n"Spain, mainland",Cannabis,,3\r\n'
    )
    options = {
        "dimensions": {"Country": "country", "Substance": "substance"},
        "melt": {"regex": r"^\d{4}$", "to": "period"},
    }
    a = rows_of(write(tmp_path, quoted_lf, "a.csv"), options)
    b = rows_of(write(tmp_path, minimal_crlf, "b.csv"), options)
    assert a == b
    assert [(r["country"], r["period"], r["value"], r["line"]) for r in a] == [
        ("Italy", "2012", 1.5, 2),
        ("Italy", "2013", 2.5, 2),
        ("Spain, mainland", "2013", 3.0, 3),
    ]


def test_gzip_input(tmp_path: Path) -> None:
    plain = rows_of(write(tmp_path, WW_TEXT, "a.csv"), WW_OPTIONS)
    gz = tmp_path / "a.csv.gz"
    gz.write_bytes(gzip.compress(WW_TEXT.encode("utf-8")))
    assert rows_of(gz, WW_OPTIONS) == plain


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_delimiter_sniffing(tmp_path: Path, delimiter: str) -> None:
    text = WW_TEXT.replace('","', f'"{delimiter}"').replace(",", delimiter)
    plain = rows_of(write(tmp_path, WW_TEXT, "a.csv"), WW_OPTIONS)
    parsed = parse(write(tmp_path, text, "b.csv"), WW_OPTIONS)
    assert parsed.attributes["delimiter"] == delimiter
    assert list(parsed.rows) == plain


def test_explicit_delimiter(tmp_path: Path) -> None:
    # a header with more commas than semicolons, but the file is semicolon separated
    text = "Name, with comma, and more;Value\nA;1\n"
    options = {"dimensions": {"Name, with comma, and more": "name"}, "value": "Value"}
    rows = rows_of(write(tmp_path, text), {**options, "delimiter": ";"})
    assert rows[0]["name"] == "A"


# --- long format, melt to period / measure_column, period handling -------------------------


def test_long_format(tmp_path: Path) -> None:
    text = (
        '"Country","Country code","Survey year","Prevalence (%)","Substance"\n'
        '"Czechia","CZ",2020,29.9,"Cannabis"\n'
        '"Austria","AT",2020,"32.799999999999997","Cannabis"\n'
    )
    options = {
        "dimensions": {"Country code": "geo", "Substance": "substance"},
        "period": "Survey year",
        "value": "Prevalence (%)",
        "ignore": ["Country"],
    }
    parsed = parse(write(tmp_path, text), options)
    assert parsed.dimensions == ["geo", "substance"]
    rows = list(parsed.rows)
    assert [(r["geo"], r["period"], r["value"]) for r in rows] == [
        ("CZ", "2020", 29.9),
        ("AT", "2020", 32.8),
    ]


def test_melt_explicit_columns_to_measure_column(tmp_path: Path) -> None:
    text = (
        '"Country","Survey year","Prevalence (%)","Substance","Sample size","Males (%)"\n'
        '"Czechia",2020,29.9,"Cannabis",2701,38.2\n'
    )
    options = {
        "dimensions": {"Country": "country", "Substance": "substance"},
        "period": "Survey year",
        "melt": {"columns": ["Prevalence (%)", "Males (%)", "Sample size"], "to": "measure_column"},
    }
    parsed = parse(write(tmp_path, text), options)
    assert parsed.dimensions == ["country", "substance", "measure_column"]
    got = {r["measure_column"]: (r["period"], r["value"]) for r in parsed.rows}
    assert got == {
        "prevalence_pct": ("2020", 29.9),
        "males_pct": ("2020", 38.2),
        "sample_size": ("2020", 2701.0),
    }


def test_melt_column_mapping_and_no_slug(tmp_path: Path) -> None:
    text = "Country,A b,C d\nBE,1,2\n"
    mapped = {
        "dimensions": {"Country": "country"},
        "melt": {"columns": {"A b": "first", "C d": "second"}, "to": "measure"},
    }
    assert [r["measure"] for r in rows_of(write(tmp_path, text), mapped)] == ["first", "second"]
    raw = {
        "dimensions": {"Country": "country"},
        "melt": {"columns": ["A b", "C d"], "to": "measure", "slug": False},
    }
    assert [r["measure"] for r in rows_of(write(tmp_path, text), raw)] == ["A b", "C d"]


def test_melt_years_in_the_middle_to_period(tmp_path: Path) -> None:
    text = (
        '"Country","Code","1990","1991","2023","Substance","Recall period","Age"\n'
        '"Austria","AT",,20.1,‒,"Cannabis","Lifetime","All adults (15-64)"\n'
    )
    options = {
        "dimensions": {
            "Country": "country",
            "Code": "country_code",
            "Substance": "substance",
            "Recall period": "recall_period",
            "Age": "age",
        },
        "melt": {"regex": r"^\d{4}$", "to": "period"},
    }
    parsed = parse(write(tmp_path, text), options)
    assert parsed.dimensions == ["country", "country_code", "substance", "recall_period", "age"]
    assert parsed.attributes["value_columns"] == ["1990", "1991", "2023"]
    rows = list(parsed.rows)
    assert len(rows) == 1
    assert rows[0]["period"] == "1991" and rows[0]["age"] == "All adults (15-64)"


def test_per_column_period(tmp_path: Path) -> None:
    text = (
        "City,Current value,Previous value,Current year,Previous year,Change\n"
        "Graz,64.2,60.24,2023,2022,stable\n"
        "Ankara,24.4,,2023,,no previous data\n"
    )
    options = {
        "dimensions": {"City": "city"},
        "period": "Current year",
        "melt": {
            "columns": ["Current value", "Previous value", "Change"],
            "to": "measure_column",
            "period_columns": {"Previous value": "Previous year"},
        },
        "text_values": ["increase", "decrease", "stable", "no previous data"],
    }
    rows = rows_of(write(tmp_path, text), options)
    got = [(r["city"], r["measure_column"], r["period"], r["value"], r["value_text"]) for r in rows]
    assert got == [
        ("Graz", "current_value", "2023", 64.2, None),
        ("Graz", "previous_value", "2022", 60.24, None),
        ("Graz", "change", "2023", None, "stable"),
        ("Ankara", "current_value", "2023", 24.4, None),
        ("Ankara", "change", "2023", None, "no previous data"),
    ]


def test_no_period_and_exponent_numbers(tmp_path: Path) -> None:
    text = (
        '"SiteID","City","Latitude","Longitude","Population","Website"\n'
        '"BE004","Brugge","51.20942","3.2252",3e+05,"N/A"\n'
        '"AT001","Graz","47.07","15.43",425000,"www.example.org"\n'
    )
    options = {
        "dimensions": {"SiteID": "site_id", "City": "city", "Website": "website"},
        "melt": {"columns": ["Latitude", "Longitude", "Population"], "to": "attribute"},
        "dimension_missing": ["N/A"],
    }
    rows = rows_of(write(tmp_path, text), options)
    assert all(r["period"] is None for r in rows)
    brugge = {r["attribute"]: r["value"] for r in rows if r["site_id"] == "BE004"}
    assert brugge == {"latitude": 51.20942, "longitude": 3.2252, "population": 300000.0}
    assert [r["website"] for r in rows if r["attribute"] == "population"] == [
        None,
        "www.example.org",
    ]


def test_missing_period_cell_gives_period_none(tmp_path: Path) -> None:
    text = "Country,Year of survey,Value\nMalta,2013,4.3\nEuropean Union,‒,29.9\n"
    options = {"dimensions": {"Country": "country"}, "period": "Year of survey", "value": "Value"}
    rows = rows_of(write(tmp_path, text), options)
    assert [(r["country"], r["period"]) for r in rows] == [
        ("Malta", "2013"),
        ("European Union", None),
    ]


def test_dimension_values_stripped_and_empty_is_none(tmp_path: Path) -> None:
    text = "Country,Region,Value\n  BE ,,1\n"
    rows = rows_of(
        write(tmp_path, text),
        {"dimensions": {"Country": "geo", "Region": "region"}, "value": "Value"},
    )
    assert rows[0]["geo"] == "BE" and rows[0]["region"] is None


def test_repair_mojibake_option(tmp_path: Path) -> None:
    text = "City,Institution,Value\nPlzeÅˆ,santÃ©,1\n"
    options = {
        "dimensions": {"City": "city", "Institution": "institution"},
        "value": "Value",
        "repair_mojibake": ["city"],
    }
    row = rows_of(write(tmp_path, text), options)[0]
    assert row["city"] == "Plzeň" and row["institution"] == "santÃ©"
    row = rows_of(write(tmp_path, text), {**options, "repair_mojibake": True})[0]
    assert row["institution"] == "santé"


# --- values ---------------------------------------------------------------------------------


def test_text_values_kept(tmp_path: Path) -> None:
    text = "Country,Value\nBE,Y\nBG,2\n"
    options = {"dimensions": {"Country": "geo"}, "value": "Value", "text_values": ["Y"]}
    rows = rows_of(write(tmp_path, text), options)
    assert [(r["value"], r["value_text"]) for r in rows] == [(None, "Y"), (2.0, None)]


@pytest.mark.parametrize("cell", ["Y", '"1,234"', "nan", "inf", "12%", "<0.1"])
def test_non_numeric_value_is_an_error(tmp_path: Path, cell: str) -> None:
    path = write(tmp_path, f"Country,Amount\nBE,1\nBG,{cell}\n")
    parsed = parse(path, {"dimensions": {"Country": "geo"}, "value": "Amount"})
    with pytest.raises(ParseError) as err:
        list(parsed.rows)
    message = str(err.value)
    assert err.value.rule == "non-numeric value"
    assert err.value.line == 3
    assert str(path) in message and "line 3" in message and "'Amount'" in message


# --- structure and layout drift -------------------------------------------------------------


def test_layout_drift_names_missing_and_unexpected(tmp_path: Path) -> None:
    text = WW_HEADER.replace('"City"', '"Town"') + "\n"
    path = write(tmp_path, text)
    with pytest.raises(ParseError) as err:
        parse(path, WW_OPTIONS)  # the header is checked before any row is read
    message = str(err.value)
    assert err.value.rule == "layout drift" and err.value.line == 1
    assert str(path) in message and "layout drift" in message
    assert "missing columns ['City']" in message
    assert "unexpected columns ['Town']" in message


def test_ignore_list_and_optional_ignored_columns(tmp_path: Path) -> None:
    text = "Country,Notes,Value\nBE,x,1\n"
    options: dict[str, Any] = {"dimensions": {"Country": "geo"}, "value": "Value"}
    with pytest.raises(ParseError, match=r"unexpected columns \['Notes'\]"):
        parse(write(tmp_path, text), options)
    rows = rows_of(write(tmp_path, text), {**options, "ignore": ["Notes", "Not there"]})
    assert [r["value"] for r in rows] == [1.0]


def test_regex_matching_nothing_is_drift(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="no column matches melt regex") as err:
        parse(
            write(tmp_path, "Country,Y2012\nBE,1\n"),
            {"dimensions": {"Country": "geo"}, "melt": {"regex": r"^\d{4}$", "to": "period"}},
        )
    assert err.value.rule == "layout drift"


def test_duplicate_header_is_drift(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="duplicate columns"):
        parse(
            write(tmp_path, "Country,Value,Value\nBE,1,2\n"),
            {"dimensions": {"Country": "geo"}, "value": "Value"},
        )


def test_cell_count_mismatch(tmp_path: Path) -> None:
    path = write(tmp_path, "Country,Value\nBE,1\nBG,2,3\n")
    with pytest.raises(ParseError) as err:
        rows_of(path, {"dimensions": {"Country": "geo"}, "value": "Value"})
    assert err.value.rule == "cell count" and err.value.line == 3
    assert "3 cells, header has 2" in str(err.value)


def test_blank_lines_skipped_line_numbers_physical(tmp_path: Path) -> None:
    text = 'Country,Note,Value\nBE,"two\nlines",1\n\n,,\nBG,x,2\n\n\n'
    rows = rows_of(
        write(tmp_path, text),
        {"dimensions": {"Country": "geo", "Note": "note_text"}, "value": "Value"},
    )
    assert [(r["geo"], r["note_text"], r["line"]) for r in rows] == [
        ("BE", "two\nlines", 2),
        ("BG", "x", 6),
    ]


def test_values_without_dimensions_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ParseError) as err:
        rows_of(
            write(tmp_path, "Country,Value\nBE,1\n,2\n"),
            {"dimensions": {"Country": "geo"}, "value": "Value"},
        )
    assert err.value.rule == "missing dimensions" and err.value.line == 3


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="empty file"):
        parse(write(tmp_path, ""), {"dimensions": {"Country": "geo"}, "value": "Value"})


@pytest.mark.parametrize(
    "options",
    [
        {"dimensions": {"Country": "geo"}},  # neither value nor melt
        {"value": "A", "melt": {"columns": ["B"], "to": "x"}},  # both
        {"value": "A", "colour": "red"},  # unknown key
        {"dimensions": {"Country": "Geo Code"}, "value": "A"},  # not snake_case
        {"dimensions": {"Country": "period"}, "value": "A"},  # reserved name
        {"dimensions": {"A": "x", "B": "x"}, "value": "C"},  # duplicate dimension
        {"melt": {"columns": ["A"], "regex": "B", "to": "x"}},  # columns and regex
        {"melt": {"regex": "(", "to": "x"}},  # bad regex
        {"period": "Year", "melt": {"regex": "B", "to": "period"}},
        {"melt": {"columns": ["A"], "to": "x", "period_columns": {"B": "Y"}}},
        {"value": "A", "repair_mojibake": ["nope"]},
    ],
)
def test_invalid_options(tmp_path: Path, options: dict[str, Any]) -> None:
    with pytest.raises(ParseError) as err:
        parse(write(tmp_path, "A,B\n1,2\n"), options)
    assert err.value.rule == "invalid options"


def test_melt_labels_must_be_distinct(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="shared labels"):
        parse(
            write(tmp_path, "Country,Males (%),Males %\nBE,1,2\n"),
            {
                "dimensions": {"Country": "geo"},
                "melt": {"columns": ["Males (%)", "Males %"], "to": "measure"},
            },
        )


def test_rows_are_lazy(tmp_path: Path) -> None:
    path = write(tmp_path, "Country,Value\nBE,1\nBG,bad\n")
    parsed = parse(path, {"dimensions": {"Country": "geo"}, "value": "Value"})
    first = next(parsed.rows)
    assert first["geo"] == "BE"
    with pytest.raises(ParseError):
        next(parsed.rows)


def test_module_exposes_parse() -> None:
    assert callable(tabular_csv.parse)
    assert without_line([{"a": 1, "line": 2}]) == [{"a": 1}]
