"""`eudap sources`: where each dataset comes from, how its last attempt went, what is in use.

Fast and Dagster-free: it reads the catalogue, the snapshot sidecars, each dataset's attempt
log (`pipelines.attempts`) and, read-only, the published warehouse's `meta.release_datasets`.
`--check` asks every source whether its files changed (`Fetcher.probe`: the request path of a
run, through the mirror if one is configured, with conditional requests from the last
snapshots, bodies never read): nothing is downloaded or kept.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from pipelines.attempts import last_attempt
from pipelines.catalogue import Catalogue, Dataset, load_catalogue
from pipelines.redact import redact_text, redact_url
from pipelines.settings import Paths
from pipelines.snapshots import SnapshotStore, utc_now


@dataclass
class SourceLine:
    dataset: str
    url: str
    resolved_from: str | None
    last_attempt_at: str | None
    outcome: str | None  # ok / unchanged / refused / moved / failed, None: never attempted
    reason: str | None
    snapshot: str | None  # sha256 of the snapshot in use
    snapshot_in_use_by: str | None  # "published release" or "newest snapshot"
    fetched_at: str | None
    age_days: int | None
    by_hand: str | None = None  # no automated download: where a person gets the files
    capture: str | None = None  # a bundled real file: "bundled copy, capture date unknown (...)"
    # the last attempt only asked, before a run, and found every file unchanged (prerun.py)
    checked_before_run: bool = False


def published_snapshots(paths: Paths) -> dict[str, tuple[str, str | None]]:
    """dataset -> (sha256, fetched_at) of the published release, read-only ({} if none)."""
    if not paths.published_warehouse.exists():
        return {}
    import duckdb

    try:
        con = duckdb.connect(str(paths.published_warehouse), read_only=True)
    except duckdb.Error:
        return {}
    try:
        rows = con.execute(
            """
            SELECT rd.dataset, rd.snapshot_sha256, rd.fetched_at
            FROM meta.release_datasets rd JOIN meta.releases r USING (release_id)
            WHERE r.published_at IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY rd.dataset ORDER BY r.published_at DESC) = 1
            """
        ).fetchall()
    except duckdb.Error:
        return {}
    finally:
        con.close()
    return {ds: (sha, f"{at:%Y-%m-%dT%H:%M:%SZ}" if at else None) for ds, sha, at in rows if sha}


def source_line(
    ds: Dataset, store: SnapshotStore, published: dict[str, tuple[str, str | None]]
) -> SourceLine:
    snaps = store.snapshots(ds.id)
    newest = snaps[0] if snaps else None
    url = (newest.meta.url if newest else None) or ds.resolved_url() or next(iter(ds.urls), "")
    if not url and ds.discover:
        url = ds.discover.page
    resolved_from = newest.meta.extra.get("resolved_from") if newest else None
    attempt = last_attempt(store, ds.id)
    sha, fetched_at, used_by = None, None, None
    if ds.id in published:
        (sha, fetched_at), used_by = published[ds.id], "published release"
    elif newest is not None:
        sha, fetched_at, used_by = newest.meta.sha256, newest.meta.fetched_at, "newest snapshot"
    in_use = next((s for s in snaps if s.meta.sha256 == sha), None)
    age = None
    if fetched_at:
        when = datetime.fromisoformat(fetched_at.replace("Z", "+00:00"))
        age = (utc_now() - when).days
    return SourceLine(
        dataset=ds.id,
        url=redact_url(url) or "",
        resolved_from=redact_url(str(resolved_from)) if resolved_from else None,
        last_attempt_at=attempt.get("at") if attempt else None,
        outcome=attempt.get("outcome") if attempt else None,
        reason="; ".join(attempt.get("reasons") or []) or None if attempt else None,
        snapshot=sha,
        snapshot_in_use_by=used_by,
        fetched_at=fetched_at,
        age_days=age,
        capture=in_use.meta.capture if in_use else None,
        checked_before_run=bool(attempt and attempt.get("checked_before_run")),
    )


def probe(ds: Dataset, store: SnapshotStore, mirror: str) -> tuple[str, str | None, str]:
    """(outcome, reason, url) of asking now whether `ds`'s files changed, without
    downloading them (`Fetcher.probe`: conditional requests whose bodies are not read)."""
    from pipelines.fetch import Fetcher, FetchError, FetchPolicy, Mirror

    previous = store.snapshots(ds.id)
    # a discovered dataset's landing page is read into a throwaway store: nothing is kept
    with tempfile.TemporaryDirectory(prefix="eudap-sources-check-") as tmp:
        fetcher = Fetcher(
            SnapshotStore(Path(tmp)),
            Mirror(mirror) if mirror else None,
            FetchPolicy.from_env(),
            inbox=Paths(store.root.parent).inbox_dir,
        )
        try:
            outcomes = fetcher.probe(ds, store)
        except FetchError as exc:
            return "failed", redact_text(str(exc)), ""
    statuses = [o.status for o in outcomes]
    reasons = "; ".join(o.reason for o in outcomes if o.reason) or None
    url = next((o.url for o in outcomes if o.url), "")
    if "refused" in statuses:
        return "refused", reasons, url
    if "failed" in statuses or not outcomes:
        return "failed", reasons, url
    earlier = {s.meta.url for s in previous}
    if ds.discover is not None and previous and any(o.url not in earlier for o in outcomes):
        return "moved", f"the landing page now links {url}", url
    changed = statuses.count("new")
    if changed:
        return "ok", f"{changed} of {len(outcomes)} file(s) changed since the last snapshot", url
    return "unchanged", None, url


def by_hand_line(ds: Dataset, inbox: Path) -> str | None:
    """What a person does for a dataset no script downloads (None: it is downloaded)."""
    from pipelines.fetch import shown_inbox

    if ds.download_by_hand is None:
        return None
    return (
        f"no automated download: drop the files from {ds.download_by_hand} into "
        f"{shown_inbox(inbox)}"
    )


def fetched_datasets(cat: Catalogue) -> list[Dataset]:
    return [ds for ds in cat.datasets.values() if not ds.local_file]


def print_sources(paths: Paths, check: bool = False, as_json: bool = False) -> int:
    cat = load_catalogue()
    store = SnapshotStore(paths.raw_dir)
    published = published_snapshots(paths)
    lines = [source_line(ds, store, published) for ds in fetched_datasets(cat)]
    for line in lines:
        line.by_hand = by_hand_line(cat.dataset(line.dataset), paths.inbox_dir)
    mirror = os.environ.get("EUDAP_MIRROR", "")
    checks: dict[str, tuple[str, str | None, str]] = {}
    if check:
        for ds in fetched_datasets(cat):
            if ds.downloads:
                checks[ds.id] = probe(ds, store, mirror)
    if as_json:
        payload = [
            {
                **asdict(line),
                **(
                    {
                        "check": dict(
                            zip(("outcome", "reason", "url"), checks[line.dataset], strict=True)
                        )
                    }
                    if line.dataset in checks
                    else {}
                ),
            }
            for line in lines
        ]
        print(redact_text(json.dumps(payload, indent=2)))
    else:
        for line in lines:
            _print_line(line, checks.get(line.dataset))
    bad = [ds for ds, (outcome, _, _) in checks.items() if outcome in ("refused", "failed")]
    if bad:
        print(f"FAILED: {len(bad)} source(s) refused or failed: {', '.join(bad)}", file=sys.stderr)
    return 1 if bad else 0


def _print_line(line: SourceLine, checked: tuple[str, str | None, str] | None) -> None:
    print(f"{line.dataset}")
    if line.by_hand:
        print(f"  url:      none; {line.by_hand}")
    else:
        print(f"  url:      {line.url or '(none: eudap load or the inbox)'}")
    if line.resolved_from:
        print(f"  found on: {line.resolved_from}")
    if line.outcome:
        print(
            f"  last attempt: {line.last_attempt_at} {line.outcome}"
            + (
                " (asked before the run, nothing downloaded: no Dagster run started)"
                if line.checked_before_run
                else ""
            )
        )
        if line.reason:
            print(f"    {redact_text(line.reason)}")
    else:
        print("  last attempt: none recorded")
    if line.snapshot:
        print(
            f"  in use:   {line.snapshot[:12]} ({line.snapshot_in_use_by}), fetched "
            f"{line.fetched_at}, {line.age_days} day(s) old"
            + (f"; {line.capture}" if line.capture else "")
        )
    else:
        print("  in use:   no snapshot")
    if checked:
        outcome, reason, _ = checked
        print(f"  check now: {outcome}" + (f": {redact_text(reason)}" if reason else ""))
