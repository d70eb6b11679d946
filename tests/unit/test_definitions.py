"""The Dagster code location: it loads, its jobs and schedule, its gates, and its asset graph.

`test_asset_graph_matches_the_snapshot` compares the whole graph (asset keys, groups,
dependencies and checks) with the committed file `tests/unit/asset_graph.txt`, so that a
renamed asset, a lost dependency or a dropped gate shows up in review. When a change to the
graph is intended, regenerate the file and commit it with the change:

    EUDAP_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/unit/test_definitions.py
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest
from dagster import AssetKey, AssetsDefinition, Definitions

from pipelines.catalogue import Catalogue, load_catalogue
from pipelines.checks import suite_path
from pipelines.schedules import selection
from pipelines.suites import generated_suites

SNAPSHOT = Path(__file__).with_name("asset_graph.txt")
UPDATE_ENV = "EUDAP_UPDATE_SNAPSHOTS"
GATED_GROUPS = ("staging", "indicators", "trends")
EXPECTED_JOBS = {"nightly", "build_offline", "source_eurostat", "source_euda", "source_curated"}


@pytest.fixture(scope="module")
def defs() -> Definitions:
    from pipelines.definitions import defs as loaded

    return loaded


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def asset_defs(defs: Definitions) -> list[AssetsDefinition]:
    return [a for a in defs.assets or [] if isinstance(a, AssetsDefinition)]


def _name(key: AssetKey) -> str:
    return key.to_user_string()


# -------------------------------------------------------------------------------- loading
def test_definitions_load_and_validate(defs: Definitions) -> None:
    Definitions.validate_loadable(defs)
    keys = defs.resolve_all_asset_keys()
    assert keys, "the code location defines no asset"
    assert AssetKey(["warehouse", "published"]) in keys
    assert AssetKey(["meta", "build"]) in keys


def test_every_asset_has_a_group_and_a_description(defs: Definitions) -> None:
    specs = defs.resolve_all_asset_specs()
    no_group = [_name(s.key) for s in specs if not s.group_name or s.group_name == "default"]
    no_description = [_name(s.key) for s in specs if not (s.description or "").strip()]
    assert not no_group, f"assets without a group: {no_group}"
    assert not no_description, f"assets without a description: {no_description}"


def test_every_catalogue_dataset_and_indicator_has_its_assets(
    defs: Definitions, catalogue: Catalogue
) -> None:
    keys = {_name(k) for k in defs.resolve_all_asset_keys()}
    for ds in catalogue.datasets.values():
        assert f"staging/{ds.asset_name}" in keys, ds.id
        if ds.downloads:
            assert f"raw/{ds.asset_name}" in keys, ds.id
    for ind in catalogue.indicator_list():
        assert f"indicators/{ind.table_name}" in keys, ind.table
    for table in ("series", "assessment"):
        assert f"trends/{table}" in keys


# -------------------------------------------------------------------------- jobs, schedule
def test_jobs_exist(defs: Definitions) -> None:
    names = {j.name for j in defs.resolve_all_job_defs()}
    missing = EXPECTED_JOBS - names
    assert not missing, f"missing jobs {sorted(missing)}; found {sorted(names)}"


def _curated_raw(catalogue: Catalogue) -> set[str]:
    """The curated repository files: registered as snapshots by every run (no network)."""
    return {f"raw/{d.asset_name}" for d in catalogue.datasets.values() if d.local_file}


def test_source_jobs_download_only_their_source(defs: Definitions, catalogue: Catalogue) -> None:
    for source in ("eurostat", "euda", "curated"):
        job = defs.resolve_job_def(f"source_{source}")
        selected = {_name(k) for k in job.asset_layer.selected_asset_keys}
        raw = {k for k in selected if k.startswith("raw/")}
        expected_raw = {
            f"raw/{d.asset_name}"
            for d in catalogue.datasets.values()
            if d.source == source and d.downloads
        }
        assert raw == expected_raw | _curated_raw(catalogue), source
        # every source job rebuilds and publishes the whole warehouse
        assert "warehouse/published" in selected
        assert {f"staging/{d.asset_name}" for d in catalogue.datasets.values()} <= selected


def test_offline_job_downloads_nothing(defs: Definitions, catalogue: Catalogue) -> None:
    job = defs.resolve_job_def("build_offline")
    selected = {_name(k) for k in job.asset_layer.selected_asset_keys}
    raw = {k for k in selected if k.startswith("raw/")}
    assert raw == _curated_raw(catalogue)
    assert all(catalogue.datasets[d].local_file for d in _ids(catalogue, raw))
    assert "warehouse/published" in selected


def _ids(catalogue: Catalogue, keys: set[str]) -> list[str]:
    by_asset = {f"raw/{d.asset_name}": d.id for d in catalogue.datasets.values()}
    return [by_asset[k] for k in keys]


@pytest.mark.parametrize(
    ("mode", "job_name"),
    [("full", "nightly"), ("offline", "build_offline"), ("datasets", "source_eurostat")],
)
def test_the_cli_and_the_jobs_take_one_selection(
    defs: Definitions, catalogue: Catalogue, mode: str, job_name: str
) -> None:
    """`eudap run` (and --offline, --select) resolves the same selection function the
    Dagster jobs are defined with: the two cannot disagree about what a run does."""
    ids = [d.id for d in catalogue.datasets.values() if d.source == "eurostat" and d.downloads]
    resolved = selection(catalogue, mode, ids).resolve(defs.resolve_asset_graph())  # type: ignore[arg-type]
    job = defs.resolve_job_def(job_name)
    assert resolved == set(job.asset_layer.selected_asset_keys)


def test_a_selected_dataset_adds_its_download_only(defs: Definitions, catalogue: Catalogue) -> None:
    keys = selection(catalogue, "datasets", ["eurostat.sdg_16_20"]).resolve(
        defs.resolve_asset_graph()
    )
    raw = {_name(k) for k in keys if k.path[0] == "raw"}
    assert raw == {"raw/eurostat_sdg_16_20"} | _curated_raw(catalogue)
    assert AssetKey(["warehouse", "published"]) in keys


def test_nightly_schedule_runs_at_two_in_brussels(defs: Definitions) -> None:
    schedules = list(defs.schedules or [])
    assert len(schedules) == 1, schedules
    schedule = defs.resolve_schedule_def(schedules[0].name)
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "Europe/Brussels"
    assert schedule.job_name == "nightly"


# ---------------------------------------------------------------------------------- gates
def test_every_staging_indicator_and_trend_asset_has_a_blocking_gate(
    defs: Definitions, asset_defs: list[AssetsDefinition]
) -> None:
    gates = {
        _name(spec.asset_key): spec
        for a in asset_defs
        for spec in a.check_specs
        if spec.name == "gate"
    }
    gated = [s for s in defs.resolve_all_asset_specs() if s.group_name in GATED_GROUPS]
    assert gated
    problems = []
    for spec in gated:
        gate = gates.get(_name(spec.key))
        if gate is None:
            problems.append(f"{_name(spec.key)}: no gate check")
        elif not gate.blocking:
            problems.append(f"{_name(spec.key)}: gate check is not blocking")
    assert not problems, problems


def test_every_gate_runs_the_suite_of_its_table(
    asset_defs: list[AssetsDefinition], catalogue: Catalogue
) -> None:
    """Each gate names its suite in its metadata; it is the suite of the asset's table in
    the catalogue (trends: the hand-written suite of the trends table) and is not empty."""
    from pipelines.trend_tables import TABLES

    gates = {
        _name(spec.asset_key): spec.metadata["suite"]
        for a in asset_defs
        for spec in a.check_specs
        if spec.name == "gate"
    }
    expected = {f"staging/{ds.asset_name}": ds.table for ds in catalogue.datasets.values()}
    expected |= {f"indicators/{i.table_name}": i.table for i in catalogue.indicator_list()}
    expected |= {f"trends/{t.name}": f"trends.{t.name}" for t in TABLES}
    assert gates == expected
    generated = generated_suites(catalogue)
    empty = sorted(
        s
        for s in gates.values()
        if not generated.get(s, {}).get("expectations") and not suite_path(s).exists()
    )
    assert empty == [], f"gates without expectations: {empty}"


# --------------------------------------------------------------------- graph snapshot
def graph_listing(defs: Definitions, asset_defs: list[AssetsDefinition]) -> str:
    """One line per asset: key [group] <- sorted deps; checks (a * marks a blocking one)."""
    checks: dict[str, list[str]] = {}
    graph = defs.resolve_asset_graph()  # checks of the assets and standalone ones (freshness)
    for key in graph.asset_check_keys:
        spec = graph.get_check_spec(key)
        mark = "*" if spec.blocking else ""
        checks.setdefault(_name(spec.asset_key), []).append(spec.name + mark)
    lines = []
    for spec in sorted(defs.resolve_all_asset_specs(), key=lambda s: _name(s.key)):
        deps = sorted(_name(d.asset_key) for d in spec.deps)
        line = f"{_name(spec.key)} [{spec.group_name}]"
        line += f"\n    deps: {', '.join(deps) or '-'}"
        line += f"\n    checks: {', '.join(sorted(checks.get(_name(spec.key), []))) or '-'}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def test_asset_graph_matches_the_snapshot(
    defs: Definitions, asset_defs: list[AssetsDefinition]
) -> None:
    current = graph_listing(defs, asset_defs)
    if os.environ.get(UPDATE_ENV) == "1":
        SNAPSHOT.write_text(current, encoding="utf-8")
        return
    how = (
        f"If the change is intended, regenerate the snapshot and commit it: "
        f"{UPDATE_ENV}=1 .venv/bin/python -m pytest tests/unit/test_definitions.py"
    )
    assert SNAPSHOT.exists(), f"no asset graph snapshot {SNAPSHOT}. {how}"
    committed = SNAPSHOT.read_text(encoding="utf-8")
    if committed != current:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                current.splitlines(keepends=True),
                fromfile="tests/unit/asset_graph.txt (committed)",
                tofile="asset graph (current code)",
            )
        )
        pytest.fail(f"the asset graph differs from the committed snapshot.\n{how}\n{diff}")


# ------------------------------------------------------------------- code location, dg
def test_the_code_location_is_named_eudap_for_dg_and_dagster() -> None:
    import tomllib

    from dagster_dg_core.context import DgContext

    from pipelines.settings import PROJECT_ROOT

    dg = DgContext.for_project_environment(PROJECT_ROOT, {})  # as `dg dev` reads pyproject
    assert dg.is_project
    assert dg.code_location_name == "eudap"
    assert dg.code_location_target_module_name == "pipelines.definitions"
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["tool"]["dagster"]["code_location_name"] == "eudap"


def test_dagster_telemetry_is_off_in_the_project_instance() -> None:
    import yaml

    from pipelines.settings import PROJECT_ROOT

    config = yaml.safe_load((PROJECT_ROOT / ".dagster_home" / "dagster.yaml").read_text())
    assert config["telemetry"] == {"enabled": False}
