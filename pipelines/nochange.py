"""Nothing changed, nothing built: the decision a run makes after its intake and downloads.

A run builds and publishes only when something differs from the published release. Nothing
differs when

* the input key of the release as a whole (`reuse.planned_keys`: every gated table's key,
  so every snapshot staging may consider, every catalogue entry, every file of the
  catalogue folder, and the code) equals the one the published release recorded;
* no download of this run failed or was refused (its dataset would turn stale: a change),
  and no dataset is stale or missing in the published release after a failed download
  (a download that works again would change its state);
* no rebuild was asked for (`eudap run --rebuild`, or `rebuild: true` in the resource
  config of a run launched from the Dagster UI).

A file taken in from the inbox is a new snapshot, so it changes its dataset's key; one
identical to a snapshot already stored adds nothing and changes nothing.

Then the run builds nothing: the published warehouse stays byte-identical, the run ends OK
and says why. The attempt log (`eudap sources`) keeps the night's downloads either way.
Dagster-free: the meta/build asset calls `decide_run`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines import parts
from pipelines.attempts import last_attempt
from pipelines.catalogue import Catalogue
from pipelines.reuse import RELEASE_TABLE, InputKey, planned_keys, published_keys
from pipelines.settings import Paths
from pipelines.snapshots import SnapshotStore

FAILED_OUTCOMES = ("failed", "refused")
# A run that built nothing: its Dagster run tag (the release that stays current), and the
# metadata key of meta/build's observation that says so (read by the CLI and progress views).
RUN_TAG = "eudap/nothing_changed_since"
MESSAGE_KEY = "nothing_changed"
CODE_CHANGED = "the code changed (pipelines/, sql/ or expectations/)"


@dataclass(frozen=True)
class PublishedRelease:
    """What the decision needs of the published release."""

    release_id: str
    published_at: datetime
    keys: Mapping[str, InputKey]  # table (or `release`) -> the key it recorded
    states: Mapping[str, str]  # dataset -> fresh | unchanged | stale | missing
    fetch_problems: Mapping[str, str]  # dataset -> why its download failed in that build


@dataclass(frozen=True)
class Decision:
    build: bool
    reasons: tuple[str, ...]  # why it builds; empty when it does not
    release: PublishedRelease | None

    @property
    def message(self) -> str:
        if self.build:
            return "building: " + "; ".join(self.reasons)
        assert self.release is not None
        return (
            f"nothing changed since release {self.release.release_id} "
            f"({self.release.published_at:%Y-%m-%d %H:%M} UTC): "
            f"{datasets_line(self.release.states)}; release stays current"
        )


def datasets_line(states: Mapping[str, str]) -> str:
    """`13 datasets unchanged`, or `12 datasets unchanged, 1 stale (as published)`: a
    dataset fresh in the release is unchanged since."""
    unchanged = sum(s in ("fresh", "unchanged") for s in states.values())
    parts = [f"{unchanged} dataset{'s' if unchanged != 1 else ''} unchanged"]
    for state in ("stale", "missing"):
        n = sum(s == state for s in states.values())
        if n:
            parts.append(f"{n} {state} (as published)")
    return ", ".join(parts)


def decide(
    planned: Mapping[str, InputKey],
    published: PublishedRelease | None,
    fetch_problems: Mapping[str, str],
    *,
    rebuild: bool = False,
) -> Decision:
    """Whether this run builds: `planned` are its keys (`reuse.planned_keys`),
    `fetch_problems` the datasets whose download failed or was refused in this run."""
    reasons: list[str] = []
    if rebuild:
        reasons.append("a rebuild was asked for")
    if published is None:
        return Decision(True, (*reasons, "no published release yet"), None)
    for ds_id in sorted(fetch_problems):
        reasons.append(f"{ds_id}: its download failed or was refused in this run")
    for ds_id, state in sorted(published.states.items()):
        if state in ("stale", "missing") and ds_id in published.fetch_problems:
            reasons.append(
                f"{ds_id}: {state} in release {published.release_id} after a failed download"
            )
    reasons += key_changes(planned, published)
    return Decision(bool(reasons), tuple(reasons), published)


def key_changes(planned: Mapping[str, InputKey], published: PublishedRelease) -> list[str]:
    """What differs between this run's keys and the published release's, by cause."""
    recorded = published.keys
    if RELEASE_TABLE not in recorded:
        return [f"release {published.release_id} recorded no release key (an older version)"]
    if planned[RELEASE_TABLE].key == recorded[RELEASE_TABLE].key:
        return []
    if planned[RELEASE_TABLE].code_sha256 != recorded[RELEASE_TABLE].code_sha256:
        return [CODE_CHANGED]
    changes: list[str] = []
    for table, key in sorted(planned.items()):
        old = recorded.get(table)
        if table == RELEASE_TABLE or (old is not None and old.key == key.key):
            continue
        if old is None:
            changes.append(f"{table}: not in the published release")
            continue
        if key.snapshots != old.snapshots:
            new = len(set(key.snapshots) - set(old.snapshots))
            changes.append(
                f"{table}: {new} new snapshot{'s' if new != 1 else ''}"
                if new
                else f"{table}: its snapshots changed"
            )
        if key.catalogue_sha256 != old.catalogue_sha256:
            changes.append(f"{table}: its catalogue entry changed")
    changes += [f"{table}: no longer built" for table in sorted(set(recorded) - set(planned))]
    if not changes:  # no table's own inputs changed: the rest of the catalogue did
        changes.append("the catalogue changed (assets/)")
    return changes


def overdue(
    cat: Catalogue, fetched_at: Mapping[str, datetime | None], now: datetime
) -> dict[str, str]:
    """dataset -> why it is overdue: the snapshot the release uses is older than its
    catalogue entry's `expected_update_days` (None: no snapshot). What Dagster's freshness
    checks (pipelines/freshness.py) say after a build; a night that builds nothing skips
    them, so the CLI says it from the release instead. Times naive UTC."""
    found: dict[str, str] = {}
    for ds_id, fetched in sorted(fetched_at.items()):
        ds = cat.datasets.get(ds_id)
        if ds is None:
            continue
        if fetched is None:
            found[ds_id] = "overdue: the release holds no snapshot of it"
            continue
        age = now - fetched
        if age.days >= ds.expected_update_days:
            found[ds_id] = (
                f"overdue: the snapshot in use was fetched {fetched:%Y-%m-%d}, {age.days} days "
                f"ago; its publisher updates every {ds.expected_update_days} days or sooner"
            )
    return found


# -- reading what the decision needs ----------------------------------------------------------
def read_published(paths: Paths) -> PublishedRelease | None:
    """The latest published release of the published warehouse, if any."""
    if not paths.published_warehouse.exists():
        return None
    with duckdb.connect(str(paths.published_warehouse), read_only=True) as con:
        try:
            row = con.execute(
                "SELECT release_id, published_at FROM meta.releases "
                "WHERE published_at IS NOT NULL ORDER BY published_at DESC LIMIT 1"
            ).fetchone()
        except duckdb.Error:
            return None
        if row is None:
            return None
        release_id, published_at = row
        states = dict(
            con.execute(
                "SELECT dataset, state FROM meta.release_datasets WHERE release_id = ?",
                [release_id],
            ).fetchall()
        )
        return PublishedRelease(
            release_id,
            published_at,
            published_keys(con, release_id),
            states,
            _fetch_problems(con),
        )


def _fetch_problems(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """dataset -> reason, for the downloads that failed or were refused in the build of
    `con` (its meta.fetch_log holds that build's run only)."""
    with contextlib.suppress(duckdb.Error):
        return {
            ds: reason or outcome
            for ds, outcome, reason in con.execute(
                "SELECT dataset, outcome, reason FROM meta.fetch_log "
                "WHERE outcome IN ('failed', 'refused') ORDER BY logged_at"
            ).fetchall()
        }
    return {}


def attempt_problems(cat: Catalogue, store: SnapshotStore) -> dict[str, str]:
    """The datasets whose last attempt (their attempt log) failed or was refused."""
    problems: dict[str, str] = {}
    for ds in cat.datasets.values():
        attempt = last_attempt(store, ds.id)
        if attempt and attempt.get("outcome") in FAILED_OUTCOMES:
            problems[ds.id] = "; ".join(attempt.get("reasons") or []) or attempt["outcome"]
    return problems


def run_fetch_problems(raw_parts: Path, cat: Catalogue, store: SnapshotStore) -> dict[str, str]:
    """The datasets whose download failed or was refused: in this run's fetch log (what its
    download steps left in the run's build folder, `raw_parts`: pipelines/parts.py), or as
    the last attempt of their attempt log."""
    problems = attempt_problems(cat, store)
    with duckdb.connect() as con:
        parts.load_steps(con, raw_parts)
        problems.update(_fetch_problems(con))
    return problems


def decide_run(
    cat: Catalogue,
    paths: Paths,
    store: SnapshotStore,
    raw_parts: Path,
    *,
    allow_sample: bool,
    rebuild: bool,
) -> tuple[Decision, dict[str, InputKey]]:
    """This run's decision and its planned keys, after its intake and downloads."""
    snapshots = {ds_id: store.snapshots(ds_id) for ds_id in cat.datasets}
    planned = planned_keys(cat, snapshots, allow_sample=allow_sample)
    problems = run_fetch_problems(raw_parts, cat, store)
    return decide(planned, read_published(paths), problems, rebuild=rebuild), planned


class _SkippedGateNotice(logging.Filter):
    """Drops Dagster's notice that a skipped step's blocking gate "emitted no result" and
    that the step after it "will proceed without gating on it": that step is skipped too
    (its upstream built nothing), so the notice, one per gate, only misleads."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "emitted no result" not in record.getMessage()


def quiet_skipped_gate_notices() -> None:
    logger = logging.getLogger("dagster._core.execution.plan.active")
    if not any(isinstance(f, _SkippedGateNotice) for f in logger.filters):
        logger.addFilter(_SkippedGateNotice())
