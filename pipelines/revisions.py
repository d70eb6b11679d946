"""Revisions made visible: what each release published, and what it changed.

Publishers revise silently, so every release keeps the values it published, in
`meta.published_values`, stored once per version (a value unchanged from one release to the
next is not stored again): a version is added when a value first appears or is revised and
closed (`replaced_in`) by the release that revises or withdraws it. The table travels from
release to release like `meta.releases` (pipelines/meta.py), so the values of any past release
stay queryable: the versions released in it or before and not yet replaced.

At publish, `record_revisions` compares the build's indicator tables with the values the
previous release published and writes `meta.revisions`: new periods, new series, revised
values (old -> new, with the snapshot that revised them), withdrawn values and vanished
series. `compare_releases` computes the same for any two releases from the history alone;
`eudap diff` prints it. Only DuckDB is imported here: `eudap diff` starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from pipelines.indicators import SERIES_KEY

# One published value per key: the indicator and its series key (indicators.SERIES_KEY).
KEY = ["indicator_id", *SERIES_KEY]
SERIES = [c for c in KEY if c != "period"]
VALUE = ["value", "value_text", "flags"]
CARRIED = [*KEY, *VALUE, "source_dataset", "snapshot_sha256"]
CHANGES = ("revised", "new_period", "new_series", "withdrawn", "vanished_series")


def _same(left: str, right: str, columns: list[str]) -> str:
    return " AND ".join(f"{left}.{c} IS NOT DISTINCT FROM {right}.{c}" for c in columns)


def changes_sql(old: str, new: str) -> str:
    """One SELECT listing the changes from the values of query `old` to those of `new` (both
    with the CARRIED columns), in the columns of meta.revisions after previous_release_id."""
    key = ", ".join(f"coalesce(n.{c}, o.{c}) AS {c}" for c in KEY)
    differs = " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in VALUE)
    series = ", ".join(SERIES)
    per_value = ", ".join(KEY)
    return f"""
    WITH old AS ({old}), new AS ({new}),
    compared AS (
        SELECT {key},
               o.value AS old_value, n.value AS new_value,
               o.value_text AS old_value_text, n.value_text AS new_value_text,
               o.flags AS old_flags, n.flags AS new_flags,
               o.snapshot_sha256 AS old_snapshot_sha256,
               n.snapshot_sha256 AS new_snapshot_sha256,
               coalesce(n.source_dataset, o.source_dataset) AS source_dataset,
               CASE WHEN o.indicator_id IS NULL THEN 'new'
                    WHEN n.indicator_id IS NULL THEN 'gone'
                    WHEN {differs} THEN 'revised' END AS what
        FROM old o FULL JOIN new n ON {_same("o", "n", KEY)}
    ),
    old_series AS (SELECT DISTINCT {series}, true AS present FROM old),
    new_series AS (SELECT DISTINCT {series}, true AS present FROM new),
    classified AS (
        SELECT c.*,
               CASE WHEN c.what = 'revised' THEN 'revised'
                    WHEN c.what = 'new' AND os.present THEN 'new_period'
                    WHEN c.what = 'new' THEN 'new_series'
                    WHEN ns.present THEN 'withdrawn'
                    ELSE 'vanished_series' END AS change
        FROM compared c
        LEFT JOIN old_series os ON {_same("os", "c", SERIES)}
        LEFT JOIN new_series ns ON {_same("ns", "c", SERIES)}
        WHERE c.what IS NOT NULL
    )
    SELECT change, {per_value}, period AS first_period, period AS last_period,
           1 AS n_values, old_value, new_value, old_value_text, new_value_text,
           old_flags, new_flags, old_snapshot_sha256, new_snapshot_sha256, source_dataset
    FROM classified WHERE change IN ('revised', 'new_period', 'withdrawn')
    UNION ALL BY NAME
    -- a whole series appearing or vanishing is one row: its periods, its latest value
    SELECT change, {series}, CAST(NULL AS INTEGER) AS period,
           min(period) AS first_period, max(period) AS last_period, count(*) AS n_values,
           arg_max_null(old_value, period) AS old_value,
           arg_max_null(new_value, period) AS new_value,
           arg_max_null(old_value_text, period) AS old_value_text,
           arg_max_null(new_value_text, period) AS new_value_text,
           arg_max_null(old_flags, period) AS old_flags,
           arg_max_null(new_flags, period) AS new_flags,
           arg_max_null(old_snapshot_sha256, period) AS old_snapshot_sha256,
           arg_max_null(new_snapshot_sha256, period) AS new_snapshot_sha256,
           any_value(source_dataset) AS source_dataset
    FROM classified WHERE change IN ('new_series', 'vanished_series')
    GROUP BY change, {series}
    """


def _order() -> str:
    order = ", ".join(c for c in KEY if c != "indicator_id")
    changes = ", ".join(f"'{c}'" for c in CHANGES)
    return f"indicator_id, list_position([{changes}], change), {order}"


def values_of_sql(release_param: str = "?") -> str:
    """The values release `release_param` published, from meta.published_values."""
    cols = ", ".join(f"p.{c}" for c in CARRIED)
    at = f"(SELECT published_at FROM meta.releases WHERE release_id = {release_param})"
    return f"""
        SELECT {cols} FROM meta.published_values p
        JOIN meta.releases ri ON ri.release_id = p.released_in
        LEFT JOIN meta.releases rr ON rr.release_id = p.replaced_in
        WHERE ri.published_at <= {at} AND (p.replaced_in IS NULL OR rr.published_at > {at})
    """


def _current_values(con: duckdb.DuckDBPyConnection) -> str:
    tables = [
        name
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'indicators' ORDER BY 1"
        ).fetchall()
    ]
    cols = ", ".join(CARRIED)
    if not tables:  # nothing published (a partial build in tests): an empty set of values
        return f"SELECT {cols} FROM meta.published_values WHERE false"
    return " UNION ALL ".join(f'SELECT {cols} FROM indicators."{t}"' for t in tables)


def previous_release(con: duckdb.DuckDBPyConnection, release_id: str) -> str | None:
    row = con.execute(
        "SELECT release_id FROM meta.releases WHERE release_id <> ? AND published_at IS NOT NULL "
        "ORDER BY published_at DESC LIMIT 1",
        [release_id],
    ).fetchone()
    return row[0] if row else None


def record_revisions(con: duckdb.DuckDBPyConnection, release_id: str) -> int:
    """Add `release_id`'s values to meta.published_values and its changes to meta.revisions
    (the release row must be recorded). Idempotent. Returns the number of revision rows."""
    con.execute("DELETE FROM meta.revisions WHERE release_id = ?", [release_id])
    con.execute("DELETE FROM meta.published_values WHERE released_in = ?", [release_id])
    con.execute(
        "UPDATE meta.published_values SET replaced_in = NULL WHERE replaced_in = ?", [release_id]
    )
    current = _current_values(con)
    previous = previous_release(con, release_id)
    has_history = con.execute("SELECT count(*) > 0 FROM meta.published_values").fetchone()[0]
    cols = ", ".join(CARRIED)
    if previous is None or not has_history:
        # The first release, or the first since the warehouse kept its values: the history
        # starts here and there is nothing to compare with.
        con.execute(
            f"INSERT INTO meta.published_values ({cols}, released_in, replaced_in) "
            f"SELECT {cols}, ?, NULL FROM ({current})",
            [release_id],
        )
        return 0
    open_values = f"SELECT {cols} FROM meta.published_values WHERE replaced_in IS NULL"
    con.execute(f"CREATE OR REPLACE TEMP TABLE _changes AS {changes_sql(open_values, current)}")
    try:
        con.execute(
            "INSERT INTO meta.revisions BY NAME "
            "SELECT ? AS release_id, ? AS previous_release_id, * FROM _changes",
            [release_id, previous],
        )
        # Versions revised or withdrawn are closed; a vanished series is closed value by value.
        con.execute(
            f"""
            UPDATE meta.published_values p SET replaced_in = ?
            WHERE p.replaced_in IS NULL AND NOT EXISTS (
                SELECT 1 FROM ({current}) n
                WHERE {_same("n", "p", [*KEY, *VALUE])}
            )
            """,
            [release_id],
        )
        con.execute(
            f"""
            INSERT INTO meta.published_values ({cols}, released_in, replaced_in)
            SELECT {cols}, ?, NULL FROM ({current}) n
            WHERE NOT EXISTS (
                SELECT 1 FROM meta.published_values p
                WHERE p.replaced_in IS NULL AND {_same("n", "p", [*KEY, *VALUE])}
            )
            """,
            [release_id],
        )
        return con.execute("SELECT count(*) FROM _changes").fetchone()[0]
    finally:
        con.execute("DROP TABLE IF EXISTS _changes")


# -- reading it back (eudap diff) ----------------------------------------------------------------
@dataclass(frozen=True)
class ReleaseInfo:
    release_id: str
    published_at: object


def releases(con: duckdb.DuckDBPyConnection) -> list[ReleaseInfo]:
    """The published releases, oldest first."""
    return [
        ReleaseInfo(r, at)
        for r, at in con.execute(
            "SELECT release_id, published_at FROM meta.releases "
            "WHERE published_at IS NOT NULL ORDER BY published_at"
        ).fetchall()
    ]


def history_start(con: duckdb.DuckDBPyConnection) -> str | None:
    """The first release whose values meta.published_values holds."""
    row = con.execute(
        "SELECT p.released_in FROM meta.published_values p "
        "JOIN meta.releases r ON r.release_id = p.released_in ORDER BY r.published_at LIMIT 1"
    ).fetchone()
    return row[0] if row else None


def compare_releases(con: duckdb.DuckDBPyConnection, old: str, new: str) -> list[dict]:
    """The changes from release `old` to release `new` (any two releases of the history)."""
    sql = changes_sql(values_of_sql("$old"), values_of_sql("$new"))
    rel = con.execute(f"SELECT * FROM ({sql}) ORDER BY {_order()}", {"old": old, "new": new})
    names = [d[0] for d in rel.description]
    return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]


class UnknownRelease(LookupError):
    pass


def resolve_release(known: list[ReleaseInfo], text: str) -> ReleaseInfo:
    """A release by its id or a unique prefix of it (ids are long)."""
    exact = [r for r in known if r.release_id == text]
    matches = exact or [r for r in known if r.release_id.startswith(text)]
    if len(matches) == 1:
        return matches[0]
    listed = "\n".join(f"  {r.release_id}  published {_when(r)}" for r in known) or "  (none)"
    what = "more than one release starts with" if matches else "no release"
    raise UnknownRelease(f"{what} {text!r}; the releases, oldest first:\n{listed}")


def _when(release: ReleaseInfo) -> str:
    at = release.published_at
    return f"{at:%Y-%m-%d %H:%M:%S} UTC" if at is not None else "never"


def _number(value: float | None, text: str | None, flags: str | None) -> str:
    if value is None:
        shown = text or "no value"
    elif float(value).is_integer() and abs(value) < 1e15:
        shown = str(int(value))
    else:
        shown = f"{value:.10g}"
    return f"{shown} [{flags}]" if flags else shown


def _series_label(row: dict) -> str:
    parts = [f"ind{row['indicator_id']:02d}", row["measure"], row["geo"]]
    parts += [f"{c}={row[c]}" for c in ("substance", "sex", "age", "breakdown") if row[c]]
    if row["value_origin"] != "published":
        parts.append(row["value_origin"])
    return " ".join(parts)


def _line(row: dict) -> str:
    label = _series_label(row)
    unit = f" ({row['unit']})" if row["unit"] else ""
    old = _number(row["old_value"], row["old_value_text"], row["old_flags"])
    new = _number(row["new_value"], row["new_value_text"], row["new_flags"])
    new_from = f"snapshot {(row['new_snapshot_sha256'] or '')[:12]} ({row['source_dataset']})"
    old_from = f"snapshot {(row['old_snapshot_sha256'] or '')[:12]} ({row['source_dataset']})"
    change, period = row["change"], row["period"]
    if change == "revised":
        return f"{label} {period}{unit}: {old} -> {new}; {new_from}"
    if change == "new_period":
        return f"{label} {period}{unit}: {new}; {new_from}"
    if change == "withdrawn":
        return f"{label} {period}{unit}: was {old}; {old_from}"
    span = f"{row['first_period']}-{row['last_period']} ({row['n_values']} values)"
    if change == "new_series":
        return f"{label}{unit} {span}, latest {new}; {new_from}"
    return f"{label}{unit} {span}, last {old}; {old_from}"


HEADINGS = {
    "revised": "Revised values (old -> new; the snapshot that revised them)",
    "new_period": "New periods",
    "new_series": "New series",
    "withdrawn": "Withdrawn values (the series is still published)",
    "vanished_series": "Vanished series (no longer published at all)",
}
COUNTED = {
    "revised": ("revised value", "revised values"),
    "new_period": ("new period", "new periods"),
    "new_series": ("new series", "new series"),
    "withdrawn": ("withdrawn value", "withdrawn values"),
    "vanished_series": ("vanished series", "vanished series"),
}


def format_diff(old: ReleaseInfo, new: ReleaseInfo, rows: list[dict]) -> str:
    counts = {c: sum(1 for r in rows if r["change"] == c) for c in CHANGES}
    summary = ", ".join(f"{n} {COUNTED[c][n != 1]}" for c, n in counts.items())
    lines = [
        f"From release {old.release_id} (published {_when(old)})",
        f"  to release {new.release_id} (published {_when(new)}):",
        f"  {summary}",
    ]
    for change in CHANGES:
        listed = [r for r in rows if r["change"] == change]
        if listed:
            lines += ["", f"{HEADINGS[change]}:"] + [f"  {_line(r)}" for r in listed]
    if not rows:
        lines.append("No published value changed.")
    return "\n".join(lines) + "\n"


def diff_command(
    con: duckdb.DuckDBPyConnection, old: str | None, new: str | None
) -> tuple[int, str, str]:
    """`eudap diff [A] [B]`: (exit status, stdout text, stderr text). Without B, B is the
    latest release; without A either, A is the one before it."""
    tables = {
        t
        for (t,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'meta'"
        ).fetchall()
    }
    if "published_values" not in tables:
        return (
            1,
            "",
            (
                "FAILED: this warehouse keeps no history of published values yet (it was "
                "published by an older eudap); the next release starts it\n"
            ),
        )
    known = releases(con)
    try:
        b = resolve_release(known, new) if new else (known[-1] if known else None)
        if old:
            a = resolve_release(known, old)
        else:
            before = [r for r in known if b and r.published_at < b.published_at]
            a = before[-1] if before else None
    except UnknownRelease as exc:
        return 2, "", f"error: {exc}\n"
    if a is None or b is None:
        only = f" ({known[0].release_id})" if known else ""
        return 0, f"Only {len(known)} release{only}: nothing to compare.\n", ""
    start = history_start(con)
    first = next((r for r in known if r.release_id == start), None)
    for r in (a, b):
        if first is None or r.published_at < first.published_at:
            return (
                1,
                "",
                (
                    f"FAILED: release {r.release_id} predates the history of published values, "
                    f"which starts at release {start}\n"
                ),
            )
    return 0, format_diff(a, b, compare_releases(con, a.release_id, b.release_id)), ""
