"""The asset factories: one per layer, each building its assets from the catalogue.

raw/<dataset>            download into the snapshot store (non-blocking check: download_ok)
meta/build               the run's build file: schemas, reference tables, snapshot provenance
staging/<dataset>        newest snapshot that passes the gate (blocking check: gate;
                         non-blocking check: current, which fails when the data are stale)
meta/staged              loads what the staging steps left in the run's build folder
indicators/<table>       one long table per indicator (blocking check: gate)
trends/<table>           trend series and assessments (blocking check: gate)
warehouse/published      atomic publish of the fully checked build

The logic lives in Dagster-free modules (fetch, stage, indicators, trends, publish; the
writes to the build in warehouse) so the CLI, tests and assets share it; this module only
wires it into Dagster, with the catalogue the graph was built from. What only a step needs
(staging, the build's meta tables, coverage, publish: pandas, pyarrow, xlsxwriter) is
imported by that step, so that loading the code location costs Dagster and the catalogue
only.

Downloads and staging may run side by side (the multiprocess executor): they never write the
build file, but the run's build folder (pipelines/parts.py), which meta/build and meta/staged
load. Every step that writes the build file carries the op tag WRITES_BUILD: the executor
runs one of them at a time (pipelines/executor.py).
"""

import duckdb
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    AssetsDefinition,
    AssetSpec,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)

from pipelines import indicators as indicator_tables
from pipelines import markdown, parts, reuse, trend_tables
from pipelines.catalogue import Catalogue, Dataset, Indicator
from pipelines.checks import ValidationReport
from pipelines.executor import WRITES_BUILD
from pipelines.freshness import last_updated
from pipelines.redact import redact_text
from pipelines.resources import EudapResource, run_downloads
from pipelines.runevents import INTAKE_REJECTED, INTAKE_TAKEN
from pipelines.settings import PROJECT_ROOT
from pipelines.warehouse import (
    geo_other_codes,
    record_fetches,
    record_gate,
    record_release_dataset,
)

META_BUILD = AssetKey(["meta", "build"])
META_INTAKE = AssetKey(["meta", "intake"])
META_STAGED = AssetKey(["meta", "staged"])
PUBLISHED = AssetKey(["warehouse", "published"])
PREVIEW_ROWS = 10


def build_id(context: AssetExecutionContext) -> str:
    """The build file a run writes: shared by a run and its re-executions."""
    return context.run.root_run_id or context.run_id


def raw_key(ds: Dataset) -> AssetKey:
    return AssetKey(["raw", ds.asset_name])


def staging_key(ds: Dataset) -> AssetKey:
    return AssetKey(["staging", ds.asset_name])


def indicator_key(ind: Indicator) -> AssetKey:
    return AssetKey(["indicators", ind.table_name])


def preview(con: duckdb.DuckDBPyConnection, table: str) -> MetadataValue:
    cursor = con.execute(f"SELECT * FROM {table} LIMIT {PREVIEW_ROWS}")
    rows = cursor.fetchall()
    columns = [d[0] for d in cursor.description]
    return MetadataValue.md(markdown.table(columns, rows) if rows else "_(empty)_")


def gate_result(report: ValidationReport, asset_key: AssetKey | None = None) -> AssetCheckResult:
    return AssetCheckResult(
        asset_key=asset_key,
        check_name="gate",
        passed=report.success,
        severity=AssetCheckSeverity.ERROR,
        description=report.summary()[:2000],
        metadata={
            k: (MetadataValue.md(v) if k == "details" else v) for k, v in report.metadata().items()
        },
    )


def copied_gate_result(summary: str, asset_key: AssetKey | None = None) -> AssetCheckResult:
    """The gate of a table copied from the published release: the verdict it had there."""
    return AssetCheckResult(
        asset_key=asset_key,
        check_name="gate",
        passed=True,
        severity=AssetCheckSeverity.ERROR,
        description=summary[:2000],
        metadata={"copied": True},
    )


def gate_spec(key: AssetKey, suite: str) -> AssetCheckSpec:
    return AssetCheckSpec(
        name="gate",
        asset=key,
        blocking=True,
        description=f"Blocking: Great Expectations suite {suite}: generated from the catalogue "
        f"and/or hand-written in expectations/{suite}.json",
        metadata={"suite": suite},
    )


# -- raw --------------------------------------------------------------------------------------
def raw_assets(cat: Catalogue) -> list[AssetsDefinition]:
    return [_raw_asset(ds) for ds in cat.datasets.values() if ds.downloads]


def _raw_asset(ds: Dataset) -> AssetsDefinition:
    key = raw_key(ds)

    @asset(
        key=key,
        group_name="raw",
        deps=[META_INTAKE],
        kinds={"python", "file"},
        description=f"{ds.title} ({ds.publisher}). Snapshots of "
        + (
            f"the files linked from {ds.discover.page} (newest edition)"
            if ds.discover
            else ", ".join(redact_text(url) for url, _ in ds.download_targets())
        )
        if not ds.local_file
        else f"{ds.title}. Curated file {ds.local_file} registered as a snapshot.",
        metadata={
            "dataset": ds.id,
            "url": redact_text(ds.resolved_url() or ""),
            "licence": ds.licence,
            "attribution": ds.attribution,
            "update_cadence": ds.update_cadence,
        },
        check_specs=[
            AssetCheckSpec(
                name="download_ok",
                asset=key,
                blocking=False,
                description="Warns when this run's download failed or was refused",
            )
        ],
    )
    def _fetch(context: AssetExecutionContext, eudap: EudapResource):
        from pipelines.fetch import FetchOutcome

        try:
            fetcher = eudap.fetcher()
            if ds.local_file:
                outcomes = [fetcher.fetch_local(ds, PROJECT_ROOT / ds.local_file)]
            else:
                outcomes = fetcher.fetch(ds)
        except Exception as exc:  # noqa: BLE001 - one dataset's download never stops the run
            where = redact_text(str(ds.resolved_url() or ds.local_file or ds.id))
            reason = redact_text(f"{ds.id}: download failed: {type(exc).__name__}: {exc}")
            outcomes = [FetchOutcome(ds.id, "failed", None, reason, where, 0)]
        bid = build_id(context)
        with parts.scratch(eudap.paths, bid) as con:
            record_fetches(con, ds.id, outcomes)
            parts.write_step(con, parts.step_folder(eudap.paths, bid, parts.RAW, ds.asset_name))
        failures = [o.reason or "" for o in outcomes if o.status in ("failed", "refused")]
        for reason in failures:
            context.log.error(reason)
        snap = eudap.store().latest(ds.id)
        yield MaterializeResult(
            metadata={
                "outcomes": [f"{o.status}: {o.url}" for o in outcomes],
                "failures": failures,
                "requests": sum(o.requests_made for o in outcomes),
                "new_snapshots": sum(o.status == "new" for o in outcomes),
                "latest_snapshot_sha256": snap.meta.sha256 if snap else "",
                "latest_snapshot_path": str(snap.path) if snap else "",
                "sample_data": bool(snap and snap.meta.sample),
            },
            data_version=DataVersion(snap.meta.sha256) if snap else None,
        )
        yield AssetCheckResult(
            check_name="download_ok",
            passed=not failures,
            severity=AssetCheckSeverity.WARN,
            description="; ".join(failures) or "all downloads succeeded",
        )

    return _fetch


# -- meta -------------------------------------------------------------------------------------
def intake_asset(cat: Catalogue) -> AssetsDefinition:
    @asset(
        key=META_INTAKE,
        group_name="meta",
        kinds={"python", "file"},
        description="Takes in the files downloaded by hand, before any download: each file "
        "of the inbox (EUDAP_INBOX, default data/inbox/) is identified by its content and "
        "registered with the checks of `eudap load`, then moved to done/ or rejected/. A run "
        "that downloads also takes in its mirror's inbox (the demo's Bulletin tables).",
    )
    def _intake(context: AssetExecutionContext, eudap: EudapResource) -> MaterializeResult:
        from pipelines.inbox import take_in_mirror, take_in_store

        intake = take_in_store(eudap.paths, cat)
        if run_downloads(context.run):
            mirrored = take_in_mirror(cat, eudap.fetcher())
            intake.taken += mirrored.taken
            intake.rejected += mirrored.rejected
        for taken in intake.taken:
            context.log.info(f"inbox: took in {redact_text(taken)}")
        for rejected in intake.rejected:
            context.log.warning(f"inbox: rejected {redact_text(rejected)}")
        lines = [f"- took in {redact_text(t)}" for t in intake.taken] + [
            f"- rejected {redact_text(r)}" for r in intake.rejected
        ]
        return MaterializeResult(
            metadata={
                "taken_in": len(intake.taken),
                "rejected": len(intake.rejected),
                "files": MetadataValue.md("\n".join(lines) or "nothing in the inbox"),
                # for the run report of a run Dagster launched (pipelines/runevents.py)
                INTAKE_TAKEN: MetadataValue.json([redact_text(t) for t in intake.taken]),
                INTAKE_REJECTED: MetadataValue.json([redact_text(r) for r in intake.rejected]),
            }
        )

    return _intake


def meta_asset(cat: Catalogue) -> AssetsDefinition:
    @asset(
        key=META_BUILD,
        group_name="meta",
        kinds={"duckdb"},
        deps=[META_INTAKE] + [raw_key(ds) for ds in cat.datasets.values() if ds.downloads],
        description="Creates the run's build file with reference tables (indicators, datasets, "
        "geo), every snapshot's provenance, the release history so far, and this run's "
        "download outcomes (meta.fetch_log, from the run's build folder). When nothing "
        "changed since the published release (same snapshots, catalogue and code, no failed "
        "download), it builds nothing and every later step is skipped: the release stays "
        "current (pipelines/nochange.py).",
        output_required=False,
        op_tags=WRITES_BUILD,
    )
    def _meta(context: AssetExecutionContext, eudap: EudapResource):
        from pipelines import nochange
        from pipelines.meta import init_build

        bid = build_id(context)
        build_file = eudap.paths.build_warehouse(bid)
        raw_parts = eudap.paths.build_parts(bid) / parts.RAW
        decision, planned = nochange.decide_run(
            cat,
            eudap.paths,
            eudap.store(),
            raw_parts,
            allow_sample=eudap.sample_run(),
            rebuild=eudap.rebuild,
        )
        if not decision.build:
            # this run's fetch log goes with the build folder: the attempt log keeps it
            build_file.unlink(missing_ok=True)
            parts.remove(eudap.paths, bid)
            assert decision.release is not None
            context.log.info(decision.message)
            context.instance.add_run_tags(
                context.run_id, {nochange.RUN_TAG: decision.release.release_id}
            )
            yield AssetObservation(
                asset_key=META_BUILD,
                metadata={
                    nochange.MESSAGE_KEY: decision.message,
                    "release_id": decision.release.release_id,
                    "published_at": decision.release.published_at.isoformat(),
                    "release_key": planned[reuse.RELEASE_TABLE].key,
                },
            )
            return  # no materialization: every step downstream is skipped
        with eudap.build(bid) as con:
            init_build(con, cat, eudap.store(), eudap.paths)
            con.execute("DELETE FROM meta.fetch_log")  # this run's: all from the build folder
            parts.load_steps(con, raw_parts)
            reuse.record_key(con, bid, planned[reuse.RELEASE_TABLE])
            snapshots = con.execute("SELECT count(*) FROM meta.snapshots").fetchone()[0]
        yield MaterializeResult(
            metadata={
                "build_file": str(build_file),
                "snapshots": snapshots,
                "why_built": MetadataValue.md("\n".join(f"- {r}" for r in decision.reasons)),
                "release_key": planned[reuse.RELEASE_TABLE].key,
            }
        )

    return _meta


# -- staging ----------------------------------------------------------------------------------
def staging_assets(cat: Catalogue) -> list[AssetsDefinition]:
    return [_staging_asset(cat, ds) for ds in cat.datasets.values()]


def _staging_asset(cat: Catalogue, ds: Dataset) -> AssetsDefinition:
    key = staging_key(ds)
    deps = [META_BUILD] + ([raw_key(ds)] if ds.downloads else [])

    @asset(
        key=key,
        group_name="staging",
        kinds={"duckdb"},
        deps=deps,
        description=f"{ds.table}: one tidy row per observation of {ds.title}, staged from the "
        f"newest snapshot that passes its gate.",
        metadata={"dataset": ds.id, "table": ds.table, "format": ds.format},
        check_specs=[
            gate_spec(key, ds.table),
            AssetCheckSpec(
                name="current",
                asset=key,
                blocking=False,
                description="Warns when the data are stale (a newer snapshot or "
                "download failed) or missing",
            ),
            AssetCheckSpec(
                name="geo_known",
                asset=key,
                blocking=False,
                description="Warns about well-formed geographic codes that are not in "
                "Eurostat's GEO code list (kept with level 'other')",
            ),
        ],
    )
    def _stage(context: AssetExecutionContext, eudap: EudapResource):
        from pipelines.geo import GeoResolver
        from pipelines.meta import fetch_problem, published_snapshot, published_use
        from pipelines.stage import stage_dataset, validate_table

        geo = GeoResolver(cat.geo)
        bid = build_id(context)
        snapshots = eudap.store().snapshots(ds.id)
        allow_sample = eudap.sample_run()
        key = reuse.staging_key(cat, ds, snapshots, allow_sample=allow_sample)
        with parts.read_build(eudap.paths, bid) as build:
            problem = fetch_problem(build, ds.id)
            published_sha = published_snapshot(build, ds.id)
            published = published_use(build, ds.id)
        # staged in a scratch database of its own, left in the run's build folder for
        # meta/staged: staging steps may run side by side (see pipelines/parts.py)
        with parts.scratch(
            eudap.paths,
            bid,
            threads=eudap.duckdb_threads,
            memory_limit=eudap.duckdb_memory_limit,
        ) as con:
            # a failed download is reported by staging (state stale): never skipped
            copied = (
                None if problem else reuse.staging_reuse(con, eudap.paths, bid, ds, key, snapshots)
            )
            if copied is not None:
                result, gate = copied[0], copied_gate_result(copied[1])
                context.log.info(f"{ds.id}: {result.reason}")
            else:
                result = stage_dataset(
                    con,
                    ds,
                    snapshots,
                    geo,
                    published_sha=published_sha,
                    fetch_problem=problem,
                    allow_sample=allow_sample,
                    published=published,
                    folder=parts.staged_files_folder(eudap.paths, bid),
                )
                record_release_dataset(con, bid, result)
                report = result.report or validate_table(con, ds.table, ds)
                record_gate(con, bid, report)
                reuse.record_key(con, bid, key)
                gate = gate_result(report)
            table_preview = preview(con, ds.table)
            unknown_geo = geo_other_codes(con, ds.table, ds.geo_dimension)
            parts.write_step(
                con,
                parts.step_folder(eudap.paths, bid, parts.STAGING, ds.asset_name),
                {ds.table: result.files} if copied is None and result.files else None,
            )
        reason = redact_text(result.reason or "")
        if result.state in ("stale", "missing"):
            context.log.warning(f"{ds.id}: {result.state}: {reason}")
        snap = result.snapshot
        yield MaterializeResult(
            metadata={
                "dataset": ds.id,
                "state": result.state,
                "reason": reason,
                "rows": result.rows,
                "snapshot_sha256": snap.meta.sha256 if snap else "",
                "fetched_at": snap.meta.fetched_at if snap else "",
                "sample_data": bool(snap and snap.meta.sample),
                "capture": snap.meta.capture or "" if snap else "",
                "quarantined": [q["reason"] for q in result.quarantined],
                "preview": table_preview,
                "input_key": key.key,
                "skipped": copied is not None,
                **last_updated(snap),
            },
            data_version=DataVersion(snap.meta.sha256) if snap else None,
        )
        yield gate
        yield AssetCheckResult(
            check_name="current",
            passed=result.state in ("fresh", "unchanged"),
            severity=AssetCheckSeverity.WARN,
            description=f"{result.state}: {reason}" if reason else result.state,
            metadata={"state": result.state},
        )
        yield AssetCheckResult(
            check_name="geo_known",
            passed=not unknown_geo,
            severity=AssetCheckSeverity.WARN,
            description=(
                f"{ds.id}: geographic codes not in Eurostat's GEO code list, kept with level "
                f"'other': {', '.join(f'{c} ({n} rows)' for c, n in unknown_geo)}"
                if unknown_geo
                else "every geographic code is in the reference"
            ),
        )

    return _stage


def staged_asset(cat: Catalogue) -> AssetsDefinition:
    @asset(
        key=META_STAGED,
        group_name="meta",
        kinds={"duckdb", "parquet"},
        deps=[staging_key(ds) for ds in cat.datasets.values()],
        description="Loads into the run's build file what the staging steps left in the "
        "run's build folder (they may run side by side and never write the build file): each "
        "staging table, and what staging recorded (meta.release_datasets, meta.gate_results, "
        "meta.input_keys).",
        op_tags=WRITES_BUILD,
    )
    def _staged(context: AssetExecutionContext, eudap: EudapResource) -> MaterializeResult:
        bid = build_id(context)
        with eudap.build(bid) as con:
            loaded = parts.load_steps(con, eudap.paths.build_parts(bid) / parts.STAGING)
        return MaterializeResult(
            metadata={
                "tables": len(loaded),
                "rows": MetadataValue.md(
                    "\n".join(f"- {table}: {rows:,}" for table, rows in loaded.items())
                    or "_nothing staged_"
                ),
            }
        )

    return _staged


# -- indicators -------------------------------------------------------------------------------
def indicator_assets(cat: Catalogue) -> list[AssetsDefinition]:
    return [
        _indicator_asset(cat, ind)
        for ind in cat.indicator_list()
        if indicator_tables.sql_path(ind).exists()
    ]


def _indicator_asset(cat: Catalogue, ind: Indicator) -> AssetsDefinition:
    key = indicator_key(ind)
    suite = ind.table

    @asset(
        key=key,
        group_name="indicators",
        kinds={"duckdb", "sql"},
        deps=[META_STAGED] + [staging_key(cat.datasets[ds_id]) for ds_id in ind.datasets],
        description=f"Indicator {ind.number}: {ind.name_en} / {ind.name_nl}. "
        f"Polarity: {ind.polarity}. Built by sql/indicators/{ind.table_name}.sql",
        metadata={"indicator": ind.number, "table": ind.table, "polarity": ind.polarity},
        check_specs=[gate_spec(key, suite)],
        op_tags=WRITES_BUILD,
    )
    def _indicator(context: AssetExecutionContext, eudap: EudapResource):
        from pipelines.stage import validate_table

        bid = build_id(context)
        ds_tables = [cat.datasets[ds_id].table for ds_id in ind.datasets]
        with eudap.build(bid) as con:
            key = reuse.indicator_key(ind, [reuse.build_key(con, bid, t) or "" for t in ds_tables])
            copied = (
                reuse.tables_reuse(con, eudap.paths, bid, [(key, suite)])
                if reuse.copied_in_build(con, bid, ds_tables)
                else None
            )
            if copied is not None:
                rows, summary = copied[ind.table]
                gate = copied_gate_result(summary)
                context.log.info(f"{ind.table}: {summary}")
            else:
                rows = indicator_tables.build_indicator(con, ind)
                report = validate_table(con, ind.table, ind)
                record_gate(con, bid, report)
                reuse.record_key(con, bid, key)
                gate = gate_result(report)
            table_preview = preview(con, ind.table)
            sources = con.execute(
                f"SELECT DISTINCT source_dataset, snapshot_sha256 FROM {ind.table}"
            ).fetchall()
        yield MaterializeResult(
            metadata={
                "rows": rows,
                "sources": [f"{d} @ {s[:12]}" for d, s in sources],
                "preview": table_preview,
                "input_key": key.key,
                "skipped": copied is not None,
            }
        )
        yield gate

    return _indicator


# -- trends -----------------------------------------------------------------------------------
def trend_spec(table: trend_tables.TrendTable, deps: list[AssetKey]) -> AssetSpec:
    return AssetSpec(
        key=AssetKey(["trends", table.name]),
        group_name="trends",
        kinds={"duckdb", "python"},
        description=table.description,
        deps=deps,
        skippable=False,
    )


def trend_assets(cat: Catalogue) -> list[AssetsDefinition]:
    ind_keys = [
        indicator_key(i) for i in cat.indicator_list() if indicator_tables.sql_path(i).exists()
    ]
    specs = trend_tables.TABLES
    # One multi-asset (it cannot be subset): every table waits for all that any of them reads.
    staged = sorted({ds_id for spec in specs for ds_id in spec.reads})
    deps = [META_STAGED, *ind_keys] + [staging_key(cat.dataset(ds_id)) for ds_id in staged]

    @multi_asset(
        name="trends",
        specs=[trend_spec(spec, deps) for spec in specs],
        check_specs=[gate_spec(AssetKey(["trends", s.name]), f"trends.{s.name}") for s in specs],
        can_subset=False,
        op_tags=WRITES_BUILD,
    )
    def _trends(context: AssetExecutionContext, eudap: EudapResource):
        from pipelines.stage import validate_table

        bid = build_id(context)
        ind_tables = [
            i.table for i in cat.indicator_list() if indicator_tables.sql_path(i).exists()
        ]
        inputs = ind_tables + [cat.dataset(ds_id).table for ds_id in staged]
        with eudap.build(bid) as con:
            upstream = [reuse.build_key(con, bid, t) or "" for t in inputs]
            keys = [
                (reuse.trends_key(f"trends.{s.name}", cat, upstream), f"trends.{s.name}")
                for s in specs
            ]
            copied = (
                reuse.tables_reuse(con, eudap.paths, bid, keys)
                if reuse.copied_in_build(con, bid, inputs)
                else None
            )
            from pipelines.trends import build_trends

            counts = build_trends(con, cat) if copied is None else {}
            for (key, table), spec in zip(keys, specs, strict=True):
                asset_key = AssetKey(["trends", spec.name])
                if copied is not None:
                    rows, summary = copied[table]
                    gate = copied_gate_result(summary, asset_key)
                else:
                    rows = counts[spec.name]
                    report = validate_table(con, table, table)
                    record_gate(con, bid, report)
                    reuse.record_key(con, bid, key)
                    gate = gate_result(report, asset_key)
                yield MaterializeResult(
                    asset_key=asset_key,
                    metadata={
                        "rows": rows,
                        "preview": preview(con, table),
                        "input_key": key.key,
                        "skipped": copied is not None,
                    },
                )
                yield gate

    return [_trends]


# -- coverage ---------------------------------------------------------------------------------
COVERAGE = AssetKey(["meta", "coverage"])


def coverage_asset(cat: Catalogue) -> AssetsDefinition:
    ind_keys = [
        indicator_key(i) for i in cat.indicator_list() if indicator_tables.sql_path(i).exists()
    ]

    @asset(
        key=COVERAGE,
        group_name="meta",
        kinds={"duckdb"},
        deps=ind_keys,
        description="meta.coverage (indicator x geo x period: which measures have data, from "
        "which sources), meta.substances and meta.headline_comparison (every curated EU "
        "headline figure beside its like-for-like computed counterpart, if any).",
        check_specs=[
            AssetCheckSpec(
                name="headline_consistency",
                asset=COVERAGE,
                blocking=False,
                description="Warns when a curated EU headline figure differs by more than "
                "the tolerance from a computed value of the same definition, geography and year",
            )
        ],
        op_tags=WRITES_BUILD,
    )
    def _coverage(context: AssetExecutionContext, eudap: EudapResource):
        from pipelines import coverage

        with eudap.build(build_id(context)) as con:
            cells = coverage.build_coverage(con)
            substances = coverage.build_substances(con, cat)
            comparison = coverage.build_headline_comparison(con, cat)
            table_preview = preview(con, "meta.headline_comparison")
        outside = coverage.headline_discrepancies(comparison)
        compared = [c for c in comparison if c["status"] in ("agrees", "differs")]
        yield MaterializeResult(
            metadata={
                "coverage_cells": cells,
                "substances": substances,
                "headline_figures": len(comparison),
                "headline_figures_compared": len(compared),
                "outside_tolerance": len(outside),
                "comparison": table_preview,
            }
        )
        yield AssetCheckResult(
            check_name="headline_consistency",
            passed=not outside,
            severity=AssetCheckSeverity.WARN,
            description=(
                f"{len(outside)} of {len(compared)} comparable headline figures differ from "
                "their computed counterpart by more than the tolerance: "
                + "; ".join(
                    f"{c['measure']} {c['geo']} {c['period']}: published "
                    f"{c['qualifier'] or ''}{c['published_value']:g}, computed "
                    f"{c['counterpart_value']:g}"
                    for c in outside
                )
                if outside
                else f"{len(compared)} comparable headline figures within tolerance "
                f"({len(comparison) - len(compared)} shown but not comparable)"
            ),
            metadata={
                "differences": MetadataValue.md(
                    markdown.records_table(comparison)
                    if comparison
                    else "_no curated headline figure in this build_"
                ),
            },
        )

    return _coverage


# -- publish ----------------------------------------------------------------------------------
def publish_asset(cat: Catalogue) -> AssetsDefinition:
    upstream = [AssetKey(["trends", s.name]) for s in trend_tables.TABLES] + [COVERAGE]
    upstream += [
        indicator_key(i) for i in cat.indicator_list() if indicator_tables.sql_path(i).exists()
    ]

    @asset(
        key=PUBLISHED,
        group_name="publish",
        kinds={"duckdb"},
        deps=upstream,
        description="Publishes the run's build onto data/warehouse/warehouse.duckdb by atomic "
        "rename, once every blocking gate upstream has passed (read back from the build's "
        "own gate record, meta.gate_results, even when publish is re-executed alone); keeps "
        "the previous release as warehouse.previous.duckdb; writes Parquet exports.",
        op_tags=WRITES_BUILD,
    )
    def _publish(context: AssetExecutionContext, eudap: EudapResource) -> MaterializeResult:
        from pipelines import publish as publishing

        release = publishing.publish_build(eudap.paths, build_id(context), cat)
        parts.remove(eudap.paths, build_id(context))  # the build folder: all loaded
        return MaterializeResult(
            metadata={
                "release_id": release.release_id,
                "warehouse": str(release.warehouse),
                "exports": str(release.exports),
                "report": MetadataValue.path(str(release.exports / "report.html")),
                "datasets": release.states,
                "summary": release.summary,
            }
        )

    return _publish


def all_assets(cat: Catalogue) -> list[AssetsDefinition]:
    return [
        intake_asset(cat),
        *raw_assets(cat),
        meta_asset(cat),
        *staging_assets(cat),
        staged_asset(cat),
        *indicator_assets(cat),
        *trend_assets(cat),
        coverage_asset(cat),
        publish_asset(cat),
    ]
