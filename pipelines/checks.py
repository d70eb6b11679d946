"""Expectation suites (expectations/*.json) run by Great Expectations 1.x, and the one
generic factory that turns a suite into a blocking Dagster asset check.

The suite JSON is the contract for a table. GX runs on a pandas DataFrame read from DuckDB
(GX 1.x through SQLAlchemy/duckdb-engine does not work), in an ephemeral context created
per validation, so no state is shared between runs or processes. A failure names the
table, the expectation, the rule it stands for (`meta.rule` in the suite) and sample rows,
including the source `line` where the table has one.

A staging or indicator table's gate runs the expectations generated from its catalogue
entry (pipelines.suites) followed by its hand-written suite, if it has one (`gate_suite`).

The gates of a run do not come through here: pipelines.sqlgates compiles the same suites to
DuckDB SQL and runs them on the table (stage.validate_table). `validate_frame` is the
reference that path is tested against, and `validate_table(..., engine="gx")` runs it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines import markdown
from pipelines.settings import EXPECTATIONS_DIR

if TYPE_CHECKING:  # pandas is imported where a gate runs: `eudap suites` never loads it
    import pandas as pd

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

SAMPLE_ROWS = 5


@dataclass(frozen=True)
class ExpectationFailure:
    expectation: str  # e.g. expect_column_values_to_not_be_null
    kwargs: dict[str, Any]
    rule: str  # human wording from the suite's meta.rule
    unexpected_count: int | None
    sample_rows: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> str:
        target = self.kwargs.get("column") or self.kwargs.get("column_list") or ""
        count = f"{self.unexpected_count} rows" if self.unexpected_count is not None else "failed"
        sample = ""
        if self.sample_rows:
            sample = "; e.g. " + ", ".join(_row_brief(r) for r in self.sample_rows[:3])
        return f"rule '{self.rule}' ({self.expectation} {target}): {count}{sample}"


@dataclass(frozen=True)
class ValidationReport:
    suite: str
    table: str
    rows: int
    evaluated: int
    failures: list[ExpectationFailure]

    @property
    def success(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        if self.success:
            return f"{self.table}: {self.evaluated} expectations of suite {self.suite} passed"
        return f"{self.table}: suite {self.suite} failed: " + " | ".join(
            f.describe() for f in self.failures
        )

    def metadata(self) -> dict[str, Any]:
        """Dagster metadata: counts, and a Markdown table of each failure with sample rows."""
        md = [
            f"**{self.table}** — suite `{self.suite}`, {self.rows} rows, "
            f"{self.evaluated} expectations, {len(self.failures)} failed"
        ]
        for f in self.failures:
            md.append(
                f"\n### {f.rule}\n`{f.expectation}` {json.dumps(f.kwargs)} — "
                f"{f.unexpected_count} unexpected"
            )
            if f.sample_rows:
                md.append(markdown.records_table(f.sample_rows))
        return {
            "suite": self.suite,
            "table": self.table,
            "rows": self.rows,
            "expectations": self.evaluated,
            "failed_expectations": [
                f.expectation + " " + json.dumps(f.kwargs) for f in self.failures
            ],
            "details": "\n".join(md),
        }


def _row_brief(row: dict[str, Any]) -> str:
    keys = [k for k in ("line", "geo_raw", "geo", "period", "value", "measure") if k in row]
    keys = keys or list(row)[:4]
    return "(" + ", ".join(f"{k}={row[k]!r}" for k in keys) + ")"


class SuiteError(ValueError):
    """A suite file that is missing or not a valid GX 1.x suite."""


def suite_path(suite_name: str, root: Path = EXPECTATIONS_DIR) -> Path:
    return root / f"{suite_name}.json"


def load_suite_json(suite_name: str, root: Path = EXPECTATIONS_DIR) -> dict[str, Any]:
    path = suite_path(suite_name, root)
    if not path.exists():
        raise SuiteError(f"no expectation suite {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}: not valid JSON: {exc}") from exc
    if data.get("name") != suite_name:
        raise SuiteError(f"{path}: name must be {suite_name!r}, found {data.get('name')!r}")
    return data


def gate_suite(
    suite_name: str,
    root: Path = EXPECTATIONS_DIR,
    generated: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The suite a gate runs: the `generated` expectations (pipelines.suites), then the
    hand-written ones of `<root>/<suite_name>.json`. Without generated expectations the
    hand-written file must exist; with them it is optional."""
    if generated is not None and not suite_path(suite_name, root).exists():
        return {"name": suite_name, "expectations": list(generated), "meta": {}}
    spec = load_suite_json(suite_name, root)
    return {**spec, "expectations": [*(generated or []), *spec.get("expectations", [])]}


def validate_frame(
    df: pd.DataFrame,
    suite_name: str,
    table: str,
    root: Path = EXPECTATIONS_DIR,
    generated: list[dict[str, Any]] | None = None,
) -> ValidationReport:
    """Run the suite (generated + hand-written, see `gate_suite`) on a DataFrame; the report
    lists every failed expectation."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    spec = gate_suite(suite_name, root, generated)
    try:
        suite = gx.ExpectationSuite(
            name=spec["name"], expectations=spec.get("expectations", []), meta=spec.get("meta", {})
        )
    except Exception as exc:  # GX raises pydantic errors of its own kinds
        raise SuiteError(f"{suite_path(suite_name, root)}: invalid suite: {exc}") from exc
    if len(suite.expectations) != len(spec.get("expectations", [])):
        # GX logs and drops an expectation it cannot build; a gate must not shrink silently.
        known = {e.expectation_type for e in suite.expectations}
        dropped = [
            e.get("type") for e in spec.get("expectations", []) if e.get("type") not in known
        ]
        raise SuiteError(f"{suite_path(suite_name, root)}: invalid expectation(s) {dropped}")
    df = df.reset_index(drop=True)
    if df.empty:
        # GX cannot evaluate column expectations without the columns' data; an empty table
        # only has to have the expected columns.
        return ValidationReport(
            suite_name, table, 0, len(suite.expectations), _missing_columns(df, suite)
        )
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas("eudap")
        .add_dataframe_asset(table)
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": df})
    )
    result = batch.validate(suite, result_format="COMPLETE")
    failures = []
    for res in result.results:
        if res.success:
            continue
        cfg = res.expectation_config
        info = res.result or {}
        idx = info.get("unexpected_index_list") or []
        rows = [int(i) for i in idx[:SAMPLE_ROWS] if isinstance(i, (int, float))]
        sample = df.iloc[rows].to_dict("records") if rows else []
        if res.exception_info and res.exception_info.get("raised_exception"):
            rule_detail = res.exception_info.get("exception_message", "error")
        else:
            rule_detail = None
        failures.append(
            ExpectationFailure(
                expectation=cfg.type,
                kwargs={k: v for k, v in cfg.kwargs.items() if k != "batch_id"},
                rule=(cfg.meta or {}).get("rule") or rule_detail or cfg.type,
                unexpected_count=info.get("unexpected_count"),
                sample_rows=[_plain(r) for r in sample],
            )
        )
    return ValidationReport(suite_name, table, len(df), len(result.results), failures)


def _missing_columns(df: pd.DataFrame, suite: Any) -> list[ExpectationFailure]:
    failures = []
    for exp in suite.expectations:
        singles = [getattr(exp, name, None) for name in ("column", "column_A", "column_B")]
        cols = singles + list(getattr(exp, "column_list", None) or [])
        missing = [c for c in cols if c and c not in df.columns]
        if missing:
            failures.append(
                ExpectationFailure(
                    exp.expectation_type, {"column": missing}, "columns present", None
                )
            )
    return failures


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if hasattr(v, "tolist") and getattr(v, "ndim", 0):  # a LIST column: numpy array
            v = v.tolist()
        elif hasattr(v, "item"):
            v = v.item()
        if isinstance(v, float) and v != v:
            v = None
        out[k] = v
    return out
