"""Freshness per dataset: Dagster's last-update freshness checks with the catalogue's window,
evaluated on real materializations in a real (ephemeral) Dagster instance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    Definitions,
    MaterializeResult,
    asset,
)

from pipelines.catalogue import Catalogue, Dataset, load_catalogue
from pipelines.freshness import freshness_checks, last_updated
from pipelines.snapshots import Snapshot, SnapshotMeta


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def snapshot(ds: Dataset, fetched_at: datetime) -> Snapshot:
    meta = SnapshotMeta(
        dataset=ds.id,
        file=ds.file_name,
        sha256="0" * 64,
        bytes=1,
        fetched_at=fetched_at.isoformat().replace("+00:00", "Z"),
        origin="download",
        url=None,
        final_url=None,
        status=200,
        etag=None,
        last_modified=None,
        content_type=None,
        licence=ds.licence,
        attribution=ds.attribution,
        sample=False,
    )
    return Snapshot(Path("/nowhere") / ds.file_name, meta)


def test_every_dataset_has_one_freshness_check_with_its_catalogue_window(
    catalogue: Catalogue,
) -> None:
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    checks = {
        key.asset_key: graph.get_check_spec(key)
        for key in graph.asset_check_keys
        if key.name.startswith("freshness_check")
    }
    assert {k.to_user_string() for k in checks} == {
        f"staging/{ds.asset_name}" for ds in catalogue.datasets.values()
    }
    for ds in catalogue.datasets.values():
        params = checks[AssetKey(["staging", ds.asset_name])].metadata["dagster/freshness_params"]
        window = params.value["lower_bound_delta_seconds"]
        assert window == timedelta(days=ds.expected_update_days).total_seconds(), ds.id


def _evaluate(ds: Dataset, snap: Snapshot | None, catalogue: Catalogue) -> tuple[bool, str]:
    """Materialize a stand-in of the dataset's staging asset, then run its freshness check."""

    @asset(key=AssetKey(["staging", ds.asset_name]))
    def staged() -> MaterializeResult:
        return MaterializeResult(metadata=last_updated(snap))

    (check,) = [
        c for c in freshness_checks(catalogue) if staged.key in {k.asset_key for k in c.check_keys}
    ]
    defs = Definitions(assets=[staged], asset_checks=[check])
    with DagsterInstance.ephemeral() as instance:
        # One run, as in the jobs: the check runs after the materialization it reads.
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance)
        (evaluation,) = result.get_asset_check_evaluations()
        return evaluation.passed, evaluation.description or ""


def test_data_older_than_the_window_is_overdue_and_newer_data_is_fresh(
    catalogue: Catalogue,
) -> None:
    ds = catalogue.dataset("eurostat.crim_off_cat")
    now = datetime.now(UTC)
    old = now - timedelta(days=ds.expected_update_days + 10)
    recent = now - timedelta(days=max(ds.expected_update_days - 10, 1))
    passed, description = _evaluate(ds, snapshot(ds, old), catalogue)
    assert not passed, description
    passed, description = _evaluate(ds, snapshot(ds, recent), catalogue)
    assert passed, description


def test_a_dataset_staged_from_no_snapshot_is_overdue(catalogue: Catalogue) -> None:
    ds = catalogue.dataset("euda.wastewater")
    passed, description = _evaluate(ds, None, catalogue)
    assert not passed, description
