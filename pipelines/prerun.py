"""The check before a run: ask every source first, and start no Dagster run when nothing changed.

A night with no upstream change used to be a whole Dagster run that downloaded everything
conditionally and then, in meta/build, found that nothing changed (pipelines/nochange.py).
The CLI (`eudap run`, `eudap demo`) now asks first, holding the run lock, after its inbox
intake, without Dagster:

1. what dead runs left behind is removed (`runlock.clean_up_after_dead_runs`, as a run's
   start does);
2. the decision of meta/build (`nochange.decide`) on the snapshots already stored: the
   release key, no failed last attempt, a published release to keep;
3. every file the run would download, asked without downloading it (`Fetcher.probe`:
   conditional requests from the last snapshot's validators, bodies never read; a folder
   mirror's files by sha256), the curated files the run registers, and the mirror's inbox.

Only when the decision says nothing changed and every file answers `unchanged` is no
Dagster run started: the published release stays current, each dataset's check is written
to its attempt log (`checked_before_run`: `eudap sources` says so) and the CLI reports the
night as the no-op run did. Anything else (a new file, a failure, a refusal, no release, a
key change) starts the Dagster run as before, which downloads for real: a probe never
stores a snapshot. Runs launched from the Dagster UI keep the decision in meta/build.

The nightly schedule's tick makes the same check (`scheduled_check`) and, when nothing
changed, returns a SkipReason naming the release that stays current instead of a run. A
tick's evaluation must end within Dagster's timeout (60 s by default), so there each
request gets a short read timeout, and the check gives up (starting the run) after
`SCHEDULE_BUDGET_SECONDS`. Anywhere, a request gets one attempt: one that fails starts the
run, whose downloads retry it.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pipelines.attempts import record_attempt
from pipelines.catalogue import Catalogue
from pipelines.nochange import PublishedRelease, attempt_problems, decide, read_published
from pipelines.redact import redact_text
from pipelines.reuse import planned_keys
from pipelines.runlock import clean_up_after_dead_runs
from pipelines.settings import Paths
from pipelines.snapshots import SnapshotStore

if TYPE_CHECKING:  # imported when asked: loading the code location needs no HTTP stack
    from pipelines.fetch import FetchOutcome

Mode = Literal["full", "offline", "datasets"]
SCHEDULE_BUDGET_SECONDS = 30.0
SCHEDULE_READ_TIMEOUT = 10.0


def downloaded_datasets(cat: Catalogue, mode: Mode, datasets: Iterable[str] = ()) -> list[str]:
    """The datasets whose raw asset a run materialises (`schedules.selection`): full, every
    dataset with a download; offline, none; datasets, those of `datasets`. The curated files
    kept in the repository are registered in every mode."""
    if mode == "full":
        return sorted(ds.id for ds in cat.datasets.values() if ds.downloads)
    ids = {ds.id for ds in cat.datasets.values() if ds.local_file}
    if mode == "datasets":
        ids |= {cat.dataset(ds_id).id for ds_id in datasets}
    return sorted(ids)


@dataclass
class PreRunCheck:
    """What the check found: `start_run` with why, or the release that stays current."""

    start_run: bool
    why: str  # why the run starts; when none does, the decision's message
    release_id: str = ""
    outcomes: dict[str, list[FetchOutcome]] = field(default_factory=dict)  # dataset -> files
    mirror_inbox: list[FetchOutcome] = field(default_factory=list)  # its files, asked

    @property
    def summary(self) -> str:
        """`asked the sources of 12 datasets and the mirror's inbox (5 files) without
        downloading (35 files, 40 requests): every file unchanged`."""
        asked = [o for outs in self.outcomes.values() for o in outs] + self.mirror_inbox
        files, requests = len(asked), sum(o.requests_made for o in asked)
        n = len(self.mirror_inbox)
        inbox = f" and the mirror's inbox ({n} files)" if n else ""
        how = f"{requests} requests" if requests else "compared by sha256, no request"
        return (
            f"asked the sources of {len(self.outcomes)} datasets{inbox} without downloading "
            f"({files} files, {how}): every file unchanged"
        )


def check_before_run(
    cat: Catalogue,
    paths: Paths,
    mirror: str,
    dataset_ids: list[str],
    run_id: str,
    note: Callable[[str], None],
    *,
    budget_seconds: float | None = None,
) -> PreRunCheck:
    """Whether a run must start (see the module docstring). The caller holds the run lock
    and has taken in the inbox; `mirror` is the run's mirror ('' for none: $EUDAP_MIRROR
    then, as the run's resource reads it); `dataset_ids` are the datasets the run would
    download (`downloaded_datasets`); `note` gets what is worth saying on the way. Each
    request gets one attempt (a failure starts the run, whose downloads retry).
    `budget_seconds`: a short read timeout, and the run starts when asking takes longer."""
    clean_up_after_dead_runs(paths, run_id, note)
    store = SnapshotStore(paths.raw_dir)
    location = mirror or os.environ.get("EUDAP_MIRROR", "")
    try:
        published = read_published(paths)
        if published is None:
            return PreRunCheck(True, "no published release yet")
        return _ask(cat, paths, store, location, dataset_ids, published, note, budget_seconds)
    except Exception as exc:  # noqa: BLE001 - the run itself downloads and reports it
        return PreRunCheck(True, f"the check before the run failed: {type(exc).__name__}: {exc}")


def _ask(
    cat: Catalogue,
    paths: Paths,
    store: SnapshotStore,
    location: str,
    dataset_ids: list[str],
    published: PublishedRelease,
    note: Callable[[str], None],
    budget_seconds: float | None,
) -> PreRunCheck:
    import dataclasses

    import requests

    from pipelines.fetch import Fetcher, FetchPolicy, Mirror, sample_mirror

    session = requests.Session()
    mirror_of_run = Mirror(location) if location else None
    allow_sample = sample_mirror(mirror_of_run, session)  # as the run's staging steps decide
    snapshots = {ds_id: store.snapshots(ds_id) for ds_id in cat.datasets}
    planned = planned_keys(cat, snapshots, allow_sample=allow_sample)
    decision = decide(planned, published, attempt_problems(cat, store))
    if decision.build:
        return PreRunCheck(True, "; ".join(decision.reasons))
    check = PreRunCheck(False, decision.message, release_id=published.release_id)
    note(f"asking {len(dataset_ids)} datasets' sources whether anything changed (no download)")
    # One attempt per request: a request that fails starts the run, which retries it.
    policy = dataclasses.replace(FetchPolicy.from_env(), attempts=1)
    deadline = math.inf
    if budget_seconds is not None:
        policy = dataclasses.replace(policy, read_timeout=SCHEDULE_READ_TIMEOUT)
        deadline = time.monotonic() + budget_seconds
    with tempfile.TemporaryDirectory(prefix="eudap-prerun-") as tmp:
        # a changed landing page is read into this throwaway store: a probe keeps nothing
        fetcher = Fetcher(
            SnapshotStore(Path(tmp)),
            mirror_of_run,
            policy,
            session=session,
            inbox=paths.inbox_dir,
        )
        for ds_id in dataset_ids:
            if time.monotonic() > deadline:
                return PreRunCheck(True, f"asking took longer than {budget_seconds:.0f} s")
            outcomes = fetcher.probe(cat.dataset(ds_id), store)
            changed = [o for o in outcomes if o.status != "unchanged"]
            if changed or not outcomes:
                return PreRunCheck(True, _why_run(ds_id, changed))
            check.outcomes[ds_id] = outcomes
        if mirror_of_run is not None and dataset_ids:  # the run's intake takes it in
            for key, ds_id in sorted(mirror_of_run.inbox_files(session).items()):
                hint = cat.datasets.get(ds_id)
                if hint is None:
                    return PreRunCheck(True, f"the mirror's {key} is listed for {ds_id}")
                outcome = fetcher.probe_mirror_inbox(key, hint, store)
                if outcome.status != "unchanged":
                    return PreRunCheck(True, _why_run(f"mirror {key}", [outcome]))
                check.mirror_inbox.append(outcome)
    for ds_id, outcomes in check.outcomes.items():
        if not cat.dataset(ds_id).local_file:  # as the downloads: curated files log nothing
            record_attempt(
                store, ds_id, outcomes, snapshots.get(ds_id, []), checked_before_run=True
            )
    return check


def _why_run(what: str, changed: list[FetchOutcome]) -> str:
    if not changed:
        return f"{what}: no file to ask"
    first = changed[0]
    if first.status == "new":
        n = len(changed)
        return f"{what}: {n} file{'s' if n > 1 else ''} changed since the last snapshot"
    return f"{what}: {first.status}: {redact_text(first.reason or first.url)}"


def scheduled_check(
    cat: Catalogue, paths: Paths, mirror: str, *, rebuild: bool, note: Callable[[str], None]
) -> str | None:
    """The nightly schedule's tick: why it starts no run (its SkipReason), or None: start
    it. A rebuild asked for in the resource's config, a file in the inbox (the run takes it
    in) or another run holding the run lock (the new run waits for it, as before) start the
    run without asking; otherwise `check_before_run`, holding the run lock, within
    `SCHEDULE_BUDGET_SECONDS`. A tick that starts no run saves the night's run report, as
    the CLI does (pipelines/runreport.py): `eudap status` shows it."""
    from pipelines.inbox import inbox_files
    from pipelines.runlock import RunLockBusy, run_lock
    from pipelines.runreport import no_run_report, now

    if rebuild or inbox_files(paths.inbox_dir):
        return None
    check_id = f"schedule-{uuid.uuid4()}"
    started = now()
    try:
        with run_lock(paths, check_id, "nightly schedule check"):
            check = check_before_run(
                cat,
                paths,
                mirror,
                downloaded_datasets(cat, "full"),
                check_id,
                note,
                budget_seconds=SCHEDULE_BUDGET_SECONDS,
            )
            if not check.start_run:  # the night's report, as the CLI saves it
                try:
                    no_run_report("dagster schedule", check_id, started, paths, check, cat)
                except Exception as exc:  # noqa: BLE001 - the tick's answer stands
                    note(f"the run report was not saved: {type(exc).__name__}: {exc}")
    except RunLockBusy:
        return None
    if check.start_run:
        note(f"starting the run: {check.why}")
        return None
    return f"{check.why}; {check.summary}: no run started"
