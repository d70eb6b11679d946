"""The trend statistics over many groups at once (the way pipelines.trends calls them) give
exactly what the one-series definitions give, group by group.

The references below are the one-series algorithms written as plain loops (as the module
had them before it learned to do all series at once); every comparison is exact.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.trend_stats import (
    PeriodChange,
    cagr,
    cagr_window,
    cagr_windows,
    detect_suspected_breaks,
    mann_kendall,
    mann_kendall_groups,
    may_have_suspected_break,
    moving_average,
    previous_period_change,
    previous_period_changes,
)

SETTINGS = settings(max_examples=100, deadline=None)

value = st.one_of(
    st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, 1.0, 2.0, 3.0, 10.0, 100.0]),
)
maybe_value = st.one_of(value, value, value, st.none(), st.just(math.nan))


@st.composite
def group(draw: st.DrawFn, values: st.SearchStrategy = maybe_value) -> tuple[list[int], list]:
    xs = draw(st.lists(values, min_size=1, max_size=20))
    steps = draw(st.lists(st.integers(1, 3), min_size=len(xs), max_size=len(xs)))
    return [int(p) for p in np.cumsum(steps) + 2000], xs


groups = st.lists(group(), min_size=1, max_size=12)
observed_groups = st.lists(group(value), min_size=1, max_size=12)


def flat(gs: list[tuple[list[int], list]]) -> tuple[list[int], list, list[int], list[int]]:
    periods = [p for ps, _ in gs for p in ps]
    values = [v for _, vs in gs for v in vs]
    lengths = [len(ps) for ps, _ in gs]
    starts = [int(s) for s in np.cumsum(lengths) - lengths]
    return periods, values, lengths, starts


def clean(v: float | None) -> float | None:
    return None if v is None or math.isnan(v) else float(v)


def reference_changes(periods: list[int], values: list) -> list[PeriodChange]:
    out, previous = [], None
    for period, raw in zip(periods, values, strict=True):
        v = clean(raw)
        if v is None or previous is None:
            out.append(PeriodChange(period, None, None, None, None))
        else:
            p0, v0 = previous
            change = v - v0
            pct = None if v0 == 0 else change / abs(v0) * 100.0
            out.append(PeriodChange(period, p0, period - p0, change, pct))
        if v is not None:
            previous = (period, v)
    return out


def reference_moving_average(values: list, window: int) -> list[float | None]:
    cleaned = [clean(v) for v in values]
    out = []
    for i in range(len(cleaned)):
        chunk = cleaned[i - window + 1 : i + 1] if i >= window - 1 else []
        ok = len(chunk) == window and all(v is not None for v in chunk)
        out.append(math.fsum(chunk) / window if ok else None)
    return out


def reference_cagr_window(periods: list[int], values: list, window: int, span: int) -> tuple:
    obs = [(p, v) for p, v in zip(periods, values, strict=True) if clean(v) is not None]
    if not obs:
        return (None, None, None)
    end, v_end = obs[-1]
    inside = [(p, v) for p, v in obs if end - window <= p < end]
    if not inside or end - inside[0][0] < span:
        return (None, end, None)
    return (inside[0][0], end, cagr(inside[0][1], v_end, end - inside[0][0]))


def same(a: object, b: object) -> bool:
    return repr(a) == repr(b)  # exact, NaN included


@SETTINGS
@given(groups)
def test_changes_of_all_groups_at_once(gs: list) -> None:
    periods, values, _, starts = flat(gs)
    expected = [c for ps, vs in gs for c in reference_changes(ps, vs)]
    assert same(previous_period_change(periods, values, starts), expected)
    columns = previous_period_changes(periods, values, starts)
    assert same(list(zip(*columns, strict=True)), [tuple(c[1:]) for c in expected])


@SETTINGS
@given(groups, st.integers(1, 4))
def test_moving_average_of_all_groups_at_once(gs: list, window: int) -> None:
    _, values, _, starts = flat(gs)
    expected = [a for _, vs in gs for a in reference_moving_average(vs, window)]
    assert same(moving_average(values, window, starts), expected)


@SETTINGS
@given(observed_groups, st.sampled_from([(5, 3), (15, 10), (3, 1)]))
def test_cagr_windows_of_all_groups_at_once(gs: list, window: tuple[int, int]) -> None:
    periods, values, lengths, _ = flat(gs)
    expected = [reference_cagr_window(ps, vs, *window) for ps, vs in gs]
    assert same(list(zip(*cagr_windows(periods, values, lengths, *window), strict=True)), expected)
    assert same([tuple(cagr_window(ps, vs, *window)) for ps, vs in gs], expected)


@SETTINGS
@given(groups, st.integers(2, 6))
def test_mann_kendall_of_all_groups_at_once(gs: list, min_points: int) -> None:
    periods, values, lengths, _ = flat(gs)
    together = mann_kendall_groups(periods, values, lengths, min_points=min_points)
    alone = [mann_kendall(vs, ps, min_points=min_points) for ps, vs in gs]
    assert same(together, alone)


@SETTINGS
@given(observed_groups, st.sampled_from([2.0, 3.0, 10.0]))
def test_no_suspected_break_where_the_prefilter_sees_no_jump(gs: list, factor: float) -> None:
    periods, values, lengths, starts = flat(gs)
    new_group = np.zeros(len(values), dtype=bool)
    new_group[starts] = True
    jumps = may_have_suspected_break(np.array(values), new_group, factor)
    for (ps, vs), start, n in zip(gs, starts, lengths, strict=True):
        if not jumps[start : start + n].any():
            assert detect_suspected_breaks(ps, vs, min_factor=factor) == []


def test_prefilter_marks_a_tenfold_jump_and_not_the_start_of_a_group() -> None:
    values = np.array([1.0, 1.1, 11.0, 500.0, 1.0])
    new_group = np.array([True, False, False, True, False])
    assert may_have_suspected_break(values, new_group, 3.0).tolist() == [
        False,
        False,
        True,  # 1.1 -> 11
        False,  # 11 -> 500 crosses into another group
        True,  # 500 -> 1
    ]
