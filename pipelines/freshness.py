"""Freshness per dataset: Dagster's own last-update freshness checks, one per dataset, with
the window its catalogue entry gives (`expected_update_days`, from the publisher's
`update_cadence`).

What is checked is the age of the data a release holds, not when the pipeline last ran:
every run re-materializes every staging asset, so each materialization carries, under
Dagster's `dagster/last_updated_timestamp` key, the time the staged snapshot was first
fetched (a publisher that has not updated keeps the old snapshot, so its age grows). A
dataset staged from no snapshot carries the start of the epoch: overdue, whatever the
window. The check runs after its staging asset in every job (a warning, never blocking) and
shows on the asset in the Dagster UI; `eudap status` lists its failures with the last run.
A night with nothing changed builds nothing (pipelines/nochange.py): the checks are skipped
with the staging assets, and the CLI reports overdue data from the release instead
(`nochange.overdue`).

Dagster 1.13 also offers `FreshnessPolicy.time_window`, but it only reads the time of the
last materialization, which here is the time of the last run.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from dagster import (
    AssetChecksDefinition,
    AssetKey,
    MetadataValue,
    SupersessionWarning,
    build_last_update_freshness_checks,
)

from pipelines.catalogue import Catalogue
from pipelines.snapshots import Snapshot

LAST_UPDATED_KEY = "dagster/last_updated_timestamp"  # read by Dagster's freshness checks
# Not 0: Dagster treats a zero timestamp as "not set" and would fall back to the run's time.
NEVER_UPDATED = datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)


def freshness_checks(cat: Catalogue) -> Sequence[AssetChecksDefinition]:
    """One freshness check per dataset, on its staging asset."""
    checks: list[AssetChecksDefinition] = []
    with warnings.catch_warnings():
        # "superseded by FreshnessPolicy": see the module docstring for why not here.
        warnings.simplefilter("ignore", SupersessionWarning)
        for ds in cat.datasets.values():
            checks += build_last_update_freshness_checks(
                assets=[AssetKey(["staging", ds.asset_name])],
                lower_bound_delta=timedelta(days=ds.expected_update_days),
            )
    return checks


def last_updated(snapshot: Snapshot | None) -> dict[str, MetadataValue]:
    """The materialization metadata the freshness check reads: when the staged data came."""
    if snapshot is None:
        return {LAST_UPDATED_KEY: MetadataValue.timestamp(NEVER_UPDATED)}
    fetched = datetime.fromisoformat(snapshot.meta.fetched_at.replace("Z", "+00:00"))
    return {LAST_UPDATED_KEY: MetadataValue.timestamp(fetched)}
