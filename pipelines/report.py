"""The indicator scorecard: static HTML with inline SVG charts, rendered from a warehouse.

report.html         the overview: per indicator its headline series (assets/reference/
                    scorecard.yaml) with latest value, 2020 baseline, change, SDG class with its
                    trend symbol (legend beside), polarity and coverage; key messages; every EU
                    headline figure beside its computed counterpart; the sources of the release
report/indNN.html   one page per indicator: the EU series and selected Member States over time
                    (breaks marked), the latest value per Member State, wastewater city changes
                    for indicator 2, flags as footnotes, provenance under each chart

Only published tables are read (meta.*, trends.*, indicators.*), never the catalogue or
Dagster, so `eudap report` renders from the published warehouse opened read-only, and the
publish step renders the same pages into exports/<release>/. Every value is autoescaped; the
charts are SVG text drawn by pipelines.charts.
"""

from __future__ import annotations

import functools
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

from pipelines import charts
from pipelines.catalogue import Scorecard, load_catalogue
from pipelines.settings import Paths
from pipelines.warehouse import open_published

TEMPLATES = Path(__file__).parent / "templates"
PAGES_DIR = "report"  # indicator pages, beside report.html
EU27 = 27
EU_GEOS = ("EU27_2020", "EU_NO_TR")  # preferred aggregate for an indicator's EU series
BASELINE_YEAR = 2020
DIMENSIONS = ("substance", "sex", "age", "breakdown")

# Eurostat SDG progress classes (trends.assessment.class_short_term): symbol and css class.
CLASSES = {
    "significant progress": ("⬆", "sp"),
    "moderate progress": ("↗", "mp"),
    "moderate movement away": ("↘", "ma"),
    "significant movement away": ("⬇", "sa"),
    "insufficient data": (":", "na"),
    "not assessed": ("○", "na"),
}
POLARITY = {
    "down": "lower is better",
    "up": "higher is better",
    "context": "context: no direction is judged",
}
# Eurostat observation flags and the curated qualifiers, as footnotes.
FLAGS = {
    "b": "break in time series",
    "c": "confidential",
    "d": "definition differs",
    "e": "estimated",
    "f": "forecast",
    "n": "not significant",
    "p": "provisional",
    "r": "revised",
    "s": "Eurostat estimate",
    "u": "low reliability",
    "z": "not applicable",
    ">": "more than (a lower bound)",
    "<": "less than",
    "~": "about (rounded as published)",
}


def _records(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def format_number(value: float | None) -> str:
    """Thousands separated, up to 2 decimals for small values: 35,232 / 15.53 / 0.8."""
    if value is None:
        return ""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def format_change(pct: float | None) -> str:
    return "" if pct is None else f"{pct:+.1f} %"


# -- labels -----------------------------------------------------------------------------------
class Labels:
    """Human labels from meta.geo, meta.measures and meta.substances."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.geo_names = dict(con.execute("SELECT geo, name FROM meta.geo").fetchall())
        self.eu27 = {g for (g,) in con.execute("SELECT geo FROM meta.geo WHERE eu27").fetchall()}
        self.measures = {
            (r["indicator_id"], r["measure"]): r
            for r in _records(con, "SELECT * FROM meta.measures")
        }
        self.substances = (
            dict(
                con.execute(
                    "SELECT substance, label FROM meta.substances WHERE label IS NOT NULL"
                ).fetchall()
            )
            if _has_table(con, "meta", "substances")
            else {}
        )

    def geo(self, code: str | None) -> str:
        return self.geo_names.get(code, code or "") if code else ""

    def substance(self, name: str | None) -> str:
        return self.substances.get(name, name or "") if name else ""

    def measure(self, indicator: int, measure: str) -> str:
        """The measure's description up to its first bracket or semicolon."""
        info = self.measures.get((indicator, measure))
        text = (info or {}).get("description") or measure.replace("_", " ").capitalize()
        for stop in (" (", "; ", ". "):
            head = text.split(stop, 1)[0]
            if len(head) >= 12:
                text = head
        return text if len(text) <= 90 else text[:87].rsplit(" ", 1)[0] + " …"

    def detail(self, row: dict[str, Any]) -> str:
        """substance, sex, age and breakdown of a series, labelled, comma separated."""
        parts = [self.substance(row.get("substance"))]
        parts += [row.get(d) for d in ("sex", "age", "breakdown")]
        return ", ".join(str(p) for p in parts if p and p not in ("total",))


# -- the headline series of an indicator ------------------------------------------------------
@dataclass
class Headline:
    measure: str
    label: str
    unit: str = ""
    eu_label: str = ""  # which EU series, in words
    latest_period: int | None = None
    latest_value: float | None = None
    latest_flags: str | None = None
    baseline_period: int | None = None
    baseline_value: float | None = None
    change_pct: float | None = None
    sdg_class: str = "not assessed"
    direction: str = ""
    eu_points: list[tuple[int, float]] = field(default_factory=list)
    eu_breaks: list[int] = field(default_factory=list)
    eu_sources: list[str] = field(default_factory=list)
    member_states: int = 0  # reporting the headline measure
    polarity: str = ""  # of the headline measure (meta.measures)

    @property
    def symbol(self) -> str:
        return CLASSES.get(self.sdg_class, ("?", "na"))[0]

    @property
    def css(self) -> str:
        return CLASSES.get(self.sdg_class, ("?", "na"))[1]


def _where(spec: dict[str, Any], alias: str = "") -> tuple[str, list[Any]]:
    prefix = f"{alias}." if alias else ""
    sql, params = [f"{prefix}measure = ?"], [spec["measure"]]
    for column, value in (spec.get("filter") or {}).items():
        if column not in DIMENSIONS:
            raise ValueError(f"scorecard.yaml: cannot filter on {column!r}")
        sql.append(f"{prefix}{column} IS NOT DISTINCT FROM ?")
        params.append(value)
    return " AND ".join(sql), params


def _one_series_per_geo(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Where the filter leaves several series for a geo, the longest (then by id)."""
    chosen: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: (-r["n_points"], r["series_id"])):
        chosen.setdefault(row["geo"], row)
    return chosen


def _baseline(points: list[tuple[int, float]]) -> tuple[int, float] | None:
    before = [(p, v) for p, v in points if p <= BASELINE_YEAR]
    return max(before) if before else None


def _series_points(con: duckdb.DuckDBPyConnection, series_id: str, segment: int | None = None):
    rows = con.execute(
        "SELECT period, value, flags, break_before, source_dataset FROM trends.series "
        "WHERE series_id = ? ORDER BY period",
        [series_id],
    ).fetchall()
    return rows


def headline_of(
    con: duckdb.DuckDBPyConnection, labels: Labels, number: int, spec: dict[str, Any]
) -> tuple[Headline, dict[str, dict[str, Any]]]:
    """The headline and the Member State assessments of its measure (geo -> row)."""
    where, params = _where(spec)
    rows = _records(
        con,
        f"SELECT a.*, g.level, g.eu27 FROM trends.assessment AS a "
        f"LEFT JOIN meta.geo AS g USING (geo) WHERE a.indicator_id = ? AND {where}",
        [number, *params],
    )
    states = _one_series_per_geo([r for r in rows if r["eu27"]])
    aggregates = _one_series_per_geo([r for r in rows if r["level"] == "aggregate"])
    head = Headline(
        measure=spec["measure"], label=spec.get("label") or labels.measure(number, spec["measure"])
    )
    head.member_states = len(states)
    measure = labels.measures.get((number, spec["measure"])) or {}
    head.polarity = measure.get("polarity") or ""
    head.unit = next((r["unit"] for r in rows), "")
    eu = next((aggregates[g] for g in EU_GEOS if g in aggregates), None)
    if eu is None and aggregates:
        eu = max(aggregates.values(), key=lambda r: (r["n_points"], r["geo"]))
    if eu is not None:
        head.eu_label = labels.geo(eu["geo"])
        head.latest_period, head.latest_value = eu["latest_period"], eu["latest_value"]
        head.latest_flags = eu["latest_flags"]
        head.baseline_period, head.baseline_value = eu["baseline_period"], eu["baseline_value"]
        head.change_pct = eu["change_since_baseline_pct"]
        head.sdg_class, head.direction = eu["class_short_term"], eu["direction"]
        points = _series_points(con, eu["series_id"])
        head.eu_points = [(p, v) for p, v, *_ in points]
        head.eu_breaks = [p for p, _, _, brk, _ in points if brk]
        head.eu_sources = sorted({s for *_, s in points})
        return head, states
    if _has_table(con, "trends", "eu_aggregates"):
        where_o, params_o = _where(spec)
        found = con.execute(
            "SELECT concat_ws('|', substance, sex, age, breakdown, unit) AS series, period, "
            f"value, source_datasets FROM trends.eu_aggregates WHERE indicator_id = ? "
            f"AND {where_o} AND complete ORDER BY period",
            [number, *params_o],
        ).fetchall()
        # the filter may leave several computed series: the one with the most complete years
        sizes = Counter(series for series, *_ in found)
        best = min(sizes, key=lambda k: (-sizes[k], k)) if sizes else None
        sums = [(p, v, srcs) for series, p, v, srcs in found if series == best]
        if sums:
            head.eu_label = "EU27, computed: sum of the 27 Member States (years when all report)"
            head.eu_points = [(p, v) for p, v, _ in sums]
            head.eu_sources = sorted({s for *_, srcs in sums for s in srcs or []})
            head.latest_period, head.latest_value = head.eu_points[-1]
            base = _baseline(head.eu_points)
            if base is not None and base[0] < head.latest_period:
                head.baseline_period, head.baseline_value = base
                if base[1]:
                    head.change_pct = (head.latest_value - base[1]) / base[1] * 100
            head.sdg_class = "not assessed"
            head.direction = "not assessed at EU level (a computed sum)"
    return head, states


def city_series(
    con: duckdb.DuckDBPyConnection, number: int, spec: dict[str, Any]
) -> list[dict[str, Any]]:
    """Wastewater: every city's series of the headline measure (the city is the breakdown)."""
    where, params = _where(spec, "a")
    return _records(
        con,
        f"SELECT a.* FROM trends.assessment AS a WHERE a.indicator_id = ? AND {where}",
        [number, *params],
    )


def eu_message(head: Headline) -> str:
    """The EU series in a sentence, where no Member State comparison can be made."""
    reporting = f"{head.member_states} of {EU27} Member States report the measure"
    if head.latest_period is None:
        return (
            f"{head.label}: no EU series, and no Member State has both a baseline (2020 or "
            f"earlier) and a later value ({reporting})."
        )
    text = f"{head.label}: {format_number(head.latest_value)} in {head.latest_period}"
    if head.baseline_period is not None:
        text += f", against {format_number(head.baseline_value)} in {head.baseline_period}"
        if head.change_pct is not None:
            text += f" ({format_change(head.change_pct)})"
    else:
        text += " (no baseline in 2020 or earlier)"
    text += f"; {head.eu_label}."
    return text + (f" {reporting[0].upper()}{reporting[1:]}." if head.member_states else "")


def key_message(
    labels: Labels, head: Headline, states: dict[str, dict[str, Any]], polarity: str
) -> dict[str, Any]:
    """'<measure> rose in 9 of 24 Member States since 2020', with the countries named."""
    compared = [
        r
        for r in states.values()
        if r["baseline_period"] is not None
        and r["latest_period"] > r["baseline_period"]
        and r["change_since_baseline"] is not None
    ]
    if not compared:
        return {"text": eu_message(head), "groups": []}
    since = (
        "since 2020"
        if all(r["baseline_period"] == BASELINE_YEAR for r in compared)
        else "since the baseline (2020, or the latest year before it)"
    )

    def entry(r: dict[str, Any]) -> str:
        pct = r["change_since_baseline_pct"]
        return (
            f"{labels.geo(r['geo'])} ({r['baseline_period']}: {format_number(r['baseline_value'])}"
            f" → {r['latest_period']}: {format_number(r['latest_value'])}"
            + (f", {format_change(pct)})" if pct is not None else ")")
        )

    rose = sorted(
        (r for r in compared if r["change_since_baseline"] > 0), key=lambda r: labels.geo(r["geo"])
    )
    fell = sorted(
        (r for r in compared if r["change_since_baseline"] < 0), key=lambda r: labels.geo(r["geo"])
    )
    same = sorted(
        (r for r in compared if r["change_since_baseline"] == 0), key=lambda r: labels.geo(r["geo"])
    )
    judged = {
        "down": " Lower is better: a rise is a movement away from the objective.",
        "up": " Higher is better: a rise is progress.",
    }.get(polarity, "")
    text = (
        f"{head.label} rose in {len(rose)} of {len(compared)} Member States {since}"
        f" and fell in {len(fell)}" + (f" ({len(same)} unchanged)" if same else "") + "." + judged
    )
    groups = [
        {"title": f"Rose in {len(rose)}", "items": [entry(r) for r in rose]},
        {"title": f"Fell in {len(fell)}", "items": [entry(r) for r in fell]},
    ]
    if same:
        groups.append({"title": f"Unchanged in {len(same)}", "items": [entry(r) for r in same]})
    return {"text": text, "groups": [g for g in groups if g["items"]]}


# -- provenance and notices -------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    dataset: str
    title: str
    publisher: str
    snapshot: str  # "snapshot of 2026-11-29 (sha256 1a2b3c…)" or the bundled capture
    licence: str
    attribution: str
    sample: bool
    capture: str | None


def sources_of(con: duckdb.DuckDBPyConnection, release_id: str) -> dict[str, Source]:
    rows = _records(
        con,
        """SELECT d.dataset, d.title, d.publisher, d.licence, d.attribution,
                  r.snapshot_sha256, r.fetched_at, r.is_sample, r.capture
           FROM meta.datasets AS d
           LEFT JOIN meta.release_datasets AS r ON r.dataset = d.dataset AND r.release_id = ?""",
        [release_id],
    )
    out = {}
    for r in rows:
        sha = (r["snapshot_sha256"] or "")[:12]
        if r["is_sample"]:
            snap = f"sample data: synthetic (snapshot {sha})"
        elif r["capture"]:
            snap = f"{r['capture']} (snapshot {sha})"
        elif r["fetched_at"] is not None:
            snap = f"snapshot of {r['fetched_at']:%Y-%m-%d} (sha256 {sha})"
        else:
            snap = "no snapshot in this release"
        out[r["dataset"]] = Source(
            r["dataset"],
            r["title"] or r["dataset"],
            r["publisher"] or "",
            snap,
            r["licence"] or "",
            r["attribution"] or "",
            bool(r["is_sample"]),
            r["capture"],
        )
    return out


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? "
            "AND table_name = ?",
            [schema, name],
        ).fetchone()[0]
    )


def footnotes(points: list[tuple[str, int, str | None]]) -> list[str]:
    """'b (break in time series): Germany 2021, France 2019' per flag found on the points."""
    seen: dict[str, list[str]] = {}
    for who, period, flags in points:
        for flag in sorted(set((flags or "").replace(" ", ""))):
            seen.setdefault(flag, []).append(f"{who} {period}")
    return [
        f"{flag} ({FLAGS.get(flag, 'flag as published')}): " + ", ".join(sorted(set(where)))
        for flag, where in sorted(seen.items())
    ]


# -- an indicator page ------------------------------------------------------------------------
@dataclass
class Figure:
    title: str
    chart: charts.Chart
    sources: list[Source]
    notes: list[str] = field(default_factory=list)

    @property
    def svg(self) -> Markup:
        # SVG written by pipelines.charts, which escapes every text it writes.
        return Markup(self.chart.svg)  # noqa: S704


def _line_figure(
    con: duckdb.DuckDBPyConnection,
    number: int,
    head: Headline,
    rows: list[dict[str, Any]],
    label_of: Callable[[dict[str, Any]], str],
    sources: dict[str, Source],
    countries: int,
) -> Figure | None:
    """The EU series and the `countries` series of `rows` with the highest latest values."""
    lines, flagged, used = [], [], set(head.eu_sources)
    if head.eu_points:
        lines.append(charts.Line(head.eu_label, head.eu_points, head.eu_breaks, eu=True))
    candidates = [r for r in rows if r["n_points"] >= 2]
    candidates.sort(key=lambda r: (-r["latest_value"], r["series_id"]))
    for r in candidates[:countries]:
        pts = _series_points(con, r["series_id"])
        lines.append(
            charts.Line(
                label_of(r), [(p, v) for p, v, *_ in pts], [p for p, _, _, brk, _ in pts if brk]
            )
        )
        flagged += [(label_of(r), p, f) for p, _, f, _, _ in pts if f]
        used.update(s for *_, s in pts)
    if not any(line.points for line in lines):
        return None
    chart = charts.line_chart(f"ind{number:02d}-line", lines, head.unit)
    eu = "the EU and " if head.eu_points else ""
    shown = len(lines) - bool(head.eu_points)
    title = f"{head.label}: " + (
        f"{eu}the {shown} highest latest values"
        if shown
        else f"{head.eu_label} (no Member State has two or more years of data)"
    )
    return Figure(
        title, chart, [sources[s] for s in sorted(used) if s in sources], footnotes(flagged)
    )


def _bar_figure(
    labels: Labels,
    number: int,
    head: Headline,
    states: dict[str, dict[str, Any]],
    sources: dict[str, Source],
) -> Figure | None:
    if not states:
        return None
    usual = Counter(r["latest_period"] for r in states.values()).most_common(1)[0][0]
    rows = sorted(states.values(), key=lambda r: (-r["latest_value"], r["geo"]))
    bars = [
        charts.Bar(
            labels.geo(r["geo"]),
            r["latest_value"],
            " ".join(
                x
                for x in (
                    f"({r['latest_period']})" if r["latest_period"] != usual else "",
                    r["latest_flags"] or "",
                )
                if x
            ),
        )
        for r in rows
    ]
    chart = charts.bar_chart(f"ind{number:02d}-bars", bars, head.unit)
    notes = footnotes([(labels.geo(r["geo"]), r["latest_period"], r["latest_flags"]) for r in rows])
    if any(r["latest_period"] != usual for r in rows):
        notes.insert(0, f"Latest value {usual} unless another year is given in brackets.")
    used = sorted({r["source_dataset"] for r in rows})
    return Figure(
        f"{head.label}: latest value per Member State ({len(rows)} of {EU27} report)",
        chart,
        [sources[s] for s in used if s in sources],
        notes,
    )


def wastewater_section(
    con: duckdb.DuckDBPyConnection,
    labels: Labels,
    substances: list[str],
    sources: dict[str, Source],
) -> dict[str, Any] | None:
    if not _has_table(con, "trends", "wastewater_city_change"):
        return None
    latest = con.execute("SELECT max(year) FROM trends.wastewater_city_change").fetchone()[0]
    if latest is None:
        return None
    counts = _records(
        con,
        """SELECT substance, count(*) FILTER (WHERE change_class = 'increase') AS increase,
                  count(*) FILTER (WHERE change_class = 'stable') AS stable,
                  count(*) FILTER (WHERE change_class = 'decrease') AS decrease,
                  count(*) FILTER (WHERE change_class = 'no previous data') AS no_previous,
                  count(*) AS cities
           FROM trends.wastewater_city_change WHERE year = ? GROUP BY substance""",
        [latest],
    )
    by_substance = {r["substance"]: r for r in counts}
    figures, messages, table = [], [], []
    for substance in substances:
        c = by_substance.get(substance)
        if c is None:
            continue
        name = labels.substance(substance)
        table.append({**c, "label": name})
        rows = _records(
            con,
            """SELECT city, country, change_pct, change_class, value, previous_value, flags,
                      source_dataset
               FROM trends.wastewater_city_change
               WHERE year = ? AND substance = ? AND change_pct IS NOT NULL
               ORDER BY change_pct DESC, city""",
            [latest, substance],
        )
        compared = c["increase"] + c["stable"] + c["decrease"]

        def city(r: dict[str, Any]) -> str:
            return f"{r['city']} ({labels.geo(r['country'])}, {r['change_pct']:+.0f} %)"

        messages.append(
            {
                "text": f"{name}: loads rose by more than 10 % in {c['increase']} of {compared} "
                f"cities with a {latest - 1} value in the {latest} campaign, were stable in "
                f"{c['stable']} and fell in {c['decrease']}.",
                "groups": [
                    {
                        "title": f"Rose in {c['increase']}",
                        "items": [city(r) for r in rows if r["change_class"] == "increase"],
                    },
                    {
                        "title": f"Fell in {c['decrease']}",
                        "items": [city(r) for r in rows if r["change_class"] == "decrease"],
                    },
                ],
            }
        )
        if substance == substances[0] and rows:
            shown = rows[:15] + [r for r in rows[15:][-15:] if r not in rows[:15]]
            bars = [
                charts.Bar(f"{r['city']}, {labels.geo(r['country'])}", r["change_pct"])
                for r in shown
            ]
            chart = charts.change_chart("ind02-cities", bars, f"% change {latest - 1} to {latest}")
            notes = [
                "Grey band: stable (within ±10 %), as the EUDA classes city changes.",
                f"The 15 largest rises and falls of {len(rows)} cities are drawn; "
                "the key message lists them all.",
            ]
            used = sorted({r["source_dataset"] for r in rows})
            figures.append(
                Figure(
                    f"{name} in wastewater: change per city, {latest} against {latest - 1}",
                    chart,
                    [sources[s] for s in used if s in sources],
                    notes + footnotes([(r["city"], latest, r["flags"]) for r in rows]),
                )
            )
    return {"year": latest, "figures": figures, "messages": messages, "counts": table}


def indicator_page(
    con: duckdb.DuckDBPyConnection,
    labels: Labels,
    ind: dict[str, Any],
    spec: dict[str, Any] | None,
    config: dict[str, Any],
    sources: dict[str, Source],
    comparison: list[dict[str, Any]],
) -> dict[str, Any]:
    number = ind["indicator_id"]
    has_data = _has_table(con, *ind["table_name"].split(".")) and spec is not None
    page: dict[str, Any] = {**ind, "number": number, "slug": f"ind{number:02d}", "figures": []}
    page["polarity_text"] = POLARITY.get(ind["polarity"], ind["polarity"])
    page["comparison"] = [c for c in comparison if c["indicator_id"] == number]
    if not has_data:
        page.update(head=None, message=None, measures=[], datasets=[], coverage=0)
        return page
    head, states = headline_of(con, labels, number, spec)
    page["head"] = head
    countries = int(config["countries_in_line_chart"])
    if number == 2:  # one series per city, not per country: cities and their changes
        page["wastewater"] = wastewater_section(
            con, labels, list(config["wastewater_substances"]), sources
        )
        messages = (page["wastewater"] or {}).get("messages") or []
        page["message"] = messages[0] if messages else None
        cities = city_series(con, number, spec)
        line = _line_figure(
            con,
            number,
            head,
            cities,
            lambda r: f"{r['breakdown']}, {labels.geo(r['geo'])}",
            sources,
            countries,
        )
        page["figures"] = [line] if line else []
    else:
        page["message"] = key_message(labels, head, states, head.polarity or ind["polarity"])
        line = _line_figure(
            con,
            number,
            head,
            list(states.values()),
            lambda r: labels.geo(r["geo"]),
            sources,
            countries,
        )
        bars = _bar_figure(labels, number, head, states, sources)
        page["figures"] = [f for f in (line, bars) if f is not None]
    page["coverage"] = (
        con.execute(
            "SELECT count(DISTINCT geo) FROM meta.coverage WHERE indicator_id = ? AND eu27 "
            "AND numeric_values > 0",
            [number],
        ).fetchone()[0]
        if _has_table(con, "meta", "coverage")
        else len(states)
    )
    page["measures"] = [
        {**m, "label": labels.measure(number, m["measure"])}
        for m in _records(
            con,
            """SELECT a.measure, any_value(a.unit) AS unit,
                      count(DISTINCT a.geo) FILTER (WHERE g.eu27) AS member_states,
                      min(a.first_period) AS first_period, max(a.last_period) AS last_period,
                      any_value(a.polarity) AS polarity
               FROM trends.assessment AS a LEFT JOIN meta.geo AS g USING (geo)
               WHERE a.indicator_id = ? GROUP BY a.measure ORDER BY a.measure""",
            [number],
        )
    ]
    used = {
        s
        for (s,) in con.execute(
            f"SELECT DISTINCT source_dataset FROM {ind['table_name']} ORDER BY 1"
        ).fetchall()
    }
    page["datasets"] = [sources[s] for s in sorted(used) if s in sources]
    return page


def _spark(page: dict[str, Any]) -> Figure | None:
    head = page["head"]
    if head is None or len(head.eu_points) < 2:
        return None
    line = charts.Line(head.eu_label, head.eu_points, head.eu_breaks, eu=True)
    return Figure(head.eu_label, charts.sparkline(f"{page['slug']}-spark", line), [])


def overview_row(page: dict[str, Any]) -> dict[str, Any]:
    """The indicator's line of the scorecard; polarity is the headline measure's."""
    polarity = (page["head"].polarity if page["head"] else "") or page["polarity"]
    return {
        "number": page["number"],
        "slug": page["slug"],
        "name": page["name_en"],
        "polarity": polarity,
        "polarity_text": POLARITY.get(polarity, polarity),
        "head": page["head"],
        "coverage": page.get("coverage", 0),
        "spark": _spark(page),
        "message": page["message"],
    }


# -- rendering --------------------------------------------------------------------------------
@functools.cache
def _environment() -> Environment:
    """One per process: a template is compiled once (Jinja reloads one whose file changed)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)  # every value
    env.filters["number"] = format_number
    env.filters["change"] = format_change
    return env


def latest_release(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute(
        "SELECT release_id FROM meta.releases ORDER BY published_at DESC NULLS LAST, "
        "built_at DESC LIMIT 1"
    ).fetchone()
    return row[0] if row else None


def write_report(
    con: duckdb.DuckDBPyConnection, release_id: str, folder: Path, scorecard: Scorecard
) -> Path:
    """report.html and report/indNN.html in `folder`; returns the overview's path."""
    config = scorecard.model_dump()
    release = _records(con, "SELECT * FROM meta.releases WHERE release_id = ?", [release_id])[0]
    datasets = _records(
        con,
        "SELECT * FROM meta.release_datasets WHERE release_id = ? ORDER BY dataset",
        [release_id],
    )
    labels = Labels(con)
    sources = sources_of(con, release_id)
    comparison = (
        _records(
            con,
            "SELECT * FROM meta.headline_comparison ORDER BY indicator_id, measure, geo, period",
        )
        if _has_table(con, "meta", "headline_comparison")
        and "status" in {r[0] for r in con.execute("DESCRIBE meta.headline_comparison").fetchall()}
        else []
    )
    for c in comparison:
        c["label"] = labels.measure(c["indicator_id"], c["measure"])
        c["geo_label"] = labels.geo(c["geo"])
        c["substance_label"] = labels.substance(c["substance"])
    indicators = _records(con, "SELECT * FROM meta.indicators ORDER BY indicator_id")
    has_trends = _has_table(con, "trends", "assessment")
    headlines = {int(k): v for k, v in config["headlines"].items()}
    pages = [
        indicator_page(
            con,
            labels,
            ind,
            headlines.get(ind["indicator_id"]) if has_trends else None,
            config,
            sources,
            comparison,
        )
        for ind in indicators
    ]
    sample = [
        s for s in sources.values() if s.sample and any(d["dataset"] == s.dataset for d in datasets)
    ]
    bundled = [
        s
        for s in sources.values()
        if s.capture and any(d["dataset"] == s.dataset for d in datasets)
    ]
    common = {
        "release": release,
        "sample_sources": sample,
        "bundled_sources": bundled,
        "classes": CLASSES,
        "method": con.execute("SELECT any_value(method) FROM trends.assessment").fetchone()[0]
        if has_trends
        else None,
    }
    env = _environment()
    (folder / PAGES_DIR).mkdir(parents=True, exist_ok=True)
    for page in pages:
        html = env.get_template("indicator.html.j2").render(
            page=page, pages=pages, root="../", **common
        )
        (folder / PAGES_DIR / f"{page['slug']}.html").write_text(html, encoding="utf-8")
    attributions = _records(
        con, "SELECT DISTINCT attribution, licence FROM meta.datasets ORDER BY attribution"
    )
    rows = [overview_row(p) for p in pages]
    flags = sorted({f for r in rows if r["head"] for f in (r["head"].latest_flags or "")} - {" "})
    html = env.get_template("report.html.j2").render(
        rows=rows,
        flags=[f"{f} = {FLAGS.get(f, 'flag as published')}" for f in flags],
        pages=pages,
        datasets=datasets,
        comparison=comparison,
        attributions=attributions,
        root="",
        **common,
    )
    target = folder / "report.html"
    target.write_text(html, encoding="utf-8")
    return target


def report_command(paths: Paths, out: str | None) -> int:
    """`eudap report`: the scorecard of the published release, from the warehouse read-only."""
    con = open_published(paths)
    if con is None:
        print(
            f"error: no published warehouse at {paths.published_warehouse}; "
            "run `eudap demo` or `eudap run` first",
            file=sys.stderr,
        )
        return 1
    try:
        release_id = latest_release(con)
        if release_id is None:
            print(f"error: {paths.published_warehouse} records no release", file=sys.stderr)
            return 1
        folder = Path(out).resolve() if out else paths.warehouse_dir / "report"
        folder.mkdir(parents=True, exist_ok=True)
        target = write_report(con, release_id, folder, load_catalogue().scorecard)
    finally:
        con.close()
    print(f"Report of release {release_id}: {target}")
    print(f"Indicator pages: {target.parent / PAGES_DIR}/ind01.html ... ind12.html")
    return 0
