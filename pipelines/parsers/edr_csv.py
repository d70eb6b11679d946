"""European Drug Report source-data CSVs: any table, recognised by chapter and header.

The EDR source data of an edition are ~120 small CSVs (`edr2024-<chapter>-table-<n>.csv`,
2026: `...-table-<n>_en.csv`). Table numbers change between editions, so a file is never
identified by its number: its chapter (from the file name) and its header signature (the
set of column names after `normalise_column`) select one of the catalogue's `table_rules`,
and the rule's `read` options say how the table is read with the generic delimited-text
parser (`pipelines.parsers.tabular_csv`: long or wide, dimensions, values, period, melt).

Options (`parser_options`, plus what staging adds from the catalogue):

`rules` (list of `TableRule` dicts, in catalogue order; the first match wins)
`dimensions` (list): the staged dimensions; every row carries each of them (None if unset).
`reference_period` (str, optional): the edition's reference year, the period of the rows of
    a rule with `reference_period: true` whose table gives none.

Every quirk is handled here or in the generic parser, for any table: BOM or none, CP1252
(detected), `,` or `;` (sniffed; a trailing `;;` gives empty column names, which the
signature drops and the reader ignores), CRLF or LF, fully or minimally quoted, empty cells
written as a quoted space or NBSP, `-`, `‒` and `–` for missing, `< 1`, `< 0.01` and
spreadsheet errors (`#VALUE!`) kept as text,
float artefacts (`32.799999999999997` is a number), space-grouped counts (`1 176 600`).

Each row gets the staged dimensions `edr_table` (the file's table name without edition
prefix and `_en`), `chapter`, `table_rule`, `role`, `unit` (the rule's, or from its unit
column) and the rule's constants and file-name groups. A table of a rule with role `unused`
is accepted and gives no rows. A table no rule recognises is a ParseError "unknown table"
that shows its chapter and its header.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.catalogue import ReadLimits
from pipelines.parsers import tabular_csv
from pipelines.parsers.base import PERIOD, ParsedFile, ParseError, detect_encoding, guarded

RULE_UNKNOWN = "unknown table"
RULE_FILE_NAME = "file name"
# Value cells kept as text (value None): thresholds (`< 1`, `< 0.01`) and spreadsheet errors
# left in the export (`#VALUE!`, `#DIV/0!`, `#N/A`).
TEXT_CELLS = r"<\s*\d+(?:\.\d+)?|#(?:VALUE!|DIV/0!|N/A|REF!|NUM!|NAME\?)"
YEAR_COLUMN = re.compile(r"^\d{4}$")
YEAR_PLACEHOLDER = "{year}"
# `edr2024-annex-table-2a-cocaine-prevalence.csv`, `edr2026-cocaine-table-8_en.csv`
TABLE_NAME = re.compile(
    r"^(?:edr\d{4}-)?(?P<table>(?P<chapter>[a-z0-9]+(?:-[a-z0-9]+)*?)-table-.+?)(?:_[a-z]{2})?$"
)


def normalise_column(name: str) -> str:
    """A header cell as the signature compares it: NFC, trimmed, one space, lower case.

    A four-digit year becomes `{year}`: year columns move on with every edition.
    """
    text = unicodedata.normalize("NFC", name).replace("\u00a0", " ")
    text = re.sub(r"\s+", " ", text).strip().casefold()
    return YEAR_PLACEHOLDER if YEAR_COLUMN.match(text) else text


def signature(header: list[str]) -> frozenset[str]:
    """The set of normalised, non-empty column names of a header."""
    return frozenset(n for n in (normalise_column(h) for h in header) if n)


def table_name(path: Path) -> tuple[str, str | None]:
    """(table, chapter) from a file name; chapter None when the name has no `-table-`."""
    stem = path.name.rsplit(".", 1)[0].casefold()
    m = TABLE_NAME.match(stem)
    if m is None:
        return stem, None
    return m.group("table"), m.group("chapter")


def read_header(path: Path, limits: ReadLimits) -> list[str]:
    """The header cells (encoding detected, delimiter sniffed, BOM dropped)."""
    sniffing = tabular_csv.load_options({"value": "any"}, path)
    encoding = detect_encoding(path, limits=limits)
    return tabular_csv.read_header(path, sniffing, encoding, limits)[0]


def rule_matches(rule: Mapping[str, Any], chapter: str | None, sig: frozenset[str]) -> bool:
    """The chapter is listed (or unknown) and the signature is exactly the rule's columns."""
    if chapter is not None and chapter not in rule["chapters"]:
        return False
    exact = {normalise_column(c) for c in rule.get("columns", [])}
    if not exact <= sig:
        return False
    rest = sig - exact
    patterns = [re.compile(p) for p in rule.get("column_patterns", [])]
    if not patterns:
        return not rest
    hits = {p.pattern: [c for c in rest if p.fullmatch(c)] for p in patterns}
    covered = {c for cols in hits.values() for c in cols}
    return covered == rest and all(hits.values())


def match_rule(rules: list[Mapping[str, Any]], path: Path, header: list[str]) -> Mapping[str, Any]:
    table, chapter = table_name(path)
    sig = signature(header)
    for rule in rules:
        if rule_matches(rule, chapter, sig):
            return rule
    shown = [h for h in header if h.strip()]
    raise ParseError(
        path,
        RULE_UNKNOWN,
        f"no table rule of the catalogue recognises chapter {chapter!r} (table {table}) "
        f"with header {shown}; add a rule (or a known-but-unused entry) to table_rules",
        line=1,
    )


def file_name_values(rule: Mapping[str, Any], path: Path) -> dict[str, str]:
    pattern = rule.get("file_name")
    if not pattern:
        return {}
    m = re.search(pattern, path.name.casefold())
    if m is None:
        raise ParseError(
            path,
            RULE_FILE_NAME,
            f"table rule {rule['name']} takes {sorted(re.compile(pattern).groupindex)} "
            f"from the file name, but the name does not match {pattern!r}",
        )
    return {k: v for k, v in m.groupdict().items() if v is not None}


@guarded
def parse(path: Path, options: Mapping[str, Any], limits: ReadLimits | None = None) -> ParsedFile:
    """Recognise one EDR source-data table by its chapter and header, then read it with the
    matching rule's tabular options."""
    return read_table(path, options, limits).parsed


@dataclass
class Table:
    """One recognised table: the parsed file (rows still to read) and, unless its rule is
    `unused`, how the generic parser reads it and what every row gets besides."""

    parsed: ParsedFile
    constants: dict[str, Any]
    inner: tabular_csv.FilePlan | None = None
    unit_column: str | None = None
    reference_period: str | None = None


def read_table(path: Path, options: Mapping[str, Any], limits: ReadLimits | None = None) -> Table:
    path = Path(path)
    limits = limits or ReadLimits()
    rules = list(options.get("rules", []))
    staged = list(options.get("dimensions", []))
    header = read_header(path, limits)
    rule = match_rule(rules, path, header)
    table, chapter = table_name(path)
    constants: dict[str, Any] = {
        "edr_table": table,
        "chapter": chapter,
        "table_rule": rule["name"],
        "role": rule.get("role", "indicator"),
        "unit": rule.get("unit"),
        **rule.get("constants", {}),
        **file_name_values(rule, path),
    }
    attributes: dict[str, Any] = {
        "member": table,
        "table_rule": rule["name"],
        "role": constants["role"],
        "chapter": chapter,
        "header": header,
        "known_unused": constants["role"] == "unused",
    }
    if constants["role"] == "unused":
        return Table(ParsedFile(dimensions=staged, rows=iter(()), attributes=attributes), constants)
    # defaults for every EDR table; double-encoded names (`PlzeÅˆ`) are repaired only
    # where the repair round-trips, so correct text is never changed
    read = {
        "grouped_numbers": True,
        "text_pattern": TEXT_CELLS,
        "repair_mojibake": True,
        **rule["read"],
    }
    inner, plan = tabular_csv.read_plan(path, read, limits)
    unknown = sorted(set(inner.dimensions) - set(staged))
    if unknown:
        raise ParseError(
            path,
            tabular_csv.RULE_OPTIONS,
            f"table rule {rule['name']} reads dimensions {unknown} the dataset does not stage",
        )
    attributes.update(inner.attributes)
    period = options.get("reference_period") if rule.get("reference_period") else None
    unit_column = rule.get("unit_column")
    rows = _rows(inner.rows, constants, unit_column, period)
    parsed = ParsedFile(dimensions=staged, rows=rows, attributes=attributes)
    return Table(parsed, constants, plan, unit_column, period)


def _rows(
    rows: Iterator[dict[str, Any]],
    constants: dict[str, Any],
    unit_column: str | None,
    reference_period: str | None,
) -> Iterator[dict[str, Any]]:
    for row in rows:
        out = {**constants, **row}
        if unit_column is not None:
            out["unit"] = row.get(unit_column)
        if out.get(PERIOD) is None and reference_period is not None:
            out[PERIOD] = reference_period
        yield out
