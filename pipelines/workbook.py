"""The release's workbook for monitoring staff (XLSX, written with XlsxWriter row by row in its
constant-memory mode: memory stays flat in the number of cells).

- Overview: the 12 indicators, each with a headline series (see `HEADLINE_RULE`) and its
  baseline, latest value, change and trend, and how many Member States report.
- One sheet per indicator: every value with human labels (measure descriptions from
  meta.measures, country names from meta.geo, substance labels from meta.substances), its
  flags spelled out, and its provenance (source, snapshot sha256, fetch time).
- Provenance: per dataset the source, snapshot sha256, fetch time or capture, licence and
  attribution; then what every flag means.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.utility import _preserve_whitespace, xl_rowcol_to_cell, xl_rowcol_to_cell_fast
from xlsxwriter.worksheet import CellDatetimeTuple, CellNumberTuple, CellStringTuple, Worksheet

WORKBOOK_NAME = "eudap-indicators.xlsx"
HEADLINE_RULE = (
    "Headline series: the indicator's first measure (catalogue order) with an EU-level "
    "series (EU27_2020 first), totals before breakdowns. Where no EU-level series exists, "
    "the first measure with assessed series is summarised over the countries that report it."
)
# Flag meanings as the publishers define them: Eurostat ESTAT/OBS_FLAG letters (and the
# legacy i, r), the wastewater file's below-LOQ zeros, the curated figures' qualifiers.
FLAG_MEANINGS = {
    "b": "break in time series",
    "c": "confidential",
    "d": "definition differs",
    "e": "estimated",
    "f": "forecast",
    "i": "see metadata",
    "n": "not significant",
    "p": "provisional",
    "r": "revised",
    "s": "Eurostat estimate",
    "u": "low reliability",
    "z": "not applicable",
    "<LOQ": "below the limit of quantification (published as 0)",
    ">": "more than the value (qualifier of the published figure)",
    ">=": "at least the value (qualifier of the published figure)",
    "<": "less than the value (qualifier of the published figure)",
    "<=": "at most the value (qualifier of the published figure)",
    "~": "about the value (qualifier of the published figure)",
}
SEX = {"total": "Total", "female": "Female", "male": "Male", "T": "Total", "F": "Female"}
SEX |= {"M": "Male"}
DATETIME_FORMAT = "yyyy-mm-dd h:mm:ss"


def flag_meaning(flags: str | None) -> str | None:
    """What a flag string means: a known flag, else its letters one by one."""
    if not flags:
        return None
    if flags in FLAG_MEANINGS:
        return FLAG_MEANINGS[flags]
    if all(letter in FLAG_MEANINGS for letter in flags):
        return ", ".join(FLAG_MEANINGS[letter] for letter in flags)
    return "as published by the source; its meaning is not given in the file"


def has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return con.execute(
        "SELECT count(*) > 0 FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ?",
        [schema, table],
    ).fetchone()[0]


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> list[dict]:
    rel = con.execute(sql, params or [])
    names = [d[0] for d in rel.description]
    return [dict(zip(names, r, strict=True)) for r in rel.fetchall()]


WIDE = {"Name", "Headline measure", "Geography", "Trend", "Note", "Measure", "Source", "Title"}
WIDE |= {"Country or area", "Bundled capture", "URL", "Licence", "Attribution", "Means"}


class _Worksheet(Worksheet):
    """XlsxWriter's worksheet, writing the text, number and date cells of constant-memory mode
    (nearly every cell of the workbook) in fewer steps: the XML XlsxWriter itself writes, byte
    for byte (tests/unit/test_workbook.py compares the two), with the XML of a text that
    repeats (labels, sources, sha256) made once. Any other cell goes to XlsxWriter's own code.
    The demo's workbook (206,000 cells) takes 1.0 s of CPU so, 1.6 s with XlsxWriter's own."""

    CACHED = 10_000  # texts whose XML is kept per sheet, each at most CACHED_LENGTH long:
    CACHED_LENGTH = 256  # memory stays bounded (a few MB) however large the sheet

    def __init__(self) -> None:
        super().__init__()
        self._text_xml: dict[str, str] = {}

    def _write_cell(self, row: int, col: int, cell: Any) -> None:
        kind = cell.__class__
        fmt = cell.format
        if (
            not (kind is CellStringTuple or kind is CellNumberTuple or kind is CellDatetimeTuple)
            or not self.constant_memory
            or (fmt is None and (row in self.row_info or self._column_format(col)))
        ):  # a row or column format may apply to the cell: XlsxWriter finds which
            super()._write_cell(row, col, cell)
            return
        style = "" if fmt is None else f' s="{fmt._get_xf_index()}"'
        ref = xl_rowcol_to_cell_fast(row, col)
        if kind is CellStringTuple:
            xml = self._text_xml.get(cell.string)
            if xml is None:
                xml = self._text(cell.string)
            self.fh.write(f'<c r="{ref}"{style}{xml}')
        else:
            self.fh.write(f'<c r="{ref}"{style}><v>{cell.number:.16G}</v></c>')

    def _column_format(self, col: int) -> bool:
        info = self.col_info.get(col)
        return info is not None and info.column_format is not None

    def _text(self, string: str) -> str:
        """The XML after a text cell's attributes, as XlsxWriter's _write_cell writes it, with
        one difference: XlsxWriter writes a text that starts with `<r>` and ends with `</r>`
        as raw rich-text XML, so a publisher's text of that shape would break the sheet or
        put markup in it; here every text is escaped."""
        text = self._escape_control_characters(string)
        preserve = ' xml:space="preserve"' if _preserve_whitespace(text) else ""
        xml = f' t="inlineStr"><is><t{preserve}>{self._escape_data(text)}</t></is></c>'
        if len(string) <= self.CACHED_LENGTH and len(self._text_xml) < self.CACHED:
            self._text_xml[string] = xml
        return xml


class Sheet:
    """One worksheet written top to bottom, a row at a time: a None cell stays empty, text is
    always text (never a formula or a link), numbers are numbers (NaN and infinity, which Excel
    cannot hold, show as the errors #NUM! and #DIV/0!), timestamps are dates shown as
    DATETIME_FORMAT."""

    def __init__(self, book: Workbook, name: str, titles: list[str]):
        self.ws = book.book.add_worksheet(name, _Worksheet)
        self.book = book
        self.row = 0
        for i, title in enumerate(titles):
            self.ws.set_column(i, i, 45 if title in WIDE else 16)

    def append(self, values: list[Any]) -> None:
        ws, row, stamp = self.ws, self.row, self.book.datetime
        for col, value in enumerate(values):
            if value is None:
                continue
            kind = type(value)
            if kind is str:
                failed = ws.write_string(row, col, value)
            elif kind is int or kind is float:
                failed = ws.write_number(row, col, value)
            elif kind is datetime:
                failed = ws.write_datetime(row, col, value, stamp)
            elif kind is bool:
                failed = ws.write_boolean(row, col, value)
            else:
                raise TypeError(self._where(col) + f"no cell type for {kind.__name__} {value!r}")
            if failed:  # XlsxWriter returns -1 past the sheet's limits, -2 for too long a text
                raise ValueError(self._where(col) + f"cannot be written (XlsxWriter {failed})")
        self.row += 1

    def header(self, titles: list[str]) -> None:
        self.ws.write_row(self.row, 0, titles, self.book.bold)
        self.row += 1

    def _where(self, col: int) -> str:
        return f"workbook cell {self.ws.name}!{xl_rowcol_to_cell(self.row, col)}: "


class Workbook:
    """An XLSX file written sheet after sheet, each row once (XlsxWriter keeps the rows in
    temporary files under `tmpdir`; `write_workbook` removes it however the writing ends)."""

    def __init__(self, target: Path, tmpdir: str):
        options = {
            "constant_memory": True,
            "tmpdir": tmpdir,
            "nan_inf_to_errors": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        }
        self.book = xlsxwriter.Workbook(str(target), options)
        self.bold: Format = self.book.add_format({"bold": True})
        self.datetime: Format = self.book.add_format({"num_format": DATETIME_FORMAT})

    def sheet(self, name: str, titles: list[str]) -> Sheet:
        return Sheet(self, name, titles)

    def close(self) -> None:
        """Write the file (nothing is written before)."""
        self.book.close()


ACRONYMS = {"nps": "NPS", "sdg": "SDG", "eu": "EU"}
POLARITY = {
    "up": "up (a rise is an improvement)",
    "down": "down (a fall is an improvement)",
    "context": "context (not judged)",
}


def sheet_name(indicator_id: int, short_name: str) -> str:
    words = [ACRONYMS.get(w, w) for w in short_name.split("_")]
    text = " ".join(words)
    return f"{indicator_id:02d} {text[:1].upper()}{text[1:]}"[:31]


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


# -- overview -------------------------------------------------------------------------------------
OVERVIEW_COLUMNS = [
    "Indicator",
    "Name",
    "Polarity",
    "Headline measure",
    "Geography",
    "Unit",
    "Baseline year",
    "Baseline value",
    "Latest year",
    "Latest value",
    "Change since baseline",
    "Change since baseline (%)",
    "Trend",
    "Long-term class (SDG method)",
    "Member States reporting",
    "Series assessed",
    "Note",
]

# Each indicator's headline series: the first of its assessed series in this order.
_HEADLINES = """
WITH ranked AS (
    SELECT a.*, g.name AS geo_name, m.description AS measure_label,
           list_position(i.measures, a.measure) AS measure_rank,
           CASE WHEN a.geo = 'EU27_2020' THEN 0 WHEN a.geo LIKE 'EU%' THEN 1 ELSE 2 END AS geo_rank
    FROM trends.assessment a
    JOIN meta.indicators i USING (indicator_id)
    LEFT JOIN meta.geo g USING (geo)
    LEFT JOIN meta.measures m USING (indicator_id, measure)
)
SELECT * FROM ranked
QUALIFY row_number() OVER (
    PARTITION BY indicator_id
    ORDER BY geo_rank > 1, measure_rank, geo_rank,
             substance IS NOT NULL, coalesce(sex, 'total') <> 'total', age IS NOT NULL,
             breakdown IS NOT NULL, n_points DESC, latest_period DESC, series_id
) = 1
"""


def headlines(con: duckdb.DuckDBPyConnection) -> dict[int, dict]:
    """Indicator id -> its headline series' assessment row (none without trends)."""
    if not has_table(con, "trends", "assessment"):  # a build without trends (tests)
        return {}
    return {row["indicator_id"]: row for row in _rows(con, _HEADLINES)}


def _member_states(con: duckdb.DuckDBPyConnection, table: str, measure: str | None) -> int:
    return con.execute(
        f"SELECT count(DISTINCT t.geo) FROM {table} t JOIN meta.geo g USING (geo) "
        "WHERE g.eu27 AND (? IS NULL OR t.measure = ?)",
        [measure, measure],
    ).fetchone()[0]


def overview_row(con: duckdb.DuckDBPyConnection, ind: dict, head: dict[int, dict]) -> list[Any]:
    """`head`: the headline series of every indicator (`headlines`)."""
    number, table = ind["indicator_id"], ind["table_name"]
    start = [number, ind["name_en"], POLARITY.get(ind["polarity"], ind["polarity"])]
    if not has_table(con, "trends", "assessment"):  # a build without trends (tests)
        return [*start, None, None, ind["unit"], *[None] * 10]
    series = con.execute(
        "SELECT count(*) FROM trends.assessment WHERE indicator_id = ?", [number]
    ).fetchone()[0]
    if number not in head:
        return [*start, None, None, ind["unit"], *[None] * 8, 0, series, None]
    h = head[number]
    members = _member_states(con, table, h["measure"])
    if h["geo_rank"] <= 1:
        return [
            *start,
            h["measure_label"] or h["measure"],
            h["geo_name"] or h["geo"],
            h["unit"],
            h["baseline_period"],
            h["baseline_value"],
            h["latest_period"],
            h["latest_value"],
            _rounded(h["change_since_baseline"], 6),
            _rounded(h["change_since_baseline_pct"], 1),
            h["direction"],
            h["class_long_term"],
            members,
            series,
            _series_note(h),
        ]
    directions = dict(
        con.execute(
            "SELECT direction, count(*) FROM trends.assessment a JOIN meta.geo g USING (geo) "
            "WHERE a.indicator_id = ? AND a.measure = ? AND g.eu27 GROUP BY 1",
            [number, h["measure"]],
        ).fetchall()
    )
    spread = ", ".join(f"{n} {d}" for d, n in sorted(directions.items()))
    return [
        *start,
        h["measure_label"] or h["measure"],
        "no EU-level series: Member States",
        h["unit"],
        *[None] * 6,
        spread or None,
        None,
        members,
        series,
        "Trend: the Member States' series of this measure, by direction",
    ]


def _series_note(h: dict) -> str | None:
    parts = [
        f"{label} {h[key]}"
        for key, label in (("substance", "substance"), ("sex", "sex"), ("age", "age"))
        if h[key]
    ]
    if h["breakdown"]:
        parts.append(str(h["breakdown"]))
    if h["notes"]:
        parts.append(str(h["notes"]))
    return "; ".join(parts) or None


# -- indicator sheets -----------------------------------------------------------------------------
INDICATOR_COLUMNS = [
    "Measure",
    "Country or area",
    "Year",
    "Substance",
    "Sex",
    "Age",
    "Breakdown",
    "Value",
    "Value as text",
    "Unit",
    "Flags",
    "Flags mean",
    "Note",
    "Source",
    "Snapshot sha256",
    "Fetched at (UTC)",
    "Sample data",
]


def indicator_rows(con: duckdb.DuckDBPyConnection, table: str) -> list[list[Any]]:
    substances = (
        "meta.substances"
        if has_table(con, "meta", "substances")  # built with the coverage, after indicators
        else "(SELECT NULL::VARCHAR AS substance, NULL::VARCHAR AS label)"
    )
    rows = con.execute(
        f"""
        SELECT coalesce(m.description, t.measure), coalesce(g.name, t.geo), t.period,
               coalesce(s.label, t.substance), t.sex, t.age, t.breakdown, t.value, t.value_text,
               t.unit, t.flags, t.note, coalesce(d.title, t.source_dataset), t.snapshot_sha256,
               t.fetched_at, t.is_sample
        FROM {table} t
        LEFT JOIN meta.measures m USING (indicator_id, measure)
        LEFT JOIN meta.geo g USING (geo)
        LEFT JOIN {substances} s USING (substance)
        LEFT JOIN meta.datasets d ON d.dataset = t.source_dataset
        ORDER BY list_position((SELECT measures FROM meta.indicators
                                WHERE indicator_id = t.indicator_id), t.measure),
                 g.name, t.geo, t.substance, t.sex, t.age, t.breakdown, t.period
        """
    ).fetchall()
    out = []
    for (measure, geo, period, substance, sex, age, breakdown, value, text, unit, flags, note,
         source, sha, fetched, sample) in rows:  # fmt: skip
        out.append(
            [
                measure,
                geo,
                period,
                substance,
                SEX.get(sex, sex) if sex else None,
                age,
                breakdown,
                value,
                text,
                unit,
                flags,
                flag_meaning(flags),
                note,
                source,
                sha,
                fetched,
                "yes (synthetic)" if sample else "no",
            ]
        )
    return out


# -- provenance -----------------------------------------------------------------------------------
PROVENANCE_COLUMNS = [
    "Dataset",
    "Title",
    "Publisher",
    "State in this release",
    "Snapshot sha256",
    "Fetched at (UTC)",
    "Bundled capture",
    "Sample data",
    "URL",
    "Licence",
    "Attribution",
]


def provenance_rows(con: duckdb.DuckDBPyConnection, release_id: str) -> list[list[Any]]:
    return [
        list(r)
        for r in con.execute(
            """
            SELECT d.dataset, d.title, d.publisher, rd.state, rd.snapshot_sha256, rd.fetched_at,
                   rd.capture, CASE WHEN rd.is_sample THEN 'yes (synthetic)' ELSE 'no' END,
                   d.url, d.licence, d.attribution
            FROM meta.datasets d
            LEFT JOIN meta.release_datasets rd ON rd.dataset = d.dataset AND rd.release_id = ?
            ORDER BY d.dataset
            """,
            [release_id],
        ).fetchall()
    ]


def _flags_in_use(con: duckdb.DuckDBPyConnection) -> list[str]:
    tables = [
        t
        for (t,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'indicators' ORDER BY 1"
        ).fetchall()
    ]
    if not tables:
        return []
    union = " UNION ".join(f'SELECT flags FROM indicators."{t}"' for t in tables)
    sql = f"SELECT DISTINCT flags FROM ({union}) WHERE flags IS NOT NULL ORDER BY 1"
    return [f for (f,) in con.execute(sql).fetchall()]


# -- the workbook ---------------------------------------------------------------------------------
def write_workbook(con: duckdb.DuckDBPyConnection, target: Path, release_id: str) -> Path:
    with tempfile.TemporaryDirectory(prefix="eudap-xlsx-") as tmpdir:
        book = Workbook(target, tmpdir)
        _write_sheets(con, book, release_id)
        book.close()
    return target


def _write_sheets(con: duckdb.DuckDBPyConnection, book: Workbook, release_id: str) -> None:
    indicators = _rows(con, "SELECT * FROM meta.indicators ORDER BY indicator_id")
    release = _rows(con, "SELECT * FROM meta.releases WHERE release_id = ?", [release_id])
    sample = bool(release and release[0]["uses_sample_data"])

    ws = book.sheet("Overview", OVERVIEW_COLUMNS)
    ws.append(
        [f"EU Drugs Action Plan 2021-2025: the 12 performance indicators, release {release_id}"]
    )
    if sample:
        ws.append(["Built from SAMPLE data: synthetic figures where no real file is bundled."])
    ws.append([HEADLINE_RULE])
    ws.append([])
    ws.header(OVERVIEW_COLUMNS)
    head = headlines(con)
    for ind in indicators:
        ws.append(overview_row(con, ind, head))

    tables = {
        t
        for (t,) in con.execute(
            "SELECT 'indicators.' || table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() AND schema_name = 'indicators'"
        ).fetchall()
    }
    for ind in indicators:
        if ind["table_name"] not in tables:
            continue
        ws = book.sheet(sheet_name(ind["indicator_id"], ind["short_name"]), INDICATOR_COLUMNS)
        ws.append(
            [f"Indicator {ind['indicator_id']}: {ind['name_en']} (polarity {ind['polarity']})"]
        )
        ws.append([])
        ws.header(INDICATOR_COLUMNS)
        for row in indicator_rows(con, ind["table_name"]):
            ws.append(row)

    ws = book.sheet("Provenance", PROVENANCE_COLUMNS)
    ws.append([f"Where every number of release {release_id} comes from"])
    ws.append([])
    ws.header(PROVENANCE_COLUMNS)
    for row in provenance_rows(con, release_id):
        ws.append(row)
    ws.append([])
    ws.header(["Flag", "Means"])
    for flags in _flags_in_use(con):
        ws.append([flags, flag_meaning(flags)])
