"""Nothing twice: a table whose inputs are those of the published release is copied from it.

Every gated table of a build gets an input key (meta.input_keys), a sha256 over

* the snapshots it is built from: for a staging table every snapshot staging may consider
  (sha256 and fetch time, newest first; sample snapshots only in a sample run), so a new
  snapshot of any content changes the key;
* its catalogue entry (a dataset's or an indicator's validated model, with the geo
  reference for a staging table; the whole catalogue for the trend tables);
* the code: every file of pipelines/, sql/ and expectations/ (`code_sha256`), so any
  change of parsing, staging, SQL or gates, committed or not, rebuilds everything;
* for an indicator its datasets' keys, for the trend tables every indicator's and
  every read dataset's key.

The release as a whole has a key too (row `release`, kind `release`): over every table's
key, every file of the catalogue folder and the code. A run whose release key and
downloads show nothing new builds nothing (pipelines/nochange.py).

A table whose key equals the key the published release recorded for it, whose gate passed
there and (staging) whose state there was fresh or unchanged, is copied from the published
warehouse (ATTACH read-only, CREATE TABLE AS SELECT) instead of being staged or computed and
validated again; its gate verdict is the published one, recorded in meta.gate_results as
copied. Publish re-checks every copied table (`copy_problems`): its key must be the one this
code and catalogue give for the recorded inputs, and the one its source release recorded.
"""

from __future__ import annotations

import contextlib
import hashlib
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipelines.settings import ASSETS_DIR, EXPECTATIONS_DIR, PROJECT_ROOT, SQL_DIR, Paths
from pipelines.warehouse import run_sql_file

if TYPE_CHECKING:
    from pipelines.catalogue import Catalogue, Dataset, Indicator
    from pipelines.snapshots import Snapshot
    from pipelines.stage import StageResult

PUBLISHED_ALIAS = "published_release"
COPIED_PREFIX = "copied from release "


@dataclass(frozen=True)
class InputKey:
    table: str
    kind: str  # staging | indicator | trends | release
    snapshots: tuple[str, ...]  # "<sha256>@<fetched_at>", newest first
    catalogue_sha256: str
    code_sha256: str
    upstream: tuple[str, ...]  # the input keys of the tables it reads
    key: str


@dataclass(frozen=True)
class Reusable:
    """A published table this build may copy: its release and that release's gate summary."""

    release_id: str
    built_in: str
    gate_summary: str


def _sha(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def files_sha256(root: Path, folders: Sequence[Path]) -> str:
    """A hash of every file below `folders` (bytecode left out): each file's path relative
    to `root` and its content's sha256, in path order."""
    h = hashlib.sha256()
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            h.update(path.relative_to(root).as_posix().encode())
            h.update(b"\0")
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


@cache
def code_sha256() -> str:
    """The code version: a hash of every file of pipelines/, sql/ and expectations/."""
    return files_sha256(PROJECT_ROOT, [PROJECT_ROOT / "pipelines", SQL_DIR, EXPECTATIONS_DIR])


def _key(
    table: str,
    kind: str,
    snapshots: Sequence[str],
    catalogue: str,
    upstream: Sequence[str],
    code: str | None = None,
) -> InputKey:
    code = code or code_sha256()
    key = _sha(kind, table, *snapshots, "|", catalogue, "|", code, "|", *upstream)
    return InputKey(table, kind, tuple(snapshots), catalogue, code, tuple(upstream), key)


# The geo reference holds thousands of codes: dumped once per catalogue, not once per key.
_GEO_JSON: weakref.WeakKeyDictionary[Catalogue, str] = weakref.WeakKeyDictionary()


def _geo_json(cat: Catalogue) -> str:
    if cat not in _GEO_JSON:
        from pydantic import TypeAdapter

        from pipelines.catalogue import GeoEntry

        _GEO_JSON[cat] = TypeAdapter(list[GeoEntry]).dump_json(cat.geo).decode()
    return _GEO_JSON[cat]


def dataset_catalogue_sha256(cat: Catalogue, ds: Dataset) -> str:
    return _sha(ds.model_dump_json(), _geo_json(cat))


def indicator_catalogue_sha256(ind: Indicator) -> str:
    return _sha(ind.model_dump_json())


def trends_catalogue_sha256(cat: Catalogue) -> str:
    parts = [d.model_dump_json() for d in cat.datasets.values()]
    parts += [i.model_dump_json() for i in cat.indicator_list()]
    parts += [cat.trend_method.model_dump_json(), _geo_json(cat)]
    parts += [s.model_dump_json() for s in cat.substances.values()]
    return _sha(*parts)


def staging_key(
    cat: Catalogue, ds: Dataset, snapshots: Sequence[Snapshot], *, allow_sample: bool
) -> InputKey:
    """`snapshots`: the dataset's snapshots, newest first; the key holds those staging may
    consider (sample snapshots only when `allow_sample`, as `stage.stage_dataset`)."""
    seen = [
        f"{s.meta.sha256}@{s.meta.fetched_at}"
        for s in snapshots
        if allow_sample or not s.meta.sample
    ]
    return _key(ds.table, "staging", seen, dataset_catalogue_sha256(cat, ds), ())


def indicator_key(ind: Indicator, dataset_keys: Sequence[str]) -> InputKey:
    return _key(ind.table, "indicator", (), indicator_catalogue_sha256(ind), dataset_keys)


def trends_key(table: str, cat: Catalogue, upstream: Sequence[str]) -> InputKey:
    return _key(table, "trends", (), trends_catalogue_sha256(cat), upstream)


# -- the build's record -----------------------------------------------------------------------
def record_key(
    con: duckdb.DuckDBPyConnection,
    release_id: str,
    key: InputKey,
    *,
    copied_from: str | None = None,
    built_in: str | None = None,
) -> None:
    run_sql_file(con, "meta/schema.sql")
    con.execute(
        "DELETE FROM meta.input_keys WHERE release_id = ? AND table_name = ?",
        [release_id, key.table],
    )
    con.execute(
        "INSERT INTO meta.input_keys VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            release_id,
            key.table,
            key.kind,
            list(key.snapshots),
            key.catalogue_sha256,
            key.code_sha256,
            list(key.upstream),
            key.key,
            copied_from,
            built_in or release_id,
        ],
    )


def build_key(con: duckdb.DuckDBPyConnection, release_id: str, table: str) -> str | None:
    """The input key this build recorded for `table`, if any."""
    row = con.execute(
        "SELECT input_key FROM meta.input_keys WHERE release_id = ? AND table_name = ?",
        [release_id, table],
    ).fetchone()
    return row[0] if row else None


def copied_in_build(con: duckdb.DuckDBPyConnection, release_id: str, tables: Sequence[str]) -> bool:
    """Whether every one of `tables` was copied (not rebuilt) in this build."""
    if not tables:
        return True
    marks = ", ".join("?" for _ in tables)
    (n,) = con.execute(
        f"SELECT count(*) FROM meta.input_keys WHERE release_id = ? AND table_name IN ({marks}) "
        "AND copied_from IS NOT NULL",
        [release_id, *tables],
    ).fetchone()
    return int(n) == len(set(tables))


# -- the published release --------------------------------------------------------------------
@contextlib.contextmanager
def attached_published(con: duckdb.DuckDBPyConnection, paths: Paths) -> Iterator[bool]:
    """The published warehouse attached read-only to the build's connection as
    `published_release` (False when there is none)."""
    path = paths.published_warehouse
    if not path.exists():
        yield False
        return
    quoted = "'" + str(path).replace("'", "''") + "'"
    con.execute(f"ATTACH {quoted} AS {PUBLISHED_ALIAS} (READ_ONLY)")
    try:
        yield True
    finally:
        con.execute(f"DETACH {PUBLISHED_ALIAS}")


def _published_release(con: duckdb.DuckDBPyConnection) -> str | None:
    try:
        row = con.execute(
            f"SELECT release_id FROM {PUBLISHED_ALIAS}.meta.releases "
            "WHERE published_at IS NOT NULL ORDER BY published_at DESC LIMIT 1"
        ).fetchone()
    except duckdb.Error:
        return None
    return row[0] if row else None


def reusable(
    con: duckdb.DuckDBPyConnection, key: InputKey, *, staging_dataset: str | None = None
) -> Reusable | None:
    """Whether the attached published release built `key.table` from the same inputs, its
    gate passed, and (a staging table) its state was fresh or unchanged."""
    release = _published_release(con)
    if release is None:
        return None
    pub = PUBLISHED_ALIAS
    try:
        row = con.execute(
            f"SELECT k.input_key, k.built_in, g.passed, g.summary "
            f"FROM {pub}.meta.input_keys k JOIN {pub}.meta.gate_results g "
            f"ON g.release_id = k.release_id AND g.table_name = k.table_name "
            f"WHERE k.release_id = ? AND k.table_name = ?",
            [release, key.table],
        ).fetchone()
        if staging_dataset is not None:
            state = con.execute(
                f"SELECT state FROM {pub}.meta.release_datasets WHERE release_id = ? "
                "AND dataset = ?",
                [release, staging_dataset],
            ).fetchone()
            if state is None or state[0] not in ("fresh", "unchanged"):
                return None
    except duckdb.Error:
        return None  # a release from before meta.input_keys: nothing to compare with
    if row is None or row[0] != key.key or not row[2]:
        return None
    summary = str(row[3]).removeprefix(f"{COPIED_PREFIX}")
    return Reusable(release, row[1], summary)


def copy_table(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Replace `table` in the build with the published release's (attached); its rows."""
    schema, name = table.split(".", 1)
    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    con.execute(
        f'CREATE OR REPLACE TABLE "{schema}"."{name}" AS '
        f'SELECT * FROM {PUBLISHED_ALIAS}."{schema}"."{name}"'
    )
    return int(con.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchone()[0])


def record_copied_gate(
    con: duckdb.DuckDBPyConnection, release_id: str, table: str, suite: str, source: Reusable
) -> str:
    """The published verdict of a copied table, as this build's gate record; its summary."""
    from pipelines.warehouse import _now

    summary = f"{COPIED_PREFIX}{source.release_id} (inputs unchanged): {source.gate_summary}"
    run_sql_file(con, "meta/schema.sql")
    con.execute(
        "DELETE FROM meta.gate_results WHERE release_id = ? AND table_name = ?",
        [release_id, table],
    )
    con.execute(
        "INSERT INTO meta.gate_results VALUES (?, ?, ?, ?, ?, ?)",
        [release_id, table, suite, True, summary, _now()],
    )
    return summary


def recomputed_key(row: tuple, code: str) -> str:
    """The key this code gives for a meta.input_keys row's recorded inputs."""
    table, kind, snapshots, catalogue, _code, upstream = row
    return _key(table, kind, snapshots or (), catalogue, upstream or (), code).key


def expected_catalogue_sha256(cat: Catalogue, kind: str, table: str) -> str | None:
    if kind == "staging":
        ds = next((d for d in cat.datasets.values() if d.table == table), None)
        return dataset_catalogue_sha256(cat, ds) if ds else None
    if kind == "indicator":
        ind = next((i for i in cat.indicator_list() if i.table == table), None)
        return indicator_catalogue_sha256(ind) if ind else None
    return trends_catalogue_sha256(cat)


def copy_problems(
    con: duckdb.DuckDBPyConnection, release_id: str, cat: Catalogue, paths: Paths
) -> list[str]:
    """Why a table this build copied from a release may not be published: its recorded key
    is not what this code and catalogue give for its inputs, or not the key its source
    release recorded for it (the published warehouse's history)."""
    run_sql_file(con, "meta/schema.sql")
    rows = con.execute(
        "SELECT table_name, kind, snapshots, catalogue_sha256, code_sha256, upstream_keys, "
        "input_key, copied_from FROM meta.input_keys "
        "WHERE release_id = ? AND copied_from IS NOT NULL ORDER BY table_name",
        [release_id],
    ).fetchall()
    if not rows:
        return []
    code = code_sha256()
    problems: list[str] = []
    with attached_published(con, paths) as present:
        for table, kind, snaps, catalogue, recorded_code, upstream, key, source in rows:
            where = f"{table} (copied from release {source})"
            if recorded_code != code:
                problems.append(f"{where}: recorded for other code than this publish runs")
            elif catalogue != expected_catalogue_sha256(cat, kind, table):
                problems.append(f"{where}: its catalogue entry changed since it was copied")
            elif (
                recomputed_key((table, kind, snaps, catalogue, recorded_code, upstream), code)
                != key
            ):
                problems.append(f"{where}: its input key does not match its recorded inputs")
            elif not present:
                problems.append(f"{where}: no published warehouse holds its source release")
            else:
                try:
                    src = con.execute(
                        f"SELECT input_key FROM {PUBLISHED_ALIAS}.meta.input_keys "
                        "WHERE release_id = ? AND table_name = ?",
                        [source, table],
                    ).fetchone()
                except duckdb.Error:
                    src = None
                if src is None:
                    problems.append(f"{where}: the published warehouse has no key for it")
                elif src[0] != key:
                    problems.append(
                        f"{where}: its input key {key[:12]} differs from its source "
                        f"release's {src[0][:12]}"
                    )
    return problems


# -- what the assets call ---------------------------------------------------------------------
def staging_reuse(
    con: duckdb.DuckDBPyConnection,
    paths: Paths,
    release_id: str,
    ds: Dataset,
    key: InputKey,
    snapshots: Sequence[Snapshot],
) -> tuple[StageResult, str] | None:
    """Copy `ds.table` from the published release when its input key is unchanged: records
    the dataset (state `unchanged`), the published gate verdict and the key, and returns the
    result with the gate summary. None: stage it."""
    from pipelines.stage import StageResult
    from pipelines.warehouse import record_release_dataset

    with attached_published(con, paths) as present:
        source = reusable(con, key, staging_dataset=ds.id) if present else None
        if source is None:
            return None
        used = con.execute(
            "SELECT snapshot_sha256, member_snapshots "
            f"FROM {PUBLISHED_ALIAS}.meta.release_datasets WHERE release_id = ? AND dataset = ?",
            [source.release_id, ds.id],
        ).fetchone()
        by_sha = {s.meta.sha256: s for s in snapshots}
        if used is None or used[0] not in by_sha:
            return None
        rows = copy_table(con, ds.table)
    members = [by_sha[sha] for sha in (used[1] or []) if sha in by_sha] or [by_sha[used[0]]]
    result = StageResult(
        ds.id,
        "unchanged",
        by_sha[used[0]],
        rows,
        reason=f"skipped: unchanged since release {source.release_id} "
        "(same snapshots, catalogue entry and code)",
        members=members,
    )
    record_release_dataset(con, release_id, result)
    summary = record_copied_gate(con, release_id, ds.table, ds.table, source)
    record_key(con, release_id, key, copied_from=source.release_id, built_in=source.built_in)
    return result, summary


def tables_reuse(
    con: duckdb.DuckDBPyConnection,
    paths: Paths,
    release_id: str,
    keys: Sequence[tuple[InputKey, str]],
) -> dict[str, tuple[int, str]] | None:
    """Copy every table of `keys` ((key, suite) pairs) from the published release when each
    one's input key is unchanged; all or none. Returns table -> (rows, gate summary)."""
    with attached_published(con, paths) as present:
        if not present:
            return None
        sources = [reusable(con, key) for key, _ in keys]
        if any(s is None for s in sources):
            return None
        copied = {}
        for (key, suite), source in zip(keys, sources, strict=True):
            assert source is not None
            rows = copy_table(con, key.table)
            summary = record_copied_gate(con, release_id, key.table, suite, source)
            record_key(
                con, release_id, key, copied_from=source.release_id, built_in=source.built_in
            )
            copied[key.table] = (rows, summary)
    return copied


# -- the release as a whole -------------------------------------------------------------------
RELEASE_TABLE = "release"  # the meta.input_keys row of the release itself (kind `release`)


@cache
def catalogue_files_sha256(root: Path = ASSETS_DIR) -> str:
    """The whole catalogue: every file of its folder (assets/: entries, reference lists, code
    lists, curated files), so that what no table key covers (headline checks, dictionary,
    scorecard) is covered too."""
    return files_sha256(root, [root])


def planned_keys(
    cat: Catalogue, snapshots: Mapping[str, Sequence[Snapshot]], *, allow_sample: bool
) -> dict[str, InputKey]:
    """The input key of every gated table this build would make, from the snapshots in the
    store (dataset id -> its snapshots, newest first), as the staging, indicator and trend
    steps compute them, and the key of the release as a whole (`RELEASE_TABLE`): over every
    table's key, the whole catalogue and the code."""
    from pipelines import indicators as indicator_tables
    from pipelines.trend_tables import TABLES

    keys: dict[str, InputKey] = {}
    for ds in cat.datasets.values():
        keys[ds.table] = staging_key(cat, ds, snapshots.get(ds.id, ()), allow_sample=allow_sample)
    built = [i for i in cat.indicator_list() if indicator_tables.sql_path(i).exists()]
    for ind in built:
        upstream = [keys[cat.datasets[ds_id].table].key for ds_id in ind.datasets]
        keys[ind.table] = indicator_key(ind, upstream)
    read = sorted({ds_id for spec in TABLES for ds_id in spec.reads})
    inputs = [i.table for i in built] + [cat.dataset(ds_id).table for ds_id in read]
    upstream = [keys[t].key for t in inputs]
    for spec in TABLES:
        table = f"trends.{spec.name}"
        keys[table] = trends_key(table, cat, upstream)
    every = [f"{table}={key.key}" for table, key in sorted(keys.items())]
    keys[RELEASE_TABLE] = _key(
        RELEASE_TABLE, "release", (), catalogue_files_sha256(cat.root), every
    )
    return keys


def published_keys(con: duckdb.DuckDBPyConnection, release_id: str) -> dict[str, InputKey]:
    """The input keys a release recorded (meta.input_keys of `con`), by table."""
    try:
        rows = con.execute(
            "SELECT table_name, kind, snapshots, catalogue_sha256, code_sha256, upstream_keys, "
            "input_key FROM meta.input_keys WHERE release_id = ?",
            [release_id],
        ).fetchall()
    except duckdb.Error:
        return {}  # a release from before meta.input_keys
    return {
        table: InputKey(table, kind, tuple(snaps or ()), cat, code, tuple(up or ()), key)
        for table, kind, snaps, cat, code, up, key in rows
    }
