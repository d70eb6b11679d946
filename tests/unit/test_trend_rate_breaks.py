"""A rate declared with `rate_of` is split wherever its count series has a level shift."""

from __future__ import annotations

from typing import Any

from pipelines.catalogue import load_catalogue
from pipelines.trends import Series, build_series

CAT = load_catalogue()
YEARS = list(range(2008, 2023))


def series(measure: str, unit: str, values: list[float]) -> Series:
    key = {
        "indicator_id": 1,
        "measure": measure,
        "geo": "AT",
        "substance": None,
        "sex": None,
        "age": None,
        "breakdown": None,
        "unit": unit,
        "value_origin": "published",
    }
    sid = "|".join("" if v is None else str(v) for v in key.values())
    return Series(
        sid,
        key,
        "country",
        YEARS,
        values,
        [None] * len(values),
        [("eurostat.crim_off_cat", "sha")] * len(values),
    )


def rows(columns: dict[str, Any]) -> list[dict[str, Any]]:
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def test_rate_is_split_where_its_count_series_shifts() -> None:
    counts = [100.0 + i for i in range(7)] + [1000.0 + 3 * i for i in range(8)]  # x10 in 2015
    rates = [50.0 + (i % 3) for i in range(15)]  # no visible jump of its own
    rate = series("drug_law_offences_rate", "per 100 000 inhabitants", rates)
    columns, _ = build_series([series("drug_law_offences", "count", counts), rate], CAT)
    rate_breaks = [
        (r["period"], r["break_reason"])
        for r in rows(columns)
        if r["series_id"] == rate.series_id and r["break_before"]
    ]
    assert [p for p, _ in rate_breaks] == [2015]
    assert "count series" in rate_breaks[0][1]


def test_a_rate_without_a_count_series_is_not_split() -> None:
    rates = [50.0 + (i % 3) for i in range(15)]
    columns, _ = build_series(
        [series("drug_law_offences_rate", "per 100 000 inhabitants", rates)], CAT
    )
    assert len(rows(columns)) == 15
    assert not any(r["break_before"] for r in rows(columns))
