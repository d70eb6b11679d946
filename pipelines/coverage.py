"""What the warehouse covers, and how EU headline figures compare with country data.

meta.coverage     indicator x geo x period -> measures with data, and their sources: the gaps
                  a monitoring officer looks for, at a glance
meta.substances   every substance named in the indicator tables, with its label and (for
                  wastewater) the metabolite actually measured
meta.headline_comparison   curated EU headline figures against the sum of Member State values
                  (assets/reference/headline_checks.yaml, read by the catalogue), reported as
                  a warning check
"""

from __future__ import annotations

from typing import Any

import duckdb

from pipelines.catalogue import Catalogue
from pipelines.trend_stats import BOUNDARY_TOLERANCE


def indicator_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        f"indicators.{r[0]}"
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'indicators' ORDER BY table_name"
        ).fetchall()
    ]


def _union(con: duckdb.DuckDBPyConnection, columns: str) -> str | None:
    tables = indicator_tables(con)
    if not tables:
        return None
    return " UNION ALL ".join(f"SELECT {columns} FROM {t}" for t in tables)


def build_coverage(con: duckdb.DuckDBPyConnection) -> int:
    union = _union(con, "indicator_id, geo, period, measure, source_dataset, value")
    if union is None:
        con.execute("CREATE OR REPLACE TABLE meta.coverage (indicator_id INTEGER)")
        return 0
    con.execute(f"""
        CREATE OR REPLACE TABLE meta.coverage AS
        SELECT o.indicator_id, i.short_name AS indicator, o.geo, g.name AS geo_name,
               g.eu27, o.period,
               list(DISTINCT o.measure ORDER BY o.measure) AS measures,
               list(DISTINCT o.source_dataset ORDER BY o.source_dataset) AS sources,
               count(*) FILTER (WHERE o.value IS NOT NULL) AS numeric_values
        FROM ({union}) AS o
        JOIN meta.indicators AS i USING (indicator_id)
        LEFT JOIN meta.geo AS g ON g.geo = o.geo
        GROUP BY ALL
        ORDER BY o.indicator_id, o.geo, o.period
    """)
    return con.execute("SELECT count(*) FROM meta.coverage").fetchone()[0]


def build_substances(con: duckdb.DuckDBPyConnection, cat: Catalogue) -> int:
    con.execute("""
        CREATE OR REPLACE TABLE meta.substances (
            substance VARCHAR, label VARCHAR, wastewater_marker VARCHAR,
            indicators INTEGER[], observations BIGINT)
    """)
    union = _union(con, "indicator_id, substance")
    if union is None:
        return 0
    rows = con.execute(f"""
        SELECT substance, list(DISTINCT indicator_id ORDER BY indicator_id), count(*)
        FROM ({union}) WHERE substance IS NOT NULL GROUP BY substance ORDER BY substance
    """).fetchall()
    for substance, inds, n in rows:
        ref = cat.substances.get(substance.lower())
        con.execute(
            "INSERT INTO meta.substances VALUES (?, ?, ?, ?, ?)",
            [
                substance,
                ref.label if ref else None,
                ref.wastewater_marker if ref else None,
                inds,
                n,
            ],
        )
    return len(rows)


def build_headline_comparison(
    con: duckdb.DuckDBPyConnection, cat: Catalogue
) -> list[dict[str, Any]]:
    """Each curated EU27 headline figure beside the sum of Member State values."""
    tolerance = cat.headline_checks.tolerance_pct
    out: list[dict[str, Any]] = []
    for comp in cat.headline_checks.comparisons:
        if comp.indicator not in cat.indicators:
            raise ValueError(
                f"assets/reference/headline_checks.yaml: indicator {comp.indicator} is not in "
                "the catalogue"
            )
        ind = cat.indicators[comp.indicator]
        conditions, params = ["o.measure = ?"], [comp.country_measure]
        for column, allowed in comp.country_filter.items():
            values = [v for v in allowed if v is not None]
            parts = [f"o.{column} IN ({', '.join('?' for _ in values)})"] if values else []
            if None in allowed:
                parts.append(f"o.{column} IS NULL")
            conditions.append("(" + " OR ".join(parts) + ")")
            params += values
        rows = con.execute(
            f"""
            WITH headline AS (
                SELECT period, value FROM {ind.table}
                WHERE measure = ? AND geo = 'EU27_2020'
            ),
            countries AS (
                SELECT o.period, sum(o.value) AS total, count(DISTINCT o.geo) AS reporting
                FROM {ind.table} AS o JOIN meta.geo AS g ON g.geo = o.geo AND g.eu27
                WHERE {" AND ".join(conditions)}
                GROUP BY o.period
            )
            SELECT h.period, h.value, c.total, c.reporting
            FROM headline AS h JOIN countries AS c USING (period) ORDER BY h.period
            """,
            [comp.headline_measure, *params],
        ).fetchall()
        for period, headline, total, reporting in rows:
            diff_pct = (total - headline) / headline * 100 if headline else None
            out.append(
                {
                    "indicator_id": ind.number,
                    "headline_measure": comp.headline_measure,
                    "country_measure": comp.country_measure,
                    "period": period,
                    "headline_value": headline,
                    "country_sum": total,
                    "reporting_member_states": reporting,
                    "difference_pct": diff_pct,
                    # exactly the tolerance on paper is within it, despite float noise
                    "within_tolerance": diff_pct is not None
                    and abs(diff_pct) <= tolerance + BOUNDARY_TOLERANCE,
                    "tolerance_pct": tolerance,
                    "note": comp.note,
                }
            )
    con.execute("""
        CREATE OR REPLACE TABLE meta.headline_comparison (
            indicator_id INTEGER, headline_measure VARCHAR, country_measure VARCHAR,
            period INTEGER, headline_value DOUBLE, country_sum DOUBLE,
            reporting_member_states INTEGER, difference_pct DOUBLE, within_tolerance BOOLEAN,
            tolerance_pct DOUBLE, note VARCHAR)
    """)
    for row in out:
        con.execute(
            "INSERT INTO meta.headline_comparison VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            list(row.values()),
        )
    return out
