"""Trend tables computed from every indicator table of the build.

trends.series            one row per series and period: value, change against the previous
                         observation, 3-period moving average, break_before, segment
trends.suspected_breaks  jumps far outside a series' own variation, for review
trends.assessment        one row per series over its latest segment: baseline, change since
                         baseline, CAGR short/long term with the Eurostat SDG classes,
                         Mann-Kendall + Sen slope, direction judged by polarity
trends.eu_aggregates     EU27 sums of counts computed by us, with the coverage shown

A series is split at a Eurostat `b` flag, at a break documented in the catalogue and at a
suspected break; no statistic spans a split. The method, thresholds and edition come from
assets/reference/trend_method.yaml.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from pipelines import trend_stats as ts
from pipelines.catalogue import Catalogue, TrendMethod
from pipelines.indicators import SERIES_KEY
from pipelines.warehouse import run_sql_file

KEY = ["indicator_id"] + [c for c in SERIES_KEY if c != "period"]


@dataclass(frozen=True)
class TrendTable:
    name: str
    description: str
    # datasets whose staging tables the table reads besides the indicator tables (the
    # trends asset waits for them)
    reads: tuple[str, ...] = ()


TABLES = [
    TrendTable(
        "series",
        "trends.series: per series and period the value, change against the "
        "previous observation, 3-period moving average, break_before, segment.",
    ),
    TrendTable(
        "suspected_breaks",
        "trends.suspected_breaks: jumps far outside a series' own "
        "variation, treated as breaks and listed for review.",
    ),
    TrendTable(
        "assessment",
        "trends.assessment: per series over its latest segment: baseline, "
        "CAGR (Eurostat SDG classes), Mann-Kendall and Sen slope, direction "
        "judged by polarity.",
    ),
    TrendTable(
        "wastewater_city_change",
        "trends.wastewater_city_change: per site, substance and campaign year in the EU27, "
        "Norway and Türkiye, the daily mean against the campaign one year earlier, classed "
        "increase / stable (within +/-10 %) / decrease / no previous data, as the EUDA does.",
        reads=("euda.wastewater", "euda.wastewater_sites"),
    ),
    TrendTable(
        "wastewater_city_counts",
        "trends.wastewater_city_counts: per substance and campaign year, how many cities "
        "increased, stayed stable or decreased.",
    ),
    TrendTable(
        "eu_aggregates",
        "trends.eu_aggregates: EU27 sums of count measures computed "
        "from Member State values, with the number of reporting "
        "Member States; never a silent partial sum.",
    ),
]


OBS_COLUMNS = [
    "series_id",
    *KEY,
    "geo_level",
    "period",
    "value",
    "flags",
    "source_dataset",
    "snapshot_sha256",
]


@dataclass
class Series:
    """One series' observations, sorted by period (plain lists: this loop runs per series)."""

    series_id: str
    key: dict[str, Any]
    geo_level: str | None
    periods: list[int]
    values: list[float]
    flags: list[str | None]
    sources: list[tuple[str, str]]  # (source_dataset, snapshot_sha256) per period
    # Break flags on cells without a value (`: b`): the series is split there all the same.
    empty_cell_breaks: dict[int, str] = field(default_factory=dict)


def load_series(con: duckdb.DuckDBPyConnection) -> list[Series]:
    """Every numeric series of every indicator table, keyed by `series_id`."""
    tables = [
        r[0]
        for r in con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_schema = 'indicators' ORDER BY 1"
        ).fetchall()
    ]
    if not tables:
        return []
    cols = ", ".join(OBS_COLUMNS[1:])
    union = " UNION ALL ".join(f"SELECT {cols} FROM {t}" for t in tables)
    sid = " || '|' || ".join(f"coalesce(CAST({k} AS VARCHAR), '')" for k in KEY)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW _observations AS SELECT {sid} AS series_id, * FROM ({union})"
    )
    rows = con.execute(
        "SELECT * FROM _observations WHERE value IS NOT NULL ORDER BY series_id, period"
    ).fetchall()
    flagged_empty: dict[str, dict[int, str]] = {}
    for series_key, period, flags in con.execute(
        "SELECT series_id, period, flags FROM _observations "
        "WHERE value IS NULL AND contains(flags, 'b')"
    ).fetchall():
        flagged_empty.setdefault(series_key, {})[int(period)] = (
            f"break in series flagged by the publisher on an empty cell (flag '{flags}')"
        )
    out: list[Series] = []
    n_key = len(KEY)
    for series_key, group in itertools.groupby(rows, key=lambda r: r[0]):
        items = list(group)
        first = items[0]
        out.append(
            Series(
                series_id=series_key,
                key=dict(zip(KEY, first[1 : 1 + n_key], strict=True)),
                geo_level=first[1 + n_key],
                periods=[int(r[2 + n_key]) for r in items],
                values=[float(r[3 + n_key]) for r in items],
                flags=[r[4 + n_key] or None for r in items],
                sources=[(r[5 + n_key], r[6 + n_key]) for r in items],
                empty_cell_breaks=flagged_empty.get(series_key, {}),
            )
        )
    return out


def _documented_breaks(cat: Catalogue, series: Series) -> dict[int, str]:
    found: dict[int, str] = {}
    datasets = {src for src, _ in series.sources}
    for ds_id in datasets:
        for brk in cat.datasets[ds_id].breaks:
            if all(str(series.key.get(col)) == val for col, val in brk.match.items()):
                found[brk.period] = f"documented break: {brk.reason}"
    return found


def series_breaks(series: Series, cat: Catalogue) -> tuple[dict[int, str], list[dict[str, Any]]]:
    """Where the series is split, and why; plus the suspected breaks to list for review."""
    method = cat.trend_method
    breaks = {**series.empty_cell_breaks, **_documented_breaks(cat, series)}
    for p, f in zip(series.periods[1:], series.flags[1:], strict=True):
        if f and "b" in f:
            breaks.setdefault(p, f"break in series flagged by the publisher (flag '{f}')")
    suspected = []
    for sb in ts.detect_suspected_breaks(
        series.periods,
        series.values,
        min_factor=method.suspected_break_min_factor,
        k=method.suspected_break_mad_k,
        counts=series.key["unit"] == "count",
    ):
        suspected.append(
            {
                "series_id": series.series_id,
                **series.key,
                "period": sb.period,
                "previous_period": sb.previous_period,
                "ratio": sb.ratio,
                "kind": sb.kind,
                "reason": sb.reason,
                "treated_as_break": sb.kind == "level_shift",
            }
        )
        if sb.kind == "level_shift":
            breaks.setdefault(sb.period, f"suspected break: {sb.reason}")
    return breaks, suspected


def _pair_key(key: dict[str, Any], measure: str) -> tuple[Any, ...]:
    """A series' key with its measure replaced and its unit left out (a count and its rate)."""
    return (
        key["indicator_id"],
        measure,
        key["geo"],
        key["substance"],
        key["sex"],
        key["age"],
        key["breakdown"],
        key["value_origin"],
    )


def build_series(all_series: list[Series], cat: Catalogue) -> tuple[list[dict], list[dict]]:
    series_rows: list[dict[str, Any]] = []
    suspected_rows: list[dict[str, Any]] = []
    found = {s.series_id: series_breaks(s, cat) for s in all_series}
    # A rate declared with `rate_of` is split wherever its count series is: a level shift
    # in the counts (a change of recording) is one in the rates too.
    rate_of = {
        (i.number, m.name): m.rate_of for i in cat.indicator_list() for m in i.measures if m.rate_of
    }
    counts = {_pair_key(s.key, s.key["measure"]): s.series_id for s in all_series}
    for s in all_series:
        breaks, suspected = found[s.series_id]
        count_measure = rate_of.get((int(s.key["indicator_id"]), s.key["measure"]))
        count_id = counts.get(_pair_key(s.key, count_measure)) if count_measure else None
        if count_id is not None:
            for period, reason in found[count_id][0].items():
                if reason.startswith("suspected break"):
                    breaks.setdefault(period, f"{reason} (in the count series {count_id})")
        suspected_rows += suspected
        seg = ts.segments(s.periods, set(breaks))
        changes: list[ts.PeriodChange] = []
        averages: list[float | None] = []
        for number in sorted(set(seg)):
            idx = [i for i, x in enumerate(seg) if x == number]
            changes += ts.previous_period_change(
                [s.periods[i] for i in idx], [s.values[i] for i in idx]
            )
            averages += ts.moving_average([s.values[i] for i in idx], 3)
        for i, period in enumerate(s.periods):
            split = i > 0 and seg[i] != seg[i - 1]
            series_rows.append(
                {
                    "series_id": s.series_id,
                    **s.key,
                    "geo_level": s.geo_level,
                    "period": period,
                    "value": s.values[i],
                    "flags": s.flags[i],
                    "previous_period": changes[i].previous_period,
                    "abs_change": changes[i].abs_change,
                    "pct_change": changes[i].pct_change,
                    "moving_avg_3": averages[i],
                    "break_before": split,
                    "break_reason": _break_reason(breaks, s.periods, i) if split else None,
                    "segment": seg[i],
                    "source_dataset": s.sources[i][0],
                    "snapshot_sha256": s.sources[i][1],
                }
            )
    return series_rows, suspected_rows


def _break_reason(breaks: dict[int, str], periods: list[int], i: int) -> str:
    prev = periods[i - 1]
    return "; ".join(r for p, r in sorted(breaks.items()) if prev < p <= periods[i])


def baseline(
    periods: list[int], values: list[float], method: TrendMethod
) -> tuple[int, float] | None:
    """2020, or the latest year before the plan (2021) with data."""
    before = [(p, v) for p, v in zip(periods, values, strict=True) if p < method.plan_years[0]]
    exact = [(p, v) for p, v in before if p == method.baseline_year]
    if exact:
        return exact[0]
    return before[-1] if before else None


def assess(
    s: Series,
    segment: int,
    periods: list[int],
    values: list[float],
    latest_flags: str | None,
    cat: Catalogue,
) -> dict[str, Any]:
    """The assessment of one series over its latest segment (`periods`, `values`)."""
    method = cat.trend_method
    polarity = cat.indicators[int(s.key["indicator_id"])].polarity_of(str(s.key["measure"]))
    short = ts.cagr_window(periods, values, method.short_term_years, method.min_span_short)
    long = ts.cagr_window(periods, values, method.long_term_years, method.min_span_long)
    mk = ts.mann_kendall(
        values, periods, alpha=method.mann_kendall_alpha, min_points=method.mann_kendall_min_points
    )
    base = baseline(periods, values, method)
    notes = []
    if latest_flags:
        notes.append(
            f"latest value flagged '{latest_flags}'"
            + (" (provisional)" if "p" in latest_flags else "")
            + (" (estimated)" if "e" in latest_flags else "")
        )
    if segment > 1:
        notes.append(f"series split at break(s); assessed from {periods[0]} (segment {segment})")
    if base is None:
        notes.append("no baseline: the latest segment starts after the plan's baseline")
    change_abs = values[-1] - base[1] if base else None
    change_pct = (change_abs / abs(base[1]) * 100) if base and base[1] else None
    return {
        "series_id": s.series_id,
        **s.key,
        "polarity": polarity,
        "segment": segment,
        "first_period": periods[0],
        "last_period": periods[-1],
        "n_points": len(periods),
        "baseline_period": base[0] if base else None,
        "baseline_value": base[1] if base else None,
        "latest_period": periods[-1],
        "latest_value": values[-1],
        "latest_flags": latest_flags,
        "change_since_baseline": change_abs,
        "change_since_baseline_pct": change_pct,
        "short_term_start": short.start_period,
        "short_term_end": short.end_period,
        "cagr_short_term": short.cagr,
        "class_short_term": ts.classify_sdg(short.cagr, polarity, method.thresholds),
        "long_term_start": long.start_period,
        "long_term_end": long.end_period,
        "cagr_long_term": long.cagr,
        "class_long_term": ts.classify_sdg(long.cagr, polarity, method.thresholds),
        "mk_trend": mk.trend,
        "mk_p_value": mk.p_value,
        "mk_tau": mk.tau,
        "sen_slope": mk.sen_slope,
        "mk_n": mk.n,
        "direction": ts.judge_direction(mk.trend, polarity),
        "notes": "; ".join(notes) or None,
        "method": f"{method.name} ({method.edition})",
        "source_dataset": s.sources[-1][0],
    }


def build_assessment(
    series_rows: list[dict[str, Any]], by_id: dict[str, Series], cat: Catalogue
) -> list[dict[str, Any]]:
    out = []
    for sid, rows in itertools.groupby(series_rows, key=lambda r: r["series_id"]):
        rows = list(rows)
        last = rows[-1]["segment"]
        seg = [r for r in rows if r["segment"] == last]
        out.append(
            assess(
                by_id[sid],
                last,
                [r["period"] for r in seg],
                [r["value"] for r in seg],
                seg[-1]["flags"],
                cat,
            )
        )
    return out


WASTEWATER_QUERY = """
    SELECT w.site_id, w.city, w.geo AS country, w.substance, CAST(w.period AS INTEGER) AS year,
           w.value, w.flags, w.source_dataset, w.snapshot_sha256,
           s.value AS population_served
    FROM staging.euda_wastewater AS w
    JOIN meta.geo AS g ON g.geo = w.geo
    LEFT JOIN staging.euda_wastewater_sites AS s
           ON s.site_id = w.site_id AND s.attribute = 'population'
    WHERE w.statistic = 'daily_mean' AND (g.eu27 OR w.geo IN ('NO', 'TR'))
    ORDER BY w.site_id, w.substance, year
"""


def build_wastewater_change(con: duckdb.DuckDBPyConnection, cat: Catalogue) -> list[dict]:
    """Each site's daily mean against the campaign exactly one year earlier."""
    band = cat.trend_method.wastewater_stable_band_pct
    rows = con.execute(WASTEWATER_QUERY).fetchall()
    cols = [
        "site_id",
        "city",
        "country",
        "substance",
        "year",
        "value",
        "flags",
        "source_dataset",
        "snapshot_sha256",
        "population_served",
    ]
    records = [dict(zip(cols, r, strict=True)) for r in rows]
    by_key = {(r["site_id"], r["substance"], r["year"]): r["value"] for r in records}
    out = []
    for r in records:
        if r["value"] is None:
            continue  # no current value: no row, as in the EUDA's table
        previous = by_key.get((r["site_id"], r["substance"], r["year"] - 1))
        change_pct, change_class = ts.wastewater_change(previous, r["value"], band)
        out.append(
            {
                **r,
                "previous_year": r["year"] - 1 if previous is not None else None,
                "previous_value": previous,
                "change_pct": change_pct,
                "change_class": change_class,
            }
        )
    return out


def build_eu_aggregates(con: duckdb.DuckDBPyConnection) -> None:
    """EU27 sums of counts, with the number of Member States that reported each year."""
    run_sql_file(con, "trends/eu_aggregates.sql")


def _write(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> int:
    """Insert into a table created by sql/trends/schema.sql (types come from the DDL)."""
    if not rows:
        return 0
    frame = pa.Table.from_pylist(rows)
    con.register("_trend_rows", frame)
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _trend_rows")
    con.unregister("_trend_rows")
    return len(rows)


def build_trends(con: duckdb.DuckDBPyConnection, cat: Catalogue) -> dict[str, int]:
    run_sql_file(con, "trends/schema.sql")
    all_series = load_series(con)
    series_rows, suspected_rows = build_series(all_series, cat)
    assessment_rows = build_assessment(series_rows, {s.series_id: s for s in all_series}, cat)
    counts = {
        "series": _write(con, "trends.series", series_rows),
        "suspected_breaks": _write(con, "trends.suspected_breaks", suspected_rows),
        "assessment": _write(con, "trends.assessment", assessment_rows),
    }
    # Counted from the stored table, so the gate proves each assessment has its series.
    con.execute("""
        UPDATE trends.assessment AS a
        SET series_rows = (SELECT count(*) FROM trends.series AS s WHERE s.series_id = a.series_id)
    """)
    counts["wastewater_city_change"] = _write(
        con, "trends.wastewater_city_change", build_wastewater_change(con, cat)
    )
    run_sql_file(con, "trends/wastewater_city_counts.sql")
    counts["wastewater_city_counts"] = con.execute(
        "SELECT count(*) FROM trends.wastewater_city_counts"
    ).fetchone()[0]
    build_eu_aggregates(con)
    counts["eu_aggregates"] = con.execute("SELECT count(*) FROM trends.eu_aggregates").fetchone()[0]
    return counts
