"""Unit tests for pipelines.coverage: meta.coverage, meta.substances, meta.headline_comparison.

A small hand-made build: a DuckDB file under tmp_path after `meta.init_build` with the real
catalogue, and indicator tables (the engine's full column set) holding a few observations.
The headline comparisons are the real ones of assets/reference/headline_checks.yaml.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
import yaml

from pipelines.catalogue import Catalogue, load_catalogue
from pipelines.coverage import (
    build_coverage,
    build_headline_comparison,
    build_substances,
    compare,
    headline_discrepancies,
)
from pipelines.indicators import SQL_COLUMNS
from pipelines.meta import init_build
from pipelines.settings import ASSETS_DIR, Paths
from pipelines.snapshots import SnapshotStore

INDICATOR_COLUMNS = [
    ("indicator_id", "INTEGER"),
    *SQL_COLUMNS,
    ("fetched_at", "TIMESTAMP"),
    ("is_sample", "BOOLEAN"),
    ("value_origin", "VARCHAR"),
]
HEADLINES = "curated.eu_headlines"
BULLETIN = "euda.bulletin"


def obs(measure: str, geo: str, period: int, value: float | None, **extra: Any) -> dict:
    return {"measure": measure, "geo": geo, "period": period, "value": value, **extra}


def create_indicator_table(
    con: duckdb.DuckDBPyConnection, number: int, table: str, rows: list[dict[str, Any]]
) -> None:
    defaults: dict[str, Any] = {
        "indicator_id": number,
        "geo_level": "country",
        "substance": None,
        "sex": None,
        "age": None,
        "breakdown": None,
        "value_text": None,
        "unit": "count",
        "flags": None,
        "note": None,
        "source_dataset": "eurostat.crim_off_cat",
        "snapshot_sha256": "a" * 64,
        "source_line": 2,
        "fetched_at": datetime(2024, 5, 1),
        "is_sample": False,
        "value_origin": "published",
    }
    names = [n for n, _ in INDICATOR_COLUMNS]
    con.execute(
        f"CREATE OR REPLACE TABLE {table} ({', '.join(f'{n} {t}' for n, t in INDICATOR_COLUMNS)})"
    )
    con.register("_rows", pd.DataFrame([{**defaults, **r} for r in rows], columns=names))
    con.execute(f"INSERT INTO {table} SELECT {', '.join(names)} FROM _rows")
    con.unregister("_rows")


IND01 = [
    obs("drug_law_offences", "AT", 2020, 10.0),
    obs("drug_law_offences_rate", "AT", 2020, 0.11, unit="per 100 000 inhabitants"),
    obs("drug_law_offences_by_drug", "AT", 2020, 5.0, breakdown="Cannabis > Use",
        source_dataset=BULLETIN, substance="Cannabis"),
    obs("drug_law_offences", "AT", 2021, None, flags="c"),
    obs("drug_law_offences", "AT13", 2020, 3.0, geo_level="region"),
]  # fmt: skip
IND04 = [
    # 2021: three Member States against the headline: 211.3 vs 303 -> -30.26 %, outside 10 %
    obs("cocaine_seized_tonnes", "EU27_2020", 2021, 303.0, geo_level="aggregate",
        source_dataset=HEADLINES, unit="tonnes", substance="cocaine"),
    obs("cocaine_seized_tonnes", "BE", 2021, 89.5, unit="tonnes", substance="cocaine"),
    obs("cocaine_seized_tonnes", "ES", 2021, 49.0, unit="tonnes", substance="cocaine"),
    obs("cocaine_seized_tonnes", "NL", 2021, 72.8, unit="tonnes", substance="cocaine"),
    # 2022: 300 vs 323 -> -7.12 %, within; Norway is not summed
    obs("cocaine_seized_tonnes", "EU27_2020", 2022, 323.0, geo_level="aggregate",
        source_dataset=HEADLINES, unit="tonnes", substance="cocaine"),
    obs("cocaine_seized_tonnes", "BE", 2022, 110.0, unit="tonnes", substance="cocaine"),
    obs("cocaine_seized_tonnes", "ES", 2022, 140.0, unit="tonnes", substance="cocaine"),
    obs("cocaine_seized_tonnes", "NL", 2022, 50.0, unit="tonnes", substance="cocaine"),
    obs("cocaine_seized_tonnes", "NO", 2022, 20.0, unit="tonnes", substance="cocaine"),
    # 2023: 333.3 vs 303 is +10 % on paper (10.000000000000004 in floating point): within
    obs("cocaine_seized_tonnes", "EU27_2020", 2023, 303.0, geo_level="aggregate",
        source_dataset=HEADLINES, unit="tonnes", substance="cocaine"),
    obs("cocaine_seized_tonnes", "BE", 2023, 333.3, unit="tonnes", substance="cocaine"),
    # 2024: a headline of 0: no percentage, never "within tolerance"
    obs("cocaine_seized_tonnes", "EU27_2020", 2024, 0.0, geo_level="aggregate",
        source_dataset=HEADLINES, unit="tonnes", substance="cocaine"),
    obs("cocaine_seized_tonnes", "BE", 2024, 5.0, unit="tonnes", substance="cocaine"),
    # 2019: countries only, no headline: nothing to compare
    obs("cocaine_seized_tonnes", "BE", 2019, 50.0, unit="tonnes", substance="cocaine"),
    obs("khat_seized_kg", "BE", 2021, 7.0, unit="kg", substance="khat"),
]  # fmt: skip
IND09 = [
    obs("drug_induced_deaths_eu_headline", "EU27_2020", 2021, 6166.0, geo_level="aggregate",
        source_dataset=HEADLINES),
    obs("drug_induced_deaths", "DE", 2021, 1500.0, sex="male", source_dataset=BULLETIN),
    obs("drug_induced_deaths", "DE", 2021, 400.0, sex="female", source_dataset=BULLETIN),
    obs("drug_induced_deaths", "FR", 2021, 300.0, sex="male", source_dataset=BULLETIN),
    # excluded by the comparison's filter: a total, and an age group
    obs("drug_induced_deaths", "FR", 2021, 999.0, sex="total", source_dataset=BULLETIN),
    obs("drug_induced_deaths", "DE", 2021, 10.0, sex="male", age="15-19",
        source_dataset=BULLETIN),
    obs("deaths_drug_dependence", "AT", 2021, 200.0, sex="total", age="total",
        source_dataset="eurostat.hlth_cd_aro"),
    obs("deaths_drug_dependence", "IT", 2021, 300.0, sex="total", age="total",
        source_dataset="eurostat.hlth_cd_aro"),
    obs("deaths_drug_dependence", "IT", 2021, 250.0, sex="male", age="total",
        source_dataset="eurostat.hlth_cd_aro"),
    # an age band of a full hlth_cd_aro file must not be added to the total
    obs("deaths_drug_dependence", "IT", 2021, 40.0, sex="total", age="Y15-19",
        source_dataset="eurostat.hlth_cd_aro"),
]  # fmt: skip


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


@pytest.fixture
def con(cat: Catalogue, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    paths = Paths(tmp_path / "data")
    connection = duckdb.connect(str(tmp_path / "build.duckdb"))
    init_build(connection, cat, SnapshotStore(paths.raw_dir), paths)
    create_indicator_table(connection, 1, cat.indicators[1].table, IND01)
    create_indicator_table(connection, 4, cat.indicators[4].table, IND04)
    create_indicator_table(connection, 9, cat.indicators[9].table, IND09)
    yield connection
    connection.close()


def records(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_coverage_lists_measures_and_sources_per_indicator_geo_and_period(con) -> None:
    n = build_coverage(con)
    rows = records(con, "SELECT * FROM meta.coverage WHERE indicator_id = 1")
    assert [(r["geo"], r["period"]) for r in rows] == [("AT", 2020), ("AT", 2021), ("AT13", 2020)]
    at_2020, at_2021, region = rows
    assert at_2020["indicator"] == "organised_crime"
    assert (at_2020["geo_name"], at_2020["eu27"]) == ("Austria", True)
    assert at_2020["measures"] == [
        "drug_law_offences",
        "drug_law_offences_by_drug",
        "drug_law_offences_rate",
    ]
    assert at_2020["sources"] == [BULLETIN, "eurostat.crim_off_cat"]
    assert at_2020["numeric_values"] == 3
    assert (at_2021["measures"], at_2021["numeric_values"]) == (["drug_law_offences"], 0)
    # NUTS regions come from the GEO code list too; only Member States count as eu27
    assert (region["geo_name"], region["eu27"]) == ("Wien", False)
    total = con.execute("SELECT count(*) FROM meta.coverage").fetchone()[0]
    assert n == total
    expected = con.execute(
        "SELECT count(*) FROM (SELECT DISTINCT indicator_id, geo, period FROM ("
        "SELECT indicator_id, geo, period FROM indicators.ind01_organised_crime UNION ALL "
        "SELECT indicator_id, geo, period FROM indicators.ind04_seizures UNION ALL "
        "SELECT indicator_id, geo, period FROM indicators.ind09_morbidity_mortality))"
    ).fetchone()[0]
    assert total == expected


def test_coverage_of_a_build_without_indicator_tables_is_empty(
    cat: Catalogue, tmp_path: Path
) -> None:
    paths = Paths(tmp_path / "empty")
    con = duckdb.connect(str(tmp_path / "empty.duckdb"))
    try:
        init_build(con, cat, SnapshotStore(paths.raw_dir), paths)
        assert build_coverage(con) == 0
        assert build_substances(con, cat) == 0
        assert con.execute("SELECT count(*) FROM meta.substances").fetchone() == (0,)
    finally:
        con.close()


def test_substances_are_labelled_from_the_reference_list(con, cat: Catalogue) -> None:
    n = build_substances(con, cat)
    rows = {r["substance"]: r for r in records(con, "SELECT * FROM meta.substances")}
    assert n == len(rows) == 3
    assert rows["cocaine"]["label"] == "Cocaine"
    assert rows["cocaine"]["wastewater_marker"] == "benzoylecgonine"
    assert rows["cocaine"]["indicators"] == [4]
    assert rows["cocaine"]["observations"] == 14
    assert rows["Cannabis"]["label"] == "Cannabis"  # matched case-insensitively
    assert rows["Cannabis"]["indicators"] == [1]
    assert (rows["khat"]["label"], rows["khat"]["wastewater_marker"]) == (None, None)


def headline_rows(con) -> dict[tuple, dict[str, Any]]:
    rows = records(con, "SELECT * FROM meta.headline_comparison")
    return {(r["measure"], r["geo"], r["period"]): r for r in rows}


def test_every_headline_figure_is_listed_and_only_like_with_like_is_compared(
    cat: Catalogue, con
) -> None:
    config = yaml.safe_load((ASSETS_DIR / "reference" / "headline_checks.yaml").read_text())
    assert config["tolerance_pct"] == 10  # the numbers below are classed with it

    out = build_headline_comparison(con, cat)

    got = headline_rows(con)
    assert len(got) == len(out)
    # every aggregate figure of the curated dataset, none of its country rows or other sources
    assert set(got) == {
        ("cocaine_seized_tonnes", "EU27_2020", 2021),
        ("cocaine_seized_tonnes", "EU27_2020", 2022),
        ("cocaine_seized_tonnes", "EU27_2020", 2023),
        ("cocaine_seized_tonnes", "EU27_2020", 2024),
        ("drug_induced_deaths_eu_headline", "EU27_2020", 2021),
    }
    # three Member States are not the EU27: shown with the partial sum, never compared
    c21 = got[("cocaine_seized_tonnes", "EU27_2020", 2021)]
    assert c21["status"] == "no counterpart value"
    assert (c21["published_value"], c21["reporting_member_states"]) == (303.0, 3)
    assert c21["counterpart_value"] == pytest.approx(89.5 + 49.0 + 72.8)
    assert c21["difference_pct"] is None
    assert "only 3 of 27 Member States report 2021" in c21["reason"]
    c22 = got[("cocaine_seized_tonnes", "EU27_2020", 2022)]
    assert (c22["counterpart_value"], c22["reporting_member_states"]) == (300.0, 3)  # not NO
    # deaths: the Eurostat series of another definition is no longer a counterpart
    deaths = got[("drug_induced_deaths_eu_headline", "EU27_2020", 2021)]
    assert deaths["counterpart_measure"] == "drug_induced_deaths"
    assert (deaths["counterpart_value"], deaths["reporting_member_states"]) == (2200.0, 2)
    assert deaths["status"] == "no counterpart value"
    assert headline_discrepancies(out) == []


def complete_cocaine(headline: float, each: float, year: int = 2022) -> list[dict[str, Any]]:
    states = con_states()
    return [
        obs("cocaine_seized_tonnes", "EU27_2020", year, headline, geo_level="aggregate",
            source_dataset=HEADLINES, unit="tonnes", substance="cocaine"),
        *[obs("cocaine_seized_tonnes", g, year, each, unit="tonnes", substance="cocaine")
          for g in states],
    ]  # fmt: skip


def con_states() -> list[str]:
    return [g.code for g in load_catalogue().geo if g.eu27]


NPS = [
    obs("nps_notified_first_time", "EU_EWS", 2021, 52.0, geo_level="aggregate",
        source_dataset=HEADLINES, unit="substances"),
    obs("nps_first_notified_all_categories", "EU_EWS", 2021, 52.0, geo_level="aggregate",
        source_dataset="euda.edr", unit="substances"),
    obs("nps_notified_first_time", "EU_EWS", 2022, 41.0, geo_level="aggregate",
        source_dataset=HEADLINES, unit="substances"),
    obs("nps_first_notified_all_categories", "EU_EWS", 2022, 61.0, geo_level="aggregate",
        source_dataset="euda.edr", unit="substances"),
    obs("nps_notified_first_time", "EU_EWS", 2024, 47.0, geo_level="aggregate",
        source_dataset=HEADLINES, unit="substances"),
    obs("nps_monitored_total", "EU_EWS", 2022, 930.0, geo_level="aggregate",
        source_dataset=HEADLINES, unit="substances"),
]  # fmt: skip


def test_a_planted_discrepancy_of_like_with_like_fires_the_check(cat: Catalogue, con) -> None:
    create_indicator_table(con, 5, cat.indicators[5].table, NPS)
    # all 27 Member States: 27 x 12 = 324 against 323 agrees; 2023: 27 x 20 = 540 vs 419 differs
    create_indicator_table(
        con,
        4,
        cat.indicators[4].table,
        complete_cocaine(323.0, 12.0, 2022) + complete_cocaine(419.0, 20.0, 2023),
    )
    deaths = [
        obs("drug_induced_deaths_eu_headline", "EU27_2020", 2021, 6100.0, flags=">",
            geo_level="aggregate", source_dataset=HEADLINES),
        *[obs("drug_induced_deaths", g, 2021, 300.0, sex="male", source_dataset=BULLETIN)
          for g in con_states()],
    ]  # fmt: skip
    create_indicator_table(con, 9, cat.indicators[9].table, deaths)

    out = build_headline_comparison(con, cat)
    got = headline_rows(con)

    assert got[("nps_notified_first_time", "EU_EWS", 2021)]["status"] == "agrees"
    planted = got[("nps_notified_first_time", "EU_EWS", 2022)]
    assert (planted["status"], planted["counterpart_value"]) == ("differs", 61.0)
    assert planted["difference_pct"] == pytest.approx((61 - 41) / 41 * 100)
    assert got[("nps_notified_first_time", "EU_EWS", 2024)]["status"] == "no counterpart value"
    monitored = got[("nps_monitored_total", "EU_EWS", 2022)]
    assert monitored["status"] == "not comparable" and monitored["counterpart_value"] is None
    assert monitored["reason"].startswith("no source in the warehouse")
    assert got[("cocaine_seized_tonnes", "EU27_2020", 2022)]["status"] == "agrees"
    cocaine23 = got[("cocaine_seized_tonnes", "EU27_2020", 2023)]
    assert (cocaine23["status"], cocaine23["reporting_member_states"]) == ("differs", 27)
    # '>6,100' is a lower bound: 27 x 300 = 8,100 is more than it, no contradiction
    more_than = got[("drug_induced_deaths_eu_headline", "EU27_2020", 2021)]
    assert (more_than["qualifier"], more_than["status"]) == (">", "agrees")

    fired = headline_discrepancies(out)
    assert {(r["measure"], r["period"]) for r in fired} == {
        ("nps_notified_first_time", 2022),
        ("cocaine_seized_tonnes", 2023),
    }


def test_a_lower_bound_is_contradicted_only_from_below() -> None:
    assert compare(6100.0, ">", 9000.0, 10.0) == "agrees"
    assert compare(6100.0, ">", 5490.0, 10.0) == "agrees"  # exactly -10 %
    assert compare(6100.0, ">", 5400.0, 10.0) == "differs"
    assert compare(6400.0, "~", 7400.0, 10.0) == "differs"
    assert compare(303.0, None, 333.3, 10.0) == "agrees"  # +10 % on paper, float noise
    assert compare(0.0, None, 5.0, 10.0) == "differs"
