"""Unit tests for pipelines.trend_stats: hand-computed values and boundary cases."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest

from pipelines.trend_stats import (
    CagrWindow,
    MannKendallResult,
    PeriodChange,
    cagr,
    cagr_window,
    classify_sdg,
    detect_suspected_breaks,
    judge_direction,
    mann_kendall,
    moving_average,
    previous_period_change,
    segments,
    wastewater_change,
)

YEARS = list(range(2008, 2023))

# Eurostat crim_off_cat, line "A,ICCS0601,NR,AT" (drug offences, number, Austria), 2008-2022,
# copied from ../shared/upstream/eurostat/estat_crim_off_cat.tsv; checked against the file
# in test_austria_values_match_the_real_file.
AT_DRUG_OFFENCES = [
    1980.0,
    2099.0,
    2167.0,
    2320.0,
    1990.0,
    27231.0,
    29164.0,
    33080.0,
    36235.0,
    42699.0,
    41177.0,
    43767.0,
    40785.0,
    35461.0,
    35232.0,
]


def _two_sided_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2.0))


def _mk_by_hand(x: list[float]) -> tuple[int, float, float]:
    """S, tie-corrected var(S) and Z following Gilbert (1987), eqs. 16.3-16.5."""
    n = len(x)
    s = 0
    for i in range(n - 1):
        for j in range(i + 1, n):
            s += (x[j] > x[i]) - (x[j] < x[i])
    ties = [x.count(v) for v in set(x)]
    var = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in ties)) / 18
    z = (s - 1) / math.sqrt(var) if s > 0 else (s + 1) / math.sqrt(var) if s < 0 else 0.0
    return s, var, z


# ------------------------------------------------------------------ 1. previous change


def test_previous_period_change_consecutive_gap_missing_and_zero() -> None:
    periods = [2015, 2016, 2017, 2019, 2020, 2021]
    values = [200.0, 250.0, None, 0.0, 5.0, 4.0]
    got = previous_period_change(periods, values)
    assert got[0] == PeriodChange(2015, None, None, None, None)
    assert got[1] == PeriodChange(2016, 2015, 1, 50.0, 25.0)
    assert got[2] == PeriodChange(2017, None, None, None, None)  # own value missing
    # 2019 is compared with 2016 (the last observation before the gap), 3 years back
    assert got[3] == PeriodChange(2019, 2016, 3, -250.0, -100.0)
    # previous value 0 -> no percentage
    assert got[4] == PeriodChange(2020, 2019, 1, 5.0, None)
    assert got[5].abs_change == pytest.approx(-1.0)
    assert got[5].pct_change == pytest.approx(-20.0)


def test_previous_period_change_negative_baseline_keeps_sign_and_nan_is_missing() -> None:
    got = previous_period_change([1, 2, 3], [-4.0, -2.0, float("nan")])
    assert got[1].abs_change == 2.0
    assert got[1].pct_change == 50.0  # (-2 - -4) / |-4| * 100: an increase stays positive
    assert got[2] == PeriodChange(3, None, None, None, None)


def test_previous_period_change_rejects_bad_periods() -> None:
    with pytest.raises(ValueError):
        previous_period_change([2020, 2020], [1.0, 2.0])
    with pytest.raises(ValueError):
        previous_period_change([2020, 2021], [1.0])


# ------------------------------------------------------------------ 2. moving average


def test_moving_average_trailing_three() -> None:
    values = [1.0, 2.0, 3.0, 4.0, None, 6.0, 7.0, 8.0, 10.0]
    assert moving_average(values) == [None, None, 2.0, 3.0, None, None, None, 7.0, 25.0 / 3]


def test_moving_average_other_windows() -> None:
    assert moving_average([5.0, 7.0], window=1) == [5.0, 7.0]
    assert moving_average(np.array([1.0, 2.0]), window=3) == [None, None]
    assert moving_average([], window=3) == []
    with pytest.raises(ValueError):
        moving_average([1.0], window=0)


# --------------------------------------------------------------------------- 3. CAGR


def test_cagr_hand_checked_example() -> None:
    # ((82.5 / 100) ** (1/5) - 1) * 100 = -3.77436...% a year (2017 -> 2022)
    expected = (math.exp(math.log(0.825) / 5) - 1) * 100
    assert cagr(100.0, 82.5, 5) == pytest.approx(expected, rel=1e-12)
    assert cagr(100.0, 82.5, 5) == pytest.approx(-3.774364, abs=1e-6)


def test_cagr_simple_and_edge_cases() -> None:
    assert cagr(100.0, 200.0, 1) == pytest.approx(100.0)
    assert cagr(100.0, 400.0, 2) == pytest.approx(100.0)
    assert cagr(50.0, 50.0, 5) == 0.0
    assert cagr(100.0, 0.0, 3) == -100.0
    assert cagr(0.0, 10.0, 5) is None
    assert cagr(-1.0, 10.0, 5) is None
    assert cagr(10.0, -1.0, 5) is None
    assert cagr(10.0, 20.0, 0) is None
    assert cagr(10.0, 20.0, -2) is None
    assert cagr(None, 20.0, 5) is None
    assert cagr(10.0, None, 5) is None


def test_cagr_window_short_term_full_data() -> None:
    values = [float(100 + i) for i in range(len(YEARS))]  # 2008 -> 100 ... 2022 -> 114
    got = cagr_window(YEARS, values, window_years=5, min_span_years=3)
    assert got == CagrWindow(2017, 2022, cagr(109.0, 114.0, 5))


def test_cagr_window_missing_start_year_moves_forward() -> None:
    values: list[float | None] = [float(100 + i) for i in range(len(YEARS))]
    values[YEARS.index(2017)] = None
    got = cagr_window(YEARS, values)
    assert got.start_period == 2018  # earliest available year >= t-5
    assert got.cagr == pytest.approx(cagr(110.0, 114.0, 4))
    # 2017-2019 missing: earliest start 2020, span 2 < 3 -> no CAGR
    values[YEARS.index(2018)] = None
    values[YEARS.index(2019)] = None
    assert cagr_window(YEARS, values) == CagrWindow(None, 2022, None)
    # span of exactly min_span_years is enough
    assert cagr_window(YEARS, values, min_span_years=2).start_period == 2020


def test_cagr_window_end_is_latest_available_and_end_period() -> None:
    values: list[float | None] = [float(100 + i) for i in range(len(YEARS))]
    values[-1] = None  # 2022 missing -> t = 2021
    got = cagr_window(YEARS, values)
    assert (got.start_period, got.end_period) == (2016, 2021)
    got = cagr_window(YEARS, values, end_period=2019)
    assert (got.start_period, got.end_period) == (2014, 2019)
    assert got.cagr == pytest.approx(cagr(106.0, 111.0, 5))


def test_cagr_window_long_term() -> None:
    values = [float(100 + i) for i in range(len(YEARS))]
    # t-15 = 2007 is not in the series: start 2008, span 14 >= 10
    got = cagr_window(YEARS, values, window_years=15, min_span_years=10)
    assert got == CagrWindow(2008, 2022, cagr(100.0, 114.0, 14))
    # only 2013-2022: span 9 < 10
    short = cagr_window(YEARS[5:], values[5:], window_years=15, min_span_years=10)
    assert short == CagrWindow(None, 2022, None)


def test_cagr_window_non_positive_start_and_empty() -> None:
    values = [float(100 + i) for i in range(len(YEARS))]
    values[YEARS.index(2017)] = 0.0
    assert cagr_window(YEARS, values) == CagrWindow(2017, 2022, None)
    assert cagr_window(YEARS, [None] * len(YEARS)) == CagrWindow(None, None, None)
    assert cagr_window([], []) == CagrWindow(None, None, None)
    with pytest.raises(ValueError):
        cagr_window(YEARS, values, window_years=3, min_span_years=5)


# ----------------------------------------------------------- 4. SDG classification


@pytest.mark.parametrize(
    ("growth", "expected"),
    [
        (5.0, "significant progress"),
        (1.0000001, "significant progress"),
        (1.0, "moderate progress"),  # ">1%" is strict: exactly 1 % is moderate
        (1.0000000000000009, "moderate progress"),  # float noise on the boundary
        (0.5, "moderate progress"),
        (0.0, "moderate progress"),  # exactly 0 is not movement away
        (-1e-12, "moderate progress"),  # within the 1e-9 boundary tolerance of 0
        (-0.0001, "moderate movement away"),
        (-1.0, "moderate movement away"),  # "<-1%" is strict
        (-1.0000000000000009, "moderate movement away"),
        (-1.0000001, "significant movement away"),
        (-7.0, "significant movement away"),
    ],
)
def test_classify_sdg_boundaries(growth: float, expected: str) -> None:
    # polarity "up": the CAGR itself is the growth in the desired direction
    assert classify_sdg(growth, "up") == expected
    # polarity "down": a fall of the same size is the same judgement
    assert classify_sdg(-growth, "down", {"significant": 1.0, "moderate": 0.0}) == expected


def test_classify_sdg_from_real_cagr_values() -> None:
    # 100 -> 82.5 over 5 years = -3.77 %/yr: good for a "down" indicator, bad for "up"
    g = cagr(100.0, 82.5, 5)
    assert classify_sdg(g, "down") == "significant progress"
    assert classify_sdg(g, "up") == "significant movement away"
    # exactly 1 %/yr built by compounding lands on the boundary -> moderate
    assert classify_sdg(cagr(100.0, 100.0 * 1.01**5, 5), "up") == "moderate progress"


def test_classify_sdg_not_assessed_insufficient_and_errors() -> None:
    assert classify_sdg(3.0, "context") == "not assessed"
    assert classify_sdg(None, "context") == "not assessed"
    assert classify_sdg(3.0, None) == "not assessed"
    assert classify_sdg(None, "up") == "insufficient data"
    assert classify_sdg(float("nan"), "down") == "insufficient data"
    with pytest.raises(ValueError):
        classify_sdg(1.0, "higher")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        classify_sdg(1.0, "up", {"significant": 0.0, "moderate": 1.0})


def test_classify_sdg_custom_thresholds() -> None:
    th = {"significant": 2.0, "moderate": 0.5, "significant_away": -3.0}
    assert classify_sdg(2.5, "up", th) == "significant progress"
    assert classify_sdg(0.5, "up", th) == "moderate progress"
    assert classify_sdg(0.4, "up", th) == "moderate movement away"
    assert classify_sdg(-3.0, "up", th) == "moderate movement away"
    assert classify_sdg(-3.1, "up", th) == "significant movement away"


# ------------------------------------------------------------------ 5. Mann-Kendall


def test_mann_kendall_published_worked_example() -> None:
    # D. B. Little, "A Mann-Kendall Example ('By Hand')", College of the Holy Cross,
    # https://mathcs.holycross.edu/~little/Montserrat/MannKendallByHand.txt
    # Published: 91 pairs, 72 "+1", 18 "-1", 1 tie -> S = 54;
    # V = (14)(13)(33)/18 - (2)(1)(9)/18 = 332.667; Z = (S - 1)/sqrt(V) = 2.9058;
    # p = .0018 (one-sided, standard normal table).  pymannkendall reports the two-sided
    # p-value, i.e. twice the published one.
    x = [12.9, 14.8, 13.2, 15.7, 13.8, 15.6, 12.9, 11.0, 17.3, 15.9, 19.0, 18.3, 20.1, 21.7]
    got = mann_kendall(x)
    assert got.n == 14
    assert got.s == 54
    assert got.var_s == pytest.approx(14 * 13 * 33 / 18 - 2 * 1 * 9 / 18)
    assert got.var_s == pytest.approx(332.667, abs=1e-3)
    assert got.z == pytest.approx(2.9058, abs=1e-4)
    assert got.p_value / 2 == pytest.approx(0.0018, abs=5e-5)
    assert got.p_value == pytest.approx(_two_sided_p(2.905836846), rel=1e-6)
    assert got.tau == pytest.approx(54 / 91)
    assert got.trend == "increasing"
    assert (got.s, got.var_s, got.z) == pytest.approx(_mk_by_hand(x))


def test_mann_kendall_small_series_by_hand() -> None:
    # x = 1, 3, 2, 5, 4: 8 concordant, 2 discordant pairs -> S = 6
    # var(S) = 5*4*15/18 = 16.667; Z = (6-1)/sqrt(16.667) = 1.2247; p = 0.2207
    # pairwise slopes (x_j - x_i)/(j - i), sorted: -1, -1, 1/3, 1/2, 3/4, 1, 1, 4/3, 2, 3
    # -> Sen slope = (3/4 + 1)/2 = 0.875; intercept = median(x) - median(t)*slope = 3 - 2*0.875
    got = mann_kendall([1.0, 3.0, 2.0, 5.0, 4.0])
    assert got.s == 6
    assert got.var_s == pytest.approx(50 / 3)
    assert got.z == pytest.approx(5 / math.sqrt(50 / 3))
    assert got.z == pytest.approx(1.2247, abs=1e-4)
    assert got.p_value == pytest.approx(0.2207, abs=1e-4)
    assert got.tau == pytest.approx(0.6)
    assert got.trend == "no trend"
    assert got.sen_slope == pytest.approx(0.875)
    assert got.sen_intercept == pytest.approx(1.25)


def test_mann_kendall_tie_correction_by_hand() -> None:
    # values 1, 2, 2, 3, 3, 3, 4 (ties of size 2 and 3):
    # var(S) = (7*6*19 - 2*1*9 - 3*2*11)/18 = (798 - 18 - 66)/18 = 39.667
    # S: every pair increases except the 1 + 3 = 4 tied pairs -> 21 - 4 = 17
    x = [1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0]
    got = mann_kendall(x)
    assert got.s == 17
    assert got.var_s == pytest.approx(714 / 18)
    assert got.z == pytest.approx(16 / math.sqrt(714 / 18))
    assert got.p_value == pytest.approx(_two_sided_p(16 / math.sqrt(714 / 18)))
    assert got.trend == "increasing"


def test_mann_kendall_agrees_with_hand_computation_and_scipy_on_random_series() -> None:
    import pymannkendall  # with scipy >1 s: imported by the test that uses it, not collection
    import scipy.stats

    rng = random.Random(20240601)
    for _ in range(20):
        n = rng.randint(5, 25)
        x = [round(rng.gauss(0, 1) + 0.05 * i, 6) for i in range(n)]
        got = mann_kendall(x)
        s, var, z = _mk_by_hand(x)
        assert got.s == s
        assert got.var_s == pytest.approx(var)
        assert got.z == pytest.approx(z)
        assert got.p_value == pytest.approx(_two_sided_p(z))
        if len(set(x)) == n:  # no ties: Kendall's tau-b (scipy) equals tau-a
            assert got.tau == pytest.approx(scipy.stats.kendalltau(range(n), x).statistic)
        slopes = [(x[j] - x[i]) / (j - i) for i in range(n) for j in range(i + 1, n)]
        assert got.sen_slope == pytest.approx(float(np.median(slopes)))
        ref = pymannkendall.sens_slope(x)
        assert got.sen_slope == pytest.approx(ref.slope)
        assert got.sen_intercept == pytest.approx(ref.intercept)


def test_mann_kendall_slope_per_year_with_gaps() -> None:
    # survey years 2010, 2012, 2013; slopes 4/2 = 2, 5/3, 1/1 -> median 5/3 per year
    # intercept at the first year: median(x) - median(0, 2, 3) * slope = 5 - 2 * 5/3
    got = mann_kendall([1.0, 5.0, 6.0], periods=[2010, 2012, 2013], min_points=3)
    assert got.sen_slope == pytest.approx(5 / 3)
    assert got.sen_intercept == pytest.approx(5 - 10 / 3)
    assert got.s == 3


def test_mann_kendall_minimum_points_and_missing_values() -> None:
    # 4 points: insufficient by default (n = 4 could never be significant at 0.05)
    got = mann_kendall([1.0, 2.0, 3.0, 4.0])
    assert got == MannKendallResult(
        "insufficient data", None, None, None, None, None, None, None, 4
    )
    # a perfectly monotonic series of 5 is significant: S=10, Z=9/sqrt(50/3)=2.2045, p=0.0275
    five = mann_kendall([5.0, 4.0, 3.0, 2.0, 1.0])
    assert five.trend == "decreasing"
    assert five.s == -10
    assert five.z == pytest.approx(-9 / math.sqrt(50 / 3))
    assert five.p_value == pytest.approx(0.0275, abs=1e-4)
    # missing values are dropped and not counted
    got = mann_kendall([1.0, None, 2.0, float("nan"), 3.0, 4.0], min_points=5)
    assert (got.trend, got.n) == ("insufficient data", 4)
    got = mann_kendall([1.0, None, 2.0, 3.0, 4.0, 5.0], periods=list(range(2010, 2016)))
    assert got.n == 5
    # slopes use the real years: (2-1)/2, (3-1)/3, (4-1)/4, (5-1)/5 and six slopes of 1
    assert got.sen_slope == pytest.approx(1.0)
    with pytest.raises(ValueError):
        mann_kendall([1.0, 2.0], min_points=1)


def test_mann_kendall_constant_series_and_alpha() -> None:
    flat = mann_kendall([3.0] * 6)
    assert (flat.trend, flat.s, flat.z, flat.p_value) == ("no trend", 0, 0.0, 1.0)
    x = [1.0, 3.0, 2.0, 5.0, 4.0, 6.0]  # S = 11, Z = 10/sqrt(6*5*17/18) = 1.8786, p = 0.0603
    assert mann_kendall(x).trend == "no trend"
    assert mann_kendall(x, alpha=0.10).trend == "increasing"


# ------------------------------------------------------------ 6. direction judgement


@pytest.mark.parametrize(
    ("trend", "polarity", "expected"),
    [
        ("increasing", "up", "improving"),
        ("decreasing", "up", "worsening"),
        ("increasing", "down", "worsening"),
        ("decreasing", "down", "improving"),
        ("no trend", "down", "stable"),
        ("insufficient data", "up", "insufficient data"),
        ("increasing", "context", "not assessed"),
        ("insufficient data", None, "not assessed"),
    ],
)
def test_judge_direction(trend: str, polarity: str | None, expected: str) -> None:
    assert judge_direction(trend, polarity) == expected  # type: ignore[arg-type]


def test_judge_direction_errors() -> None:
    with pytest.raises(ValueError):
        judge_direction("up", "up")
    with pytest.raises(ValueError):
        judge_direction("increasing", "better")  # type: ignore[arg-type]


# ------------------------------------------------------------ 7. suspected breaks


def test_breaks_flag_austria_drug_offences_2013() -> None:
    got = detect_suspected_breaks(YEARS, AT_DRUG_OFFENCES)
    assert len(got) == 1
    brk = got[0]
    assert (brk.period, brk.previous_period, brk.kind) == (2013, 2012, "level_shift")
    assert brk.ratio == pytest.approx(27231 / 1990)
    assert "1990 (2012) -> 27231 (2013)" in brk.reason
    # also with the count-noise guard (these are counts)
    assert [b.period for b in detect_suspected_breaks(YEARS, AT_DRUG_OFFENCES, counts=True)] == [
        2013
    ]


def test_breaks_not_flagged_in_noisy_series_without_break() -> None:
    rng = random.Random(7)
    for _ in range(500):
        level = rng.uniform(1.0, 100000.0)
        values = [level * rng.uniform(0.8, 1.2) for _ in YEARS]  # +/-20 % noise
        assert detect_suspected_breaks(YEARS, values) == []
    for _ in range(500):
        # +/-50 % noise: consecutive ratios up to 3, still no break
        level = rng.uniform(10.0, 1000.0)
        values = [level * rng.uniform(0.5, 1.5) for _ in YEARS]
        assert detect_suspected_breaks(YEARS, values) == []


def test_breaks_synthetic_break_in_noisy_series() -> None:
    rng = random.Random(11)
    values = [1000 * rng.uniform(0.8, 1.2) for _ in range(7)]
    values += [5000 * rng.uniform(0.8, 1.2) for _ in range(8)]
    got = detect_suspected_breaks(YEARS, values)
    assert [(b.period, b.kind) for b in got] == [(2015, "level_shift")]


def test_breaks_spike_is_reported_once() -> None:
    # Norway homicides 2008-2022 (crim_off_cat ICCS0101 NR NO): 2011 = Utoya, not a break
    values = [34, 29, 29, 111, 27, 47, 29, 24, 27, 28, 25, 28, 31, 29, 30]
    got = detect_suspected_breaks(YEARS, [float(v) for v in values])
    assert [(b.period, b.previous_period, b.kind) for b in got] == [(2011, 2010, "spike")]
    assert "returns to 27 in 2012" in got[0].reason


def test_breaks_across_a_gap_and_with_zeros() -> None:
    values: list[float | None] = [100.0, 105.0, 98.0, 102.0, None, None, 1000.0]
    values += [1040.0, 990.0, 1010.0]
    periods = list(range(2010, 2020))
    got = detect_suspected_breaks(periods, values)
    assert [(b.period, b.previous_period) for b in got] == [(2016, 2013)]
    assert "gap of 3 years" in got[0].reason
    # pairs involving 0 are skipped (0 -> 50 is not a measurable ratio)
    zeros = [0.0, 50.0, 52.0, 49.0, 0.0, 51.0, 50.0, 48.0]
    assert detect_suspected_breaks(list(range(8)), zeros) == []


def test_breaks_boundary_and_short_series_fallback() -> None:
    # exactly a factor 3 is not "more than a factor 3"
    flat = [10.0, 10.0, 10.0, 10.0, 10.0, 30.0, 30.0, 30.0]
    assert detect_suspected_breaks(list(range(8)), flat) == []
    just_over = [10.0, 10.0, 10.0, 10.0, 10.0, 31.0, 31.0, 31.0]
    assert [b.period for b in detect_suspected_breaks(list(range(8)), just_over)] == [5]
    # only 3 ratios in total (2 others): factor 5 is not enough, factor 12 is
    assert detect_suspected_breaks([1, 2, 3, 4], [10.0, 11.0, 55.0, 56.0]) == []
    got = detect_suspected_breaks([1, 2, 3, 4], [10.0, 11.0, 132.0, 130.0])
    assert [b.period for b in got] == [3]
    assert "robust scale not used" in got[0].reason


def test_breaks_count_guard_ignores_small_count_noise() -> None:
    periods = list(range(2014, 2023))
    small = [1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0, 6.0, 5.0]
    assert [b.period for b in detect_suspected_breaks(periods, small)] == [2021]
    assert detect_suspected_breaks(periods, small, counts=True) == []


def test_breaks_parameter_validation() -> None:
    with pytest.raises(ValueError):
        detect_suspected_breaks([1, 2], [1.0, 2.0], min_factor=1.0)
    with pytest.raises(ValueError):
        detect_suspected_breaks([2, 1], [1.0, 2.0])


def _read_crim_off_cat(path: Path) -> tuple[list[int], dict[str, list[float | None]]]:
    with path.open(encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        years = [int(h.strip()) for h in header[1:]]
        series: dict[str, list[float | None]] = {}
        for line in fh:
            key, *cells = line.rstrip("\n").split("\t")
            series[key] = [
                None if c.strip().startswith(":") else float(c.split()[0]) for c in cells
            ]
    return years, series


@pytest.mark.conformance
def test_austria_values_match_the_real_file(upstream_dir: Path) -> None:
    years, series = _read_crim_off_cat(upstream_dir / "eurostat" / "estat_crim_off_cat.tsv")
    assert years == YEARS
    assert series["A,ICCS0601,NR,AT"] == AT_DRUG_OFFENCES


@pytest.mark.conformance
def test_breaks_on_the_whole_crim_off_cat_file(upstream_dir: Path) -> None:
    years, series = _read_crim_off_cat(upstream_dir / "eurostat" / "estat_crim_off_cat.tsv")
    assert len(series) == 1558
    flags = {key: detect_suspected_breaks(years, values) for key, values in series.items()}
    found = {(key, b.period, b.kind) for key, got in flags.items() for b in got}
    # the breaks known from the publisher's own series
    for expected in [
        ("A,ICCS0601,NR,AT", 2013, "level_shift"),  # 1,990 -> 27,231
        ("A,ICCS0601,NR,FR", 2016, "level_shift"),  # 7,483 -> 241,887
        ("A,ICCS0601,NR,BE", 2014, "level_shift"),  # 11,419 -> 55,132
        ("A,ICCS020111,NR,IT", 2014, "level_shift"),  # 66,317 -> 973
        ("A,ICCS020111,NR,NL", 2010, "level_shift"),  # 65,690 -> 6,605
        ("A,ICCS0101,NR,NO", 2011, "spike"),  # 111 homicides in 2011 (Utoya)
    ]:
        assert expected in found
    # every flag is a jump by more than the default factor 3
    ratios = [b.ratio for got in flags.values() for b in got]
    assert ratios and all(r > 3 or r < 1 / 3 for r in ratios)
    # the count guard only removes flags (small-count noise such as 1 -> 6), never adds one
    counted = {
        (key, b.period)
        for key, values in series.items()
        if ",NR," in key
        for b in detect_suspected_breaks(years, values, counts=True)
    }
    assert counted <= {(key, period) for key, period, _ in found}
    assert ("A,ICCS07031,NR,MT", 2021) not in counted
    assert ("A,ICCS0601,NR,AT", 2013) in counted


@pytest.mark.conformance
def test_breaks_planted_in_the_stable_real_series_are_all_found(upstream_dir: Path) -> None:
    """In every real series with no flag and no year-to-year change of a factor 2 or more,
    a level shift (x20 from 2016) and a spike (20 times its neighbours in 2015) are each
    found, at the planted year, as the only break."""
    years, series = _read_crim_off_cat(upstream_dir / "eurostat" / "estat_crim_off_cat.tsv")
    full = {
        key: [v for v in values if v is not None and v > 0]
        for key, values in series.items()
        if not detect_suspected_breaks(years, values)
    }
    stable = {
        key: v
        for key, v in full.items()
        if len(v) == len(years)
        and max(max(a / b, b / a) for a, b in zip(v, v[1:], strict=False)) < 2
    }
    assert len(stable) > 100  # the property is tested on many real series
    shift_at, spike_at = years.index(2016), years.index(2015)
    missed = []
    for key, v in stable.items():
        shifted = v[:shift_at] + [x * 20 for x in v[shift_at:]]
        got = [(b.period, b.kind) for b in detect_suspected_breaks(years, shifted)]
        if got != [(2016, "level_shift")]:
            missed.append((key, "shift", got))
        spiked = [*v[:spike_at], 20 * max(v[spike_at - 1], v[spike_at + 1]), *v[spike_at + 1 :]]
        got = [(b.period, b.kind) for b in detect_suspected_breaks(years, spiked)]
        if got != [(2015, "spike")]:
            missed.append((key, "spike", got))
    assert missed == []


# ------------------------------------------------------------------- 8. segments


def test_segments() -> None:
    periods = list(range(2008, 2016))
    assert segments(periods, set()) == [1] * 8
    assert segments(periods, {2013}) == [1, 1, 1, 1, 1, 2, 2, 2]
    assert segments(periods, {2010, 2013}) == [1, 1, 2, 2, 2, 3, 3, 3]
    # breaks at/before the first period or after the last change nothing
    assert segments(periods, {2008, 2000, 2030}) == [1] * 8
    # a break year inside a gap still splits the series
    assert segments([2008, 2010, 2014, 2015], {2012}) == [1, 1, 2, 2]
    # two breaks inside the same gap count once
    assert segments([2008, 2014], {2010, 2012}) == [1, 2]
    assert segments([], {2010}) == []
    with pytest.raises(ValueError):
        segments([2010, 2009], set())


# ------------------------------------------------------------------ 9. wastewater


@pytest.mark.parametrize(
    ("previous", "current", "expected_pct", "expected_class"),
    [
        (100.0, 110.0, 10.0, "stable"),  # boundary included
        (100.0, 90.0, -10.0, "stable"),
        (3.3, 3.63, 10.0, "stable"),  # float gives 10.000000000000004, still stable
        (100.0, 110.01, 10.01, "increase"),
        (100.0, 89.99, -10.01, "decrease"),
        (200.0, 300.0, 50.0, "increase"),
        (5.0, 0.0, -100.0, "decrease"),  # fell below LOQ
        (None, 50.0, None, "no previous data"),
        (0.0, 0.0, None, "stable"),  # both below LOQ
        (0.0, 12.0, None, "increase"),  # rose above LOQ
    ],
)
def test_wastewater_change(
    previous: float | None, current: float, expected_pct: float | None, expected_class: str
) -> None:
    pct, cls = wastewater_change(previous, current)
    assert cls == expected_class
    if expected_pct is None:
        assert pct is None
    else:
        assert pct == pytest.approx(expected_pct)


def test_wastewater_change_band_and_errors() -> None:
    assert wastewater_change(100.0, 104.0, stable_band_pct=5.0) == (pytest.approx(4.0), "stable")
    assert wastewater_change(100.0, 106.0, stable_band_pct=5.0)[1] == "increase"
    with pytest.raises(ValueError):
        wastewater_change(100.0, None)
    with pytest.raises(ValueError):
        wastewater_change(-1.0, 5.0)
    with pytest.raises(ValueError):
        wastewater_change(1.0, -5.0)
