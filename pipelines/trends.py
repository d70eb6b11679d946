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

import bisect
import itertools
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from pipelines import trend_stats as ts
from pipelines.catalogue import Catalogue, TrendMethod
from pipelines.indicators import SERIES_KEY, SQL_COLUMNS
from pipelines.warehouse import run_sql_file

KEY = ["indicator_id"] + [c for c in SERIES_KEY if c != "period"]


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


@dataclass(slots=True)
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


def read_observations(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Every observation of every indicator table (`OBS_COLUMNS`): first those with a value,
    then those without (see `_with_value`), each part sorted by `series_id` and period."""
    tables = [
        r[0]
        for r in con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_schema = 'indicators' ORDER BY 1"
        ).fetchall()
    ]
    cols = ", ".join(OBS_COLUMNS[1:])
    if not tables:
        types = {"series_id": "VARCHAR", "indicator_id": "INTEGER", "value_origin": "VARCHAR"}
        types.update(SQL_COLUMNS)
        nothing = ", ".join(f"NULL::{types[c]} AS {c}" for c in OBS_COLUMNS)
        return con.sql(f"SELECT {nothing} LIMIT 0").to_arrow_table()
    union = " UNION ALL ".join(f"SELECT {cols} FROM {t}" for t in tables)
    sid = " || '|' || ".join(f"coalesce(CAST({k} AS VARCHAR), '')" for k in KEY)
    return con.sql(
        f"SELECT {sid} AS series_id, * FROM ({union}) ORDER BY value IS NULL, series_id, period"
    ).to_arrow_table()


def _with_value(observations: pa.Table) -> tuple[pa.Table, pa.Table]:
    """(observations with a value, observations without) of `read_observations`."""
    n = observations.num_rows - observations["value"].null_count
    return observations.slice(0, n), observations.slice(n)


def load_series(con: duckdb.DuckDBPyConnection) -> list[Series]:
    """Every numeric series of every indicator table, keyed by `series_id`."""
    return series_of(read_observations(con))


def series_of(observations: pa.Table) -> list[Series]:
    """The series of `read_observations`, in its order; observations without a value are
    left out, except that a break flag on one still splits its series."""
    observed, empty = _with_value(observations)
    flagged_empty: dict[str, dict[int, str]] = {}
    for series_key, period, flags in zip(
        empty["series_id"].to_pylist(),
        empty["period"].to_pylist(),
        empty["flags"].to_pylist(),
        strict=True,
    ):
        if flags and "b" in flags:
            flagged_empty.setdefault(series_key, {})[int(period)] = (
                f"break in series flagged by the publisher on an empty cell (flag '{flags}')"
            )
    col = {
        name: observed[name].to_pylist()
        for name in ("series_id", "period", "value", "source_dataset", "geo_level", *KEY)
    }
    ids = col["series_id"]
    if not ids:
        return []
    flags = [f or None for f in observed["flags"].to_pylist()]
    sources = list(zip(col["source_dataset"], observed["snapshot_sha256"].to_pylist(), strict=True))
    key_columns = [(name, col[name]) for name in KEY]
    bounds = [0, *(i for i in range(1, len(ids)) if ids[i] != ids[i - 1]), len(ids)]
    periods = col["period"]
    starts = set(bounds)
    i = next(
        (i for i in range(1, len(ids)) if periods[i] <= periods[i - 1] and i not in starts), None
    )
    if i is not None:
        raise ValueError(
            f"trends: series {ids[i]} (from {col['source_dataset'][i]}) has more than one "
            f"value for period {periods[i]}; an indicator table holds one value per series "
            "key and period"
        )
    out: list[Series] = []
    for start, end in itertools.pairwise(bounds):
        series_key = ids[start]
        out.append(
            Series(
                series_id=series_key,
                key={name: values[start] for name, values in key_columns},
                geo_level=col["geo_level"][start],
                periods=col["period"][start:end],
                values=col["value"][start:end],
                flags=flags[start:end],
                sources=sources[start:end],
                empty_cell_breaks=flagged_empty.get(series_key) or {},
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


def series_breaks(
    series: Series, cat: Catalogue, look_for_jumps: bool = True
) -> tuple[dict[int, str], list[dict[str, Any]]]:
    """Where the series is split, and why; plus the suspected breaks to list for review.

    `look_for_jumps=False` skips the suspected-break detector: for a series in which
    `ts.may_have_suspected_break` found no jump that could be flagged."""
    method = cat.trend_method
    breaks = {**series.empty_cell_breaks, **_documented_breaks(cat, series)}
    for p, f in zip(series.periods[1:], series.flags[1:], strict=True):
        if f and "b" in f:
            breaks.setdefault(p, f"break in series flagged by the publisher (flag '{f}')")
    suspected: list[dict[str, Any]] = []
    if not look_for_jumps:
        return breaks, suspected
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


# The columns of trends.series computed here; the others come from the observations.
COMPUTED_COLUMNS = [
    "previous_period",
    "abs_change",
    "pct_change",
    "moving_avg_3",
    "break_before",
    "break_reason",
    "segment",
]

Columns = dict[str, Any]  # column name -> list or numpy array, all of one length


def build_series(all_series: list[Series], cat: Catalogue) -> tuple[Columns, list[dict]]:
    """The computed columns of trends.series (`COMPUTED_COLUMNS` plus `series_id` and
    `period`), all series one after the other in `all_series` order, and the
    suspected-break rows."""
    periods: list[int] = []
    values: list[float] = []
    for s in all_series:
        periods += s.periods
        values += s.values
    lengths = np.array([len(s.periods) for s in all_series], dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    series_start = np.zeros(len(periods), dtype=bool)
    series_start[offsets[lengths > 0]] = True
    jumps = ts.may_have_suspected_break(
        np.asarray(values, dtype=float), series_start, cat.trend_method.suspected_break_min_factor
    )
    has_jump = np.logical_or.reduceat(jumps, offsets) if len(jumps) else np.zeros(0, bool)
    documented = {ds_id for ds_id, ds in cat.datasets.items() if ds.breaks}
    # Only series with some sign of a break are looked at one by one (most have none).
    found = {
        s.series_id: series_breaks(s, cat, look_for_jumps=jump)
        for s, jump in zip(all_series, has_jump.tolist(), strict=True)
        if jump
        or s.empty_cell_breaks
        or any(f and "b" in f for f in s.flags[1:])
        or (documented and any(src in documented for src, _ in s.sources))
    }
    # A rate declared with `rate_of` is split wherever its count series is: a level shift
    # in the counts (a change of recording) is one in the rates too.
    rate_of = {
        (i.number, m.name): m.rate_of for i in cat.indicator_list() for m in i.measures if m.rate_of
    }
    counts = {_pair_key(s.key, s.key["measure"]): s.series_id for s in all_series}
    suspected_rows: list[dict[str, Any]] = []
    segment: list[int] = []
    break_before = [False] * len(periods)
    break_reason: list[str | None] = [None] * len(periods)
    starts: set[int] = set(offsets.tolist())  # first position of each segment of each series
    for s, position in zip(all_series, offsets.tolist(), strict=True):
        breaks, suspected = found.get(s.series_id) or ({}, [])
        count_measure = rate_of.get((int(s.key["indicator_id"]), s.key["measure"]))
        count_id = counts.get(_pair_key(s.key, count_measure)) if count_measure else None
        if count_id in found:
            for period, reason in found[count_id][0].items():
                if reason.startswith("suspected break"):
                    breaks.setdefault(period, f"{reason} (in the count series {count_id})")
        suspected_rows += suspected
        if not breaks:
            segment += [1] * len(s.periods)
            continue
        seg = ts.segments(s.periods, set(breaks))
        segment += seg
        for i in range(1, len(seg)):
            if seg[i] != seg[i - 1]:
                starts.add(position + i)
                break_before[position + i] = True
                break_reason[position + i] = _break_reason(breaks, s.periods, i)
    previous_period, _, abs_change, pct_change = ts.previous_period_changes(periods, values, starts)
    return {
        "series_id": np.repeat(np.array([s.series_id for s in all_series], dtype=object), lengths),
        "period": periods,
        "previous_period": previous_period,
        "abs_change": abs_change,
        "pct_change": pct_change,
        "moving_avg_3": ts.moving_average(values, 3, starts),
        "break_before": break_before,
        "break_reason": break_reason,
        "segment": segment,
    }, suspected_rows


def _break_reason(breaks: dict[int, str], periods: list[int], i: int) -> str:
    prev = periods[i - 1]
    return "; ".join(r for p, r in sorted(breaks.items()) if prev < p <= periods[i])


def baselines(periods: np.ndarray, lengths: np.ndarray, method: TrendMethod) -> np.ndarray:
    """Per group of a flat array of segments (periods increasing in each): the position of
    its baseline, 2020 or else the latest year before the plan (2021) with data; -1 if none."""
    groups = np.repeat(np.arange(len(lengths)), lengths)
    first = np.cumsum(lengths) - lengths
    before = periods < method.plan_years[0]
    counted = np.add.reduceat(before, first) if len(first) else np.zeros(0, np.int64)
    out = np.where(counted > 0, first + counted - 1, -1)
    exact = np.flatnonzero(before & (periods == method.baseline_year))
    out[groups[exact]] = exact
    return out


def build_assessment(series: Columns, all_series: list[Series], cat: Catalogue) -> Columns:
    """trends.assessment as columns: one row per series (in `all_series` order) over its
    latest segment, read from the `segment` column of `build_series`."""
    method = cat.trend_method
    segment = series["segment"]
    periods: list[int] = []
    values: list[float] = []
    lengths: list[int] = []
    latest_segment: list[int] = []
    end = 0
    for s in all_series:
        start, end = end, end + len(s.periods)
        last = segment[end - 1]
        first = bisect.bisect_left(segment, last, start, end) - start  # segments only grow
        periods += s.periods[first:]
        values += s.values[first:]
        lengths.append(len(s.periods) - first)
        latest_segment.append(last)
    t = np.asarray(periods, dtype=np.int64)
    n = np.asarray(lengths, dtype=np.int64)
    short = ts.cagr_windows(t, values, n, method.short_term_years, method.min_span_short)
    long = ts.cagr_windows(t, values, n, method.long_term_years, method.min_span_long)
    tests = ts.mann_kendall_groups(
        t, values, n, alpha=method.mann_kendall_alpha, min_points=method.mann_kendall_min_points
    )
    base = baselines(t, n, method).tolist()
    last = (np.cumsum(n) - 1).tolist()
    first = (np.cumsum(n) - n).tolist()
    polarities: dict[tuple[int, str], Any] = {}
    polarity = []
    for s in all_series:
        key = (int(s.key["indicator_id"]), str(s.key["measure"]))
        if key not in polarities:
            polarities[key] = cat.indicators[key[0]].polarity_of(key[1])
        polarity.append(polarities[key])
    latest_value = [values[i] for i in last]
    baseline_value = [values[i] if i >= 0 else None for i in base]
    change = [
        v - b if b is not None else None for v, b in zip(latest_value, baseline_value, strict=True)
    ]
    latest_flags = [s.flags[-1] for s in all_series]
    notes = []
    for flags, seg, start, b in zip(latest_flags, latest_segment, first, base, strict=True):
        note = []
        if flags:
            note.append(
                f"latest value flagged '{flags}'"
                + (" (provisional)" if "p" in flags else "")
                + (" (estimated)" if "e" in flags else "")
            )
        if seg > 1:
            note.append(f"series split at break(s); assessed from {periods[start]} (segment {seg})")
        if b < 0:
            note.append("no baseline: the latest segment starts after the plan's baseline")
        notes.append("; ".join(note) or None)
    th = method.thresholds
    return {
        "series_id": [s.series_id for s in all_series],
        **{k: [s.key[k] for s in all_series] for k in KEY},
        "polarity": polarity,
        "segment": latest_segment,
        "first_period": [periods[i] for i in first],
        "last_period": [periods[i] for i in last],
        "n_points": lengths,
        "baseline_period": [periods[i] if i >= 0 else None for i in base],
        "baseline_value": baseline_value,
        "latest_period": [periods[i] for i in last],
        "latest_value": latest_value,
        "latest_flags": latest_flags,
        "change_since_baseline": change,
        "change_since_baseline_pct": [
            c / abs(b) * 100 if b else None for c, b in zip(change, baseline_value, strict=True)
        ],
        "short_term_start": short[0],
        "short_term_end": short[1],
        "cagr_short_term": short[2],
        "class_short_term": [
            ts.classify_sdg(c, p, th) for c, p in zip(short[2], polarity, strict=True)
        ],
        "long_term_start": long[0],
        "long_term_end": long[1],
        "cagr_long_term": long[2],
        "class_long_term": [
            ts.classify_sdg(c, p, th) for c, p in zip(long[2], polarity, strict=True)
        ],
        "mk_trend": [mk.trend for mk in tests],
        "mk_p_value": [mk.p_value for mk in tests],
        "mk_tau": [mk.tau for mk in tests],
        "sen_slope": [mk.sen_slope for mk in tests],
        "mk_n": [mk.n for mk in tests],
        "direction": [
            ts.judge_direction(mk.trend, p) for mk, p in zip(tests, polarity, strict=True)
        ],
        "notes": notes,
        "method": [f"{method.name} ({method.edition})"] * len(all_series),
        "source_dataset": [s.sources[-1][0] for s in all_series],
    }


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


def _write(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]] | Columns) -> int:
    """Insert rows (or columns) into a table created by sql/trends/schema.sql (types come
    from the DDL)."""
    columns = rows if isinstance(rows, dict) else _columns(rows)
    count = len(next(iter(columns.values()), []))
    if not count:
        return 0
    con.register("_trend_rows", pa.Table.from_pydict(columns))
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _trend_rows")
    con.unregister("_trend_rows")
    return count


def _write_series(con: duckdb.DuckDBPyConnection, observations: pa.Table, computed: Columns) -> int:
    """trends.series: the observations with a value (of `read_observations`, from which the
    series were built, in the same order) beside the columns `build_series` computed."""
    observed, _ = _with_value(observations)
    n = observed.num_rows
    if n != len(computed["period"]) or observed["period"].to_pylist() != list(computed["period"]):
        raise RuntimeError("trends.series: the computed columns do not match the observations")
    if not n:
        return 0
    table = observed
    for name in COMPUTED_COLUMNS:
        table = table.append_column(name, pa.array(computed[name]))
    con.register("_trend_series", table)
    con.execute(
        "INSERT INTO trends.series BY NAME "
        "SELECT * REPLACE (nullif(flags, '') AS flags) FROM _trend_series"
    )
    con.unregister("_trend_series")
    return n


def _columns(rows: list[dict[str, Any]]) -> Columns:
    return {name: [r[name] for r in rows] for name in rows[0]} if rows else {}


def build_trends(con: duckdb.DuckDBPyConnection, cat: Catalogue) -> dict[str, int]:
    counts = _build_written_tables(con, cat)
    run_sql_file(con, "trends/wastewater_city_counts.sql")
    counts["wastewater_city_counts"] = con.execute(
        "SELECT count(*) FROM trends.wastewater_city_counts"
    ).fetchall()[0][0]
    build_eu_aggregates(con)
    counts["eu_aggregates"] = con.execute("SELECT count(*) FROM trends.eu_aggregates").fetchall()[
        0
    ][0]
    return counts


def _build_written_tables(con: duckdb.DuckDBPyConnection, cat: Catalogue) -> dict[str, int]:
    """The tables written from Python, in one transaction: one commit rather than one per
    statement, and a failure leaves none of them half written. `con` must not be in a
    transaction already. (The SQL-file tables are built after the commit: the floating-point
    sums of eu_aggregates depend on how the rows they read are stored, and rows read inside
    the transaction are stored differently, so the last bits of some sums would change.)"""
    con.begin()
    try:
        run_sql_file(con, "trends/schema.sql")
        observations = read_observations(con)
        all_series = series_of(observations)
        series_rows, suspected_rows = build_series(all_series, cat)
        assessment_rows = build_assessment(series_rows, all_series, cat)
        counts = {
            "series": _write_series(con, observations, series_rows),
            "suspected_breaks": _write(con, "trends.suspected_breaks", suspected_rows),
            "assessment": _write(con, "trends.assessment", assessment_rows),
        }
        # Counted from the stored table, so the gate proves each assessment has its series.
        con.execute("""
            UPDATE trends.assessment AS a
            SET series_rows = (
                SELECT count(*) FROM trends.series AS s WHERE s.series_id = a.series_id
            )
        """)
        counts["wastewater_city_change"] = _write(
            con, "trends.wastewater_city_change", build_wastewater_change(con, cat)
        )
    except BaseException:
        con.rollback()
        raise
    con.commit()
    return counts
