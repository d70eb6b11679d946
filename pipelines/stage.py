"""Staging: one snapshot file -> one tidy DuckDB table `staging.<source>_<dataset>`.

Every dataset is staged from its newest snapshot that passes the staging gate. A newer
snapshot that fails (it does not parse, its layout drifted, or its expectation suite fails)
is quarantined: the table is built from the previous good snapshot and the dataset's state
says `stale` with the reason. With no good snapshot the table is created empty (the
catalogue's declared layout) and the state is `missing`.

Any failure while reading a snapshot (a truncated gzip, bytes that are not text, a read
limit) is a ParseError (see `parsers.base.guarded`), so it quarantines that snapshot like a
layout drift does. A snapshot whose observations drop by more than the dataset's
`max_row_drop` against the previous good snapshot (the one the published release used,
else the last older snapshot that stages; per member table for a collection) is quarantined
too, unless the catalogue lists it in `expected_drop`.

Columns: the catalogue's dimensions (the geo dimension becomes `geo_raw`, plus the mapped
`geo` and its `geo_level`), then `period, value, value_text, flags, note, line,
source_dataset, snapshot_sha256`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb

from pipelines.attempts import REFUSAL_PHRASE
from pipelines.catalogue import Dataset, Indicator, ReadLimits
from pipelines.checks import ValidationReport, validate_frame
from pipelines.geo import GeoResolver
from pipelines.parsers import eurostat_sql
from pipelines.parsers.base import ParsedFile, ParseError
from pipelines.parsers.detect import effective_format
from pipelines.snapshots import Snapshot, SnapshotError
from pipelines.sqlgates import validate_sql

if TYPE_CHECKING:
    import pyarrow as pa

BATCH_ROWS = 50_000
# The formats DuckDB stages itself: format -> its SQL module (pipelines.parsers.<name>,
# imported when a file of that format is staged: ~35 ms a process staging none need not
# pay), the name of the module's header reader (every module stages with `insert`), and
# the file size from which the engine is used: below it the Python parser is faster than
# the engine's few statements per file (measured on the EDR tables: ~37 ms against ~15 ms
# of CPU for a 5 KB table; even at the 84 KB wastewater table).
SMALL_FILE = 256 * 1024
ENGINES: dict[str, tuple[str, str, int]] = {
    "eurostat_tsv": ("eurostat_sql", "read_header", 0),
    "sdmx_csv": ("sdmx_sql", "read_header", SMALL_FILE),
    "tabular_csv": ("tabular_sql", "read_header", SMALL_FILE),
    "edr_csv": ("tabular_sql", "read_edr_header", SMALL_FILE),
}
State = Literal["fresh", "unchanged", "stale", "missing"]
# Column types by their Arrow names (pyarrow is imported only where the Python parsers'
# rows are batched: a file staged by the engine never loads it).
TAIL_COLUMNS: list[tuple[str, str]] = [
    ("period", "string"),
    ("value", "double"),
    ("value_text", "string"),
    ("flags", "string"),
    ("note", "string"),
    ("line", "int64"),
    ("source_dataset", "string"),
    ("snapshot_sha256", "string"),
]
DUCK_TYPES = {"string": "VARCHAR", "double": "DOUBLE", "int64": "BIGINT"}


@dataclass
class StageResult:
    dataset: str
    state: State
    snapshot: Snapshot | None
    rows: int
    reason: str | None = None
    quarantined: list[dict[str, str]] = field(default_factory=list)
    report: ValidationReport | None = None
    members: list[Snapshot] = field(default_factory=list)  # every snapshot staged
    # staged into a folder: the table is a view of these Parquet files (one per member)
    files: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class PublishedUse:
    """What the latest published release used for a dataset (meta.release_datasets)."""

    snapshot_sha256: str | None
    fetched_at: str | None
    rows: int | None
    members: list[str] = field(default_factory=list)  # sha256 of every member snapshot
    is_sample: bool = False


@dataclass(frozen=True)
class Baseline:
    """The previous good figure a new snapshot's observation count is compared with."""

    sha256: str
    fetched_at: str
    rows: int
    origin: str  # "the published release" | "the previous snapshot"


def parser_for(fmt: str) -> Callable[[Path, dict[str, Any], ReadLimits], ParsedFile]:
    module = importlib.import_module(f"pipelines.parsers.{fmt}")
    return module.parse  # type: ignore[no-any-return]


def parse_file(ds: Dataset, path: Path) -> ParsedFile:
    """Parse one snapshot file of `ds` within its read limits (format detected from content
    where the publisher hands out several)."""
    return parser_for(effective_format(ds.format, path))(path, parser_options(ds), ds.limits)


# File-level columns of datasets mapped by breadcrumb rules (the Statistical Bulletin): the
# table's breadcrumb, and what the catalogue rule that matched it says the table measures.
RULE_COLUMNS = ["table_breadcrumb", "indicator_id", "measure", "unit", "role", "breakdown"]


def staging_columns(ds: Dataset) -> list[tuple[str, str]]:
    """(name, Arrow type name) of every column of the dataset's staging table."""
    cols: list[tuple[str, str]] = []
    if ds.bulletin_rules:
        cols += [(c, "string") for c in RULE_COLUMNS]
    for dim in ds.dimensions:
        if dim == ds.geo_dimension:
            cols += [("geo_raw", "string"), ("geo", "string"), ("geo_level", "string")]
        else:
            cols.append((dim, "string"))
    return cols + TAIL_COLUMNS


def file_columns(ds: Dataset, parsed: ParsedFile) -> dict[str, str | None]:
    """Constant columns for every row of one file: the breadcrumb rule that the parser
    matched (`parser_options` gives it the dataset's rules), if any."""
    if not ds.bulletin_rules:
        return {}
    path = [str(p) for p in parsed.attributes.get("measure_path", [])]
    rule = parsed.attributes["rule"]
    rest = path[len(rule["prefix"]) :]
    return {
        "table_breadcrumb": "  >  ".join(path),
        "indicator_id": str(rule["indicator"]),
        "measure": rule["measure"],
        "unit": rule["unit"],
        "role": rule["role"],
        "breakdown": " > ".join(rest) or None,
    }


def member_key(parsed: ParsedFile, snap: Snapshot) -> str:
    """What identifies one member table of a collection: its breadcrumb (Bulletin), its
    table name (EDR: the file name without edition prefix), else its file."""
    attrs = parsed.attributes
    return str(attrs.get("breadcrumb") or attrs.get("member") or snap.meta.file)


def parser_options(ds: Dataset) -> dict[str, Any]:
    """The options a dataset's parser gets: its `parser_options`, and for a collection
    recognised by table rules (EDR) the rules and the staged dimensions, for one mapped by
    breadcrumb rules (the Statistical Bulletin) those rules, for a curated file its
    indicators (a row for another indicator is refused: no query would read it)."""
    if ds.bulletin_rules:
        return {**ds.parser_options, "rules": [r.model_dump() for r in ds.bulletin_rules]}
    if ds.format == "curated_csv":
        return {**ds.parser_options, "indicators": list(ds.indicators)}
    if not ds.table_rules:
        return dict(ds.parser_options)
    return {
        **ds.parser_options,
        "rules": [r.model_dump() for r in ds.table_rules],
        "dimensions": list(ds.dimensions),
    }


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def create_table(con: duckdb.DuckDBPyConnection, table: str, ds: Dataset) -> None:
    schema, name = table.split(".", 1)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(schema)}")
    drop_relation(con, table)
    cols = ", ".join(f"{_q(n)} {DUCK_TYPES[t]}" for n, t in staging_columns(ds))
    con.execute(f"CREATE TABLE {_q(schema)}.{_q(name)} ({cols})")


def create_view(con: duckdb.DuckDBPyConnection, table: str, files: list[Path]) -> None:
    """`table` as a view of the Parquet files `files` (their rows in list order)."""
    schema, name = table.split(".", 1)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(schema)}")
    drop_relation(con, table)
    listed = ", ".join(_lit(str(f)) for f in files)
    con.execute(f"CREATE VIEW {_q(schema)}.{_q(name)} AS SELECT * FROM read_parquet([{listed}])")


def drop_relation(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Drop the table or view `table`, if there is one."""
    schema, name = table.split(".", 1)
    (kind,) = con.execute(
        "SELECT coalesce(any_value(table_type), '') FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchone()
    if kind:
        relation = "VIEW" if kind == "VIEW" else "TABLE"
        con.execute(f"DROP {relation} {_q(schema)}.{_q(name)}")


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


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
    ds: Dataset,
    parsed: ParsedFile,
    snap: Snapshot,
    geo: GeoResolver,
    constants: dict[str, str | None],
) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa

    columns = staging_columns(ds)
    schema = pa.schema([(n, pa.type_for_alias(t)) for n, t in columns])
    names = [n for n, _ in columns]
    maps = ds.code_maps
    buffer: dict[str, list[Any]] = {n: [] for n in names}
    count = 0
    for row in parsed.rows:
        for key, value in constants.items():
            buffer[key].append(value)
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
        buffer["period"].append(row.get("period") or ds.default_period)
        for key in ("value", "value_text", "flags", "note", "line"):
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
    con: duckdb.DuckDBPyConnection,
    table: str,
    ds: Dataset,
    snap: Snapshot,
    geo: GeoResolver,
    parquet: Path | None = None,
) -> tuple[int, str, bool]:
    """Parse a snapshot into `table` (replaced); returns (rows, member key, known unused).

    With `parquet`, the rows are written to that Parquet file and `table` is a view of it:
    how a staging step stages (its Parquet files go to the build as they are, see
    pipelines/parts.py), without writing the rows into a table first.

    A known-but-unused member (an EDR table no indicator needs) gives no rows and is
    accepted. A delimited file is staged by DuckDB itself (ENGINES), other formats through
    their Python parser. Raises ParseError / SnapshotError.
    """
    path = snap.verified_path()
    staged = _load_in_engine(con, table, ds, snap, path, geo, parquet)
    if staged is not None:
        return staged
    parsed = parse_file(ds, path)
    check_layout(ds, parsed, path)
    constants = file_columns(ds, parsed)
    create_table(con, table, ds)
    schema, name = table.split(".", 1)
    target = f"{_q(schema)}.{_q(name)}"
    rows = 0
    for batch in _batches(ds, parsed, snap, geo, constants):
        con.register("_incoming_batch", batch)
        con.execute(f"INSERT INTO {target} SELECT * FROM _incoming_batch")
        con.unregister("_incoming_batch")
        rows += batch.num_rows
    if parquet is not None:
        con.execute(f"COPY {target} TO {_lit(str(parquet))} (FORMAT parquet)")
        create_view(con, table, [parquet])
    return rows, member_key(parsed, snap), bool(parsed.attributes.get("known_unused"))


def _load_in_engine(
    con: duckdb.DuckDBPyConnection,
    table: str,
    ds: Dataset,
    snap: Snapshot,
    path: Path,
    geo: GeoResolver,
    parquet: Path | None,
) -> tuple[int, str, bool] | None:
    """Stage a delimited file with DuckDB itself (ENGINES: parsers.eurostat_sql, sdmx_sql,
    tabular_sql); None when the file is one the Python parser must read (not UTF-8, a line
    the engine would split otherwise, see those modules)."""
    if ds.bulletin_rules:
        return None
    fmt = effective_format(ds.format, path)
    if fmt not in ENGINES:
        return None
    module_name, read_header, min_bytes = ENGINES[fmt]
    if path.stat().st_size < min_bytes:
        return None
    module = importlib.import_module(f"pipelines.parsers.{module_name}")
    header = getattr(module, read_header)(path, parser_options(ds), ds.limits)
    if header is None:
        return None
    check_layout(ds, header.parsed, path)
    schema, name = table.split(".", 1)
    columns = tuple((n, DUCK_TYPES[t]) for n, t in staging_columns(ds))
    target = eurostat_sql.Target(f"{_q(schema)}.{_q(name)}", columns, parquet)
    if parquet is None:
        create_table(con, table, ds)
    rows = module.insert(con, target, ds, header, path, snap.meta.sha256, geo)
    if rows is None:
        return None
    if parquet is not None:
        create_view(con, table, [parquet])
    return rows, member_key(header.parsed, snap), False


def validate_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    gate: str | Dataset | Indicator,
    label: str | None = None,
    engine: Literal["sql", "gx"] = "sql",
) -> ValidationReport:
    """Run a table's gate: a dataset's or an indicator's (expectations generated from its
    catalogue entry plus its hand-written suite, if any), or a hand-written suite by name.
    The report names `label` (default: the table).

    The suite runs as DuckDB SQL on the table (pipelines.sqlgates); `engine="gx"` runs it
    with Great Expectations on the whole table read into pandas, the reference."""
    from pipelines.suites import indicator_expectations, staging_expectations

    shown = label or table
    generated: list[dict[str, Any]] | None = None
    if isinstance(gate, Dataset):
        suite, generated = gate.table, staging_expectations(gate)
    elif isinstance(gate, Indicator):
        suite, generated = gate.table, indicator_expectations(gate)
    else:
        suite = gate
    if engine == "sql":
        return validate_sql(con, table, suite, shown, generated=generated)
    if engine != "gx":
        raise ValueError(f"engine must be 'sql' or 'gx', not {engine!r}")
    schema, name = table.split(".", 1)
    df = con.execute(f"SELECT * FROM {_q(schema)}.{_q(name)}").df()
    return validate_frame(df, suite, shown, generated=generated)


def stage_dataset(
    con: duckdb.DuckDBPyConnection,
    ds: Dataset,
    snapshots: list[Snapshot],
    geo: GeoResolver,
    *,
    published_sha: str | None,
    fetch_problem: str | None,
    allow_sample: bool = True,
    published: PublishedUse | None = None,
    folder: Path | None = None,
) -> StageResult:
    """Stage the newest snapshot that passes the gate; quarantine the ones that do not.

    For a collection, the newest passing snapshot of every member table is staged.
    `snapshots` newest first; `published_sha` is the (newest) snapshot the published
    release used; `fetch_problem` is why this run's download failed, if it did. Without
    `allow_sample` (any run not fed by a sample mirror), sample snapshots are never used:
    a live release never falls back on synthetic data. `published` (what the published
    release used, with its row counts) is the baseline of the row-drop check. With
    `folder`, every snapshot is staged as a Parquet file there (`load_snapshot`) and the
    table is a view of the files of the snapshots used (`StageResult.files`).
    """
    sample_only = [s for s in snapshots if s.meta.sample]
    if not allow_sample:
        snapshots = [s for s in snapshots if not s.meta.sample]
    # Each table is validated once. A single file: the snapshot that passes its gate is the
    # table. A collection's members are first staged together and validated once (the common
    # case: every member passes); only when that fails is each member validated on its own,
    # so that the failing member, and only it, is quarantined, and the table they make
    # together is validated again (members that pass alone may still clash).
    drops = RowDropCheck(ds, snapshots, published)
    used, quarantined, rows_total, report, files = _stage_members(
        con, ds, snapshots, geo, drops, folder, each=not ds.collection
    )
    if ds.collection and used:
        report = validate_table(con, ds.table, ds)
        if not report.success:
            used, quarantined, rows_total, _, files = _stage_members(
                con, ds, snapshots, geo, drops, folder, each=True
            )
            report = validate_table(con, ds.table, ds) if used else None
    reasons = [q["reason"] for q in quarantined]
    if fetch_problem:
        # a refusal's line already says what happened and what to do (the inbox)
        refused = REFUSAL_PHRASE in fetch_problem
        reasons.insert(0, fetch_problem if refused else f"download failed: {fetch_problem}")
    if not used:
        if not snapshots and sample_only:
            reasons.append(
                f"only sample snapshots ({len(sample_only)}): a run that is not fed "
                "by a sample mirror never publishes sample data"
            )
        elif not snapshots:
            reasons.append("no snapshot in the store")
        return StageResult(ds.id, "missing", None, 0, "; ".join(reasons), quarantined, None)
    if reasons:
        state: State = "stale"
    elif published_sha == used[0].meta.sha256:
        state = "unchanged"
    else:
        state = "fresh"
    return StageResult(
        ds.id,
        state,
        used[0],
        rows_total,
        "; ".join(reasons) or None,
        quarantined,
        report,
        members=used,
        files=files,
    )


def _stage_members(
    con: duckdb.DuckDBPyConnection,
    ds: Dataset,
    snapshots: list[Snapshot],
    geo: GeoResolver,
    drops: RowDropCheck,
    folder: Path | None,
    *,
    each: bool,
) -> tuple[list[Snapshot], list[dict[str, str]], int, ValidationReport | None, list[Path]]:
    """Fill `ds.table` from the newest snapshot of each member (one, unless a collection).

    With `each`, every candidate is validated before it joins the table and a failing one is
    quarantined (then the next older snapshot of that member is tried). Returns (used,
    quarantined, rows, the report of the last candidate that joined the table, the Parquet
    files the table is a view of, with `folder`): for a single file, that candidate is the
    whole table.
    """
    candidate = f"staging._candidate_{ds.asset_name}"
    create_table(con, ds.table, ds)
    quarantined: list[dict[str, str]] = []
    used: list[Snapshot] = []
    files: list[Path] = []
    members: set[str] = set()
    rows_total = 0
    joined: ValidationReport | None = None
    for snap in snapshots:
        parquet = None
        if folder is not None:
            parquet = folder / f"{ds.asset_name}.{snap.meta.sha256[:16]}.{len(files)}.parquet"
        try:
            rows, member, unused = load_snapshot(con, candidate, ds, snap, geo, parquet)
            if member in members:
                continue  # an older version of a member table already staged
            if rows == 0 and not ds.allow_empty and not unused:
                raise ParseError(
                    snap.path,
                    "no observations",
                    "the file holds no value (a filter that matched nothing, or "
                    "a truncated export); set allow_empty in the catalogue if "
                    "that is expected",
                )
            report = validate_table(con, candidate, ds, ds.table) if each else None
        except (ParseError, SnapshotError) as exc:
            quarantined.append(_quarantine_entry(snap, str(exc)))
            continue
        if report is not None and not report.success:
            quarantined.append(_quarantine_entry(snap, report.summary()))
            continue
        drops.record(snap, member, rows)
        if (dropped := drops.problem(snap, member)) is not None:
            quarantined.append(_quarantine_entry(snap, dropped))
            continue
        if parquet is None:
            con.execute(f"INSERT INTO {ds.table} SELECT * FROM {candidate}")
        else:
            files.append(parquet)
        joined = report
        used.append(snap)
        members.add(member)
        rows_total += rows
        if not ds.collection:
            break
    drop_relation(con, candidate)
    if files:
        create_view(con, ds.table, files)
    return used, quarantined, rows_total, joined, files


def _quarantine_entry(snap: Snapshot, reason: str) -> dict[str, str]:
    return {
        "snapshot_sha256": snap.meta.sha256,
        "snapshot": str(snap.path),
        "fetched_at": snap.meta.fetched_at,
        "reason": f"snapshot {snap.meta.sha256[:12]} of {snap.meta.fetched_at} "
        f"quarantined: {reason}",
    }


class RowDropCheck:
    """Is a snapshot's observation count a sharp drop against the previous good snapshot?

    The baseline of a snapshot is the figure of the published release (per member table for
    a collection), else the newest older snapshot (of the same member) that itself reads and
    passes this check. Older snapshots are counted by parsing them, once, only when needed.
    """

    PUBLISHED = "the published release"
    PREVIOUS = "the previous snapshot"

    def __init__(self, ds: Dataset, snapshots: list[Snapshot], published: PublishedUse | None):
        self.ds = ds
        self.snapshots = snapshots
        self.published = published
        self._counts: dict[str, tuple[str, int] | None] = {}  # sha -> (member, rows) | unreadable
        self._verdicts: dict[str, str | None] = {}

    def record(self, snap: Snapshot, member: str, rows: int) -> None:
        self._counts[snap.meta.sha256] = (member, rows)

    def problem(self, snap: Snapshot, member: str) -> str | None:
        """Why `snap` is quarantined for a drop, or None."""
        sha = snap.meta.sha256
        if sha not in self._verdicts:
            self._verdicts[sha] = self._judge(snap, member)
        return self._verdicts[sha]

    def _judge(self, snap: Snapshot, member: str) -> str | None:
        threshold = self.ds.max_row_drop
        counted = self._count(snap)
        if threshold is None or counted is None:
            return None
        if any(snap.meta.sha256.startswith(p) for p in self.ds.expected_drop):
            return None
        base = self.baseline(snap, member)
        rows = counted[1]
        if base is None or base.sha256 == snap.meta.sha256 or base.rows <= 0:
            return None
        drop = (base.rows - rows) / base.rows
        if drop <= threshold:
            return None
        what = f"member table {member!r}: " if self.ds.collection else ""
        return (
            f"{what}observations dropped by {drop:.1%}: {rows:,} rows against {base.rows:,} "
            f"in {base.origin} (snapshot {base.sha256} of {base.fetched_at}; this snapshot "
            f"{snap.meta.sha256}), more than max_row_drop {threshold:.0%}; if the drop is "
            f"real, add {snap.meta.sha256[:12]} to expected_drop in "
            f"assets/datasets/{self.ds.id}.yaml"
        )

    def baseline(self, snap: Snapshot, member: str) -> Baseline | None:
        published = self._published_baseline(member, snap.meta.sample)
        if published is not None:
            return published
        older = self.snapshots[self.snapshots.index(snap) + 1 :] if snap in self.snapshots else []
        for candidate in older:
            if candidate.meta.sample != snap.meta.sample:
                continue  # synthetic and real counts say nothing about each other
            counted = self._count(candidate)
            if counted is None or counted[1] == 0:
                continue
            if self.ds.collection and counted[0] != member:
                continue
            if self.problem(candidate, member) is not None:
                continue  # itself a drop: not a good snapshot
            return Baseline(
                candidate.meta.sha256, candidate.meta.fetched_at, counted[1], self.PREVIOUS
            )
        return None

    def _published_baseline(self, member: str, sample: bool) -> Baseline | None:
        pub = self.published
        if pub is None or pub.is_sample != sample:
            return None
        if not self.ds.collection:
            if pub.snapshot_sha256 is None or not pub.rows:
                return None
            return Baseline(pub.snapshot_sha256, pub.fetched_at or "?", pub.rows, self.PUBLISHED)
        by_sha = {s.meta.sha256: s for s in self.snapshots}
        for sha in pub.members:
            snap = by_sha.get(sha)
            counted = self._count(snap) if snap is not None else None
            if snap is not None and counted is not None and counted[0] == member:
                return Baseline(sha, snap.meta.fetched_at, counted[1], self.PUBLISHED)
        return None

    def _count(self, snap: Snapshot) -> tuple[str, int] | None:
        sha = snap.meta.sha256
        if sha not in self._counts:
            try:
                self._counts[sha] = self._count_in_engine(snap)
                if self._counts[sha] is None:
                    parsed = parse_file(self.ds, snap.verified_path())
                    rows = sum(1 for _ in parsed.rows)
                    self._counts[sha] = (member_key(parsed, snap), rows)
            except (ParseError, SnapshotError):
                self._counts[sha] = None
        return self._counts[sha]

    def _count_in_engine(self, snap: Snapshot) -> tuple[str, int] | None:
        """A Eurostat TSV counted by DuckDB (parsers.eurostat_sql); None: count in Python."""
        path = snap.verified_path()
        ds = self.ds
        if ds.bulletin_rules or effective_format(ds.format, path) != "eurostat_tsv":
            return None
        header = eurostat_sql.read_header(path, parser_options(ds), ds.limits)
        rows = None if header is None else eurostat_sql.count_rows(path, header, ds.limits)
        if header is None or rows is None:
            return None
        return member_key(header.parsed, snap), rows
