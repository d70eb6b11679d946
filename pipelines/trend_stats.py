"""Pure trend statistics for the indicator series (no I/O, no DuckDB, no Dagster).

Every function takes plain Python sequences (lists, tuples or 1-D numpy arrays) and returns
Python floats / ints / strings, with ``None`` wherever a number cannot be computed.  A value
of ``None`` (or NaN) in an input series means "no observation for that period".  Periods
are integers (years, or campaign years for wastewater) and must be strictly increasing.

Conventions (the project's trend conventions; the method and thresholds in use come from
assets/reference/trend_method.yaml):

* Polarity is ``"up"`` (higher is better), ``"down"`` (lower is better) or ``"context"`` /
  ``None`` (no judgement).  Anything else is a ``ValueError``.
* Threshold comparisons use a tolerance of ``BOUNDARY_TOLERANCE`` (1e-9, in the unit of the
  compared quantity) so that a value that is a boundary "on paper" but carries binary
  floating-point noise (e.g. ``(3.63 - 3.3) / 3.3 * 100 == 10.000000000000009``) lands on the
  side the documented rule gives the exact boundary.
* A break in series must not be bridged: every function that looks at more than one
  period expects the caller to pass ONE segment (see :func:`segments`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

__all__ = [
    "BOUNDARY_TOLERANCE",
    "CagrWindow",
    "MannKendallResult",
    "PeriodChange",
    "SuspectedBreak",
    "cagr",
    "cagr_window",
    "classify_sdg",
    "detect_suspected_breaks",
    "judge_direction",
    "mann_kendall",
    "moving_average",
    "previous_period_change",
    "segments",
    "wastewater_change",
]

BOUNDARY_TOLERANCE = 1e-9

Polarity = Literal["up", "down", "context"] | None

SDG_DEFAULT_THRESHOLDS: dict[str, float] = {"significant": 1.0, "moderate": 0.0}
"""Eurostat SDG thresholds for indicators without a quantified target (% per year).

The pipeline should read them from configuration (next to the method name and edition);
this constant only documents the published values and serves as the default."""


# --------------------------------------------------------------------------- helpers


def _clean(value: float | None) -> float | None:
    """``None`` / NaN -> ``None``; anything else -> Python float."""
    if value is None:
        return None
    out = float(value)
    return None if math.isnan(out) else out


def _check_periods(periods: Sequence[int], values: Sequence[float | None] | None = None) -> None:
    if values is not None and len(periods) != len(values):
        raise ValueError(f"periods ({len(periods)}) and values ({len(values)}) differ in length")
    for earlier, later in zip(periods, periods[1:], strict=False):
        if not later > earlier:
            raise ValueError(f"periods must be strictly increasing: {earlier} then {later}")


def _observations(
    periods: Sequence[int], values: Sequence[float | None]
) -> list[tuple[int, float]]:
    """The (period, value) pairs that carry a value, in period order."""
    _check_periods(periods, values)
    out: list[tuple[int, float]] = []
    for period, value in zip(periods, values, strict=True):
        clean = _clean(value)
        if clean is not None:
            out.append((int(period), clean))
    return out


def _check_polarity(polarity: Polarity) -> None:
    if polarity not in ("up", "down", "context", None):
        raise ValueError(f"polarity must be 'up', 'down', 'context' or None, not {polarity!r}")


def _directional(growth: float, polarity: Literal["up", "down"]) -> float:
    """Growth expressed so that positive always means 'in the desired direction'."""
    return growth if polarity == "up" else -growth


# ------------------------------------------------------------- 1. change vs previous


class PeriodChange(NamedTuple):
    """Change of one observation against the immediately preceding observation."""

    period: int
    previous_period: int | None  # None: no earlier observation (or this value is missing)
    gap_years: int | None  # period - previous_period (1 = consecutive years)
    abs_change: float | None
    pct_change: float | None  # None when the previous value is 0


def previous_period_change(
    periods: Sequence[int], values: Sequence[float | None]
) -> list[PeriodChange]:
    """Absolute and % change of each value against the previous *available* observation.

    One row per input period, in input order.  Missing values (``None``) are skipped when
    looking back, so after a gap the change is measured against the last observation before
    the gap and ``gap_years`` tells how far back that is (a caller that wants strict
    year-on-year keeps only ``gap_years == 1``).  A period whose own value is missing gets
    all-``None`` fields.

    ``pct_change = (v_t - v_prev) / |v_prev| * 100``; ``None`` when ``v_prev == 0``.  The
    absolute value in the denominator keeps the sign of the change for negative baselines.
    """
    _check_periods(periods, values)
    out: list[PeriodChange] = []
    previous: tuple[int, float] | None = None
    for period, raw in zip(periods, values, strict=True):
        value = _clean(raw)
        if value is None:
            out.append(PeriodChange(int(period), None, None, None, None))
            continue
        if previous is None:
            out.append(PeriodChange(int(period), None, None, None, None))
        else:
            prev_period, prev_value = previous
            abs_change = value - prev_value
            pct = None if prev_value == 0 else abs_change / abs(prev_value) * 100.0
            out.append(
                PeriodChange(int(period), prev_period, int(period) - prev_period, abs_change, pct)
            )
        previous = (int(period), value)
    return out


# ---------------------------------------------------------------- 2. moving average


def moving_average(values: Sequence[float | None], window: int = 3) -> list[float | None]:
    """Trailing moving average over ``window`` consecutive positions.

    Position ``i`` gets ``mean(values[i-window+1 .. i])``; it is ``None`` for the first
    ``window - 1`` positions and whenever any value in the window is missing.  The function
    works on positions, not years: pass a gap-free yearly series (``None`` for a missing
    year) so that a window never silently spans a gap.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, not {window}")
    clean = [_clean(v) for v in values]
    out: list[float | None] = []
    for i in range(len(clean)):
        chunk = clean[i - window + 1 : i + 1] if i >= window - 1 else []
        if len(chunk) == window and all(v is not None for v in chunk):
            out.append(math.fsum(chunk) / window)  # type: ignore[arg-type]
        else:
            out.append(None)
    return out


# ----------------------------------------------------------------------- 3. CAGR


def cagr(v0: float | None, v1: float | None, years: float | None) -> float | None:
    """Compound annual growth rate in % a year: ``((v1 / v0) ** (1 / years) - 1) * 100``.

    ``None`` when any input is missing, ``v0 <= 0``, ``v1 < 0`` or ``years <= 0``.
    ``v1 == 0`` gives -100.0.
    """
    v0, v1, years = _clean(v0), _clean(v1), _clean(years)
    if v0 is None or v1 is None or years is None:
        return None
    if v0 <= 0 or v1 < 0 or years <= 0:
        return None
    return ((v1 / v0) ** (1.0 / years) - 1.0) * 100.0


class CagrWindow(NamedTuple):
    """Result of :func:`cagr_window`."""

    start_period: int | None
    end_period: int | None
    cagr: float | None


def cagr_window(
    periods: Sequence[int],
    values: Sequence[float | None],
    window_years: int = 5,
    min_span_years: int = 3,
    end_period: int | None = None,
) -> CagrWindow:
    """CAGR over the last ``window_years`` of one segment (Eurostat SDG style).

    Eurostat's SDG monitoring report assesses the short term over the last 5 years
    (t-5 .. t) and the long term over the last 15 years (t-15 .. t).  Rule implemented here
    (the brief's documented fallback; Eurostat's exact rule for a missing start year could
    not be checked against the primary text, so the window and minimum span are parameters):

    * ``t`` (end) = the latest period with a value, or the latest one ``<= end_period``;
    * start = the EARLIEST period with a value in ``[t - window_years, t)``;
    * the CAGR is computed only when ``t - start >= min_span_years``;
      short term: ``window_years=5, min_span_years=3``; long term: ``15, 10``.

    Returns ``(start, end, cagr)``; ``start`` is ``None`` when no start year qualifies and
    ``end`` is ``None`` when the series has no value at all.  When start and end exist but
    the CAGR is not computable (start value <= 0) the periods are returned with ``cagr=None``
    -- the start is deliberately NOT moved to a later year.  Pass one segment only.
    """
    if window_years < 1 or min_span_years < 1:
        raise ValueError("window_years and min_span_years must be >= 1")
    if min_span_years > window_years:
        raise ValueError("min_span_years cannot exceed window_years")
    obs = _observations(periods, values)
    if end_period is not None:
        obs = [(p, v) for p, v in obs if p <= end_period]
    if not obs:
        return CagrWindow(None, None, None)
    end, v_end = obs[-1]
    candidates = [(p, v) for p, v in obs if end - window_years <= p < end]
    if not candidates or end - candidates[0][0] < min_span_years:
        return CagrWindow(None, end, None)
    start, v_start = candidates[0]
    return CagrWindow(start, end, cagr(v_start, v_end, end - start))


# ------------------------------------------------------------ 4. SDG classification


def classify_sdg(
    cagr_pct: float | None,
    polarity: Polarity,
    thresholds: Mapping[str, float] | None = None,
) -> str:
    """Eurostat SDG assessment of an indicator WITHOUT a quantified target.

    ``g`` = the CAGR in the desired direction (``cagr`` for polarity up, ``-cagr`` for down).
    With ``thresholds = {"significant": S, "moderate": M}`` (Eurostat: S = 1.0, M = 0.0) and
    an optional ``"significant_away"`` (default ``-S``):

    ========================  ==========================================
    ``g > S``                 ``"significant progress"``
    ``M <= g <= S``           ``"moderate progress"``
    ``-S <= g < M``           ``"moderate movement away"``
    ``g < -S``                ``"significant movement away"``
    ========================  ==========================================

    So exactly +1 % and exactly -1 % fall in the moderate classes (Eurostat writes "> 1 %"
    and "< -1 %"), and exactly 0 % is "moderate progress": movement away needs a change in
    the wrong direction, which also matches the target method where an observed growth of 0
    is "insufficient progress", not "movement away".

    Polarity ``"context"`` / ``None`` -> ``"not assessed"`` (checked first);
    ``cagr_pct is None`` -> ``"insufficient data"``.
    """
    _check_polarity(polarity)
    if polarity in ("context", None):
        return "not assessed"
    cagr_pct = _clean(cagr_pct)
    if cagr_pct is None:
        return "insufficient data"
    th = dict(SDG_DEFAULT_THRESHOLDS if thresholds is None else thresholds)
    significant = float(th["significant"])
    moderate = float(th["moderate"])
    significant_away = float(th.get("significant_away", -significant))
    if not significant_away < moderate < significant:
        raise ValueError(f"thresholds must satisfy significant_away < moderate < significant: {th}")
    g = _directional(cagr_pct, polarity)  # type: ignore[arg-type]
    tol = BOUNDARY_TOLERANCE
    if g > significant + tol:
        return "significant progress"
    if g >= moderate - tol:
        return "moderate progress"
    if g >= significant_away - tol:
        return "moderate movement away"
    return "significant movement away"


# ------------------------------------------------------------- 5. Mann-Kendall


@dataclass(frozen=True)
class MannKendallResult:
    """Mann-Kendall test + Sen slope.  Statistics are ``None`` for "insufficient data"."""

    trend: str  # "increasing" | "decreasing" | "no trend" | "insufficient data"
    p_value: float | None  # two-sided, normal approximation with continuity correction
    tau: float | None  # Kendall's tau-a = S / (n (n-1) / 2)
    s: int | None
    var_s: float | None  # with the tie correction
    z: float | None
    sen_slope: float | None  # per period unit (per year)
    sen_intercept: float | None  # value of the Kendall-Theil line at the FIRST period
    n: int


def mann_kendall(
    values: Sequence[float | None],
    periods: Sequence[int] | None = None,
    alpha: float = 0.05,
    min_points: int = 5,
) -> MannKendallResult:
    """Mann-Kendall trend test (``pymannkendall.original_test``) with Sen's slope.

    Missing values are dropped; ``n`` is the number of observations used.  With fewer than
    ``min_points`` observations the trend is ``"insufficient data"``.  Default 5: with the
    normal approximation used here, n = 4 can never reach p < 0.05 (even a perfectly
    monotonic series gives S = 6, Z = 1.70, p = 0.089) while n = 5 can (S = 10, Z = 2.20,
    p = 0.028).  The EUDA only tests countries "with enough data points"; its exact minimum
    is not published in the material available here.

    S, var(S) (tie-corrected), Z, the two-sided p-value and tau come from pymannkendall; the
    trend is "increasing"/"decreasing" when p < alpha (strictly: |Z| > z_{1-alpha/2}).

    Sen's slope is the median of ``(x_j - x_i) / (t_j - t_i)`` over all pairs, using the
    actual ``periods`` (default ``0, 1, 2, ...``), so gaps between survey years give a slope
    per year rather than per observation.  The intercept (Conover 1980, as in
    pymannkendall) is ``median(x) - median(t - t_first) * slope``, i.e. the line's value at
    the first period; for consecutive periods both equal ``pymannkendall.sens_slope``.
    """
    if min_points < 2:
        raise ValueError("min_points must be >= 2")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")
    if periods is None:
        periods = list(range(len(values)))
    obs = _observations(periods, values)
    n = len(obs)
    if n < min_points:
        return MannKendallResult("insufficient data", None, None, None, None, None, None, None, n)
    t = np.array([p for p, _ in obs], dtype=float)
    x = np.array([v for _, v in obs], dtype=float)
    import pymannkendall  # imports scipy (1 s): only when a trend is tested

    res = pymannkendall.original_test(x, alpha=alpha)

    i, j = np.triu_indices(n, k=1)
    slope = float(np.median((x[j] - x[i]) / (t[j] - t[i])))
    intercept = float(np.median(x) - np.median(t - t[0]) * slope)
    return MannKendallResult(
        trend=str(res.trend),
        p_value=float(res.p),
        tau=float(res.Tau),
        s=int(res.s),
        var_s=float(res.var_s),
        z=float(res.z),
        sen_slope=slope,
        sen_intercept=intercept,
        n=n,
    )


# ---------------------------------------------------------- 6. direction judgement


def judge_direction(trend: str, polarity: Polarity) -> str:
    """Turn a Mann-Kendall trend into a judgement according to the indicator's polarity.

    ``"not assessed"`` for polarity context/None (checked first), ``"insufficient data"``,
    ``"stable"`` for "no trend" (no significant trend -- not proof of stability),
    ``"improving"`` / ``"worsening"`` otherwise.
    """
    _check_polarity(polarity)
    if polarity in ("context", None):
        return "not assessed"
    if trend == "insufficient data":
        return "insufficient data"
    if trend == "no trend":
        return "stable"
    if trend not in ("increasing", "decreasing"):
        raise ValueError(f"unknown trend {trend!r}")
    desired = "increasing" if polarity == "up" else "decreasing"
    return "improving" if trend == desired else "worsening"


# ------------------------------------------------------- 7. suspected breaks


class SuspectedBreak(NamedTuple):
    """A jump far outside the series' own variation."""

    period: int  # the first period AFTER the jump
    previous_period: int  # the observation before the jump (earlier when there is a gap)
    ratio: float  # value[period] / value[previous_period]
    kind: str  # "level_shift" or "spike" (one outlying observation that comes back)
    reason: str


def detect_suspected_breaks(
    periods: Sequence[int],
    values: Sequence[float | None],
    min_factor: float = 3.0,
    k: float = 5.0,
    min_other_ratios: int = 4,
    fallback_factor: float = 10.0,
    counts: bool = False,
    poisson_z: float = 3.0,
) -> list[SuspectedBreak]:
    """Flag jumps that are far outside the series' own year-to-year variation.

    Method, on log-ratios ``r = ln(v_t / v_prev)`` of consecutive observations (the previous
    *available* observation, so a jump across a gap is still seen; pairs where either value
    is <= 0 are skipped -- 0 often means "below threshold" or a tiny count):

    1. floor: ``|r| > ln(min_factor)`` (default: a change by more than a factor 3);
    2. robust outlier: ``|r - median(R)| > k * 1.4826 * MAD(R)`` where ``R`` are the OTHER
       log-ratios of the series (leave-one-out, so the jump does not inflate its own yardstick);
       when fewer than ``min_other_ratios`` other ratios exist the robust scale is not
       trusted and the jump must instead exceed ``fallback_factor`` (default 10);
    3. only for ``counts=True`` (values are event counts): the jump must also exceed
       ``poisson_z`` Poisson standard errors of a log-ratio, ``sqrt(1/a + 1/b)``, which stops
       1 -> 6 or 18 -> 5 from being flagged.  For rates derived from counts run the detector
       on the count series and apply its breaks to the rates.

    A flagged jump whose next ratio goes back (opposite sign and returning at least half way
    in log terms: ``|r_t + r_t+1| < |r_t| / 2``) is reported once, as ``kind="spike"`` at the
    outlying period; the return jump is not reported separately.  Spikes are one-off values
    (an event, a data error), not changes of level: feed only ``level_shift`` periods to
    :func:`segments` unless a reviewer decides otherwise.

    On Eurostat ``crim_off_cat`` (1,558 series, 2008-2022) the defaults flag 130 jumps (110
    level shifts, 20 spikes) in 115 series, e.g. AT drug offences 1,990 (2012) -> 27,231
    (2013), FR 7,483 (2015) -> 241,887 (2016), IT serious assault 66,317 (2013) -> 973
    (2014); a spike is NO homicides 2011 (111, Utoya).  ``counts=True`` on the 784 NR
    series drops five small-count flags such as 1 -> 6 and 18 -> 5.
    """
    if min_factor <= 1 or fallback_factor <= 1 or k <= 0:
        raise ValueError("min_factor and fallback_factor must be > 1 and k > 0")
    obs = _observations(periods, values)
    pairs: list[tuple[int, float, int, float, float]] = []  # (p0, v0, p1, v1, log-ratio)
    for (p0, v0), (p1, v1) in zip(obs, obs[1:], strict=False):
        if v0 > 0 and v1 > 0:
            pairs.append((p0, v0, p1, v1, math.log(v1 / v0)))

    flagged: dict[int, str] = {}
    floor = math.log(min_factor)
    for idx, (_p0, v0, _p1, v1, r) in enumerate(pairs):
        if not abs(r) > floor:
            continue
        others = [q[4] for jdx, q in enumerate(pairs) if jdx != idx]
        if len(others) >= min_other_ratios:
            med = statistics.median(others)
            scale = 1.4826 * statistics.median(abs(o - med) for o in others)
            if not abs(r - med) > k * scale:
                continue
            why = (
                f"|ln ratio| {abs(r):.2f} > ln {min_factor:g} = {floor:.2f} and "
                f"|{r:.2f} - median {med:.2f}| > {k:g} x robust scale {scale:.3f}"
            )
        else:
            if not abs(r) > math.log(fallback_factor):
                continue
            why = (
                f"|ln ratio| {abs(r):.2f} > ln {fallback_factor:g} "
                f"(only {len(others)} other ratios, robust scale not used)"
            )
        if counts:
            se = math.sqrt(1.0 / v0 + 1.0 / v1)
            if not abs(r) > poisson_z * se:
                continue
            why += f"; > {poisson_z:g} Poisson s.e. ({poisson_z * se:.2f})"
        flagged[idx] = why

    out: list[SuspectedBreak] = []
    skip: set[int] = set()
    for idx in sorted(flagged):
        if idx in skip:
            continue
        p0, v0, p1, v1, r = pairs[idx]
        kind = "level_shift"
        why = flagged[idx]
        nxt = idx + 1
        if nxt < len(pairs) and pairs[nxt][0] == p1:
            r_next = pairs[nxt][4]
            if r_next * r < 0 and abs(r + r_next) < abs(r) / 2:
                kind = "spike"
                skip.add(nxt)
                why += f"; returns to {pairs[nxt][3]:g} in {pairs[nxt][2]}"
        gap = "" if p1 - p0 == 1 else f" (gap of {p1 - p0} years)"
        reason = f"{kind}: {v0:g} ({p0}) -> {v1:g} ({p1}){gap}, x{v1 / v0:.2f}; {why}"
        out.append(SuspectedBreak(p1, p0, v1 / v0, kind, reason))
    return out


# ---------------------------------------------------------------- 8. segments


def segments(periods: Sequence[int], break_before: Iterable[int]) -> list[int]:
    """Segment number (1-based) of each period; a new segment starts at each break.

    A break year ``b`` means "the series is not comparable across the boundary just before
    ``b``".  The segment number increases at the first period ``p`` with
    ``previous_period < b <= p``, so a break year that falls in a gap of the series still
    splits it.  Breaks at or before the first period, or after the last, change nothing.
    """
    _check_periods(periods)
    breaks = sorted(set(int(b) for b in break_before))
    out: list[int] = []
    segment = 1
    for idx, period in enumerate(periods):
        if idx > 0:
            prev = periods[idx - 1]
            if any(prev < b <= period for b in breaks):
                segment += 1
        out.append(segment)
    return out


# ------------------------------------------------------------- 9. wastewater


def wastewater_change(
    previous_value: float | None,
    current_value: float | None,
    stable_band_pct: float = 10.0,
) -> tuple[float | None, str]:
    """City change between two campaigns, as the EUDA wastewater release classifies it.

    Returns ``(change_pct, change_class)`` with ``change_pct = (cur - prev) / prev * 100`` and

    * ``"no previous data"`` (pct ``None``) when ``previous_value`` is ``None``;
    * ``"stable"`` when ``|change_pct| <= stable_band_pct`` -- the +/-10 % band INCLUDES its
      boundary (10.0 % is stable, 10.01 % is an increase);
    * ``"increase"`` / ``"decrease"`` otherwise.

    Values of 0 mean "below the limit of quantification" (LOQ):

    * 0 -> 0: ``(None, "stable")`` -- both below LOQ, the size of any change is unknown;
    * 0 -> positive: ``(None, "increase")`` -- rose above LOQ, no finite %;
    * positive -> 0: ``(-100.0, "decrease")`` -- the % is the computed value; the true value
      is only known to be below LOQ.

    A missing current value is the caller's business (no row): ``ValueError``; so are
    negative values.
    """
    previous, current = _clean(previous_value), _clean(current_value)
    if current is None:
        raise ValueError("current_value is missing: a city without a current value gets no row")
    if current < 0 or (previous is not None and previous < 0):
        raise ValueError("wastewater loads cannot be negative")
    if stable_band_pct < 0:
        raise ValueError("stable_band_pct must be >= 0")
    if previous is None:
        return None, "no previous data"
    if previous == 0:
        return None, ("stable" if current == 0 else "increase")
    change = (current - previous) / previous * 100.0
    if abs(change) <= stable_band_pct + BOUNDARY_TOLERANCE:
        return change, "stable"
    return change, ("increase" if change > 0 else "decrease")
