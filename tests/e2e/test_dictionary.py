"""The data dictionary and the SQL cookbook, on the demo warehouse built by the console script.

Every table and column published carries a comment (from the catalogue and
assets/reference/dictionary.yaml), `eudap describe` prints them, and every ```sql block of
docs/sql-cookbook.md runs through `eudap sql` and returns rows.
"""

from __future__ import annotations

import csv
import io
import re

import duckdb
import pytest
from console import Result, eudap, published

from pipelines.settings import PROJECT_ROOT

pytestmark = pytest.mark.e2e

COOKBOOK = PROJECT_ROOT / "docs" / "sql-cookbook.md"


def cookbook_queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", COOKBOOK.read_text(encoding="utf-8"), re.S)


def test_every_table_and_column_of_the_demo_warehouse_has_a_comment(
    demo: tuple[dict, Result],
) -> None:
    env, res = demo
    assert res.code == 0, res.out + res.err
    with duckdb.connect(str(published(env)), read_only=True) as con:
        tables = con.execute(
            "SELECT schema_name || '.' || table_name, coalesce(comment, '') FROM duckdb_tables() "
            "WHERE database_name = current_database()"
        ).fetchall()
        columns = con.execute(
            "SELECT schema_name || '.' || table_name || '.' || column_name, "
            "coalesce(comment, '') FROM duckdb_columns() WHERE database_name = current_database()"
        ).fetchall()
    assert len(tables) > 30 and len(columns) > 400  # the whole warehouse, not a corner of it
    assert [name for name, text in tables if not text.strip()] == []
    assert [name for name, text in columns if not text.strip()] == []
    comments = dict(columns)
    # from the catalogue: an indicator's measures, a dataset's dimensions and attribution
    assert "drug_induced_deaths" in comments["indicators.ind09_morbidity_mortality.measure"]
    assert "eurostat.crim_off_cat" in comments["staging.eurostat_crim_off_cat.iccs"]
    # from the one dictionary file: a shared name means the same in every table
    assert len({comments[c] for c in comments if c.endswith(".snapshot_sha256")}) == 1


def test_describe_prints_the_tables_and_one_tables_columns(demo: tuple[dict, Result]) -> None:
    env, _ = demo
    res = eudap(env, "describe")
    assert res.code == 0, res.err
    listed = {line.split()[0]: line for line in res.out.splitlines()}
    assert "Indicator 9" in listed["indicators.ind09_morbidity_mortality"]
    assert "wastewater" in listed["trends.wastewater_city_change"].lower()
    res = eudap(env, "describe", "wastewater_city_change")
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert lines[0].startswith("trends.wastewater_city_change: ")
    change = next(line.split(None, 2) for line in lines[1:] if line.split()[0] == "change_class")
    assert change[1] == "VARCHAR" and "increase" in change[2]


@pytest.mark.parametrize("query", cookbook_queries(), ids=lambda q: q.split("\n")[0][:40])
def test_every_cookbook_query_returns_rows(demo: tuple[dict, Result], query: str) -> None:
    env, built = demo
    assert built.code == 0, "the demo must have published first"
    res = eudap(env, "sql", query, "--csv")
    assert res.code == 0, f"{query}\n{res.err}"
    rows = list(csv.reader(io.StringIO(res.out)))
    assert len(rows) > 1, f"no rows from the cookbook query:\n{query}"


def test_the_cookbook_covers_the_questions_analysts_ask() -> None:
    text = COOKBOOK.read_text(encoding="utf-8")
    queries = "\n".join(cookbook_queries())
    for topic in ("2020", "wastewater_city_change", "meta.coverage", "snapshot_sha256"):
        assert topic in queries, topic
    assert "fetched_at" in queries and "flags" in queries
    assert len(cookbook_queries()) >= 6 and "## Latest value per country" in text
