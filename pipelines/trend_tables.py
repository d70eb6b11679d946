"""The trend tables the trends step writes, and the staging tables each reads.

Kept apart from pipelines/trends.py (numpy, pyarrow): the input keys of a build
(pipelines/reuse.py) need the list alone, and the CLI's check before a run
(pipelines/prerun.py) computes them without the computing stack.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrendTable:
    name: str
    description: str
    # datasets whose staging tables the table reads besides the indicator tables (the
    # trends asset waits for them)
    reads: tuple[str, ...] = ()


TABLES = [
    TrendTable(
        "series",
        "trends.series: per series and period the value, change against the "
        "previous observation, 3-period moving average, break_before, segment.",
    ),
    TrendTable(
        "suspected_breaks",
        "trends.suspected_breaks: jumps far outside a series' own "
        "variation, treated as breaks and listed for review.",
    ),
    TrendTable(
        "assessment",
        "trends.assessment: per series over its latest segment: baseline, "
        "CAGR (Eurostat SDG classes), Mann-Kendall and Sen slope, direction "
        "judged by polarity.",
    ),
    TrendTable(
        "wastewater_city_change",
        "trends.wastewater_city_change: per site, substance and campaign year in the EU27, "
        "Norway and Türkiye, the daily mean against the campaign one year earlier, classed "
        "increase / stable (within +/-10 %) / decrease / no previous data, as the EUDA does.",
        reads=("euda.wastewater", "euda.wastewater_sites"),
    ),
    TrendTable(
        "wastewater_city_counts",
        "trends.wastewater_city_counts: per substance and campaign year, how many cities "
        "increased, stayed stable or decreased.",
    ),
    TrendTable(
        "eu_aggregates",
        "trends.eu_aggregates: EU27 sums of count measures computed "
        "from Member State values, with the number of reporting "
        "Member States; never a silent partial sum.",
    ),
]
