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

import math
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd
from dagster import AssetKey, AssetSpec

from pipelines import trend_stats as ts
from pipelines.catalogue import Catalogue, TrendMethod
from pipelines.indicators import SERIES_KEY
from pipelines.meta import run_sql_file

KEY = ["indicator_id"] + [c for c in SERIES_KEY if c != "period"]


@dataclass(frozen=True)
class TrendTable:
    name: str
    description: str

    def asset_spec(self, deps: list[AssetKey]) -> AssetSpec:
        return AssetSpec(
            key=AssetKey(["trends", self.name]),
            group_name="trends",
            kinds={"duckdb", "python"},
            description=self.description,
            deps=deps,
            skippable=False,
        )


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
        "eu_aggregates",
        "trends.eu_aggregates: EU27 sums of count measures computed "
        "from Member State values, with the number of reporting "
        "Member States; never a silent partial sum.",
    ),
]


def series_id(row: pd.Series | dict[str, Any]) -> str:
    parts = [str(row[k]) if row[k] is not None and not _isnan(row[k]) else "" for k in KEY]
    return "|".join(parts)


def _isnan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def load_observations(con: duckdb.DuckDBPyConnection, cat: Catalogue) -> pd.DataFrame:
    tables = [
        r[0]
        for r in con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_schema = 'indicators' ORDER BY 1"
        ).fetchall()
    ]
    if not tables:
        return pd.DataFrame(
            columns=[
                *KEY,
                "period",
                "value",
                "flags",
                "source_dataset",
                "snapshot_sha256",
                "geo_level",
            ]
        )
    cols = ", ".join(
        [*KEY, "period", "value", "flags", "source_dataset", "snapshot_sha256", "geo_level"]
    )
    union = " UNION ALL ".join(f"SELECT {cols} FROM {t} WHERE value IS NOT NULL" for t in tables)
    df = con.execute(f"SELECT * FROM ({union}) ORDER BY ALL").df()
    return df.astype({c: "object" for c in KEY if c != "indicator_id"})


def _documented_breaks(cat: Catalogue, obs: pd.DataFrame) -> dict[str, dict[int, str]]:
    found: dict[str, dict[int, str]] = {}
    for ds in cat.datasets.values():
        for brk in ds.breaks:
            sel = obs["source_dataset"] == ds.id
            for col, val in brk.match.items():
                sel &= obs[col] == val
            for sid in obs.loc[sel, "series_id"].unique():
                found.setdefault(sid, {})[brk.period] = f"documented break: {brk.reason}"
    return found


def build_series(obs: pd.DataFrame, cat: Catalogue) -> tuple[pd.DataFrame, pd.DataFrame]:
    method = cat.trend_method
    documented = _documented_breaks(cat, obs)
    series_rows: list[dict[str, Any]] = []
    suspected_rows: list[dict[str, Any]] = []
    for sid, grp in obs.groupby("series_id", sort=True):
        grp = grp.sort_values("period")
        periods = [int(p) for p in grp["period"]]
        values = [float(v) for v in grp["value"]]
        flags = [f if isinstance(f, str) else None for f in grp["flags"]]
        first = grp.iloc[0]
        breaks: dict[int, str] = dict(documented.get(sid, {}))
        for p, f in zip(periods[1:], flags[1:], strict=True):
            if f and "b" in f:
                breaks.setdefault(p, f"break in series flagged by the publisher (flag '{f}')")
        for sb in ts.detect_suspected_breaks(
            periods,
            values,
            min_factor=method.suspected_break_min_factor,
            k=method.suspected_break_mad_k,
            counts=first["unit"] == "count",
        ):
            suspected_rows.append(
                {
                    "series_id": sid,
                    **{k: first[k] for k in KEY},
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
        seg = ts.segments(periods, set(breaks))
        changes = []
        averages: list[float | None] = []
        for s in sorted(set(seg)):
            idx = [i for i, x in enumerate(seg) if x == s]
            changes += ts.previous_period_change(
                [periods[i] for i in idx], [values[i] for i in idx]
            )
            averages += ts.moving_average([values[i] for i in idx], 3)
        for i, (_, row) in enumerate(grp.iterrows()):
            brk = i > 0 and seg[i] != seg[i - 1]
            series_rows.append(
                {
                    "series_id": sid,
                    **{k: row[k] for k in KEY},
                    "geo_level": row["geo_level"],
                    "period": periods[i],
                    "value": values[i],
                    "flags": flags[i],
                    "previous_period": changes[i].previous_period,
                    "abs_change": changes[i].abs_change,
                    "pct_change": changes[i].pct_change,
                    "moving_avg_3": averages[i],
                    "break_before": brk,
                    "break_reason": _break_reason(breaks, periods, i) if brk else None,
                    "segment": seg[i],
                    "source_dataset": row["source_dataset"],
                    "snapshot_sha256": row["snapshot_sha256"],
                }
            )
    return pd.DataFrame(series_rows), pd.DataFrame(suspected_rows)


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


def build_assessment(series: pd.DataFrame, cat: Catalogue) -> pd.DataFrame:
    method = cat.trend_method
    rows: list[dict[str, Any]] = []
    if series.empty:
        return pd.DataFrame(columns=ASSESSMENT_COLUMNS)
    for sid, grp in series.groupby("series_id", sort=True):
        last_seg = grp["segment"].max()
        seg = grp[grp["segment"] == last_seg].sort_values("period")
        first = seg.iloc[0]
        ind = cat.indicators[int(first["indicator_id"])]
        polarity = ind.polarity_of(str(first["measure"]))
        periods = [int(p) for p in seg["period"]]
        values = [float(v) for v in seg["value"]]
        short = ts.cagr_window(periods, values, method.short_term_years, method.min_span_short)
        long = ts.cagr_window(periods, values, method.long_term_years, method.min_span_long)
        mk = ts.mann_kendall(
            values,
            periods,
            alpha=method.mann_kendall_alpha,
            min_points=method.mann_kendall_min_points,
        )
        base = baseline(periods, values, method)
        latest_flags = seg.iloc[-1]["flags"]
        notes = []
        if isinstance(latest_flags, str) and latest_flags:
            notes.append(
                f"latest value flagged '{latest_flags}'"
                + (" (provisional)" if "p" in latest_flags else "")
                + (" (estimated)" if "e" in latest_flags else "")
            )
        if last_seg > 1:
            notes.append(
                f"series split at break(s); assessed from {periods[0]} (segment {last_seg})"
            )
        if base is None:
            notes.append("no baseline: the latest segment starts after the plan's baseline")
        change_abs = values[-1] - base[1] if base else None
        change_pct = (change_abs / abs(base[1]) * 100) if base and base[1] else None
        rows.append(
            {
                "series_id": sid,
                **{k: first[k] for k in KEY},
                "polarity": polarity,
                "segment": int(last_seg),
                "first_period": periods[0],
                "last_period": periods[-1],
                "n_points": len(periods),
                "baseline_period": base[0] if base else None,
                "baseline_value": base[1] if base else None,
                "latest_period": periods[-1],
                "latest_value": values[-1],
                "latest_flags": latest_flags if isinstance(latest_flags, str) else None,
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
                "source_dataset": first["source_dataset"],
            }
        )
    return pd.DataFrame(rows, columns=ASSESSMENT_COLUMNS)


ASSESSMENT_COLUMNS = [
    "series_id",
    *KEY,
    "polarity",
    "segment",
    "first_period",
    "last_period",
    "n_points",
    "baseline_period",
    "baseline_value",
    "latest_period",
    "latest_value",
    "latest_flags",
    "change_since_baseline",
    "change_since_baseline_pct",
    "short_term_start",
    "short_term_end",
    "cagr_short_term",
    "class_short_term",
    "long_term_start",
    "long_term_end",
    "cagr_long_term",
    "class_long_term",
    "mk_trend",
    "mk_p_value",
    "mk_tau",
    "sen_slope",
    "mk_n",
    "direction",
    "notes",
    "method",
    "source_dataset",
]


def build_eu_aggregates(con: duckdb.DuckDBPyConnection) -> None:
    """EU27 sums of counts, with the number of Member States that reported each year."""
    run_sql_file(con, "trends/eu_aggregates.sql")


def _write(con: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame) -> int:
    """Insert into a table created by sql/trends/schema.sql (types come from the DDL)."""
    if df.empty:
        return 0
    con.register("_trend_frame", df)
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _trend_frame")
    con.unregister("_trend_frame")
    return len(df)


def build_trends(con: duckdb.DuckDBPyConnection, cat: Catalogue) -> dict[str, int]:
    run_sql_file(con, "trends/schema.sql")
    obs = load_observations(con, cat)
    obs["series_id"] = obs.apply(series_id, axis=1) if not obs.empty else pd.Series(dtype=str)
    series, suspected = build_series(obs, cat)
    counts = {
        "series": _write(con, "trends.series", series),
        "suspected_breaks": _write(con, "trends.suspected_breaks", suspected),
        "assessment": _write(con, "trends.assessment", build_assessment(series, cat)),
    }
    # Counted from the stored table, so the gate proves each assessment has its series.
    con.execute("""
        UPDATE trends.assessment AS a
        SET series_rows = (SELECT count(*) FROM trends.series AS s WHERE s.series_id = a.series_id)
    """)
    build_eu_aggregates(con)
    counts["eu_aggregates"] = con.execute("SELECT count(*) FROM trends.eu_aggregates").fetchone()[0]
    return counts


SERIES_COLUMNS = [
    "series_id",
    *KEY,
    "geo_level",
    "period",
    "value",
    "flags",
    "previous_period",
    "abs_change",
    "pct_change",
    "moving_avg_3",
    "break_before",
    "break_reason",
    "segment",
    "source_dataset",
    "snapshot_sha256",
]
SUSPECTED_COLUMNS = [
    "series_id",
    *KEY,
    "period",
    "previous_period",
    "ratio",
    "kind",
    "reason",
    "treated_as_break",
]
