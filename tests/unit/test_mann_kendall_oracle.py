"""pipelines.trend_stats' own Mann-Kendall test against pymannkendall (a dev dependency).

The pipeline does not import pymannkendall or scipy (they cost more than a second of
import in every process); these property tests hold our implementation to theirs on many
generated series: ties, constant series, short series, missing values, gaps between
periods, long series. S, var(S), Z, tau, the trend and Sen's slope are identical; the
p-value agrees to 1e-12 (ours takes the normal CDF from `math.erf`/`math.erfc`, scipy from its
own erf, which differ in the last bit).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.trend_stats import (
    MannKendallResult,
    _normal_quantile,
    mann_kendall,
    mann_kendall_many,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

few_values = st.sampled_from([-3.0, 0.0, 0.5, 1.0, 1.5, 2.0, 10.0])  # many ties
any_value = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
rounded = st.integers(-50, 50).map(lambda i: i / 10)
values = st.one_of(
    st.lists(few_values, min_size=2, max_size=30),
    st.lists(any_value, min_size=2, max_size=30),
    st.lists(rounded, min_size=2, max_size=30),
    st.lists(any_value, min_size=31, max_size=120),
    st.tuples(any_value, st.integers(2, 30)).map(lambda c: [c[0]] * c[1]),  # constant
)


def with_periods(draw: st.DrawFn, xs: list[float]) -> list[int]:
    steps = draw(st.lists(st.integers(1, 4), min_size=len(xs), max_size=len(xs)))
    return list(np.cumsum(steps) + 1990)


@st.composite
def series(draw: st.DrawFn) -> tuple[list[int], list[float | None]]:
    """(periods, values): increasing periods with gaps, some values missing (None or NaN)."""
    xs: list[float | None] = list(draw(values))
    periods = with_periods(draw, xs)
    for i in draw(st.lists(st.integers(0, len(xs) - 1), max_size=3)):
        xs[i] = draw(st.sampled_from([None, math.nan]))
    return periods, xs


def oracle(periods: list[int], xs: list[float | None]) -> tuple[np.ndarray, np.ndarray]:
    """The observed (t, x), as our function sees them."""
    kept = [(p, x) for p, x in zip(periods, xs, strict=True) if x is not None and x == x]
    return np.array([p for p, _ in kept], dtype=float), np.array([x for _, x in kept])


def assert_agrees(got: MannKendallResult, t: np.ndarray, x: np.ndarray, alpha: float) -> None:
    import pymannkendall  # with scipy >1 s: imported by the tests that use it, not collection

    assert got.n == len(x)
    ref = pymannkendall.original_test(x, alpha=alpha)
    assert got.trend == ref.trend
    assert got.s == int(ref.s)
    assert got.var_s == float(ref.var_s)
    assert got.z == float(ref.z)
    assert got.tau == float(ref.Tau)
    assert got.p_value == pytest.approx(float(ref.p), abs=1e-12, rel=0)
    i, j = np.triu_indices(len(x), k=1)
    slope = float(np.median((x[j] - x[i]) / (t[j] - t[i])))
    assert got.sen_slope == slope
    assert got.sen_intercept == float(np.median(x) - np.median(t - t[0]) * slope)
    if np.all(np.diff(t) == 1):  # consecutive periods: pymannkendall's own Sen slope
        sen = pymannkendall.sens_slope(x)
        assert (got.sen_slope, got.sen_intercept) == (sen.slope, sen.intercept)


@SETTINGS
@given(series(), st.sampled_from([0.01, 0.05, 0.1]))
def test_agrees_with_pymannkendall(data: tuple[list[int], list], alpha: float) -> None:
    periods, xs = data
    t, x = oracle(periods, xs)
    got = mann_kendall(xs, periods, alpha=alpha, min_points=2)
    if len(x) < 2:
        assert got.trend == "insufficient data"
        assert got.n == len(x)
        return
    assert_agrees(got, t, x, alpha)


@SETTINGS
@given(st.lists(series(), min_size=1, max_size=25), st.integers(2, 8))
def test_many_series_at_once_equal_one_at_a_time(batch: list, min_points: int) -> None:
    together = mann_kendall_many(batch, alpha=0.05, min_points=min_points)
    alone = [mann_kendall(xs, periods, min_points=min_points) for periods, xs in batch]
    assert [repr(r) for r in together] == [repr(r) for r in alone]


def test_short_and_constant_series() -> None:
    for n in (2, 3, 4):
        x = list(range(n))
        assert_agrees(
            mann_kendall(x, min_points=2), np.arange(n, dtype=float), np.array(x, float), 0.05
        )
        assert mann_kendall(x).trend == "insufficient data"  # default min_points = 5
    constant = mann_kendall([7.0] * 6)
    assert (constant.s, constant.z, constant.p_value, constant.trend) == (0, 0.0, 1.0, "no trend")
    assert constant.var_s == 0.0  # all six tied: n(n-1)(2n+5) - t(t-1)(2t+5) = 0
    assert_agrees(constant, np.arange(6.0), np.full(6, 7.0), 0.05)


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1])
def test_critical_value_gives_scipys_decision_for_every_attainable_z(alpha: float) -> None:
    """Our z_{1-alpha/2} (statistics.NormalDist) may differ from scipy's in the last bit; no
    Z a series of up to 60 points can produce (with or without ties) falls in between."""
    import scipy.stats

    critical = _normal_quantile(1 - alpha / 2)
    reference = float(scipy.stats.norm.ppf(1 - alpha / 2))
    assert critical == pytest.approx(reference, abs=1e-14, rel=0)
    for n in range(2, 61):
        full = n * (n - 1) * (2 * n + 5)
        max_s = n * (n - 1) // 2
        for tie_sum in (0, 18, 36, 66, 84, 132, 156):  # ties of two, three, four, ...
            if tie_sum >= full:
                continue
            root = math.sqrt((full - tie_sum) / 18)
            for s in range(2, max_s + 1):
                z = (s - 1) / root
                assert (z > critical) == (z > reference), (n, tie_sum, s)
