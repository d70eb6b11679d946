"""Staging: one snapshot file -> one tidy DuckDB table `staging.<source>_<dataset>`.

Every dataset is staged from its newest snapshot that passes the staging gate. A newer
snapshot that fails (it does not parse, its layout drifted, or its expectation suite fails)
is quarantined: the table is built from the previous good snapshot and the dataset's state
says `stale` with the reason. With no good snapshot the table is created empty (the
catalogue's declared layout) and the state is `missing`.

Columns: the catalogue's dimensions (the geo dimension becomes `geo_raw`, plus the mapped
`geo` and its `geo_level`), then `period, value, value_text, flags, note, line,
source_dataset, snapshot_sha256`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow as pa

from pipelines.catalogue import Dataset
from pipelines.checks import ValidationReport, validate_frame
from pipelines.geo import GeoResolver
from pipelines.parsers.base import ParsedFile, ParseError
from pipelines.snapshots import Snapshot, SnapshotError

BATCH_ROWS = 50_000
State = Literal["fresh", "unchanged", "stale", "missing"]
TAIL_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("period", pa.string()),
    ("value", pa.float64()),
    ("value_text", pa.string()),
    ("flags", pa.string()),
    ("note", pa.string()),
    ("line", pa.int64()),
    ("source_dataset", pa.string()),
    ("snapshot_sha256", pa.string()),
]
DUCK_TYPES = {pa.string(): "VARCHAR", pa.float64(): "DOUBLE", pa.int64(): "BIGINT"}


@dataclass
class StageResult:
    dataset: str
    state: State
    snapshot: Snapshot | None
    rows: int
    reason: str | None = None
    quarantined: list[dict[str, str]] = field(default_factory=list)
    report: ValidationReport | None = None


def parser_for(fmt: str) -> Callable[[Path, dict[str, Any]], ParsedFile]:
    module = importlib.import_module(f"pipelines.parsers.{fmt}")
    return module.parse  # type: ignore[no-any-return]


def staging_columns(ds: Dataset) -> list[tuple[str, pa.DataType]]:
    cols: list[tuple[str, pa.DataType]] = []
    for dim in ds.dimensions:
        if dim == ds.geo_dimension:
            cols += [("geo_raw", pa.string()), ("geo", pa.string()), ("geo_level", pa.string())]
        else:
            cols.append((dim, pa.string()))
    return cols + TAIL_COLUMNS


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def create_table(con: duckdb.DuckDBPyConnection, table: str, ds: Dataset) -> None:
    schema, name = table.split(".", 1)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(schema)}")
    cols = ", ".join(f"{_q(n)} {DUCK_TYPES[t]}" for n, t in staging_columns(ds))
    con.execute(f"CREATE OR REPLACE TABLE {_q(schema)}.{_q(name)} ({cols})")


def check_layout(ds: Dataset, parsed: ParsedFile, file: Path) -> None:
    found, declared = list(parsed.dimensions), list(ds.dimensions)
    if set(found) != set(declared):
        missing = sorted(set(declared) - set(found))
        unexpected = sorted(set(found) - set(declared))
        raise ParseError(
            file,
            "layout drift",
            f"dimensions differ from the catalogue entry {ds.id}: missing {missing}, "
            f"unexpected {unexpected} (found {found})",
        )


def _batches(
    ds: Dataset, parsed: ParsedFile, snap: Snapshot, geo: GeoResolver
) -> Iterator[pa.RecordBatch]:
    columns = staging_columns(ds)
    schema = pa.schema(columns)
    names = [n for n, _ in columns]
    maps = ds.code_maps
    buffer: dict[str, list[Any]] = {n: [] for n in names}
    count = 0
    for row in parsed.rows:
        for dim in ds.dimensions:
            raw = row.get(dim)
            mapped = maps.get(dim, {}).get(raw, raw) if raw is not None else None
            if dim == ds.geo_dimension:
                match = geo.resolve(mapped, ds.geo_codes)
                buffer["geo_raw"].append(raw)
                buffer["geo"].append(match.code)
                buffer["geo_level"].append(match.level)
            else:
                buffer[dim].append(mapped)
        for key in ("period", "value", "value_text", "flags", "note", "line"):
            buffer[key].append(row.get(key))
        buffer["source_dataset"].append(ds.id)
        buffer["snapshot_sha256"].append(snap.meta.sha256)
        count += 1
        if count == BATCH_ROWS:
            yield pa.RecordBatch.from_pydict(buffer, schema=schema)
            buffer = {n: [] for n in names}
            count = 0
    if count:
        yield pa.RecordBatch.from_pydict(buffer, schema=schema)


def load_snapshot(
    con: duckdb.DuckDBPyConnection, table: str, ds: Dataset, snap: Snapshot, geo: GeoResolver
) -> int:
    """Parse a snapshot into `table` (replaced). Raises ParseError / SnapshotError."""
    path = snap.verified_path()
    parsed = parser_for(ds.format)(path, ds.parser_options)
    check_layout(ds, parsed, path)
    create_table(con, table, ds)
    schema, name = table.split(".", 1)
    target = f"{_q(schema)}.{_q(name)}"
    rows = 0
    for batch in _batches(ds, parsed, snap, geo):
        con.register("_incoming_batch", batch)
        con.execute(f"INSERT INTO {target} SELECT * FROM _incoming_batch")
        con.unregister("_incoming_batch")
        rows += batch.num_rows
    return rows


def validate_table(con: duckdb.DuckDBPyConnection, table: str, suite: str) -> ValidationReport:
    schema, name = table.split(".", 1)
    df = con.execute(f"SELECT * FROM {_q(schema)}.{_q(name)}").df()
    return validate_frame(df, suite, table)


def stage_dataset(
    con: duckdb.DuckDBPyConnection,
    ds: Dataset,
    snapshots: list[Snapshot],
    geo: GeoResolver,
    *,
    published_sha: str | None,
    fetch_problem: str | None,
) -> StageResult:
    """Stage the newest snapshot that passes the gate; quarantine the ones that do not.

    `snapshots` newest first; `published_sha` is the snapshot the published release used;
    `fetch_problem` is why this run's download failed, if it did.
    """
    suite = ds.table
    candidate = f"staging._candidate_{ds.asset_name}"
    quarantined: list[dict[str, str]] = []
    for snap in snapshots:
        try:
            rows = load_snapshot(con, candidate, ds, snap, geo)
            report = validate_table(con, candidate, suite)
        except (ParseError, SnapshotError) as exc:
            quarantined.append(_quarantine_entry(snap, str(exc)))
            continue
        if not report.success:
            quarantined.append(_quarantine_entry(snap, report.summary()))
            continue
        con.execute(f"DROP TABLE IF EXISTS {ds.table}")
        con.execute(f"ALTER TABLE {candidate} RENAME TO {_q(ds.table.split('.', 1)[1])}")
        reasons = [q["reason"] for q in quarantined]
        if fetch_problem:
            reasons.insert(0, f"download failed: {fetch_problem}")
        if reasons:
            state: State = "stale"
        elif published_sha == snap.meta.sha256:
            state = "unchanged"
        else:
            state = "fresh"
        return StageResult(
            ds.id, state, snap, rows, "; ".join(reasons) or None, quarantined, report
        )
    con.execute(f"DROP TABLE IF EXISTS {candidate}")
    create_table(con, ds.table, ds)
    reasons = [q["reason"] for q in quarantined]
    if fetch_problem:
        reasons.insert(0, f"download failed: {fetch_problem}")
    if not snapshots:
        reasons.append("no snapshot in the store")
    return StageResult(ds.id, "missing", None, 0, "; ".join(reasons), quarantined, None)


def _quarantine_entry(snap: Snapshot, reason: str) -> dict[str, str]:
    return {
        "snapshot_sha256": snap.meta.sha256,
        "snapshot": str(snap.path),
        "fetched_at": snap.meta.fetched_at,
        "reason": f"snapshot {snap.meta.sha256[:12]} of {snap.meta.fetched_at} "
        f"quarantined: {reason}",
    }
