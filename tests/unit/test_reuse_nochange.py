"""Nothing changed, nothing built (pipelines/nochange.py): the decision a run makes after its
downloads, from its planned input keys (pipelines/reuse.py) and the published release.

Every change that must build is tested: a new snapshot, a catalogue entry, a file of the
catalogue folder, the code, a failed download (this run's, or the one that left the
release stale), a rebuild asked for, no release or one from before release keys; and the
published release is read from a real DuckDB warehouse, this run's failures from a real
build file and attempt log.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines import nochange, parts, reuse
from pipelines.attempts import record_attempt
from pipelines.catalogue import Catalogue, load_catalogue
from pipelines.fetch import FetchOutcome
from pipelines.settings import ASSETS_DIR, Paths
from pipelines.snapshots import Snapshot, SnapshotMeta, SnapshotStore
from pipelines.warehouse import record_fetches, run_sql_file

ASDR2 = "eurostat.hlth_cd_asdr2"
PUBLISHED_AT = datetime(2026, 11, 30, 2, 15)


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


def snapshot(ds_id: str, sha: str, fetched_at: str = "2026-11-30T02:00:00Z") -> Snapshot:
    meta = SnapshotMeta(
        dataset=ds_id,
        file="data.tsv",
        sha256=sha,
        bytes=1,
        fetched_at=fetched_at,
        origin="download",
        url=None,
        final_url=None,
        status=200,
        etag=None,
        last_modified=None,
        content_type=None,
        licence="CC BY 4.0",
        attribution="",
        sample=False,
    )
    return Snapshot(Path("/nonexistent") / sha, meta)


def stored(cat: Catalogue) -> dict[str, list[Snapshot]]:
    return {ds_id: [snapshot(ds_id, f"{i:064x}")] for i, ds_id in enumerate(sorted(cat.datasets))}


def release(
    keys: dict[str, reuse.InputKey],
    cat: Catalogue,
    *,
    states: dict[str, str] | None = None,
    fetch_problems: dict[str, str] | None = None,
) -> nochange.PublishedRelease:
    return nochange.PublishedRelease(
        "r1",
        PUBLISHED_AT,
        keys,
        states if states is not None else dict.fromkeys(cat.datasets, "fresh"),
        fetch_problems or {},
    )


def test_nothing_changed_builds_nothing_and_says_since_which_release(cat: Catalogue) -> None:
    planned = reuse.planned_keys(cat, stored(cat), allow_sample=False)
    again = reuse.planned_keys(cat, stored(cat), allow_sample=False)
    decision = nochange.decide(again, release(planned, cat), {})
    assert not decision.build and decision.reasons == ()
    n = len(cat.datasets)
    assert decision.message == (
        f"nothing changed since release r1 (2026-11-30 02:15 UTC): {n} datasets unchanged; "
        "release stays current"
    )


def test_the_release_key_covers_every_gated_table(cat: Catalogue) -> None:
    planned = reuse.planned_keys(cat, stored(cat), allow_sample=False)
    tables = set(planned) - {reuse.RELEASE_TABLE}
    assert {ds.table for ds in cat.datasets.values()} <= tables
    assert any(t.startswith("indicators.") for t in tables)
    assert any(t.startswith("trends.") for t in tables)
    assert sorted(planned[reuse.RELEASE_TABLE].upstream) == sorted(
        f"{t}={planned[t].key}" for t in tables
    )


def test_a_new_snapshot_builds_naming_its_table(cat: Catalogue) -> None:
    snaps = stored(cat)
    published = reuse.planned_keys(cat, snaps, allow_sample=False)
    snaps[ASDR2] = [snapshot(ASDR2, "f" * 64, "2026-12-01T02:00:00Z"), *snaps[ASDR2]]
    decision = nochange.decide(
        reuse.planned_keys(cat, snaps, allow_sample=False), release(published, cat), {}
    )
    assert decision.build
    assert decision.reasons == (f"{cat.dataset(ASDR2).table}: 1 new snapshot",)
    assert decision.message.startswith("building: staging.eurostat_hlth_cd_asdr2: 1 new")


def test_a_sample_snapshot_counts_only_in_a_sample_run(cat: Catalogue) -> None:
    snaps = stored(cat)
    published = reuse.planned_keys(cat, snaps, allow_sample=False)
    sample = snapshot(ASDR2, "e" * 64, "2026-12-01T02:00:00Z")
    snaps[ASDR2] = [
        Snapshot(sample.path, SnapshotMeta(**{**sample.meta.__dict__, "sample": True})),
        *snaps[ASDR2],
    ]
    live = reuse.planned_keys(cat, snaps, allow_sample=False)
    assert not nochange.decide(live, release(published, cat), {}).build
    demo = reuse.planned_keys(cat, snaps, allow_sample=True)
    assert nochange.decide(demo, release(published, cat), {}).build


def test_a_catalogue_entry_edit_builds(cat: Catalogue) -> None:
    snaps = stored(cat)
    published = reuse.planned_keys(cat, snaps, allow_sample=False)
    edited = load_catalogue()
    ds = edited.datasets[ASDR2]
    edited.datasets[ASDR2] = ds.model_copy(update={"max_row_drop": 0.99})
    decision = nochange.decide(
        reuse.planned_keys(edited, snaps, allow_sample=False), release(published, cat), {}
    )
    assert decision.build
    assert f"{ds.table}: its catalogue entry changed" in decision.reasons


def test_an_edit_no_table_reads_still_builds(cat: Catalogue, tmp_path: Path) -> None:
    """The scorecard, dictionary and headline checks are no table's input: the release key
    covers them through the catalogue folder's files."""
    snaps = stored(cat)
    published = reuse.planned_keys(cat, snaps, allow_sample=False)
    root = tmp_path / "assets"
    shutil.copytree(ASSETS_DIR, root)
    scorecard = root / "reference" / "scorecard.yaml"
    scorecard.write_text(scorecard.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    edited = load_catalogue(root)
    decision = nochange.decide(
        reuse.planned_keys(edited, snaps, allow_sample=False), release(published, cat), {}
    )
    assert decision.reasons == ("the catalogue changed (assets/)",)


def test_a_code_change_builds(cat: Catalogue, monkeypatch: pytest.MonkeyPatch) -> None:
    snaps = stored(cat)
    published = reuse.planned_keys(cat, snaps, allow_sample=False)
    monkeypatch.setattr(reuse, "code_sha256", lambda: "another code version")
    decision = nochange.decide(
        reuse.planned_keys(cat, snaps, allow_sample=False), release(published, cat), {}
    )
    assert decision.reasons == (nochange.CODE_CHANGED,)


def test_a_failed_download_builds_so_its_dataset_turns_stale(cat: Catalogue) -> None:
    planned = reuse.planned_keys(cat, stored(cat), allow_sample=False)
    decision = nochange.decide(planned, release(planned, cat), {ASDR2: "HTTP 503"})
    assert decision.reasons == (f"{ASDR2}: its download failed or was refused in this run",)


def test_a_release_stale_after_a_failed_download_is_built_again(cat: Catalogue) -> None:
    planned = reuse.planned_keys(cat, stored(cat), allow_sample=False)
    states = {**dict.fromkeys(cat.datasets, "unchanged"), ASDR2: "stale"}
    after_failure = release(planned, cat, states=states, fetch_problems={ASDR2: "HTTP 503"})
    decision = nochange.decide(planned, after_failure, {})
    assert decision.reasons == (f"{ASDR2}: stale in release r1 after a failed download",)
    # stale from its snapshots alone (a newer one failed its gate): a build changes nothing
    quarantined = nochange.decide(planned, release(planned, cat, states=states), {})
    assert not quarantined.build
    assert f"{len(cat.datasets) - 1} datasets unchanged, 1 stale (as published)" in (
        quarantined.message
    )


def test_a_rebuild_no_release_or_an_older_release_builds(cat: Catalogue) -> None:
    planned = reuse.planned_keys(cat, stored(cat), allow_sample=False)
    forced = nochange.decide(planned, release(planned, cat), {}, rebuild=True)
    assert forced.reasons == ("a rebuild was asked for",)
    assert nochange.decide(planned, None, {}).reasons == ("no published release yet",)
    tables_only = {t: k for t, k in planned.items() if t != reuse.RELEASE_TABLE}
    older = nochange.decide(planned, release(tables_only, cat), {})
    assert older.reasons == ("release r1 recorded no release key (an older version)",)


def test_the_published_release_and_this_runs_failures_are_read_from_real_files(
    cat: Catalogue, tmp_path: Path
) -> None:
    paths = Paths(tmp_path)
    assert nochange.read_published(paths) is None
    planned = reuse.planned_keys(cat, stored(cat), allow_sample=False)
    paths.published_warehouse.parent.mkdir(parents=True)
    with duckdb.connect(str(paths.published_warehouse)) as con:
        run_sql_file(con, "meta/schema.sql")
        for key in planned.values():
            reuse.record_key(con, "r1", key)
        con.execute(
            "INSERT INTO meta.releases (release_id, built_at, published_at) VALUES (?, ?, ?)",
            ["r1", PUBLISHED_AT, PUBLISHED_AT],
        )
        con.execute(
            "INSERT INTO meta.release_datasets (release_id, dataset, state) VALUES (?, ?, ?)",
            ["r1", ASDR2, "stale"],
        )
        record_fetches(con, ASDR2, [FetchOutcome(ASDR2, "failed", None, "HTTP 503", "u", 1)])
    published = nochange.read_published(paths)
    assert published is not None
    assert (published.release_id, published.published_at) == ("r1", PUBLISHED_AT)
    assert published.keys == planned
    assert published.states == {ASDR2: "stale"}
    assert published.fetch_problems == {ASDR2: "HTTP 503"}

    store = SnapshotStore(paths.raw_dir)
    raw_parts = paths.build_parts("run2") / parts.RAW
    assert nochange.run_fetch_problems(raw_parts, cat, store) == {}
    refused = "eurostat.sdg_16_10"
    record_attempt(store, refused, [FetchOutcome(refused, "refused", None, "HTTP 403", "u", 1)], [])
    with parts.scratch(paths, "run2") as con:  # as a download step leaves its fetch log
        record_fetches(con, ASDR2, [FetchOutcome(ASDR2, "failed", None, "timeout", "u", 1)])
        parts.write_step(con, parts.step_folder(paths, "run2", parts.RAW, "asdr2"))
    assert nochange.run_fetch_problems(raw_parts, cat, store) == {
        refused: "HTTP 403",
        ASDR2: "timeout",
    }


def test_a_night_that_builds_nothing_still_finds_overdue_data(cat: Catalogue) -> None:
    """Dagster's freshness checks are skipped with the build: the CLI reports from the
    release which datasets are overdue now."""
    ds = cat.dataset(ASDR2)
    now = datetime(2026, 12, 1, 2, 0)
    fresh = now - timedelta(days=ds.expected_update_days - 1)
    old = now - timedelta(days=ds.expected_update_days)
    assert nochange.overdue(cat, {ASDR2: fresh}, now) == {}
    assert nochange.overdue(cat, {ASDR2: old}, now) == {
        ASDR2: f"overdue: the snapshot in use was fetched {old:%Y-%m-%d}, "
        f"{ds.expected_update_days} days ago; its publisher updates every "
        f"{ds.expected_update_days} days or sooner"
    }
    assert nochange.overdue(cat, {ASDR2: None, "gone.dataset": old}, now) == {
        ASDR2: "overdue: the release holds no snapshot of it"
    }
