"""The staging memory bound applies where DuckDB can spill aside: a database file, or an
in-memory database with its own temp_directory (a staging step's scratch database)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.enginemem import ENGINE_MEMORY, STAGE_MEMORY, bounded_memory


def limit_inside(con: duckdb.DuckDBPyConnection, limit: str = ENGINE_MEMORY) -> str:
    with bounded_memory(con, limit):
        return con.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def mib(shown: str) -> float:
    return float(shown.removesuffix(" MiB"))


def bounded(limit: str = ENGINE_MEMORY) -> str:
    with duckdb.connect(config={"memory_limit": limit}) as probe:
        return probe.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def test_a_database_file_is_bounded_and_gets_its_limit_back(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "w.duckdb"), config={"memory_limit": "1GB"}) as con:
        before = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        assert limit_inside(con) == bounded()
        after = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        # DuckDB shows the limit rounded to 0.1 MiB, and a limit set back from that text
        # can differ by that rounding
        assert after.endswith(" MiB") and round(abs(mib(after) - mib(before)), 1) <= 0.1, (
            before,
            after,
        )


def test_a_scratch_database_with_its_own_temp_directory_is_bounded(tmp_path: Path) -> None:
    config = {"memory_limit": "1GB", "temp_directory": str(tmp_path / "spill")}
    with duckdb.connect(config=config) as con:
        assert limit_inside(con) == bounded()
        # staging a file may hold more (its lines), still well under the connection's own
        assert limit_inside(con, STAGE_MEMORY) == bounded(STAGE_MEMORY) != bounded()


def test_an_in_memory_database_without_a_temp_directory_is_left_as_it_is() -> None:
    with duckdb.connect(config={"memory_limit": "1GB"}) as con:
        before = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        assert limit_inside(con) == before != bounded()
