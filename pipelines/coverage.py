"""What the warehouse covers, and how EU headline figures compare with country data.

meta.coverage     indicator x geo x period -> measures with data, and their sources: the gaps
                  a monitoring officer looks for, at a glance
meta.substances   every substance named in the indicator tables, with its label and (for
                  wastewater) the metabolite actually measured
meta.headline_comparison   every curated EU headline figure beside its like-for-like counterpart
                  (assets/reference/headline_checks.yaml, read by the catalogue), reported as a
                  warning check
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa

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
    refs = [cat.substances.get(substance.lower()) for substance, _, _ in rows]
    _insert(
        con,
        "meta.substances",
        {
            "substance": [substance for substance, _, _ in rows],
            "label": [ref.label if ref else None for ref in refs],
            "wastewater_marker": [ref.wastewater_marker if ref else None for ref in refs],
            "indicators": [inds for _, inds, _ in rows],
            "observations": [n for _, _, n in rows],
        },
    )
    return len(rows)


def _insert(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, list[Any]]) -> None:
    """All rows in one statement (one commit), not one INSERT per row."""
    if not next(iter(columns.values()), []):
        return
    con.register("_coverage_rows", pa.table(columns))
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _coverage_rows")
    con.unregister("_coverage_rows")


EU27_MEMBER_STATES = 27
FILTER_COLUMNS = ("sex", "age", "substance", "breakdown", "unit")
COMPARISON_COLUMNS = {
    "indicator_id": "INTEGER",
    "measure": "VARCHAR",
    "geo": "VARCHAR",
    "substance": "VARCHAR",
    "period": "INTEGER",
    "published_value": "DOUBLE",
    "qualifier": "VARCHAR",  # as published: '>' more than, '~' about
    "unit": "VARCHAR",
    "counterpart_measure": "VARCHAR",
    "counterpart": "VARCHAR",  # what the figure is compared with, in words
    "counterpart_value": "DOUBLE",
    "reporting_member_states": "INTEGER",
    "difference_pct": "DOUBLE",
    "status": "VARCHAR",  # agrees | differs | no counterpart value | not comparable
    "reason": "VARCHAR",
    "tolerance_pct": "DOUBLE",
}


ARROW_TYPES = {"INTEGER": pa.int32(), "VARCHAR": pa.string(), "DOUBLE": pa.float64()}


class HeadlineConfigError(ValueError):
    pass


def _filter_sql(spec: dict[str, Any]) -> tuple[list[str], list[Any]]:
    conditions, params = ["o.measure = ?"], [spec["measure"]]
    for column, allowed in (spec.get("filter") or {}).items():
        if column not in FILTER_COLUMNS:
            raise HeadlineConfigError(f"headline_checks.yaml: cannot filter on {column!r}")
        values = [v for v in allowed if v is not None]
        parts = [f"o.{column} IN ({', '.join('?' for _ in values)})"] if values else []
        if None in allowed:
            parts.append(f"o.{column} IS NULL")
        conditions.append("(" + " OR ".join(parts) + ")")
        params += values
    return conditions, params


def _counterpart(
    con: duckdb.DuckDBPyConnection, table: str, figure: dict[str, Any], period: int
) -> tuple[float | None, int | None, str | None]:
    """(value, Member States reporting, why there is no value) for one published year."""
    cp = figure["counterpart"]
    if "same_geo" in cp:
        conditions, params = _filter_sql(cp["same_geo"])
        rows = con.execute(
            f"SELECT o.value FROM {table} AS o WHERE {' AND '.join(conditions)} "
            "AND o.geo = ? AND o.period = ? AND o.value IS NOT NULL",
            [*params, figure["geo"], period],
        ).fetchall()
        if len(rows) > 1:
            raise HeadlineConfigError(
                f"headline_checks.yaml: {figure['measure']} {figure['geo']} {period}: the "
                f"counterpart {cp['same_geo']} matches {len(rows)} rows, not one series"
            )
        return (rows[0][0], None, None) if rows else (None, None, f"no value for {period}")
    if "member_state_sum" in cp:
        conditions, params = _filter_sql(cp["member_state_sum"])
        total, reporting = con.execute(
            f"SELECT sum(o.value), count(DISTINCT o.geo) FROM {table} AS o "
            "JOIN meta.geo AS g ON g.geo = o.geo AND g.eu27 "
            f"WHERE {' AND '.join(conditions)} AND o.period = ? AND o.value IS NOT NULL",
            [*params, period],
        ).fetchone()
        if not reporting:
            return None, 0, f"no Member State value for {period}"
        if reporting < EU27_MEMBER_STATES:
            return (
                total,
                reporting,
                f"only {reporting} of {EU27_MEMBER_STATES} Member States report {period}: "
                "a partial sum is another geography",
            )
        return total, reporting, None
    raise HeadlineConfigError(f"headline_checks.yaml: unknown counterpart kind in {cp}")


def compare(published: float, qualifier: str | None, counterpart: float, tolerance: float) -> str:
    """'agrees' or 'differs'; exactly the tolerance on paper is within it, despite float noise."""
    if not published:
        return "differs" if counterpart else "agrees"
    diff = (counterpart - published) / published * 100
    if qualifier == ">":  # a lower bound: only a counterpart below it can contradict it
        diff = min(diff, 0.0)
    return "agrees" if abs(diff) <= tolerance + BOUNDARY_TOLERANCE else "differs"


def build_headline_comparison(
    con: duckdb.DuckDBPyConnection, cat: Catalogue
) -> list[dict[str, Any]]:
    """Every curated EU headline figure beside its like-for-like computed counterpart, if any."""
    config = cat.headline_checks.model_dump(exclude_none=True)
    tolerance = float(config["tolerance_pct"])
    declared = {(f["indicator"], f["measure"], f["geo"]): f for f in config["figures"]}
    tables = set(indicator_tables(con))
    out: list[dict[str, Any]] = []
    for ind in cat.indicator_list():
        if ind.table not in tables:
            continue
        figures = con.execute(
            f"""SELECT measure, geo, substance, period, value, flags, unit FROM {ind.table}
                WHERE source_dataset = ? AND geo_level = 'aggregate' AND value IS NOT NULL
                ORDER BY measure, geo, substance, period""",
            [config["dataset"]],
        ).fetchall()
        for measure, geo, substance, period, value, flags, unit in figures:
            figure = declared.get((ind.number, measure, geo))
            row: dict[str, Any] = dict.fromkeys(COMPARISON_COLUMNS)
            row.update(
                indicator_id=ind.number,
                measure=measure,
                geo=geo,
                substance=substance,
                period=period,
                published_value=value,
                qualifier=flags,
                unit=unit,
                tolerance_pct=tolerance,
            )
            if figure is None or "counterpart" not in figure:
                row["status"] = "not comparable"
                row["reason"] = (
                    figure["not_comparable"]
                    if figure
                    else "no like-for-like counterpart declared in headline_checks.yaml"
                )
                out.append(row)
                continue
            cp = figure["counterpart"]
            spec = cp.get("same_geo") or cp.get("member_state_sum") or {}
            row["counterpart_measure"] = spec.get("measure")
            row["counterpart"] = " ".join(str(cp.get("definition", "")).split())
            cp_value, reporting, missing = _counterpart(con, ind.table, figure, period)
            row["reporting_member_states"] = reporting
            if missing is not None:
                row.update(status="no counterpart value", reason=missing)
                row["counterpart_value"] = cp_value
            else:
                row["counterpart_value"] = cp_value
                if value:
                    row["difference_pct"] = (cp_value - value) / value * 100
                row["status"] = compare(value, flags, cp_value, tolerance)
            out.append(row)
    con.execute(
        "CREATE OR REPLACE TABLE meta.headline_comparison ("
        + ", ".join(f"{c} {t}" for c, t in COMPARISON_COLUMNS.items())
        + ")"
    )
    _insert(
        con,
        "meta.headline_comparison",
        {
            name: pa.array([row[name] for row in out], ARROW_TYPES[sql_type])
            for name, sql_type in COMPARISON_COLUMNS.items()
        },
    )
    return out


def headline_discrepancies(comparison: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The figures the headline_consistency check warns about: like for like, and different."""
    return [row for row in comparison if row["status"] == "differs"]
