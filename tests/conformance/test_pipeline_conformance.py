"""The whole pipeline on REAL publisher files: the issue's acceptance figures.

The real files in ../shared/upstream are registered with `Fetcher.load_file` (what
`eudap load` does) into a temporary snapshot store, then ONE offline run builds and
publishes the warehouse (module-scoped: every test below only reads it). Datasets without a
real file are simply `missing` in that release; that is not what these tests look at.

Expected figures come from the files themselves (read here with csv / python-calamine,
independently of the parsers) or from the issue's acceptance list.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import DagsterInstance
from python_calamine import CalamineWorkbook

from pipelines.catalogue import load_catalogue
from pipelines.cli import RunReport, execute, main
from pipelines.fetch import Fetcher
from pipelines.settings import Paths
from pipelines.snapshots import SnapshotStore

pytestmark = pytest.mark.conformance

BULLETIN = "emcdda_statistical_bulletin_2019"
CRIM_OFF_CAT = "eurostat/estat_crim_off_cat.tsv"
EDR = "euda_edr2024"
GPS_CURRENT = f"{EDR}/edr2024-gps-current-table-1.csv"
WASTEWATER = "euda_wastewater/ww2025-all-data.csv"
WASTEWATER_SITES = "euda_wastewater/ww2025-site-info-table.csv"


class Built:
    """The published warehouse of the one conformance run, and its report."""

    def __init__(self, data_dir: Path, report: RunReport, loaded: dict[str, Any]):
        self.data_dir = data_dir
        self.report = report
        self.loaded = loaded
        self.con = duckdb.connect(str(Paths(data_dir).published_warehouse), read_only=True)

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params or []).fetchall()

    def one(self, sql: str, params: list[Any] | None = None) -> tuple[Any, ...]:
        found = self.rows(sql, params)
        assert len(found) == 1, f"expected exactly one row, got {len(found)}: {found[:5]}\n{sql}"
        return found[0]


@pytest.fixture(scope="module")
def built(upstream_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    data_dir = tmp_path_factory.mktemp("conformance_store")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(tmp_path_factory.mktemp("dagster_home")))
        mp.delenv("EUDAP_MIRROR", raising=False)
        mp.setenv("EUDAP_DATA_DIR", str(data_dir))
        cat = load_catalogue()
        fetcher = Fetcher(SnapshotStore(Paths(data_dir).raw_dir))
        loaded: dict[str, Any] = {}
        for ds_id, rel in [
            ("eurostat.crim_off_cat", CRIM_OFF_CAT),
            ("euda.wastewater", WASTEWATER),
            ("euda.wastewater_sites", WASTEWATER_SITES),
        ]:
            outcome = fetcher.load_file(cat.dataset(ds_id), upstream_dir / rel)
            assert outcome.status == "new", (ds_id, outcome)
            loaded[ds_id] = outcome.snapshot
        bulletin = sorted((upstream_dir / BULLETIN).glob("*.xlsx"))
        assert len(bulletin) == 76
        loaded["euda.bulletin"] = {
            p.name: fetcher.load_file(cat.dataset("euda.bulletin"), p).snapshot for p in bulletin
        }
        # every EDR 2024 table through `eudap load euda.edr FILE`, as a person would
        edr = sorted((upstream_dir / EDR).glob("*.csv"))
        assert len(edr) == 116
        for path in edr:
            assert main(["load", "euda.edr", str(path)]) == 0, path
        loaded["euda.edr"] = edr
        instance = DagsterInstance.ephemeral()
        try:
            report = execute("offline", offline=True, data_dir=data_dir, instance=instance)
        finally:
            instance.dispose()
    b = Built(data_dir, report, loaded)
    yield b
    b.con.close()


def test_the_release_is_published_from_the_real_files(built: Built) -> None:
    assert built.report.published, built.report.problems
    assert not built.report.failed_steps, built.report.failed_steps
    assert not built.report.failed_checks, built.report.failed_checks
    for ds_id in (
        "eurostat.crim_off_cat",
        "euda.bulletin",
        "euda.edr",
        "euda.wastewater",
        "euda.wastewater_sites",
    ):
        info = built.report.datasets[ds_id]
        assert info["state"] == "fresh", (ds_id, info)
        assert info["rows"] > 0, ds_id
        assert not info["sample"], f"{ds_id}: real files must not be marked as sample data"


# ---------------------------------------------------------------------- Eurostat crim_off_cat
def test_crim_off_cat_austria_drug_offences_2022(built: Built, upstream_dir: Path) -> None:
    # independently of the parser: the AT line of the TSV, column 2022
    lines = (upstream_dir / CRIM_OFF_CAT).read_text(encoding="utf-8").splitlines()
    periods = [p.strip() for p in lines[0].split("\t")[1:]]
    at_line = next(line for line in lines if line.startswith("A,ICCS0601,NR,AT\t"))
    in_file = float(at_line.split("\t")[1 + periods.index("2022")].split()[0])
    assert in_file == 35232
    value, unit, source, sha = built.one(
        "SELECT value, unit, source_dataset, snapshot_sha256 "
        "FROM indicators.ind01_organised_crime "
        "WHERE measure = 'drug_law_offences' AND geo = 'AT' AND period = 2022"
    )
    assert (value, unit, source) == (35232, "count", "eurostat.crim_off_cat")
    assert sha == built.loaded["eurostat.crim_off_cat"].meta.sha256


def test_crim_off_cat_austria_series_is_split_at_2013(built: Built) -> None:
    rows = built.rows(
        "SELECT period, break_before, break_reason, segment FROM trends.series "
        "WHERE indicator_id = 1 AND measure = 'drug_law_offences' AND geo = 'AT' "
        "AND unit = 'count' ORDER BY period"
    )
    assert rows, "no trend series for AT drug_law_offences"
    breaks = {p: reason for p, brk, reason, _ in rows if brk}
    assert 2013 in breaks, f"no break before 2013; breaks at {sorted(breaks)}"
    assert breaks[2013], "a break must carry its reason"
    segments = {p: seg for p, _, _, seg in rows}
    assert segments[2012] != segments[2013]


def test_crim_off_cat_austria_assessment(built: Built) -> None:
    start, end, cagr, klass = built.one(
        "SELECT short_term_start, short_term_end, cagr_short_term, class_short_term "
        "FROM trends.assessment "
        "WHERE indicator_id = 1 AND measure = 'drug_law_offences' AND geo = 'AT' "
        "AND unit = 'count'"
    )
    assert (start, end) == (2017, 2022)
    assert round(cagr, 2) == -3.77
    # the CAGR again from the published values, Eurostat's formula
    v17, v22 = (
        built.one(
            "SELECT value FROM indicators.ind01_organised_crime "
            "WHERE measure = 'drug_law_offences' AND geo = 'AT' AND period = ?",
            [p],
        )[0]
        for p in (2017, 2022)
    )
    assert math.isclose(cagr, ((v22 / v17) ** (1 / 5) - 1) * 100, rel_tol=1e-9)
    assert klass == "significant progress"


# ---------------------------------------------------------------- EUDA Statistical Bulletin
def test_bulletin_germany_male_deaths_2017(built: Built) -> None:
    value, source, sha = built.one(
        "SELECT value, source_dataset, snapshot_sha256 FROM indicators.ind09_morbidity_mortality "
        "WHERE measure = 'drug_induced_deaths' AND geo = 'DE' AND sex = 'male' "
        "AND period = 2017"
    )
    assert value == 952
    assert source == "euda.bulletin"
    assert sha == built.loaded["euda.bulletin"]["maleDeaths.xlsx"].meta.sha256


def breadcrumb(path: Path) -> str:
    """Cell A2 of a Bulletin export, read with python-calamine (not the parser)."""
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    return str(sheet[1][0]).strip()


def _words(crumb: str) -> list[str]:
    return [p.strip() for p in crumb.split(">")]


def test_all_76_bulletin_tables_are_staged_none_quarantined(
    built: Built, upstream_dir: Path
) -> None:
    staged = {
        crumb: (n, sha)
        for crumb, n, sha in built.rows(
            "SELECT table_breadcrumb, count(*), any_value(snapshot_sha256) "
            "FROM staging.euda_bulletin GROUP BY 1"
        )
    }
    by_words = {tuple(_words(c)): v for c, v in staged.items()}
    missing = []
    for path in sorted((upstream_dir / BULLETIN).glob("*.xlsx")):
        found = by_words.get(tuple(_words(breadcrumb(path))))
        snap = built.loaded["euda.bulletin"][path.name]
        if found is None or found[0] == 0 or found[1] != snap.meta.sha256:
            missing.append(f"{path.name}: {breadcrumb(path)!r} -> {found}")
    assert not missing, f"Bulletin tables not staged from their file: {missing}"
    state, quarantined, members = built.one(
        "SELECT state, quarantined_snapshots, member_snapshots FROM meta.release_datasets "
        "WHERE dataset = 'euda.bulletin'"
    )
    assert state == "fresh"
    assert quarantined == []
    assert len(members) == 76


# ------------------------------------------------------------------- EUDA EDR 2024 surveys
def test_gps_current_czechia_cannabis_lifetime_2020(built: Built, upstream_dir: Path) -> None:
    with open(upstream_dir / GPS_CURRENT, encoding="utf-8-sig", newline="") as fh:
        row = next(
            r
            for r in csv.DictReader(fh)
            if r["Country code"] == "CZ"
            and r["Survey year"] == "2020"
            and r["Substance"] == "Cannabis"
            and r["Recall period"] == "Lifetime"
            and r["Age"] == "All adults (15-64)"
        )
    assert float(row["Prevalence (%)"]) == 29.9
    (value,) = built.one(
        "SELECT value FROM indicators.ind07_prevalence "
        "WHERE measure = 'prevalence_latest_survey' AND geo = 'CZ' AND period = 2020 "
        "AND substance = 'cannabis' AND breakdown = 'lifetime' "
        "AND age = 'All adults (15-64)' AND sex = 'total'"
    )
    assert value == 29.9
    (males,) = built.one(
        "SELECT value FROM indicators.ind07_prevalence "
        "WHERE measure = 'prevalence_latest_survey' AND geo = 'CZ' AND period = 2020 "
        "AND substance = 'cannabis' AND breakdown = 'lifetime' "
        "AND age = 'All adults (15-64)' AND sex = 'male'"
    )
    assert males == float(row["Males (%)"])


# --------------------------------------------------------- EUDA EDR 2024 as one collection
def test_all_116_edr_tables_are_accepted_none_refused(built: Built) -> None:
    state, quarantined, members = built.one(
        "SELECT state, quarantined_snapshots, member_snapshots FROM meta.release_datasets "
        "WHERE dataset = 'euda.edr'"
    )
    assert state == "fresh"
    assert quarantined == [], quarantined
    assert len(members) == 116
    staged = {rule for (rule,) in built.rows("SELECT DISTINCT table_rule FROM staging.euda_edr")}
    wanted = {"gps_current", "annex_oat_clients", "annex_other_indicators", "nps_first_notified"}
    assert wanted <= staged, sorted(wanted - staged)


def _csv_rows(path: Path, **kwargs: Any) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, **kwargs))


def test_ind05_26_nps_first_notified_in_2023(built: Built, upstream_dir: Path) -> None:
    # independently: the 2023 row of the NPS first-notification table, summed over categories
    (row,) = [
        r for r in _csv_rows(upstream_dir / EDR / "edr2024-nps-table-1.csv") if r["Year"] == "2023"
    ]
    assert sum(int(v) for k, v in row.items() if k != "Year" and v.strip()) == 26
    value, unit, geo, source = built.one(
        "SELECT value, unit, geo, source_dataset FROM indicators.ind05_nps_early_warning "
        "WHERE measure = 'nps_first_notified_all_categories' AND period = 2023"
    )
    assert (value, unit, geo, source) == (26, "substances", "EU_EWS", "euda.edr")
    by_category = built.rows(
        "SELECT breakdown, value FROM indicators.ind05_nps_early_warning "
        "WHERE measure = 'nps_first_notified_by_category' AND period = 2023 ORDER BY 1"
    )
    assert dict(by_category) == {k: float(v) for k, v in row.items() if k != "Year" and v.strip()}


def test_ind09_eu_drug_induced_deaths_2022(built: Built, upstream_dir: Path) -> None:
    rows = _csv_rows(upstream_dir / EDR / "edr2024-deaths-table-1c.csv")
    assert {r["Region"]: r["Number"] for r in rows}["EU"] == "6392"
    value, unit, source = built.one(
        "SELECT value, unit, source_dataset FROM indicators.ind09_morbidity_mortality "
        "WHERE measure = 'drug_induced_deaths_edr' AND geo = 'EU27_2020' AND period = 2022"
    )
    assert (value, unit, source) == (6392, "count", "euda.edr")
    (eu2,) = built.one(
        "SELECT value FROM indicators.ind09_morbidity_mortality "
        "WHERE measure = 'drug_induced_deaths_edr' AND geo = 'EU_NO_TR' AND period = 2022"
    )
    assert eu2 == 6959
    # a country keeps the year the annex gives it (Belgium: 2020)
    (be,) = built.one(
        "SELECT value FROM indicators.ind09_morbidity_mortality "
        "WHERE measure = 'drug_induced_deaths_edr' AND geo = 'BE' AND period = 2020"
    )
    assert be == 172


def test_ind10_oat_clients_belgium(built: Built, upstream_dir: Path) -> None:
    rows = _csv_rows(upstream_dir / EDR / "edr2024-annex-table-1d-opioids-oat.csv")
    assert {r["Country"]: r["Count"] for r in rows}["Belgium"] == "15324"
    value, unit, source = built.one(
        "SELECT value, unit, source_dataset FROM indicators.ind10_treatment_harm_reduction "
        "WHERE measure = 'oat_clients' AND geo = 'BE' AND source_dataset = 'euda.edr'"
    )
    assert (value, unit, source) == (15324, "count", "euda.edr")


def test_edr_quirks_end_up_as_published(built: Built, upstream_dir: Path) -> None:
    # cp1252 file (annex 2c): Türkiye resolved; `< 1` kept as text; space-grouped counts
    assert built.rows(
        "SELECT count(*) FROM staging.euda_edr "
        "WHERE edr_table = 'annex-table-2c-cocaine-treatment' AND geo = 'TR'"
    ) != [(0,)]
    assert built.rows(
        "SELECT DISTINCT value_text FROM staging.euda_edr WHERE table_rule = 'annex_seizures' "
        "AND value_text IS NOT NULL ORDER BY 1"
    ) == [
        (cell,)
        for cell in sorted(
            {
                v.strip()
                for r in _csv_rows(upstream_dir / EDR / "edr2024-annex-table-7-seizures.csv")
                for v in r.values()
                if v.strip().startswith("<")
            }
        )
    ]
    (syringes,) = built.one(
        "SELECT value FROM indicators.ind10_treatment_harm_reduction "
        "WHERE measure = 'syringes_distributed_edr' AND geo = 'BE'"
    )
    assert syringes == 1176600  # written `1 176 600`
    # NBSP / quoted-space cells are no rows (harm-reduction table, 2021)
    assert built.rows(
        "SELECT count(*) FROM staging.euda_edr WHERE table_rule = 'harm_reduction_availability' "
        "AND period = '2021'"
    ) == [(0,)]


# ------------------------------------------------------------------------ EUDA wastewater
def _wastewater_rows(upstream_dir: Path) -> list[dict[str, str]]:
    with open(upstream_dir / WASTEWATER, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_wastewater_graz_mdma_2024_daily_mean(built: Built) -> None:
    value, flags, geo = built.one(
        "SELECT value, flags, geo FROM indicators.ind02_emerging_threats "
        "WHERE measure = 'wastewater_daily_mean' AND breakdown = 'AT001 (Graz)' "
        "AND substance = 'MDMA' AND period = 2024"
    )
    assert value == 15.53
    assert flags is None
    assert geo == "AT"


def test_wastewater_zero_stays_zero_flagged_below_loq(built: Built, upstream_dir: Path) -> None:
    row = next(r for r in _wastewater_rows(upstream_dir) if r["Daily mean"].strip() == "0")
    value, flags = built.one(
        "SELECT value, flags FROM indicators.ind02_emerging_threats "
        "WHERE measure = 'wastewater_daily_mean' AND breakdown = ? "
        "AND substance = ? AND period = ?",
        [f"{row['Site ID']} ({row['City']})", row["Metabolite"], int(row["Year"])],
    )
    assert value == 0
    assert flags == "<LOQ"
    # and no zero anywhere lost its flag, no flagged cell lost its zero
    bad = built.rows(
        "SELECT count(*) FROM staging.euda_wastewater "
        "WHERE (value = 0) IS DISTINCT FROM (coalesce(flags, '') = '<LOQ')"
    )
    assert bad == [(0,)]


def test_wastewater_country_codes_map_to_eurostat(built: Built, upstream_dir: Path) -> None:
    raw_codes = {r["Country"] for r in _wastewater_rows(upstream_dir)}
    assert {"H", "GR"} <= raw_codes  # the publisher's own codes
    mapped = dict(
        built.rows(
            "SELECT DISTINCT geo_raw, geo FROM staging.euda_wastewater WHERE geo_raw IN ('H', 'GR')"
        )
    )
    assert mapped == {"H": "HU", "GR": "EL"}
    sites = dict(
        built.rows(
            "SELECT DISTINCT geo_raw, geo FROM staging.euda_wastewater_sites "
            "WHERE geo_raw IN ('H', 'GR')"
        )
    )
    site_codes = {r["Country"] for r in _csv_rows(upstream_dir / WASTEWATER_SITES)}
    assert {"H", "GR"} <= site_codes  # the site table uses them too
    assert sites == {"H": "HU", "GR": "EL"}
    assert built.rows(
        "SELECT count(*) FROM indicators.ind02_emerging_threats WHERE geo IN ('H', 'GR')"
    ) == [(0,)]
