"""The attempt log: one JSON line per fetch of a dataset, read by `eudap sources`.

`data/raw/<source>/<dataset>/.attempts.jsonl`, append-only, written by the fetcher next to
the dataset's snapshots (a dot file: never taken for a snapshot folder), so that `eudap
sources` reads the last attempt without opening a DuckDB build. URLs are redacted. The
build's `meta.fetch_log` keeps the same facts per run.

Outcomes: `ok` (a new snapshot), `unchanged`, `refused` (HTTP 403 or a bot-challenge page),
`moved` (a discovered URL that differs from every URL of the dataset's earlier snapshots;
the new file was taken), `failed`. A line with `checked_before_run` is the check a CLI run
makes before it starts Dagster (pipelines/prerun.py): conditional requests only, every file
unchanged, so no Dagster run was started.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.redact import redact_text, redact_url
from pipelines.snapshots import Snapshot, SnapshotStore, utc_now

if TYPE_CHECKING:
    from pipelines.fetch import FetchOutcome

ATTEMPTS_FILE = ".attempts.jsonl"
# the words of every refusal's reason (`pipelines.fetch.refusal_reason`); staging keys on them
REFUSAL_PHRASE = "the publisher refused an automated download"


def attempts_path(store: SnapshotStore, dataset_id: str) -> Path:
    return store.dataset_dir(dataset_id) / ATTEMPTS_FILE


def summarise(outcomes: Sequence[FetchOutcome], previous: Sequence[Snapshot]) -> str:
    """One outcome for a dataset's fetch (worst first)."""
    statuses = {o.status for o in outcomes}
    if "refused" in statuses:
        return "refused"
    if "failed" in statuses or not outcomes:
        return "failed"
    earlier_urls = {s.meta.url for s in previous}
    resolved = [
        o.snapshot for o in outcomes if o.snapshot and o.snapshot.meta.extra.get("resolved_from")
    ]
    if previous and any(s.meta.url not in earlier_urls for s in resolved):
        return "moved"
    return "ok" if "new" in statuses else "unchanged"


def record_attempt(
    store: SnapshotStore,
    dataset_id: str,
    outcomes: Sequence[FetchOutcome],
    previous: Sequence[Snapshot],
    *,
    checked_before_run: bool = False,
) -> dict[str, Any]:
    """Append one line for this fetch of `dataset_id`; returns what was written.
    `checked_before_run`: the files were only asked whether they changed, before a run
    (`pipelines.prerun`), and found unchanged, so no run started."""
    snaps = [o.snapshot for o in outcomes if o.snapshot is not None]
    resolved_from = next(
        (s.meta.extra.get("resolved_from") for s in snaps if s.meta.extra.get("resolved_from")),
        None,
    )
    entry = {
        "at": utc_now().isoformat(timespec="seconds").replace("+00:00", "Z"),
        "dataset": dataset_id,
        "outcome": summarise(outcomes, previous),
        "urls": [redact_url(o.url) or "" for o in outcomes],
        "resolved_from": redact_url(str(resolved_from)) if resolved_from else None,
        "reasons": [redact_text(o.reason) for o in outcomes if o.reason],
        "snapshots": [s.meta.sha256 for s in snaps],
        "requests": sum(o.requests_made for o in outcomes),
    }
    if checked_before_run:
        entry["checked_before_run"] = True
    path = attempts_path(store, dataset_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, sort_keys=True) + "\n")
    return entry


def last_attempt(store: SnapshotStore, dataset_id: str) -> dict[str, Any] | None:
    """The newest readable line of the dataset's attempt log (None: never attempted)."""
    path = attempts_path(store, dataset_id)
    if not path.is_file():
        return None
    for line in reversed(path.read_text(encoding="utf-8", errors="replace").splitlines()):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a crash: the one before still counts
        if isinstance(entry, dict):
            return entry
    return None
