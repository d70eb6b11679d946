"""The `meta` schema of a build: reference lists, snapshot provenance and release history."""

from __future__ import annotations

from dataclasses import asdict

import duckdb
import pandas as pd

from pipelines.catalogue import Catalogue
from pipelines.settings import Paths
from pipelines.snapshots import SnapshotStore
from pipelines.stage import PublishedUse
from pipelines.warehouse import open_published, replace_table, run_sql_file


def indicators_frame(cat: Catalogue) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "indicator_id": i.number,
                "short_name": i.short_name,
                "table_name": i.table,
                "name_en": i.name_en,
                "name_nl": i.name_nl,
                "polarity": i.polarity,
                "unit": i.unit,
                "datasets": list(i.datasets),
                "measures": [m.name for m in i.measures],
                "description": i.description,
            }
            for i in cat.indicator_list()
        ]
    )


def measures_frame(cat: Catalogue) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "indicator_id": i.number,
                "measure": m.name,
                "unit": m.unit,
                "polarity": i.polarity_of(m.name),
                "description": m.description,
                "rate_of": m.rate_of,
                "per": m.per,
            }
            for i in cat.indicator_list()
            for m in i.measures
        ],
        columns=["indicator_id", "measure", "unit", "polarity", "description", "rate_of", "per"],
    )


def datasets_frame(cat: Catalogue) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "dataset": d.id,
                "source": d.source,
                "publisher": d.publisher,
                "title": d.title,
                "url": d.resolved_url(),
                "format": d.format,
                "licence": d.licence,
                "attribution": d.attribution,
                "update_cadence": d.update_cadence,
                "expected_update_days": d.expected_update_days,
                "indicators": list(d.indicators),
                "staging_table": d.table,
            }
            for d in cat.datasets.values()
        ]
    )


def snapshots_frame(cat: Catalogue, store: SnapshotStore) -> pd.DataFrame:
    rows = []
    for ds_id in sorted(cat.datasets):
        for snap in store.snapshots(ds_id):
            meta = asdict(snap.meta)
            extra = meta.pop("extra")
            rows.append(
                {
                    **meta,
                    # the landing page a discovered URL was found on (pipelines.discover)
                    "resolved_from": extra.get("resolved_from"),
                    # a real publisher file bundled in the demo mirror (pipelines.fetch)
                    "capture": extra.get("bundled_capture"),
                    "path": str(snap.path),
                    "fetched_at": pd.Timestamp(meta["fetched_at"]).tz_localize(None),
                }
            )
    columns = [
        "dataset",
        "file",
        "sha256",
        "bytes",
        "fetched_at",
        "origin",
        "url",
        "final_url",
        "status",
        "etag",
        "last_modified",
        "content_type",
        "licence",
        "attribution",
        "sample",
        "resolved_from",
        "capture",
        "path",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    # Typed explicitly: a column that is None in every row (no ETag from a mirror) would
    # otherwise be stored with DuckDB's NULL type, and its type would change with the data.
    text = {c: "string" for c in columns if c not in ("bytes", "status", "sample", "fetched_at")}
    return frame.astype({"bytes": "Int64", "status": "Int64", "sample": "boolean", **text})


def geo_frame(cat: Catalogue) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "geo": g.code,
                "name": g.name,
                "level": g.level,
                "eu27": g.eu27,
                "aliases": list(g.aliases),
            }
            for g in cat.geo
        ]
    )


def init_build(
    con: duckdb.DuckDBPyConnection, cat: Catalogue, store: SnapshotStore, paths: Paths
) -> None:
    """Schemas, reference tables, snapshot provenance and the release history so far."""
    run_sql_file(con, "meta/schema.sql")
    replace_table(con, "meta.indicators", indicators_frame(cat))
    replace_table(con, "meta.measures", measures_frame(cat))
    replace_table(con, "meta.datasets", datasets_frame(cat))
    replace_table(con, "meta.geo", geo_frame(cat))
    replace_table(con, "meta.snapshots", snapshots_frame(cat, store))
    copy_release_history(con, paths)


def copy_release_history(con: duckdb.DuckDBPyConnection, paths: Paths) -> None:
    """Carry the published warehouse's release history into the build (append-only log)."""
    published = open_published(paths)
    if published is None:
        return
    try:
        for table in (
            "meta.releases",
            "meta.release_datasets",
            "meta.published_values",  # pipelines/revisions.py
            "meta.revisions",
            "meta.input_keys",  # pipelines/reuse.py
        ):
            cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
            try:
                df = published.execute(f"SELECT {', '.join(cols)} FROM {table}").df()
            except duckdb.Error:
                continue  # an older warehouse without this table or column
            con.execute(f"DELETE FROM {table}")
            con.register("_history", df)
            con.execute(f"INSERT INTO {table} SELECT * FROM _history")
            con.unregister("_history")
    finally:
        published.close()


def published_snapshot(con: duckdb.DuckDBPyConnection, dataset: str) -> str | None:
    """The snapshot the latest published release used for `dataset` (from the history)."""
    row = con.execute(
        """
        SELECT rd.snapshot_sha256 FROM meta.release_datasets rd
        JOIN meta.releases r USING (release_id)
        WHERE rd.dataset = ? AND r.published_at IS NOT NULL
        ORDER BY r.published_at DESC LIMIT 1
        """,
        [dataset],
    ).fetchone()
    return row[0] if row else None


def published_use(con: duckdb.DuckDBPyConnection, dataset: str) -> PublishedUse | None:
    """What the latest published release used for `dataset`: snapshot, rows, members."""
    row = con.execute(
        """
        SELECT rd.snapshot_sha256, rd.fetched_at, rd.staged_rows, rd.member_snapshots, rd.is_sample
        FROM meta.release_datasets rd JOIN meta.releases r USING (release_id)
        WHERE rd.dataset = ? AND r.published_at IS NOT NULL
        ORDER BY r.published_at DESC LIMIT 1
        """,
        [dataset],
    ).fetchone()
    if row is None:
        return None
    sha, fetched_at, rows, members, is_sample = row
    when = f"{fetched_at:%Y-%m-%dT%H:%M:%SZ}" if fetched_at is not None else None
    return PublishedUse(sha, when, rows, list(members or []), bool(is_sample))


def fetch_problem(con: duckdb.DuckDBPyConnection, dataset: str) -> str | None:
    row = con.execute(
        "SELECT reason FROM meta.fetch_log WHERE dataset = ? AND outcome IN ('failed', 'refused') "
        "ORDER BY logged_at DESC LIMIT 1",
        [dataset],
    ).fetchone()
    return row[0] if row else None
