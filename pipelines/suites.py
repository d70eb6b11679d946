"""The structural expectations of every staging and indicator table, generated from the catalogue.

What the catalogue states is never restated by hand: a dataset's series key
(`dimensions`), the columns every row must have (`required`), the value range
(`value_range`), the years a period may take (`period_years`), its closed code lists
(`codes`), the roles of its table rules and the flag of its zero values (`zero_flag`); an
indicator's number, its measures with their one unit each, its value range and years. The
gate of a table runs these generated expectations plus the hand-written suite
`expectations/<suite>.json`, which keeps only the rules the catalogue cannot say (e.g. a
curated row's confidence is P or S); a table may have no hand-written suite at all.

The gate generates in memory from the catalogue it runs with. `eudap suites --write` writes
the same expectations to `expectations/generated/<suite>.json` for review; a test fails when
those committed files are stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipelines.catalogue import Catalogue, CatalogueError, Dataset, Indicator
from pipelines.indicators import SERIES_KEY
from pipelines.settings import EXPECTATIONS_DIR
from pipelines.stage import staging_columns

GENERATED_DIR = EXPECTATIONS_DIR / "generated"
NOTE = (
    "Generated from the catalogue (assets/) by `eudap suites --write`, for review: edit the "
    "catalogue, or add a rule the catalogue cannot say to expectations/<suite>.json"
)
GEO_RULE = (
    "geo code known: a Eurostat country, aggregate or NUTS region (map others in the "
    "catalogue's code_maps or reference/geo.yaml)"
)
# Columns the engine writes on every staged row and every indicator row.
STAGING_PROVENANCE = ["line", "snapshot_sha256", "source_dataset"]
INDICATOR_NOT_NULL = [
    "indicator_id",
    "measure",
    "geo",
    "period",
    "unit",
    "source_dataset",
    "snapshot_sha256",
    "fetched_at",
    "value_origin",
]


def _exp(kind: str, rule: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": kind, "kwargs": kwargs, "meta": {"rule": rule}}


def _not_null(column: str, rule: str | None = None) -> dict[str, Any]:
    return _exp(
        "expect_column_values_to_not_be_null",
        rule or f"{column} present on every row",
        column=column,
    )


def year_pattern(first: int, last: int) -> str:
    """A regex matching exactly the 4-digit years first..last: 1980-2100 gives
    `^(?:19[89]\\d|20\\d\\d|2100)$`."""
    parts = []
    for century in range(first // 100, last // 100 + 1):
        lo, hi = max(first, century * 100), min(last, century * 100 + 99)
        if (lo, hi) == (century * 100, century * 100 + 99):
            parts.append(f"{century}\\d\\d")
            continue
        full = [
            d
            for d in range(10)
            if lo <= century * 100 + d * 10 and century * 100 + d * 10 + 9 <= hi
        ]
        if full:
            parts.append(f"{century}{_digit_class(full)}\\d")
        parts += [str(y) for y in range(lo, hi + 1) if (y % 100) // 10 not in full]
    return "^(?:" + "|".join(parts) + ")$"


def _digit_class(digits: list[int]) -> str:
    if len(digits) == 1:
        return str(digits[0])
    if len(digits) > 2 and digits == list(range(digits[0], digits[-1] + 1)):
        return f"[{digits[0]}-{digits[-1]}]"
    return "[" + "".join(str(d) for d in digits) + "]"


def staging_expectations(ds: Dataset) -> list[dict[str, Any]]:
    """The structural expectations of `ds.table`, from the dataset's catalogue entry."""
    columns = [name for name, _ in staging_columns(ds)]
    unknown = [c for c in ds.required if c not in columns]
    if unknown:
        raise CatalogueError(
            f"assets/datasets/{ds.id}.yaml: required: {unknown} are not staged "
            f"columns of {ds.table} ({', '.join(columns)})"
        )
    exps = [_not_null(c) for c in STAGING_PROVENANCE]
    exps += [_not_null(c) for c in ds.required if c not in STAGING_PROVENANCE]
    if ds.geo_dimension is not None:
        exps.append(_not_null("geo_level", GEO_RULE))
    key = (["table_breadcrumb"] if ds.bulletin_rules else []) + [
        "geo_raw" if d == ds.geo_dimension else d for d in ds.dimensions
    ]
    exps.append(
        _exp(
            "expect_compound_columns_to_be_unique",
            "one observation per series and period (catalogue dimensions)",
            column_list=[*key, "period"],
        )
    )
    exps.append(
        _exp(
            "expect_column_values_to_not_be_null",
            "a number unless the cell is flagged or a text code",
            column="value",
            row_condition="flags.isnull() & value_text.isnull()",
            condition_parser="pandas",
        )
    )
    low, high = ds.value_range
    exps.append(
        _exp(
            "expect_column_values_to_be_between",
            "value plausible for this dataset (catalogue value_range)",
            column="value",
            min_value=low,
            max_value=high,
        )
    )
    first, last = ds.period_years
    exps.append(
        _exp(
            "expect_column_values_to_match_regex",
            f"period is a year from {first} to {last} (catalogue period_years)",
            column="period",
            regex=year_pattern(first, last),
        )
    )
    for dim, codes in ds.codes.items():
        exps.append(
            _exp(
                "expect_column_values_to_be_in_set",
                f"{dim} code known (catalogue codes: the ones the indicator SQL maps)",
                column=dim if dim != ds.geo_dimension else "geo_raw",
                value_set=list(codes),
            )
        )
    roles = [r.role for r in ds.table_rules if r.role != "unused"]
    roles += [r.role for r in ds.bulletin_rules]
    if roles:
        exps.append(
            _exp(
                "expect_column_values_to_be_in_set",
                "only tables a rule maps are staged (known-but-unused tables give no rows)",
                column="role",
                value_set=list(dict.fromkeys(roles)),
            )
        )
    zero_flag = ds.parser_options.get("zero_flag")
    if zero_flag:
        exps.append(
            _exp(
                "expect_column_values_to_be_in_set",
                f"the only flag is {zero_flag}, on zero values (catalogue zero_flag)",
                column="flags",
                value_set=[zero_flag],
            )
        )
        exps.append(
            _exp(
                "expect_column_values_to_be_in_set",
                f"a value of 0 is marked {zero_flag} (catalogue zero_flag)",
                column="flags",
                value_set=[zero_flag],
                row_condition="value == 0",
                condition_parser="pandas",
            )
        )
    return exps


def indicator_expectations(ind: Indicator) -> list[dict[str, Any]]:
    """The structural expectations of `ind.table`, from the indicator's catalogue entry."""
    exps = [_not_null(c) for c in INDICATOR_NOT_NULL]
    exps.append(
        _exp(
            "expect_column_values_to_be_in_set",
            "indicator id matches the table",
            column="indicator_id",
            value_set=[ind.number],
        )
    )
    exps.append(_not_null("geo_level", "geo code known"))
    exps.append(
        _exp(
            "expect_column_pair_values_to_be_in_set",
            "each measure declared in the catalogue, with its one unit",
            column_A="measure",
            column_B="unit",
            value_pairs_set=[[m.name, m.unit] for m in ind.measures],
        )
    )
    exps.append(
        _exp(
            "expect_compound_columns_to_be_unique",
            "one value per series key and period",
            column_list=list(SERIES_KEY),
        )
    )
    exps.append(
        _exp(
            "expect_column_values_to_not_be_null",
            "a number unless a text code or a flag explains it",
            column="value",
            row_condition="value_text.isnull() & flags.isnull()",
            condition_parser="pandas",
        )
    )
    first, last = ind.period_years
    exps.append(
        _exp(
            "expect_column_values_to_be_between",
            f"period from {first} to {last} (catalogue period_years)",
            column="period",
            min_value=first,
            max_value=last,
        )
    )
    low, high = ind.value_range
    bounds: dict[str, float] = {"min_value": low}
    if high is not None:
        bounds["max_value"] = high
    exps.append(
        _exp(
            "expect_column_values_to_be_between",
            "value within the catalogue value_range of the indicator",
            column="value",
            **bounds,
        )
    )
    return exps


def generated_suites(cat: Catalogue) -> dict[str, dict[str, Any]]:
    """Suite name -> the generated GX 1.x suite (as JSON data) of every staging and
    indicator table of the catalogue."""
    suites: dict[str, dict[str, Any]] = {}
    for ds in cat.datasets.values():
        suites[ds.table] = {
            "name": ds.table,
            "expectations": staging_expectations(ds),
            "meta": {"layer": "staging", "dataset": ds.id, "note": NOTE},
        }
    for ind in cat.indicator_list():
        suites[ind.table] = {
            "name": ind.table,
            "expectations": indicator_expectations(ind),
            "meta": {"layer": "indicators", "indicator": ind.number, "note": NOTE},
        }
    return dict(sorted(suites.items()))


def render(suite: dict[str, Any]) -> str:
    return json.dumps(suite, indent=2, ensure_ascii=False) + "\n"


def stale_files(cat: Catalogue, root: Path = GENERATED_DIR) -> list[str]:
    """Committed generated suites that differ from the catalogue's, are missing or orphaned."""
    wanted = {f"{name}.json": render(s) for name, s in generated_suites(cat).items()}
    found = {p.name for p in root.glob("*.json")} if root.exists() else set()
    problems = [f"{n}: missing" for n in sorted(set(wanted) - found)]
    problems += [f"{n}: no such table in the catalogue" for n in sorted(found - set(wanted))]
    problems += [
        f"{n}: differs from the catalogue"
        for n in sorted(set(wanted) & found)
        if (root / n).read_text(encoding="utf-8") != wanted[n]
    ]
    return problems


def write_generated(cat: Catalogue, root: Path = GENERATED_DIR) -> list[Path]:
    """Write every generated suite to `root` (removing orphans); returns the files written."""
    root.mkdir(parents=True, exist_ok=True)
    suites = generated_suites(cat)
    for old in root.glob("*.json"):
        if old.stem not in suites:
            old.unlink()
    written = []
    for name, suite in suites.items():
        path = root / f"{name}.json"
        text = render(suite)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written
