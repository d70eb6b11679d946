"""warehouse.comment_tables on a real DuckDB file: every table and column of the named schemas
gets the text the callbacks give (quotes in names and texts included), in one transaction;
what gets no text is returned, views and other schemas are left alone."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.warehouse import comment_tables


def test_comments_every_table_and_column_and_returns_what_has_no_text(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE SCHEMA a; CREATE SCHEMA b; CREATE SCHEMA c")
    con.execute('CREATE TABLE a."it""s" (x INTEGER, "odd ""col""" VARCHAR, y DOUBLE)')
    con.execute("CREATE TABLE b.t (z INTEGER)")
    con.execute("CREATE TABLE c.ignored (w INTEGER)")
    con.execute("CREATE VIEW a.v AS SELECT 1 AS one")

    def table_text(schema: str, table: str) -> str:
        return "" if table == "t" else f"table {schema}.{table}: it's described"

    def column_text(schema: str, table: str, column: str) -> str:
        return "" if column == "y" else f"column {column} of {table}"

    undescribed = comment_tables(con, ("a", "b"), table_text, column_text)

    assert undescribed == ['a.it"s.y', "b.t"]
    tables = con.execute(
        "SELECT schema_name, table_name, comment FROM duckdb_tables() ORDER BY 1, 2"
    ).fetchall()
    assert tables == [
        ("a", 'it"s', "table a.it\"s: it's described"),
        ("b", "t", None),
        ("c", "ignored", None),
    ]
    columns = con.execute(
        "SELECT schema_name, table_name, column_name, comment FROM duckdb_columns() "
        "WHERE schema_name IN ('a', 'b', 'c') ORDER BY 1, 2, column_index"
    ).fetchall()
    assert columns == [
        ("a", 'it"s', "x", 'column x of it"s'),
        ("a", 'it"s', 'odd "col"', 'column odd "col" of it"s'),
        ("a", 'it"s', "y", None),
        ("a", "v", "one", None),
        ("b", "t", "z", "column z of t"),
        ("c", "ignored", "w", None),
    ]
    views = "SELECT count(*) FROM duckdb_views() WHERE NOT internal AND comment IS NOT NULL"
    assert con.execute(views).fetchone() == (0,)
    con.close()
