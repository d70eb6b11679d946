"""Unit tests for the scorecard's pieces: the SVG charts, key messages and flag footnotes.
The pages themselves are rendered in Chromium by tests/e2e/test_report.py."""

from __future__ import annotations

import re
from typing import Any

from pipelines import charts
from pipelines.report import Headline, Labels, footnotes, key_message


def labels() -> Labels:
    out = Labels.__new__(Labels)
    out.geo_names = {"DE": "Germany", "FR": "France", "IT": "Italy", "EU27_2020": "EU27"}
    out.eu27 = {"DE", "FR", "IT"}
    out.measures, out.substances = {}, {"cocaine": "Cocaine"}
    return out


def assessed(geo: str, base: int | None, base_value: float, latest: int, value: float) -> dict:
    change = None if base is None else value - base_value
    return {
        "geo": geo,
        "baseline_period": base,
        "baseline_value": base_value,
        "latest_period": latest,
        "latest_value": value,
        "change_since_baseline": change,
        "change_since_baseline_pct": None if base is None else change / base_value * 100,
    }


def test_a_key_message_counts_and_names_the_member_states() -> None:
    states: dict[str, dict[str, Any]] = {
        "DE": assessed("DE", 2020, 10.0, 2022, 12.0),
        "FR": assessed("FR", 2020, 10.0, 2023, 8.0),
        "IT": assessed("IT", 2020, 5.0, 2023, 6.0),
    }
    head = Headline(measure="drug_law_offences", label="Drug law offences")
    message = key_message(labels(), head, states, "down")
    assert message["text"] == (
        "Drug law offences rose in 2 of 3 Member States since 2020 and fell in 1. "
        "Lower is better: a rise is a movement away from the objective."
    )
    rose, fell = message["groups"]
    assert rose["items"] == [
        "Germany (2020: 10 → 2022: 12, +20.0 %)",
        "Italy (2020: 5 → 2023: 6, +20.0 %)",
    ]
    assert fell["items"] == ["France (2020: 10 → 2023: 8, -20.0 %)"]


def test_a_key_message_without_baselines_says_so() -> None:
    states = {"DE": assessed("DE", None, 0.0, 2022, 12.0)}
    head = Headline(measure="m", label="Offences", member_states=1)
    message = key_message(labels(), head, states, "down")
    assert message["groups"] == []
    assert message["text"] == (
        "Offences: no EU series, and no Member State has both a baseline (2020 or earlier) "
        "and a later value (1 of 27 Member States report the measure)."
    )


def test_without_a_member_state_comparison_the_eu_series_is_the_message() -> None:
    head = Headline(
        measure="m",
        label="New substances notified",
        eu_label="EU Early Warning System",
        latest_period=2023,
        latest_value=26.0,
        baseline_period=2020,
        baseline_value=46.0,
        change_pct=(26 - 46) / 46 * 100,
    )
    message = key_message(labels(), head, {}, "context")
    assert message["text"] == (
        "New substances notified: 26 in 2023, against 46 in 2020 (-43.5 %); "
        "EU Early Warning System."
    )


def test_a_baseline_before_2020_is_named_as_such() -> None:
    states = {
        "DE": assessed("DE", 2019, 10.0, 2022, 12.0),
        "FR": assessed("FR", 2020, 10.0, 2022, 12.0),
    }
    message = key_message(labels(), Headline(measure="m", label="X"), states, "up")
    assert "since the baseline (2020, or the latest year before it)" in message["text"]
    assert message["text"].endswith("Higher is better: a rise is progress.")


def test_flags_become_footnotes_per_flag_with_where_they_occur() -> None:
    notes = footnotes([("Germany", 2021, "b"), ("France", 2019, "bp"), ("Italy", 2020, None)])
    assert notes == [
        "b (break in time series): France 2019, Germany 2021",
        "p (provisional): France 2019",
    ]


def test_a_line_chart_is_scalable_svg_with_one_mark_per_point_and_escaped_labels() -> None:
    chart = charts.line_chart(
        "t1",
        [
            charts.Line("EU <script>alert(1)</script>", [(2019, 1.0), (2020, 2.0)], eu=True),
            charts.Line("Costs $5 and $6", [(2018, 3.0), (2019, 2.5), (2021, 2.0)], [2021]),
        ],
        "count",
    )
    assert chart.points == 5
    svg = chart.svg
    assert svg.startswith('<svg class="chart-svg" role="img" id="t1"')
    head = svg[: svg.index(">")]
    assert "viewBox=" in head and " width=" not in head and " height=" not in head
    assert "<script" not in svg and "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert "Costs $5 and $6" in svg  # drawn as written, not as mathtext
    assert "break in series" in svg
    groups = re.findall(r'<g id="t1-pt-(\d)">(.*?)</g>\s*</g>', svg, re.S)
    assert [(n, body.count("<use ")) for n, body in groups] == [("0", 2), ("1", 3)]


def test_bar_charts_draw_one_bar_per_value() -> None:
    chart = charts.bar_chart(
        "t2", [charts.Bar("Germany", 10.0, "(2021) p"), charts.Bar("France", 0.0)], "count"
    )
    assert chart.points == 2
    assert len(re.findall(r'<g id="t2-bar-\d">\s*<path ', chart.svg)) == 2
    assert "(2021) p" in chart.svg
    change = charts.change_chart("t3", [charts.Bar("Graz, Austria", 25.0)])
    assert change.points == 1 and "t3-bar-0" in change.svg
