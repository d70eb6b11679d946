"""Unit tests for pipelines.trends: the trend tables built from hand-made indicator series.

One build (a DuckDB file under a temporary folder, `meta.init_build` with the real catalogue)
holds `indicators.ind01_organised_crime` with hand-made series and `staging.euda_wastewater`
with hand-made wastewater rows; `build_trends` runs once and every test reads the result.
The expected numbers are computed by hand in the tests; every trends table is then checked
against its real suite in `expectations/`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd
import pytest

from pipelines.catalogue import Catalogue, load_catalogue
from pipelines.checks import validate_frame
from pipelines.indicators import SQL_COLUMNS
from pipelines.meta import init_build
from pipelines.settings import Paths
from pipelines.snapshots import SnapshotStore
from pipelines.stage import create_table, validate_table
from pipelines.trend_tables import TABLES
from pipelines.trends import build_trends

IND01 = "indicators.ind01_organised_crime"
CRIM = "eurostat.crim_off_cat"
SHA = "a" * 64
INDICATOR_COLUMNS = [
    ("indicator_id", "INTEGER"),
    *SQL_COLUMNS,
    ("fetched_at", "TIMESTAMP"),
    ("is_sample", "BOOLEAN"),
    ("value_origin", "VARCHAR"),
]
EU27 = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
]  # fmt: skip

Obs = float | tuple[float, str]  # a value, or (value, flags)


def series(
    geo: str, measure: str, unit: str, points: dict[int, Obs], **extra: Any
) -> list[dict[str, Any]]:
    rows = []
    for period, obs in points.items():
        value, flags = obs if isinstance(obs, tuple) else (obs, None)
        row = {"geo": geo, "measure": measure, "unit": unit, "period": period, "value": value}
        rows.append({**row, "flags": flags, **extra})
    return rows


def create_indicator_table(
    con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]
) -> None:
    """An indicator table with the full column set the engine produces."""
    defaults: dict[str, Any] = {
        "indicator_id": 1,
        "geo_level": "country",
        "substance": None,
        "sex": None,
        "age": None,
        "breakdown": None,
        "value_text": None,
        "flags": None,
        "note": None,
        "source_dataset": CRIM,
        "snapshot_sha256": SHA,
        "source_line": 2,
        "fetched_at": datetime(2024, 5, 1, 10, 0, 0),
        "is_sample": False,
        "value_origin": "published",
    }
    cols = ", ".join(f"{n} {t}" for n, t in INDICATOR_COLUMNS)
    con.execute(f"CREATE OR REPLACE TABLE {table} ({cols})")
    names = [n for n, _ in INDICATOR_COLUMNS]
    frame = pd.DataFrame([{**defaults, **r} for r in rows], columns=names)
    con.register("_rows", frame)
    con.execute(f"INSERT INTO {table} SELECT {', '.join(names)} FROM _rows")
    con.unregister("_rows")


# Hand-made series of indicator 1 (polarity down; homicide is a context measure).
B_FLAG = series(  # Eurostat `b` flag at 2015: a break in series
    "AT", "drug_law_offences", "count",
    {2010: 100, 2011: 102, 2012: 104, 2013: 103, 2014: 105,
     2015: (150, "b"), 2016: 152, 2017: 149, 2018: 151, 2019: 153, 2020: 150},
)  # fmt: skip
JUMP = series(  # an unflagged x10 jump at 2017
    "BE", "drug_law_offences", "count",
    {2012: 100, 2013: 104, 2014: 98, 2015: 102, 2016: 101,
     2017: 1010, 2018: 1040, 2019: 990, 2020: 1020},
)  # fmt: skip
CAGR = series(  # 100 -> 82.5 over 2017-2022
    "FR", "drug_law_offences", "count",
    {2017: 100, 2018: 96, 2019: 93, 2020: 89, 2021: 86, 2022: 82.5},
)  # fmt: skip
PROVISIONAL = series(  # latest value provisional, rising
    "DE", "drug_law_offences", "count",
    {2016: 300, 2017: 310, 2018: 320, 2019: 330, 2020: 340, 2021: 350, 2022: (360, "p")},
)  # fmt: skip
BEFORE_PLAN = series(  # ends before the plan: baseline = latest year before 2021
    "IT", "drug_law_offences", "count", {2014: 50, 2015: 52, 2016: 51, 2017: 53, 2019: 55}
)
AFTER_BASELINE = series("PL", "drug_law_offences", "count", {2021: 70, 2022: 72, 2023: 71})
# EU aggregates on homicide (count) and homicide_rate (rate_of homicide, per 100 000).
HOMICIDE_2020 = {"AT": 100, "BE": 200, "DE": 300, "NO": 1000}  # NO is not a Member State
HOMICIDE_RATE_2020 = {"AT": 10.0, "BE": 20.0, "DE": 5.0, "NO": 50.0}
HOMICIDE_ROWS = (
    [r for g, v in HOMICIDE_2020.items() for r in series(g, "homicide", "count", {2020: v})]
    + [
        r
        for g, v in HOMICIDE_RATE_2020.items()
        for r in series(g, "homicide_rate", "per 100 000 inhabitants", {2020: v})
    ]
    # the publisher's own EU27 figure, shown beside ours
    + series("EU27_2020", "homicide", "count", {2020: 700}, geo_level="aggregate")
    # 2019: all 27 Member States report
    + [r for i, g in enumerate(EU27) for r in series(g, "homicide", "count", {2019: 100 + i})]
)

# Wastewater: (site_id, city, geo, substance, statistic, year, value, flags).
WASTEWATER = [
    ("S1", "Wien", "AT", "cocaine", "daily_mean", 2022, 100.0, None),
    ("S1", "Wien", "AT", "cocaine", "daily_mean", 2023, 110.0, None),  # +10 % exactly: stable
    ("S1", "Wien", "AT", "cocaine", "daily_mean", 2024, 121.5, None),  # +10.45 %: increase
    ("S1", "Wien", "AT", "cocaine", "weekday_mean", 2024, 999.0, None),  # not the daily mean
    ("S2", "Antwerpen", "BE", "cocaine", "daily_mean", 2023, 200.0, None),
    ("S2", "Antwerpen", "BE", "cocaine", "daily_mean", 2024, 179.0, None),  # -10.5 %: decrease
    ("S3", "Oslo", "NO", "cocaine", "daily_mean", 2024, 50.0, None),  # no previous data
    ("S4", "Istanbul", "TR", "cocaine", "daily_mean", 2023, 0.0, "<LOQ"),
    ("S4", "Istanbul", "TR", "cocaine", "daily_mean", 2024, 5.0, None),  # 0 -> positive
    ("S5", "Berlin", "DE", "cocaine", "daily_mean", 2023, 0.0, "<LOQ"),
    ("S5", "Berlin", "DE", "cocaine", "daily_mean", 2024, 0.0, "<LOQ"),  # 0 -> 0: stable
    ("S6", "Sao Paulo", "BR", "cocaine", "daily_mean", 2023, 10.0, None),  # not EU/NO/TR
    ("S6", "Sao Paulo", "BR", "cocaine", "daily_mean", 2024, 30.0, None),
    ("S7", "Paris", "FR", "cocaine", "daily_mean", 2022, 100.0, None),
    ("S7", "Paris", "FR", "cocaine", "daily_mean", 2024, 150.0, None),  # 2023 missing
    ("S8", "Madrid", "ES", "cocaine", "daily_mean", 2023, 10.0, None),
    ("S8", "Madrid", "ES", "cocaine", "daily_mean", 2024, None, None),  # no current value
    ("S1", "Wien", "AT", "mdma", "daily_mean", 2023, 10.0, None),
    ("S1", "Wien", "AT", "mdma", "daily_mean", 2024, 9.0, None),  # -10 % exactly: stable
]


def fill_wastewater(con: duckdb.DuckDBPyConnection, cat: Catalogue) -> None:
    ds = cat.dataset("euda.wastewater")
    create_table(con, ds.table, ds)
    # every build has the site table; empty here, so population_served stays NULL
    sites = cat.dataset("euda.wastewater_sites")
    create_table(con, sites.table, sites)
    for line, (site, city, geo, substance, statistic, year, value, flags) in enumerate(
        WASTEWATER, start=2
    ):
        con.execute(
            f"INSERT INTO {ds.table} (substance, site_id, geo_raw, geo, geo_level, city, "
            "statistic, period, value, flags, line, source_dataset, snapshot_sha256) "
            "VALUES (?, ?, ?, ?, 'country', ?, ?, ?, ?, ?, ?, ?, ?)",
            [substance, site, geo, geo, city, statistic, str(year), value, flags, line, ds.id,
             "b" * 64],
        )  # fmt: skip


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def build(
    cat: Catalogue, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[duckdb.DuckDBPyConnection]:
    folder = tmp_path_factory.mktemp("trends")
    paths = Paths(folder / "data")
    connection = duckdb.connect(str(folder / "build.duckdb"))
    init_build(connection, cat, SnapshotStore(paths.raw_dir), paths)
    rows = B_FLAG + JUMP + CAGR + PROVISIONAL + BEFORE_PLAN + AFTER_BASELINE + HOMICIDE_ROWS
    create_indicator_table(connection, IND01, rows)
    fill_wastewater(connection, cat)
    counts = build_trends(connection, cat)
    yield connection, counts
    connection.close()


@pytest.fixture
def con(build: tuple[duckdb.DuckDBPyConnection, dict[str, int]]) -> duckdb.DuckDBPyConnection:
    return build[0]


def records(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def series_rows(con: duckdb.DuckDBPyConnection, geo: str, measure: str = "drug_law_offences"):
    return records(
        con,
        "SELECT * FROM trends.series WHERE geo = ? AND measure = ? ORDER BY period",
        [geo, measure],
    )


def assessment(con: duckdb.DuckDBPyConnection, geo: str, measure: str = "drug_law_offences"):
    (row,) = records(
        con, "SELECT * FROM trends.assessment WHERE geo = ? AND measure = ?", [geo, measure]
    )
    return row


# -- series, breaks ---------------------------------------------------------------------------
def test_b_flag_splits_the_series_and_no_change_spans_it(con) -> None:
    rows = series_rows(con, "AT")
    assert [r["period"] for r in rows] == list(range(2010, 2021))
    assert [r["segment"] for r in rows] == [1] * 5 + [2] * 6
    assert [r["break_before"] for r in rows] == [False] * 5 + [True] + [False] * 5
    at_2015 = rows[5]
    assert at_2015["flags"] == "b"
    assert at_2015["break_reason"] == "break in series flagged by the publisher (flag 'b')"
    assert at_2015["abs_change"] is None and at_2015["pct_change"] is None
    assert at_2015["previous_period"] is None
    assert at_2015["moving_avg_3"] is None
    assert (rows[6]["previous_period"], rows[6]["abs_change"]) == (2015, 2.0)
    assert rows[7]["moving_avg_3"] == pytest.approx((150 + 152 + 149) / 3)
    assert (rows[4]["previous_period"], rows[4]["abs_change"]) == (2013, 2.0)
    assert rows[4]["pct_change"] == pytest.approx(2 / 103 * 100)
    assert all(r["break_reason"] is None for r in rows if not r["break_before"])

    a = assessment(con, "AT")
    assert (a["segment"], a["first_period"], a["last_period"], a["n_points"]) == (2, 2015, 2020, 6)
    assert a["short_term_start"] == 2015  # the window never reaches back before the break
    assert a["cagr_short_term"] == pytest.approx(((150 / 150) ** (1 / 5) - 1) * 100)
    assert a["mk_n"] == 6
    assert "series split at break(s); assessed from 2015 (segment 2)" in a["notes"]
    assert a["series_rows"] == 11
    # A `b` flag is a publisher break, not a suspected one.
    assert records(con, "SELECT * FROM trends.suspected_breaks WHERE geo = 'AT'") == []


def test_unflagged_tenfold_jump_is_a_suspected_break_and_splits_the_series(con) -> None:
    (brk,) = records(
        con,
        "SELECT * FROM trends.suspected_breaks WHERE geo = 'BE' AND measure = 'drug_law_offences'",
    )
    assert (brk["period"], brk["previous_period"]) == (2017, 2016)
    assert brk["ratio"] == pytest.approx(1010 / 101)
    assert brk["kind"] == "level_shift" and brk["treated_as_break"] is True
    assert brk["measure"] == "drug_law_offences" and brk["unit"] == "count"
    assert "101 (2016) -> 1010 (2017)" in brk["reason"]
    # the only jump in the hand-made data
    assert con.execute("SELECT geo, measure, period FROM trends.suspected_breaks").fetchall() == [
        ("BE", "drug_law_offences", 2017)
    ]

    rows = series_rows(con, "BE")
    split = [r for r in rows if r["break_before"]]
    assert [r["period"] for r in split] == [2017]
    assert split[0]["break_reason"].startswith("suspected break: level_shift")
    assert split[0]["abs_change"] is None
    assert [r["segment"] for r in rows] == [1] * 5 + [2] * 4

    a = assessment(con, "BE")
    assert (a["first_period"], a["segment"], a["n_points"]) == (2017, 2, 4)
    assert a["baseline_period"] == 2020 and a["baseline_value"] == 1020
    assert a["mk_trend"] == "insufficient data"  # 4 points in the latest segment
    assert a["direction"] == "insufficient data"
    # 2017..2020 spans the 3 years the short term needs, inside the new segment only
    assert (a["short_term_start"], a["short_term_end"]) == (2017, 2020)
    assert a["cagr_short_term"] == pytest.approx(((1020 / 1010) ** (1 / 3) - 1) * 100)
    assert a["class_short_term"] == "moderate movement away"  # +0.33 %/yr, lower is better


def test_cagr_class_and_baseline_for_a_hand_computed_series(con) -> None:
    a = assessment(con, "FR")
    expected_cagr = ((82.5 / 100) ** (1 / 5) - 1) * 100
    assert round(expected_cagr, 2) == -3.77
    assert a["polarity"] == "down"
    assert (a["short_term_start"], a["short_term_end"]) == (2017, 2022)
    assert a["cagr_short_term"] == pytest.approx(expected_cagr)
    assert a["class_short_term"] == "significant progress"  # falling, and lower is better
    # 5 years < the 10 the long term needs
    assert (a["long_term_start"], a["cagr_long_term"]) == (None, None)
    assert a["class_long_term"] == "insufficient data"
    assert (a["baseline_period"], a["baseline_value"]) == (2020, 89.0)
    assert (a["latest_period"], a["latest_value"]) == (2022, 82.5)
    assert a["change_since_baseline"] == pytest.approx(-6.5)
    assert a["change_since_baseline_pct"] == pytest.approx(-6.5 / 89 * 100)
    assert a["mk_trend"] == "decreasing" and a["direction"] == "improving"
    assert a["sen_slope"] == pytest.approx(-3.5)  # median of the pairwise slopes
    assert a["notes"] is None
    assert a["method"].startswith("Eurostat SDG monitoring")
    assert a["source_dataset"] == CRIM


def test_provisional_latest_value_is_noted(con) -> None:
    a = assessment(con, "DE")
    assert a["latest_flags"] == "p"
    assert a["notes"] == "latest value flagged 'p' (provisional)"
    expected = ((360 / 310) ** (1 / 5) - 1) * 100  # window 2017..2022
    assert a["cagr_short_term"] == pytest.approx(expected)
    assert a["class_short_term"] == "significant movement away"  # rising, lower is better
    assert a["direction"] == "worsening"
    assert a["change_since_baseline"] == pytest.approx(20.0)


def test_baseline_falls_back_to_the_latest_year_before_the_plan_or_is_absent(con) -> None:
    before = assessment(con, "IT")
    assert (before["baseline_period"], before["baseline_value"]) == (2019, 55.0)
    assert before["change_since_baseline"] == 0.0
    after = assessment(con, "PL")
    assert after["baseline_period"] is None and after["change_since_baseline"] is None
    assert "no baseline: the latest segment starts after the plan's baseline" in after["notes"]


def test_context_measures_are_not_judged(con) -> None:
    a = assessment(con, "AT", "homicide")
    assert a["polarity"] == "context"
    assert a["class_short_term"] == a["class_long_term"] == a["direction"] == "not assessed"


# -- EU aggregates ----------------------------------------------------------------------------
def test_eu_sum_of_counts_names_reporting_and_missing_member_states(con) -> None:
    (row,) = records(
        con,
        "SELECT * FROM trends.eu_aggregates WHERE measure = 'homicide' AND period = 2020",
    )
    assert row["geo"] == "EU27_2020" and row["value_origin"] == "computed"
    assert row["value"] == 600.0  # AT + BE + DE; Norway is not summed
    assert (row["reporting_member_states"], row["member_states"]) == (3, 27)
    assert row["complete"] is False
    assert row["missing_member_states"] == [g for g in EU27 if g not in ("AT", "BE", "DE")]
    assert row["published_value"] == 700.0
    assert row["method"] == "sum of Member State values"
    assert row["source_datasets"] == [CRIM]

    (full,) = records(
        con,
        "SELECT * FROM trends.eu_aggregates WHERE measure = 'homicide' AND period = 2019",
    )
    assert full["value"] == sum(100 + i for i in range(27))
    assert full["complete"] is True and full["missing_member_states"] == []
    assert full["published_value"] is None


def test_eu_rate_is_weighted_by_the_implied_population(con) -> None:
    (row,) = records(
        con,
        "SELECT * FROM trends.eu_aggregates WHERE measure = 'homicide_rate' AND period = 2020",
    )
    # population = count / rate * 100 000: AT 1 000 000, BE 1 000 000, DE 6 000 000
    populations = {"AT": 100 / 10 * 1e5, "BE": 200 / 20 * 1e5, "DE": 300 / 5 * 1e5}
    expected = (100 + 200 + 300) / sum(populations.values()) * 1e5
    assert expected == pytest.approx(7.5)
    assert row["value"] == pytest.approx(expected)
    assert row["value"] != pytest.approx((10 + 20 + 5) / 3)  # not the plain mean
    assert row["reporting_member_states"] == 3
    assert row["unit"] == "per 100 000 inhabitants"
    assert row["method"].startswith("population-weighted mean of Member State rates")


# -- wastewater -------------------------------------------------------------------------------
def test_wastewater_city_change_against_the_campaign_one_year_earlier(con) -> None:
    rows = {
        (r["site_id"], r["substance"], r["year"]): r
        for r in records(con, "SELECT * FROM trends.wastewater_city_change")
    }
    got = {k: (r["previous_year"], r["previous_value"], r["change_class"]) for k, r in rows.items()}
    assert got == {
        ("S1", "cocaine", 2022): (None, None, "no previous data"),
        ("S1", "cocaine", 2023): (2022, 100.0, "stable"),
        ("S1", "cocaine", 2024): (2023, 110.0, "increase"),
        ("S2", "cocaine", 2023): (None, None, "no previous data"),
        ("S2", "cocaine", 2024): (2023, 200.0, "decrease"),
        ("S3", "cocaine", 2024): (None, None, "no previous data"),
        ("S4", "cocaine", 2023): (None, None, "no previous data"),
        ("S4", "cocaine", 2024): (2023, 0.0, "increase"),
        ("S5", "cocaine", 2023): (None, None, "no previous data"),
        ("S5", "cocaine", 2024): (2023, 0.0, "stable"),
        ("S7", "cocaine", 2022): (None, None, "no previous data"),
        ("S7", "cocaine", 2024): (None, None, "no previous data"),  # 2023 absent: no bridging
        ("S8", "cocaine", 2023): (None, None, "no previous data"),
        ("S1", "mdma", 2023): (None, None, "no previous data"),
        ("S1", "mdma", 2024): (2023, 10.0, "stable"),
    }
    assert rows[("S1", "cocaine", 2023)]["change_pct"] == pytest.approx(10.0)
    assert rows[("S1", "cocaine", 2024)]["change_pct"] == pytest.approx((121.5 - 110) / 110 * 100)
    assert rows[("S2", "cocaine", 2024)]["change_pct"] == pytest.approx(-10.5)
    assert rows[("S1", "mdma", 2024)]["change_pct"] == pytest.approx(-10.0)
    assert rows[("S4", "cocaine", 2024)]["change_pct"] is None  # from below LOQ: no finite %
    assert rows[("S5", "cocaine", 2024)]["change_pct"] is None
    assert rows[("S5", "cocaine", 2024)]["flags"] == "<LOQ"
    assert rows[("S1", "cocaine", 2024)]["value"] == 121.5  # the daily mean, not weekday
    countries = {r["site_id"]: r["country"] for r in rows.values()}
    assert countries["S3"] == "NO" and countries["S4"] == "TR"
    assert "S6" not in countries  # Brazil is outside the EU27 + NO + TR
    assert {r["city"] for r in rows.values() if r["site_id"] == "S1"} == {"Wien"}


def test_wastewater_city_counts_sum_the_classes(con) -> None:
    got = {
        (r["substance"], r["year"]): (
            r["cities_increase"],
            r["cities_stable"],
            r["cities_decrease"],
            r["cities_no_previous_data"],
            r["cities"],
        )
        for r in records(con, "SELECT * FROM trends.wastewater_city_counts")
    }
    assert got == {
        ("cocaine", 2022): (0, 0, 0, 2, 2),
        ("cocaine", 2023): (0, 1, 0, 4, 5),
        ("cocaine", 2024): (2, 1, 1, 2, 6),
        ("mdma", 2023): (0, 0, 0, 1, 1),
        ("mdma", 2024): (0, 1, 0, 0, 1),
    }
    for inc, stable, dec, nop, cities in got.values():
        assert inc + stable + dec + nop == cities


# -- the suites -------------------------------------------------------------------------------
def test_build_trends_counts_match_the_tables(build) -> None:
    con, counts = build
    for table in TABLES:
        n = con.execute(f"SELECT count(*) FROM trends.{table.name}").fetchone()[0]
        assert counts[table.name] == n, table.name
        assert n > 0, table.name


@pytest.mark.parametrize("table", [t.name for t in TABLES])
def test_every_trends_table_passes_its_real_suite(con, table: str) -> None:
    report = validate_table(con, f"trends.{table}", f"trends.{table}")
    assert report.success, report.summary()
    assert report.rows > 0 and report.evaluated > 0


def test_a_class_contradicting_the_cagr_fails_the_assessment_suite(con) -> None:
    df = con.execute("SELECT * FROM trends.assessment").df()
    fr = df.index[(df["geo"] == "FR") & (df["measure"] == "drug_law_offences")]
    df.loc[fr, "class_short_term"] = "moderate movement away"  # CAGR -3.77 %, polarity down

    report = validate_frame(df, "trends.assessment", "trends.assessment")

    assert not report.success
    rules = [f.rule for f in report.failures]
    assert rules == [
        "short_term: class consistent with the CAGR (significant progress, polarity down)"
    ]
    assert report.failures[0].sample_rows[0]["geo"] == "FR"


def test_a_change_across_a_break_fails_the_series_suite(con) -> None:
    df = con.execute("SELECT * FROM trends.series").df()
    at = df.index[
        (df["geo"] == "AT") & (df["period"] == 2015) & (df["measure"] == "drug_law_offences")
    ]
    df.loc[at, "abs_change"] = 45.0
    report = validate_frame(df, "trends.series", "trends.series")
    assert [f.rule for f in report.failures] == ["no change computed across a break"]


def test_a_class_outside_the_band_fails_the_wastewater_suite(con) -> None:
    df = con.execute("SELECT * FROM trends.wastewater_city_change").df()
    s1 = df.index[(df["site_id"] == "S1") & (df["substance"] == "cocaine") & (df["year"] == 2024)]
    df.loc[s1, "change_class"] = "stable"  # +10.45 %
    report = validate_frame(df, "trends.wastewater_city_change", "trends.wastewater_city_change")
    assert [f.rule for f in report.failures] == ["more than +10 % is an increase"]


def test_series_of_all_sources_are_assessed_once(con) -> None:
    ids = [r[0] for r in con.execute("SELECT series_id FROM trends.assessment").fetchall()]
    assert len(ids) == len(set(ids))
    n_series = con.execute("SELECT count(DISTINCT series_id) FROM trends.series").fetchone()[0]
    assert len(ids) == n_series
    assert not any(
        math.isnan(v) for (v,) in con.execute("SELECT value FROM trends.series").fetchall()
    )


def test_a_failed_build_leaves_the_trend_tables_as_they_were(cat: Catalogue, tmp_path: Any) -> None:
    connection = duckdb.connect(str(tmp_path / "build.duckdb"))
    init_build(connection, cat, SnapshotStore(Paths(tmp_path / "data").raw_dir), Paths(tmp_path))
    create_indicator_table(connection, IND01, B_FLAG + CAGR)
    fill_wastewater(connection, cat)
    build_trends(connection, cat)
    before = connection.execute("SELECT * FROM trends.series ORDER BY ALL").fetchall()
    # FR 2019 twice: an indicator table must hold one value per series key and period
    create_indicator_table(connection, IND01, B_FLAG + CAGR + CAGR[2:3])
    with pytest.raises(ValueError, match=r"drug_law_offences\|FR.* more than one value for"):
        build_trends(connection, cat)
    after = connection.execute("SELECT * FROM trends.series ORDER BY ALL").fetchall()
    assert after == before
    assert len(after) == len(B_FLAG) + len(CAGR)
    connection.close()
