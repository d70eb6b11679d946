"""The run's build folder: what steps that may run side by side hand to the build file.

DuckDB lets one process write a database file, and while it does, no other process may even
read it. So the steps that run side by side under the multiprocess executor (downloads,
staging) never open the build file to write. Each works in a scratch database of its own and
leaves what it made as Parquet files in the run's build folder
`data/warehouse/build-<run>.parts/`, one folder per step:

    raw/<asset>/       meta.fetch_log                     loaded by meta/build
    staging/<asset>/   staging.<table> and its meta rows  loaded by meta/staged

A step's folder holds every table of its scratch database outside `meta`, every `meta`
table it put rows in, and `tables.json`, which gives each table's files and column types (the
build's table gets exactly the types the step made). A staged table is the Parquet files
staging wrote, one per member snapshot, moved into the folder as they are. A step writes its
folder under a temporary name and renames it into place: a killed step leaves no half folder
behind to be loaded.

Loading into the build (one writer): a `meta` table is a record (sql/meta/schema.sql) that
receives the part's rows, replacing rows with the same primary key (a re-executed step
replaces its own record); any other table is replaced whole.

Both executors take this one path: in-process (the CLI) and multiprocess (the nightly job
launched from the Dagster UI). Publish removes the folder; the next run removes the folder a
dead run left (pipelines/runlock.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb

from pipelines.enginemem import bounded_memory
from pipelines.settings import Paths
from pipelines.warehouse import run_sql_file

RAW = "raw"
STAGING = "staging"
MANIFEST = "tables.json"


def step_folder(paths: Paths, build_id: str, layer: str, name: str) -> Path:
    return paths.build_parts(build_id) / layer / name


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def scratch_folder(paths: Paths, build_id: str) -> Path:
    """The folder of this process's scratch database: its spill files, and what a step
    writes before `write_step` moves it into the step folder."""
    return paths.build_parts(build_id) / f".scratch.tmp-{os.getpid()}"


def staged_files_folder(paths: Paths, build_id: str) -> Path:
    """Where a staging step writes the Parquet files it stages (`stage.stage_dataset`), in
    its scratch folder, until `write_step` moves them into the step folder: created."""
    folder = scratch_folder(paths, build_id) / "staged"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def scratch(
    paths: Paths, build_id: str, *, threads: int = 2, memory_limit: str = "4GB"
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A step's own database: in memory, with the build's schemas and meta tables; what
    does not fit in `memory_limit` spills into the build folder (`scratch_folder`, removed
    at the end)."""
    spill = scratch_folder(paths, build_id)
    spill.parent.mkdir(parents=True, exist_ok=True)  # DuckDB creates one level only
    config = {"threads": threads, "memory_limit": memory_limit, "temp_directory": str(spill)}
    con = duckdb.connect(config=config)
    try:
        run_sql_file(con, "meta/schema.sql")
        yield con
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


@contextlib.contextmanager
def read_build(paths: Paths, build_id: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """The run's build file, read-only: any number of processes may read it at once while
    no step writes it (between meta/build and meta/staged)."""
    con = duckdb.connect(str(paths.build_warehouse(build_id)), read_only=True)
    try:
        yield con
    finally:
        con.close()


def _tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return [
        (schema, name)
        for schema, name in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() AND NOT temporary ORDER BY 1, 2"
        ).fetchall()
    ]


def _columns(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> list[list[str]]:
    return [
        [column, data_type]
        for column, data_type in con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = ? AND table_name = ? "
            "ORDER BY column_index",
            [schema, name],
        ).fetchall()
    ]


def write_step(
    con: duckdb.DuckDBPyConnection, folder: Path, parquet: dict[str, list[Path]] | None = None
) -> list[str]:
    """Write a scratch database's tables (see the module docstring) as the step folder
    `folder`, replacing the one a previous attempt wrote. `parquet`: the tables (views) that
    already are Parquet files (`schema.table`: its files, in order), moved into the folder as
    they are instead of written again. Returns the tables written."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    entries = []
    with bounded_memory(con):  # a large staged table is written out spilling, not held
        for schema, name in _tables(con):
            table = f"{_q(schema)}.{_q(name)}"
            if schema == "meta" and not con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]:
                continue
            file = f"{schema}.{name}.parquet"
            con.execute(
                f"COPY (SELECT * FROM {table}) TO {_literal(str(tmp / file))} (FORMAT parquet)"
            )
            columns = _columns(con, schema, name)
            entries.append({"schema": schema, "table": name, "files": [file], "columns": columns})
    for qualified, files in (parquet or {}).items():
        schema, name = qualified.split(".", 1)
        names = [f"{schema}.{name}.{n}.parquet" for n in range(len(files))]
        for source, file in zip(files, names, strict=True):
            os.replace(source, tmp / file)
        columns = _columns(con, schema, name)
        entries.append({"schema": schema, "table": name, "files": names, "columns": columns})
    (tmp / MANIFEST).write_text(json.dumps({"tables": entries}, indent=1), encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return [f"{e['schema']}.{e['table']}" for e in entries]


def _keyed(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    (n,) = con.execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ? AND constraint_type = 'PRIMARY KEY'",
        [schema, name],
    ).fetchone()
    return bool(n)


def load_steps(con: duckdb.DuckDBPyConnection, layer: Path) -> dict[str, int]:
    """Load every step folder of `layer` (a folder such as `<build folder>/staging`) into
    the build: rows loaded per table (`schema.table`), in folder order."""
    loaded: dict[str, int] = {}
    if not layer.is_dir():
        return loaded
    steps = sorted(p for p in layer.iterdir() if p.is_dir() and not p.name.startswith("."))
    existing = set(_tables(con))
    for step in steps:
        manifest = json.loads((step / MANIFEST).read_text(encoding="utf-8"))
        for entry in manifest["tables"]:
            schema, name = entry["schema"], entry["table"]
            table = f"{_q(schema)}.{_q(name)}"
            files = ", ".join(_literal(str(step / f)) for f in entry["files"])
            source = f"read_parquet([{files}])"
            if schema != "meta" or (schema, name) not in existing:
                columns = ", ".join(f"{_q(c)} {t}" for c, t in entry["columns"])
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(schema)}")
                con.execute(f"CREATE OR REPLACE TABLE {table} ({columns})")
                existing.add((schema, name))
            replace = "OR REPLACE " if schema == "meta" and _keyed(con, schema, name) else ""
            (rows,) = con.execute(
                f"INSERT {replace}INTO {table} BY NAME SELECT * FROM {source}"
            ).fetchone()
            key = f"{schema}.{name}"
            loaded[key] = loaded.get(key, 0) + int(rows)
    return loaded


def remove(paths: Paths, build_id: str) -> None:
    shutil.rmtree(paths.build_parts(build_id), ignore_errors=True)
