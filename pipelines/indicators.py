"""Indicator tables: one long table per indicator, built from `sql/indicators/<table>.sql`.

Each SQL file selects the indicator's observations from the staging tables of the datasets
its catalogue entry lists in `datasets` (and no other: the asset graph orders the indicator
after exactly those, and a test checks the SQL against the list) and returns the columns in
`SQL_COLUMNS`. The engine adds the indicator id and the provenance every number
carries (fetch time and sample marker of its snapshot), and checks the SQL's output shape,
so a new indicator measure is a SQL change, never a Python change.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from pipelines.catalogue import Indicator
from pipelines.settings import SQL_DIR

# Columns each indicator SQL must return, in this order, with these types.
SQL_COLUMNS: list[tuple[str, str]] = [
    ("measure", "VARCHAR"),
    ("geo", "VARCHAR"),
    ("geo_level", "VARCHAR"),
    ("period", "INTEGER"),
    ("substance", "VARCHAR"),
    ("sex", "VARCHAR"),
    ("age", "VARCHAR"),
    ("breakdown", "VARCHAR"),
    ("value", "DOUBLE"),
    ("value_text", "VARCHAR"),
    ("unit", "VARCHAR"),
    ("flags", "VARCHAR"),
    ("note", "VARCHAR"),
    ("source_dataset", "VARCHAR"),
    ("snapshot_sha256", "VARCHAR"),
    ("source_line", "BIGINT"),
]
# The series key: one value per key in every indicator table.
SERIES_KEY = [
    "measure",
    "geo",
    "period",
    "substance",
    "sex",
    "age",
    "breakdown",
    "unit",
    "value_origin",
]


class IndicatorSQLError(ValueError):
    pass


def sql_path(ind: Indicator) -> Path:
    return SQL_DIR / "indicators" / f"{ind.table_name}.sql"


MACROS_FILE = "_macros.sql"
MACRO_START = re.compile(r"^CREATE OR REPLACE MACRO (?P<name>[a-z_][a-z0-9_]*)\b", re.M)


def macros() -> dict[str, str]:
    """name -> CREATE statement of each table macro in sql/indicators/_macros.sql."""
    text = (SQL_DIR / "indicators" / MACROS_FILE).read_text(encoding="utf-8")
    starts = list(MACRO_START.finditer(text))
    ends = [m.start() for m in starts[1:]] + [len(text)]
    return {m["name"]: text[m.start() : end] for m, end in zip(starts, ends, strict=True)}


def create_macros(con: duckdb.DuckDBPyConnection, body: str) -> None:
    """The shared table macros the query `body` calls (only those: a macro binds the staging
    tables it reads, and a query must not depend on tables it does not read)."""
    for name, statement in macros().items():
        if re.search(rf"\b{name}\s*\(", body):
            con.execute(statement)


def body_sql(ind: Indicator) -> str:
    path = sql_path(ind)
    if not path.exists():
        raise IndicatorSQLError(f"indicator {ind.number}: no SQL file {path}")
    return path.read_text(encoding="utf-8").strip().rstrip(";")


def build_indicator(con: duckdb.DuckDBPyConnection, ind: Indicator) -> int:
    """(Re)build `indicators.<table>` in the build; returns its row count."""
    path = sql_path(ind)
    body = body_sql(ind)
    try:
        create_macros(con, body)
        described = con.execute(f"DESCRIBE SELECT * FROM ({body})").fetchall()
    except duckdb.Error as exc:
        raise IndicatorSQLError(f"{path}: the query fails: {exc}") from exc
    found = [r[0] for r in described]
    wanted = [c for c, _ in SQL_COLUMNS]
    if found != wanted:
        missing = [c for c in wanted if c not in found]
        extra = [c for c in found if c not in wanted]
        raise IndicatorSQLError(
            f"{path}: returns columns {found}; expected {wanted} "
            f"(missing {missing}, unexpected {extra})"
        )
    try:
        _create(con, ind, body)
    except duckdb.Error as exc:
        raise IndicatorSQLError(f"{path}: building {ind.table} failed: {exc}") from exc
    return con.execute(f"SELECT count(*) FROM {ind.table}").fetchone()[0]


def _create(con: duckdb.DuckDBPyConnection, ind: Indicator, body: str) -> None:
    casts = ",\n       ".join(f"CAST(q.{c} AS {t}) AS {c}" for c, t in SQL_COLUMNS)
    con.execute(f"""
        CREATE OR REPLACE TABLE {ind.table} AS
        SELECT CAST({ind.number} AS INTEGER) AS indicator_id,
               {casts},
               CAST(s.fetched_at AS TIMESTAMP) AS fetched_at,
               COALESCE(s.sample, FALSE) AS is_sample,
               'published' AS value_origin
        FROM ({body}) AS q
        -- The same content can be snapshotted more than once (A, B, then A again): one row
        -- per content, with the latest fetch (staging uses the newest snapshot).
        LEFT JOIN (
            SELECT dataset, sha256, max(fetched_at) AS fetched_at, bool_or(sample) AS sample
            FROM meta.snapshots GROUP BY dataset, sha256
        ) AS s ON s.sha256 = q.snapshot_sha256 AND s.dataset = q.source_dataset
        ORDER BY measure, geo, period, substance, sex, age, breakdown
    """)
