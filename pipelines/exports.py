"""The files of a release, under exports/<release>/: every published table as Parquet and CSV,
the monitoring workbook (pipelines/workbook.py) and a Frictionless Data Package descriptor
(datapackage.json, https://specs.frictionlessdata.io/data-package/) listing every file with
its format, media type, Table Schema, licences and sources.

Written from the build before it is published (pipelines/publish.py), so a failed export
leaves the published warehouse as it was.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines.workbook import WORKBOOK_NAME, has_table, write_workbook

PUBLISHED_SCHEMAS = ("indicators", "trends", "meta")  # staging is not published
MEDIA_TYPES = {
    "parquet": "application/vnd.apache.parquet",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html",
    "json": "application/json",
}
# CSV timestamps are written as the Table Schema's default datetime form (UTC).
CSV_DATETIME = "%Y-%m-%dT%H:%M:%SZ"
# The catalogue's licence texts (assets/datasets/*.yaml) as Open Definition licence ids: a
# licence must carry a `name` or a `path` (Data Package spec); a text not listed here is
# described as `notspecified`, with the text itself as title, rather than guessed.
LICENCE_IDS = {
    "CC BY 4.0": ("CC-BY-4.0", "https://creativecommons.org/licenses/by/4.0/"),
    "Reuse with acknowledgement": ("other-at", None),
}
DATAPACKAGE_NAME = "datapackage.json"


def published_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    schemas = ", ".join(f"'{s}'" for s in PUBLISHED_SCHEMAS)
    return con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = "
        f"current_database() AND NOT temporary AND schema_name IN ({schemas}) ORDER BY 1, 2"
    ).fetchall()


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple]:
    return con.execute(
        "SELECT column_name, data_type, coalesce(comment, '') FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = ? AND table_name = ? "
        "ORDER BY column_index",
        [schema, table],
    ).fetchall()


def sql_string(path: Path) -> str:
    """A path as an SQL string literal (COPY TO takes no parameter): quotes doubled."""
    return "'" + str(path).replace("'", "''") + "'"


@contextmanager
def _removed_on_failure(folder: Path) -> Iterator[None]:
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        if created:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def write_tables(con: duckdb.DuckDBPyConnection, folder: Path, release_id: str) -> list[str]:
    """Parquet and CSV of every published table, and the workbook. A failure removes the
    folder it created.

    A table this build copied from the published release (meta.input_keys.copied_from,
    pipelines/reuse.py) holds that release's rows, so its two files are hard links to the
    ones that release exported, when that release's folder has them. Returns those tables."""
    with _removed_on_failure(folder):
        sources = _copied_from(con, release_id)
        linked: list[str] = []
        statements: list[str] = []
        for schema, name, columns in _published_columns(con):
            source = sources.get(f"{schema}.{name}")
            if (
                source
                and Path(source).name == source  # a release id, never a path
                and _link_exports(folder.parent / source, folder, f"{schema}.{name}")
            ):
                linked.append(f"{schema}.{name}")
                continue
            table = f'"{schema}"."{name}"'
            parquet = sql_string(folder / f"{schema}.{name}.parquet")
            statements.append(f"COPY {table} TO {parquet} (FORMAT parquet)")
            csv = sql_string(folder / f"{schema}.{name}.csv")
            select = ", ".join(_csv_column(c, t) for c, t in columns)
            statements.append(f"COPY (SELECT {select} FROM {table}) TO {csv} (FORMAT csv, HEADER)")
        if statements:
            con.execute(";\n".join(statements))
        write_workbook(con, folder / WORKBOOK_NAME, release_id)
    return linked


def _published_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, list[tuple]]]:
    """Every published table (as `published_tables`) with its columns' names and types."""
    schemas = ", ".join(f"'{s}'" for s in PUBLISHED_SCHEMAS)
    return con.execute(
        "SELECT t.schema_name, t.table_name, "
        "list((c.column_name, c.data_type) ORDER BY c.column_index) "
        "FROM duckdb_tables() t JOIN duckdb_columns() c USING (database_name, schema_name, "
        "table_name) WHERE t.database_name = current_database() AND NOT t.temporary "
        f"AND t.schema_name IN ({schemas}) GROUP BY ALL ORDER BY 1, 2"
    ).fetchall()


def _copied_from(con: duckdb.DuckDBPyConnection, release_id: str) -> dict[str, str]:
    """Table -> the published release this build copied it from."""
    if not has_table(con, "meta", "input_keys"):
        return {}
    return dict(
        con.execute(
            "SELECT table_name, copied_from FROM meta.input_keys "
            "WHERE release_id = ? AND copied_from IS NOT NULL",
            [release_id],
        ).fetchall()
    )


def _link_exports(source: Path, folder: Path, stem: str) -> bool:
    """Hard-link `stem`.parquet and .csv from the source release's folder; False (and nothing
    linked) when it lacks either file or the file system refuses the link."""
    names = [f"{stem}.parquet", f"{stem}.csv"]
    if not all((source / n).is_file() and not (source / n).is_symlink() for n in names):
        return False
    try:
        for n in names:
            os.link(source / n, folder / n)
    except OSError:
        for n in names:
            (folder / n).unlink(missing_ok=True)
        return False
    return True


def _csv_column(column: str, data_type: str) -> str:
    quoted = f'"{column}"'
    if data_type.endswith("[]"):
        return f"CAST(to_json({quoted}) AS VARCHAR) AS {quoted}"  # a JSON array
    if data_type.startswith("TIMESTAMP"):
        return f"strftime({quoted}, '{CSV_DATETIME}') AS {quoted}"
    return quoted


# -- datapackage.json -----------------------------------------------------------------------------
def field_type(data_type: str) -> str:
    """A DuckDB type as a Table Schema field type."""
    if data_type.endswith("[]"):
        return "array"
    base = data_type.split("(")[0]
    if base in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UBIGINT", "UINTEGER"):
        return "integer"
    if base in ("DOUBLE", "FLOAT", "DECIMAL", "REAL"):
        return "number"
    if base == "BOOLEAN":
        return "boolean"
    if base.startswith("TIMESTAMP"):
        return "datetime"
    if base == "DATE":
        return "date"
    if base.startswith("STRUCT") or base.startswith("MAP"):
        return "object"
    return "string"


def licence(text: str) -> dict[str, str]:
    for prefix, (name, path) in LICENCE_IDS.items():
        if text.startswith(prefix):
            return {"name": name, "title": text} | ({"path": path} if path else {})
    return {"name": "notspecified", "title": text}


def _sources(con: duckdb.DuckDBPyConnection, datasets: list[str] | None) -> list[dict]:
    rows = con.execute(
        "SELECT dataset, attribution, url FROM meta.datasets ORDER BY dataset"
    ).fetchall()
    return [
        {"title": f"{attribution} ({dataset})"} | ({"path": url} if url else {})
        for dataset, attribution, url in rows
        if datasets is None or dataset in datasets
    ]


def _licences(con: duckdb.DuckDBPyConnection, datasets: list[str] | None) -> list[dict]:
    rows = con.execute("SELECT dataset, licence FROM meta.datasets ORDER BY licence").fetchall()
    texts = sorted({text for d, text in rows if text and (datasets is None or d in datasets)})
    return [licence(t) for t in texts]


def _resource_name(file_name: str) -> str:
    return file_name.lower().replace(" ", "-")


def write_datapackage(con: duckdb.DuckDBPyConnection, folder: Path, release_id: str) -> dict:
    """datapackage.json describing every file of the folder; returns the descriptor."""
    fed_by = dict(con.execute("SELECT table_name, datasets FROM meta.indicators").fetchall())
    comments = dict(
        (f"{s}.{t}", c)
        for s, t, c in con.execute(
            "SELECT schema_name, table_name, coalesce(comment, '') FROM duckdb_tables() "
            "WHERE database_name = current_database()"
        ).fetchall()
    )
    resources = []
    for schema, name in published_tables(con):
        feeds = fed_by.get(f"{schema}.{name}")
        datasets = list(feeds) if schema == "indicators" and feeds is not None else None
        fields = [
            {"name": column, "type": field_type(kind)} | ({"description": text} if text else {})
            for column, kind, text in _columns(con, schema, name)
        ]
        for fmt in ("parquet", "csv"):
            file_name = f"{schema}.{name}.{fmt}"
            resource = {
                "name": _resource_name(f"{schema}.{name}-{fmt}"),
                "path": file_name,
                "profile": "tabular-data-resource",
                "title": f"{schema}.{name}",
                "description": comments.get(f"{schema}.{name}", ""),
                "format": fmt,
                "mediatype": MEDIA_TYPES[fmt],
                "encoding": "utf-8" if fmt == "csv" else None,
                "bytes": (folder / file_name).stat().st_size,
                "schema": {"fields": fields, "missingValues": [""]},
            }
            if datasets is not None:
                resource["sources"] = _sources(con, datasets)
                resource["licenses"] = _licences(con, datasets)
            resources.append({k: v for k, v in resource.items() if v is not None})
    for path in sorted(folder.iterdir()):
        suffix = path.suffix.lstrip(".")
        if path.name == DATAPACKAGE_NAME or path.suffix in (".parquet", ".csv"):
            continue
        resources.append(
            {
                "name": _resource_name(path.name),
                "path": path.name,
                "title": _OTHER_FILES.get(path.name, path.name),
                "format": suffix,
                "mediatype": MEDIA_TYPES.get(suffix, "application/octet-stream"),
                "bytes": path.stat().st_size,
            }
        )
    release = con.execute(
        "SELECT published_at, uses_sample_data, summary FROM meta.releases WHERE release_id = ?",
        [release_id],
    ).fetchone()
    published_at, sample, summary = release if release else (None, None, "")
    package = {
        "profile": "data-package",
        "name": _resource_name(f"eudap-release-{release_id}"),
        "id": release_id,
        "title": "EU Drugs Action Plan 2021-2025: the 12 performance indicators"
        + (" (built from SAMPLE data, not real figures)" if sample else ""),
        "description": f"Release {release_id}: {summary}",
        "created": f"{published_at:%Y-%m-%dT%H:%M:%SZ}" if published_at else None,
        "licenses": _licences(con, None),
        "sources": _sources(con, None),
        "resources": resources,
    }
    package = {k: v for k, v in package.items() if v is not None}
    (folder / DATAPACKAGE_NAME).write_text(json.dumps(package, indent=2), encoding="utf-8")
    return package


_OTHER_FILES = {
    WORKBOOK_NAME: "Workbook for monitoring staff: overview, one sheet per indicator, provenance",
    "report.html": "The indicator report of this release",
    "release.json": "The release: datasets and their states",
}
