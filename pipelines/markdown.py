"""Markdown tables for the Dagster UI's metadata: a staging table's first rows, a failed
gate's sample rows, the headline comparison. Plain text, no pandas: a step renders several."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return str(value).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table: a header of `columns`, one line per row (None as an empty cell)."""
    lines = [
        "| " + " | ".join(_cell(c) for c in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def records_table(records: Sequence[Mapping[str, Any]]) -> str:
    """A Markdown table of dicts: the columns in the order their keys first appear."""
    columns = list(dict.fromkeys(k for r in records for k in r))
    return table(columns, ([r.get(c) for c in columns] for r in records))
