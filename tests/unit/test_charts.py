"""Unit tests of the report's SVG writer (pipelines/charts.py): every chart is well-formed XML,
draws one mark per data point, escapes its text, and scales its axes to cover the data.
How the charts look in a browser is checked by tests/e2e/test_report.py."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pipelines import charts

NS = "{http://www.w3.org/2000/svg}"
HOSTILE = "</text><script>alert('x')</script> & \"Ürzig\" \x07<![CDATA[ ]]>"


def parse(chart: charts.Chart) -> ET.Element:
    root = ET.fromstring(chart.svg)  # raises on anything that is not well-formed XML
    assert root.tag == f"{NS}svg"
    assert root.get("role") == "img" and root.get("aria-label")
    assert root.get("viewBox") and root.get("width") is None and root.get("height") is None
    return root


def marks(root: ET.Element, kind: str) -> dict[str, list[ET.Element]]:
    """Group id -> the marks inside it, as the browser test counts them."""
    tag = f"{NS}use" if kind == "pt" else f"{NS}path"
    return {
        g.get("id", ""): list(g.iter(tag))
        for g in root.iter(f"{NS}g")
        if f"-{kind}-" in g.get("id", "")
    }


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{NS}text")]


def view_box(root: ET.Element) -> tuple[float, float]:
    _, _, width, height = (float(v) for v in root.get("viewBox", "").split())
    return width, height


def tick_labels(root: ET.Element) -> list[str]:
    axes = next(g for g in root.iter(f"{NS}g") if g.get("class") == "chart-axes")
    return ["".join(t.itertext()) for t in axes.iter(f"{NS}text")]


def test_a_line_chart_draws_one_mark_per_point_in_one_group_per_series() -> None:
    lines = [
        charts.Line("EU", [(2019, 1.0), (2020, 2.0), (2021, 1.5)], eu=True),
        charts.Line("Germany", [(2018, 3.0), (2019, 2.5)]),
        charts.Line("France", [(2020, 0.5)]),
    ]
    chart = charts.line_chart("c1", lines, "per 100 000 inhabitants")
    root = parse(chart)
    found = marks(root, "pt")
    assert {k: len(v) for k, v in found.items()} == {"c1-pt-0": 3, "c1-pt-1": 2, "c1-pt-2": 1}
    assert chart.points == 6
    # every mark names its series, period and value (shown on hover)
    titles = [u.findtext(f"{NS}title") for u in found["c1-pt-1"]]
    assert titles == ["Germany, 2018: 3", "Germany, 2019: 2.5"]
    assert "per 100 000 inhabitants" in texts(root)
    legend = next(g for g in root.iter(f"{NS}g") if g.get("class") == "chart-legend")
    assert [t for t in texts(legend) if t] == ["EU", "Germany", "France"]


def test_marker_ids_are_unique_per_chart_so_two_charts_can_share_a_page() -> None:
    a = parse(charts.line_chart("a", [charts.Line("EU", [(2020, 1.0), (2021, 2.0)])], "u"))
    b = parse(charts.line_chart("b", [charts.Line("EU", [(2020, 1.0), (2021, 2.0)])], "u"))
    ids_a = {e.get("id") for e in a.iter() if e.get("id")}
    ids_b = {e.get("id") for e in b.iter() if e.get("id")}
    assert ids_a and not ids_a & ids_b
    for use in a.iter(f"{NS}use"):  # every reference resolves inside its own chart
        assert use.get("href", "").lstrip("#") in ids_a


def test_every_text_is_escaped_and_reads_back_as_written() -> None:
    line = charts.line_chart("h1", [charts.Line(HOSTILE, [(2020, 1.0), (2021, 2.0)])], HOSTILE)
    bars = charts.bar_chart("h2", [charts.Bar(HOSTILE, 5.0, note=HOSTILE)], HOSTILE)
    change = charts.change_chart("h3", [charts.Bar(HOSTILE, -25.0)], HOSTILE)
    spark = charts.sparkline("h4", charts.Line(HOSTILE, [(2020, 1.0), (2021, 2.0)], [2021]))
    readable = HOSTILE.replace("\x07", "")  # a control character XML cannot carry is dropped
    for chart in (line, bars, change, spark):
        root = parse(chart)
        assert not [e for e in root.iter() if "script" in e.tag], chart.svg
        assert readable in root.get("aria-label", "")
        written = texts(root) + [t.text or "" for t in root.iter(f"{NS}title")]
        assert any(readable in t for t in written), written
        assert "<script>" not in chart.svg


@settings(max_examples=300, deadline=None)
@given(st.floats(-1e9, 1e9), st.floats(0, 1e9) | st.just(0.0))
def test_ticks_are_round_steps_that_cover_the_data(lo: float, span: float) -> None:
    assume(span == 0 or span >= abs(lo) * 1e-9)  # a chart's values, not float resolution
    hi = lo + span
    scale = charts.ticks(lo, hi, 5)
    values = scale.values
    assert values[0] <= lo and values[-1] >= hi
    assert 2 <= len(values) <= 12, values
    labels = [scale.label(v) for v in values]
    shown = [Decimal(label.replace(",", "")) for label in labels]  # what the reader sees
    steps = {b - a for a, b in zip(shown, shown[1:], strict=False)}
    assert len(steps) == 1, labels  # evenly spaced, none rounded away
    (step,) = steps
    assert step.normalize().as_tuple().digits in ((1,), (2,), (5,)), labels


def test_tick_labels_are_readable_numbers() -> None:
    assert [charts.ticks(0, 1000).label(v) for v in charts.ticks(0, 1000).values] == [
        "0",
        "200",
        "400",
        "600",
        "800",
        "1,000",
    ]
    small = charts.ticks(0.12, 0.31)
    assert [small.label(v) for v in small.values] == [
        "0.10",
        "0.15",
        "0.20",
        "0.25",
        "0.30",
        "0.35",
    ]
    assert [charts.ticks(-3, 3).label(v) for v in charts.ticks(-3, 3).values][:3] == [
        "-4",
        "-2",
        "0",
    ]
    assert charts.ticks(2011, 2014, 8, integer=True).values == [2011, 2012, 2013, 2014]
    with pytest.raises(ValueError, match="cannot scale"):
        charts.ticks(0, math.nan)


def test_the_y_axis_covers_every_point_and_the_years_are_labelled() -> None:
    points = [(2010, -3.5), (2013, 120.0), (2016, 47.25), (2022, 0.0)]
    root = parse(charts.line_chart("y1", [charts.Line("EU", points, eu=True)], "count"))
    labels = tick_labels(root)
    assert "2010" in labels and "2022" in labels
    axes = next(g for g in root.iter(f"{NS}g") if g.get("class") == "chart-axes")
    tick_y = [
        float(t.get("y", 0)) - 4
        for t in axes.iter(f"{NS}text")
        if t.get("text-anchor") == "end"  # the y labels, drawn 4 units under their tick
    ]
    marks_y = [
        float(u.get("y", 0)) for u in root.iter(f"{NS}use") if u.find(f"{NS}title") is not None
    ]
    assert len(marks_y) == 4
    assert min(tick_y) <= min(marks_y) and max(marks_y) <= max(tick_y)
    width, height = view_box(root)
    assert all(0 < float(u.get("x", 0)) < width for u in root.iter(f"{NS}use"))


def test_a_break_is_a_dashed_line_before_its_period_named_in_the_legend() -> None:
    line = charts.Line("Germany", [(2012, 1.0), (2013, 2.0), (2014, 3.0)], breaks=[2014])
    root = parse(charts.line_chart("b1", [line], "count"))
    dashed = [
        p
        for p in root.iter(f"{NS}path")
        if p.get("stroke-dasharray") == "5 3" and p.findtext(f"{NS}title")
    ]
    assert [p.findtext(f"{NS}title") for p in dashed] == ["break in series before 2014: Germany"]
    x_break = float(dashed[0].get("d", "M0").split()[0][1:])
    xs = [float(u.get("x", 0)) for u in root.iter(f"{NS}use") if u.find(f"{NS}title") is not None]
    assert xs[1] < x_break < xs[2]  # between 2013 and 2014
    assert "break in series" in texts(root)


def test_years_without_data_are_bridged_by_a_dotted_line_not_a_solid_one() -> None:
    line = charts.Line("Spain", [(2010, 1.0), (2011, 2.0), (2015, 3.0)])
    root = parse(charts.line_chart("g1", [line], "count"))
    (group,) = marks(root, "pt")
    series = next(g for g in root.iter(f"{NS}g") if g.get("id") == group)
    solid, dotted = series.findall(f"{NS}path")
    assert solid.get("d", "").count("M") == 2  # 2010-2011, then 2015 alone
    assert dotted.get("stroke-dasharray") and dotted.get("d", "").count("M") == 1
    assert "no data in between" in texts(root)
    whole = charts.line_chart("g2", [charts.Line("Italy", [(2010, 1.0), (2011, 2.0)])], "count")
    assert "no data in between" not in whole.svg


def test_empty_charts_and_single_points_are_valid_and_say_what_they_hold() -> None:
    for chart in (
        charts.line_chart("e1", [], "count"),
        charts.line_chart("e2", [charts.Line("EU", [])], "count"),
        charts.bar_chart("e3", [], "count"),
        charts.change_chart("e4", []),
        charts.sparkline("e5", charts.Line("EU", [])),
    ):
        root = parse(chart)
        assert chart.points == 0 and not marks(root, "pt") and not marks(root, "bar")
        assert any("No data" in t for t in texts(root))
    one = charts.line_chart("o1", [charts.Line("EU", [(2020, 7.0)])], "count")
    root = parse(one)
    assert one.points == 1 and len(marks(root, "pt")["o1-pt-0"]) == 1
    assert "2020" in tick_labels(root)
    flat = charts.line_chart("o2", [charts.Line("EU", [(2020, 0.0), (2021, 0.0)])], "count")
    assert flat.points == 2 and "nan" not in flat.svg.lower()
    assert charts.sparkline("o3", charts.Line("EU", [(2020, 7.0)])).points == 1


def test_bar_charts_keep_every_bar_its_label_and_value_inside_the_chart() -> None:
    bars = [
        charts.Bar("Germany", 1234.6, "(2021) p"),
        charts.Bar("A country with a very long name " * 4, 10.0),
        charts.Bar("France", 0.0),
        charts.Bar("Malta", -20.0, highlight=True),
    ]
    chart = charts.bar_chart("b2", bars, "count")
    root = parse(chart)
    found = marks(root, "bar")
    assert chart.points == 4 and [len(v) for v in found.values()] == [1, 1, 1, 1]
    words = texts(root)
    assert "1,235 (2021) p" in words and "0" in words and "-20" in words
    assert any(w.endswith("…") for w in words)  # the long label is cut, not overflowing
    width, _ = view_box(root)
    for (path,) in found.values():
        x, _ = path.get("d", "M0 0").split("h")[0][1:].split()
        length = float(path.get("d", "").split("h")[1].split("v")[0])
        assert float(x) > 0 and float(x) + length < width
    assert found["b2-bar-3"][0].get("fill") == charts.PALETTE[0]  # highlighted


def test_the_change_chart_colours_by_class_and_shades_the_stable_band() -> None:
    bars = [charts.Bar("Graz", 25.0), charts.Bar("Wien", 4.0), charts.Bar("Linz", -30.0)]
    root = parse(charts.change_chart("c3", bars, "% change 2023 to 2024"))
    fills = [p.get("fill") for (p,) in marks(root, "bar").values()]
    assert fills == [charts.RISE, charts.STABLE, charts.FALL]
    words = texts(root)
    assert {"+25.0 %", "+4.0 %", "-30.0 %", "% change 2023 to 2024"} <= set(words)
    assert {"rise of more than 10 %", "stable (within ±10 %)", "fall of more than 10 %"} <= set(
        words
    )
    assert len(list(root.iter(f"{NS}rect"))) == 4  # the band and the 3 colour keys


def test_the_same_data_gives_the_same_bytes() -> None:
    def draw() -> str:
        line = charts.Line("EU", [(2019, 1.0), (2020, 2.0)], [2020], eu=True)
        return (
            charts.line_chart("d1", [line], "count").svg
            + charts.bar_chart("d2", [charts.Bar("A", 1.0)], "count").svg
            + charts.sparkline("d3", line).svg
        )

    assert draw() == draw()
