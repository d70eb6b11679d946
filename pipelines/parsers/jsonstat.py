"""JSON-stat 2.0 datasets, as the Eurostat statistics API sends them
(`.../statistics/1.0/data/<dataset>?format=JSON`), read by the format's specification
(https://json-stat.org/format/), not by our sample.

A dataset response::

    {"version": "2.0", "class": "dataset", "label": "...", "source": "ESTAT",
     "updated": "2026-02-06T23:00:00+0100", "id": ["freq", "unit", "geo", "time"],
     "size": [1, 1, 2, 3],
     "dimension": {"geo": {"label": "...", "category": {"index": {"AT": 0, "BE": 1},
                                                         "label": {...}}}, ...},
     "value": {"0": 1.5, "4": 2.0}, "status": {"4": "p", "5": "c"},
     "extension": {"lang": "EN", "id": "SDG_16_10", "agencyId": "ESTAT", "version": "1.0",
                   "datastructure": {...}, "annotation": [...],
                   "positions-with-no-data": {"geo": [..]}, "status": {"label": {"p": ...}}}}

- `id` and `size` give the dimension order (the same order in both); `dimension` is an
  object keyed by dimension id, whose own key order means nothing.
- Cells are addressed by a flat index in row-major order over `id`/`size` (the last
  dimension varies fastest): flat = sum(pos[i] * prod(size[i+1:])). The parser decodes it
  back into one category per dimension.
- `value` is a dense array with nulls (of exactly prod(size) cells) or a sparse object keyed
  by the flat index as a string (what Eurostat sends).
- `status` is one string for every cell, an array (of prod(size) cells, or of one cell that
  applies to every value, as the reference toolkit jsonstat-toolkit reads it), or a sparse
  object like `value`.
- A category `index` is an object `{code: position}` or an array of codes. It may be left
  out only for a dimension with a single category, whose code is then the `label` key;
  `label` is optional otherwise. `child`, `coordinates`, `unit` and `note` are not needed.
- The time dimension is the one `role.time` names, else the one called `time`/`TIME_PERIOD`
  (Eurostat sends no `role`); it gives `period`. Every other dimension is a dimension column
  (lowercased) holding the code.
- `extension` (Eurostat: `id`, status labels, annotations, positions with no data) is
  provider-specific: it is never needed to read the data and is ignored, whatever it holds
  (the inbox reads `extension.id` to identify the dataset). `label`, `source`, `updated` and
  `version` are kept in the attributes.
- A cell with a status but no value is a row with value None and the flag; a cell with
  neither is no row (EA21 before 2026: a category with no data at all).
- `line` is the flat index + 1 (a JSON document has no per-observation line).
- An error document instead of a dataset (`{"error": ...}`, an object or a list of them;
  the statistics API's fault codes 100 "No results found", 140 "Syntax error", 150
  "Semantic error" and 500 are documented in Eurostat's "API - Detailed guidelines - API
  Statistics") is a ParseError with rule "error response" naming status, code and label.
- A JSON-stat 1.x bundle (`{"<name>": {"dimension": {"id": ..., "size": ...}}}`) and a
  class other than "dataset" (collection, dimension) are refused: the API sends 2.0 datasets.

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
    READ_ERRORS,
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
    if "error" in doc or doc.get("class") == "error":
        raise ParseError(path, RULE_ERROR, f"the publisher returned an error: {_error_detail(doc)}")
    return doc


ERROR_DOCUMENT_MAX_BYTES = 1_000_000  # an error document is small; a dataset may be large


def error_document(path: Path) -> str | None:
    """The detail of an error document (`{"error": ...}`) at `path`, else None: checked at
    admission, so that an error answer is never stored as a snapshot."""
    if path.stat().st_size > ERROR_DOCUMENT_MAX_BYTES:
        return None
    try:
        with open_text(path) as fh:
            doc = json.load(fh)
    except (*READ_ERRORS, ValueError):
        return None  # not JSON at all: the parser says what is wrong
    if isinstance(doc, dict) and ("error" in doc or doc.get("class") == "error"):
        return _error_detail(doc)
    return None


def _error_detail(doc: dict[str, Any]) -> str:
    """`status 400, code 100: No results found` for each error the document carries."""
    found = doc.get("error", doc)
    errors = found if isinstance(found, list) else [found]
    parts = []
    for err in errors:
        if not isinstance(err, dict):
            parts.append(str(err)[:300])
            continue
        head = ", ".join(
            f"{name} {err[key]}"
            for key, name in (("status", "status"), ("id", "code"))
            if key in err and not isinstance(err[key], dict | list)
        )
        text = err.get("label") or err.get("message") or err.get("text") or ""
        parts.append(f"{head}: {str(text)[:300]}" if head and text else head or str(text)[:300])
    return "; ".join(p for p in parts if p) or "no detail given"


def _refuse_other_documents(path: Path, doc: dict[str, Any]) -> None:
    if "id" not in doc and "dimension" not in doc and doc:
        first = next(iter(doc.values()))
        if isinstance(first, dict) and isinstance(first.get("dimension"), dict):
            raise ParseError(
                path,
                RULE_STRUCTURE,
                "a JSON-stat 1.x bundle (dataset names at the top level); the Eurostat "
                "statistics API sends JSON-stat 2.0 datasets: download that",
            )
    if doc.get("class", "dataset") != "dataset":
        raise ParseError(
            path, RULE_STRUCTURE, f"class {doc.get('class')!r} is not 'dataset' (JSON-stat 2.0)"
        )


def _categories(path: Path, name: str, dim: Any, size: int) -> list[str]:
    """The category codes of one dimension, in index order."""
    category = dim.get("category") if isinstance(dim, dict) else None
    if not isinstance(category, dict):
        raise ParseError(path, RULE_STRUCTURE, f"dimension {name!r} has no category")
    index = category.get("index")
    if index is None and isinstance(category.get("label"), dict) and len(category["label"]) == 1:
        index = list(category["label"])  # a constant dimension: the spec lets index out
    if index is None and size > 1:
        raise ParseError(
            path,
            RULE_STRUCTURE,
            f"dimension {name!r} has {size} categories and no category index (required "
            "unless a dimension has a single category)",
        )
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
        if key == "status" and len(data) == 1:  # one status for every value
            return dict.fromkeys(range(total), data[0]) if data[0] is not None else {}
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
    role = doc.get("role") if isinstance(doc.get("role"), dict) else {}
    role_time = role.get("time") or []
    for name in role_time if isinstance(role_time, list) else [role_time]:
        if name in ids:
            return ids.index(name)
    for i, name in enumerate(ids):
        if name.lower() in TIME_NAMES:
            return i
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
    _refuse_other_documents(path, doc)
    for key in ("id", "size", "value", "dimension"):
        if key not in doc:
            raise ParseError(path, RULE_STRUCTURE, f"missing {key!r}")
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
