"""The HTML indicator report written with every release (exports/<release>/report.html).

One page for monitoring staff: the sources and their state (stale and missing in red), and
per indicator its EU-level series with latest value, flags, baseline, CAGR class and trend,
each with its source dataset. A banner says when the release contains sample data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
from jinja2 import Environment, FileSystemLoader

from pipelines.catalogue import Catalogue

TEMPLATES = Path(__file__).parent / "templates"
HEADLINE_ROWS = 25


def _records(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> list[dict]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def format_number(value: float | None) -> str:
    """Thousands separated, up to 2 decimals for small values: 35,232 / 15.53 / 0.8."""
    if value is None:
        return ""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def indicator_section(con: duckdb.DuckDBPyConnection, ind: Any) -> dict[str, Any]:
    stats = con.execute(
        f"SELECT count(*), count(DISTINCT geo), min(period), max(period) FROM {ind.table}"
    ).fetchone()
    directions = dict(
        con.execute(
            "SELECT direction, count(*) FROM trends.assessment WHERE indicator_id = ? "
            "GROUP BY 1 ORDER BY 2 DESC",
            [ind.number],
        ).fetchall()
    )
    headline = _records(
        con,
        """
        SELECT a.measure, a.geo, concat_ws(', ', a.substance, a.sex, a.age, a.breakdown) AS detail,
               a.latest_period, a.latest_value, a.unit, a.latest_flags,
               coalesce(a.baseline_period || ': ' || round(a.baseline_value, 2), '') AS baseline,
               coalesce(CAST(round(a.cagr_short_term, 2) AS VARCHAR) || ' %', '') AS cagr,
               a.class_short_term, a.direction, a.source_dataset
        FROM trends.assessment AS a JOIN meta.geo AS g ON g.geo = a.geo
        WHERE a.indicator_id = ? AND g.level = 'aggregate'
        ORDER BY a.measure, a.geo, detail
    """,
        [ind.number],
    )
    eu_sums = _records(
        con,
        """
        SELECT measure, concat_ws(', ', substance, sex, age, breakdown) AS detail, period, value,
               unit, reporting_member_states, member_states, missing_member_states AS missing
        FROM trends.eu_aggregates
        WHERE indicator_id = ?
        QUALIFY period = max(period) OVER (PARTITION BY measure, substance, sex, age, breakdown)
        ORDER BY measure, detail
    """,
        [ind.number],
    )
    return {
        "eu_sums": eu_sums[:HEADLINE_ROWS],
        "number": ind.number,
        "name_en": ind.name_en,
        "name_nl": ind.name_nl,
        "polarity": ind.polarity,
        "table": ind.table,
        "rows": stats[0],
        "geos": stats[1],
        "first_period": stats[2],
        "last_period": stats[3],
        "directions": directions,
        "headline": headline[:HEADLINE_ROWS],
        "more": max(0, len(headline) - HEADLINE_ROWS),
    }


def write_report(
    con: duckdb.DuckDBPyConnection, cat: Catalogue, release_id: str, target: Path
) -> Path:
    release = _records(con, "SELECT * FROM meta.releases WHERE release_id = ?", [release_id])[0]
    datasets = _records(
        con,
        "SELECT * FROM meta.release_datasets WHERE release_id = ? ORDER BY dataset",
        [release_id],
    )
    tables = {
        r[0]
        for r in con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables"
        ).fetchall()
    }
    sections = [indicator_section(con, ind) for ind in cat.indicator_list() if ind.table in tables]
    attributions = _records(
        con, "SELECT DISTINCT attribution, licence FROM meta.datasets ORDER BY attribution"
    )
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)  # every value
    env.filters["number"] = format_number
    html = env.get_template("report.html.j2").render(
        release=release,
        datasets=datasets,
        indicators=sections,
        attributions=attributions,
        method=f"{cat.trend_method.name} ({cat.trend_method.edition})",
    )
    target.write_text(html, encoding="utf-8")
    return target
