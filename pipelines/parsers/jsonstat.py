"""Eurostat JSON-stat 2.0 (statistics API `.../statistics/1.0/data/<dataset>?format=JSON`).

A dataset response::

    {"version": "2.0", "class": "dataset", "id": ["freq", "unit", "geo", "time"],
     "size": [1, 1, 2, 3],
     "dimension": {"geo": {"category": {"index": {"AT": 0, "BE": 1}, "label": {...}}}, ...},
     "value": {"0": 1.5, "4": 2.0}, "status": {"4": "p", "5": "c"}}

- Cells are addressed by a flat index in row-major order over `id`/`size` (the last
  dimension varies fastest): flat = sum(pos[i] * prod(size[i+1:])). The parser decodes it
  back into one category per dimension.
- `value` and `status` may be sparse objects keyed by the flat index as a string (what
  Eurostat sends) or dense arrays with nulls; `status` may also be one string for all cells.
- A category `index` may be an object `{code: position}` or an array of codes; it may be
  left out for a dimension with a single category, whose code is then the `label` key.
- The time dimension (`time`, `TIME_PERIOD`, else the one named by `role.time`) gives
  `period`; every other dimension is a dimension column (lowercased) holding the code.
- A cell with a status but no value is a row with value None and the flag; a cell with
  neither is no row.
- `line` is the flat index + 1 (a JSON document has no per-observation line).
- Eurostat answers errors with a JSON body such as `{"error": [{"status": 413, "label":
  "..."}]}` or `{"error": {...}}`: that is a ParseError with rule "error response".

The document is loaded whole (the API caps responses at about 500,000 cells); `rows` is lazy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pipelines.parsers.base import (
    FLAGS,
    LINE,
    NOTE,
    PERIOD,
    VALUE,
    VALUE_TEXT,
    LimitExceeded,
    ParsedFile,
    ParseError,
    ReadLimits,
    guarded,
    open_text,
)

TIME_NAMES = ("time", "time_period")

RULE_JSON = "invalid JSON"
RULE_ERROR = "error response"
RULE_STRUCTURE = "JSON-stat structure"
RULE_RANGE = "index out of range"
RULE_VALUE = "non-numeric value"


def _load(path: Path, limits: ReadLimits) -> dict[str, Any]:
    try:
        with open_text(path, limits=limits) as fh:
            doc = json.load(fh)
    except json.JSONDecodeError as exc:
        raise ParseError(path, RULE_JSON, exc.msg, exc.lineno) from exc
    if not isinstance(doc, dict):
        raise ParseError(path, RULE_STRUCTURE, "the document is not a JSON object")
    if "error" in doc:
        errors = doc["error"] if isinstance(doc["error"], list) else [doc["error"]]
        detail = "; ".join(
            f"{e.get('status', '?')} {e.get('label', e)}" if isinstance(e, dict) else str(e)
            for e in errors
        )
        raise ParseError(path, RULE_ERROR, f"the publisher returned an error: {detail}")
    return doc


def _categories(path: Path, name: str, dim: Any, size: int) -> list[str]:
    """The category codes of one dimension, in index order."""
    category = dim.get("category") if isinstance(dim, dict) else None
    if not isinstance(category, dict):
        raise ParseError(path, RULE_STRUCTURE, f"dimension {name!r} has no category")
    index = category.get("index")
    if index is None and isinstance(category.get("label"), dict) and len(category["label"]) == 1:
        index = list(category["label"])
    if isinstance(index, list):
        codes = [str(c) for c in index]
    elif isinstance(index, dict):
        codes = [""] * len(index)
        for code, pos in index.items():
            if not isinstance(pos, int) or not 0 <= pos < len(index) or codes[pos]:
                raise ParseError(path, RULE_RANGE, f"dimension {name!r}: {code!r} -> {pos!r}")
            codes[pos] = str(code)
    else:
        raise ParseError(path, RULE_STRUCTURE, f"dimension {name!r} has no category index")
    if len(codes) != size:
        raise ParseError(
            path, RULE_STRUCTURE, f"dimension {name!r} has {len(codes)} categories, size {size}"
        )
    return codes


def _cells(path: Path, key: str, data: Any, total: int) -> dict[int, Any]:
    """`value`/`status` as {flat index: item}, without nulls; out-of-range keys raise."""
    if isinstance(data, list):
        if len(data) != total:
            raise ParseError(
                path, RULE_STRUCTURE, f"{key} has {len(data)} cells, size gives {total}"
            )
        return {i: v for i, v in enumerate(data) if v is not None}
    if not isinstance(data, dict):
        raise ParseError(path, RULE_STRUCTURE, f"{key} is neither an object nor an array")
    cells: dict[int, Any] = {}
    for k, v in data.items():
        try:
            flat = int(k)
        except ValueError:
            raise ParseError(path, RULE_STRUCTURE, f"{key} key {k!r} is not an index") from None
        if not 0 <= flat < total:
            raise ParseError(path, RULE_RANGE, f"{key} index {flat} outside 0..{total - 1}")
        if v is not None:
            cells[flat] = v
    return cells


def decode_index(flat: int, sizes: list[int]) -> list[int]:
    """Row-major flat index -> one position per dimension (the last varies fastest)."""
    positions = [0] * len(sizes)
    for i in range(len(sizes) - 1, -1, -1):
        flat, positions[i] = divmod(flat, sizes[i])
    return positions


def _time_dimension(path: Path, doc: dict[str, Any], ids: list[str]) -> int:
    for i, name in enumerate(ids):
        if name.lower() in TIME_NAMES:
            return i
    role_time = (doc.get("role") or {}).get("time") or []
    for name in role_time:
        if name in ids:
            return ids.index(name)
    raise ParseError(path, RULE_STRUCTURE, f"no time dimension among {ids}")


def _number(path: Path, flat: int, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ParseError(path, RULE_VALUE, f"value {value!r} is not a number", flat + 1)
    return float(value)


def _rows(
    path: Path,
    order: Iterable[int],
    sizes: list[int],
    codes: list[list[str]],
    names: list[str],
    time_pos: int,
    values: dict[int, Any],
    statuses: dict[int, Any],
) -> Iterator[dict[str, Any]]:
    for flat in order:
        value = _number(path, flat, values.get(flat))
        flag = statuses.get(flat)
        flags = str(flag).strip() if flag is not None else ""
        if value is None and not flags:
            continue
        positions = decode_index(flat, sizes)
        row: dict[str, Any] = {
            name: codes[i][positions[i]] for i, name in enumerate(names) if i != time_pos
        }
        row.update(
            {
                PERIOD: codes[time_pos][positions[time_pos]],
                VALUE: value,
                VALUE_TEXT: None,
                FLAGS: flags or None,
                NOTE: None,
                LINE: flat + 1,
            }
        )
        yield row


@guarded
def parse(path: Path, options: Mapping[str, Any], limits: ReadLimits | None = None) -> ParsedFile:
    """Parse a JSON-stat 2.0 dataset: structure checked now, observations lazily."""
    path = Path(path)
    limits = limits or ReadLimits()
    doc = _load(path, limits)
    for key in ("id", "size", "value", "dimension"):
        if key not in doc:
            raise ParseError(path, RULE_STRUCTURE, f"missing {key!r}")
    if doc.get("class", "dataset") != "dataset":
        raise ParseError(path, RULE_STRUCTURE, f"class {doc.get('class')!r} is not 'dataset'")
    ids, sizes = doc["id"], doc["size"]
    if not isinstance(ids, list) or not isinstance(sizes, list) or len(ids) != len(sizes):
        raise ParseError(path, RULE_STRUCTURE, f"id {ids!r} and size {sizes!r} do not match")
    if not all(isinstance(s, int) and s >= 0 for s in sizes):
        raise ParseError(path, RULE_STRUCTURE, f"size {sizes!r} is not a list of counts")
    ids = [str(i) for i in ids]
    names = [i.lower() for i in ids]
    if len(set(names)) != len(names):
        raise ParseError(path, RULE_STRUCTURE, f"repeated dimension in id {ids!r}")
    dims = doc["dimension"]
    if not isinstance(dims, dict):
        raise ParseError(path, RULE_STRUCTURE, "dimension is not an object")
    codes = [
        _categories(path, name, dims.get(name), size) for name, size in zip(ids, sizes, strict=True)
    ]
    time_pos = _time_dimension(path, doc, ids)
    total = math.prod(sizes)
    if total > limits.max_cells:
        raise LimitExceeded(path, "max_cells", f"size {sizes} gives {total} cells")
    values = _cells(path, "value", doc["value"], total)
    status = doc.get("status")
    if isinstance(status, str):
        statuses = dict.fromkeys(range(total), status) if status else {}
    else:
        statuses = _cells(path, "status", status, total) if status is not None else {}
    order = sorted(values.keys() | statuses.keys())
    attributes = {
        "time_key": ids[time_pos],
        **{k: doc[k] for k in ("label", "source", "updated", "version") if k in doc},
    }
    return ParsedFile(
        dimensions=[n for i, n in enumerate(names) if i != time_pos],
        rows=_rows(path, order, sizes, codes, names, time_pos, values, statuses),
        attributes=attributes,
    )
