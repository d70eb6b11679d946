"""The declarative catalogue: assets/datasets/*.yaml, assets/indicators/*.yaml, reference lists.

Loading validates every file against a pydantic model; an error names the file and the
field (`assets/datasets/eurostat.crim_off_cat.yaml: url: field required`). Nothing here
fetches or parses data: this is the description the engine is built from.
"""

from __future__ import annotations

import copy
import hashlib
import re
import threading
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipelines.codelists import CODELIST_DIR, codelist_for, load_codelist
from pipelines.settings import ASSETS_DIR

FORMATS = (
    "eurostat_tsv",
    "sdmx_csv",
    "jsonstat",
    "tabular_csv",
    "bulletin_xlsx",
    "curated_csv",
    "edr_csv",
)
Polarity = Literal["up", "down", "context"]
M = TypeVar("M", bound=BaseModel)
DATASET_ID = re.compile(r"^(?P<source>[a-z][a-z0-9]*)\.(?P<name>[a-z][a-z0-9_]*)$")
IDENT = re.compile(r"^[a-z][a-z0-9_]*$")


class CatalogueError(ValueError):
    """A catalogue file that does not describe a usable dataset or indicator."""


class FilterError(CatalogueError):
    """A dataset filter code that the publisher's code list does not have."""


def filter_style(url: str) -> str | None:
    """How a Eurostat URL takes named filters: "sdmx3", "statistics" or None."""
    path = urlsplit(url).path
    if "/sdmx/3.0/data/" in path:
        return "sdmx3"
    if "/statistics/1.0/data/" in path:
        return "statistics"
    return None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DocumentedBreak(_Strict):
    """A break in series the publisher documented: no trend statistic may span it."""

    period: int
    match: dict[str, str] = Field(default_factory=dict)  # staged column -> value; empty = all
    reason: str


class BulletinRule(_Strict):
    """Maps a Statistical Bulletin table to an indicator by the prefix of its breadcrumb."""

    prefix: list[str]
    indicator: int = Field(ge=1, le=12)
    measure: str
    unit: str
    role: Literal["indicator", "context"] = "indicator"


class ReadLimits(_Strict):
    """What reading one snapshot may cost, checked while streaming, before memory is committed.

    A file over a limit is refused at admission (`eudap load`, a download) and, if an older
    store already holds it, quarantined at staging; the refusal names the limit.
    """

    # Bytes after gzip/zip decompression (per file; per member and in total for an XLSX).
    max_decompressed_bytes: int = Field(default=1_000_000_000, gt=0)
    # Decompressed / compressed bytes, checked once the output passes `ratio_check_after_bytes`
    # (small files compress well without being bombs).
    max_expansion_ratio: float = Field(default=100.0, gt=1)
    ratio_check_after_bytes: int = Field(default=16_000_000, ge=0)
    # One line of a line-based format (TSV, CSV); bytes at admission, characters when parsed.
    max_line_bytes: int = Field(default=1_000_000, gt=0)
    # Cells a reader allocates: an XLSX sheet's grid (rows x columns, from the sheet's
    # dimension and its cell references) and cell count; a JSON-stat cube's size.
    max_sheet_rows: int = Field(default=100_000, gt=0)
    max_sheet_cols: int = Field(default=2_000, gt=0)
    max_cells: int = Field(default=5_000_000, gt=0)


YEAR = "{year}"


class Discover(_Strict):
    """A landing page whose links give the download URL(s), instead of a fixed `url`.

    `page` and `pattern` may hold `{year}`: editions are tried from this year back
    `years_back` years, and the first page that lists a matching link wins (pipelines.discover).
    """

    page: str  # an http(s) URL, e.g. ".../source-data-{year}_en"
    pattern: str  # regex, full match of a link's file name: "ww{year}-all-data(_en)?\\.csv"
    years_back: int = Field(default=2, ge=0, le=10)
    # hosts the links may point to besides the page's own (e.g. d9www.euda.europa.eu)
    allowed_hosts: list[str] = Field(default_factory=list)

    @field_validator("page")
    @classmethod
    def _page_url(cls, v: str) -> str:
        parts = urlsplit(v.replace(YEAR, "2000"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"page {v!r} is not an absolute http(s) URL")
        return v

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, v: str) -> str:
        try:
            re.compile(v.replace(YEAR, "2000"))
        except re.error as exc:
            raise ValueError(f"pattern {v!r} is not a regular expression: {exc}") from None
        return v

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, v: list[str]) -> list[str]:
        bad = [h for h in v if not re.fullmatch(r"[a-z0-9.-]+", h)]
        if bad:
            raise ValueError(f"allowed_hosts must be bare host names, got {bad}")
        return v

    @model_validator(mode="after")
    def _editions(self) -> Discover:
        if self.years_back and YEAR not in self.page + self.pattern:
            raise ValueError("years_back needs {year} in page or pattern (or set years_back: 0)")
        return self

    @property
    def hosts(self) -> set[str]:
        return {urlsplit(self.page.replace(YEAR, "2000")).hostname or "", *self.allowed_hosts}


class TableRule(_Strict):
    """Recognises one kind of European Drug Report source-data table and says how to read it.

    A file matches when its chapter (from the file name, `edr2024-<chapter>-table-...`) is
    one of `chapters` and its header signature (column names normalised, see
    `pipelines.parsers.edr_csv.signature`) is exactly `columns` plus one or more columns per
    `column_patterns` entry. Never the table number: numbers change between editions.
    """

    name: str
    chapters: list[str]
    columns: list[str] = Field(default_factory=list)  # normalised names, exact
    column_patterns: list[str] = Field(default_factory=list)  # regex, full match, normalised
    # role `unused`: a known table that feeds no indicator (accepted, nothing staged)
    role: Literal["indicator", "context", "unused"] = "indicator"
    indicators: list[int] = Field(default_factory=list)
    read: dict[str, Any] = Field(default_factory=dict)  # tabular_csv options (staged names)
    constants: dict[str, str] = Field(default_factory=dict)  # staged dimension -> value
    # regex searched in the file name; its named groups are staged dimension values
    # (`annex-table-2a-cocaine-prevalence` -> substance `cocaine`)
    file_name: str | None = None
    unit: str | None = None  # unit of every value, or
    unit_column: str | None = None  # the staged dimension that holds each row's unit
    # rows without a period get the edition's reference period (the table gives none)
    reference_period: bool = False
    description: str = ""

    @field_validator("name")
    @classmethod
    def _rule_name(cls, v: str) -> str:
        if not IDENT.match(v):
            raise ValueError(f"rule name {v!r} is not a lower-case identifier")
        return v

    @model_validator(mode="after")
    def _rule_consistent(self) -> TableRule:
        if not self.columns and not self.column_patterns:
            raise ValueError(f"rule {self.name}: give columns and/or column_patterns")
        for pattern in self.column_patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"rule {self.name}: bad column pattern {pattern!r}: {exc}"
                ) from None
        if self.role == "unused":
            if self.read or self.indicators:
                raise ValueError(f"rule {self.name}: an unused table has no read or indicators")
        elif not self.read or not self.indicators or not (self.unit or self.unit_column):
            raise ValueError(f"rule {self.name}: a used table needs read, indicators and a unit")
        return self


class Dataset(_Strict):
    """One upstream dataset: where it lives, its format, its layout and how its codes map."""

    id: str
    publisher: str
    title: str
    url: str | None = None  # None: no download, only `eudap load` or curated files
    # A collection (e.g. the Statistical Bulletin): many files, each one member table,
    # identified by its content (the breadcrumb), never by its file name.
    collection: bool = False
    urls: list[str] = Field(default_factory=list)  # collection members with a known URL
    # URLs found on a landing page at fetch time (pipelines.discover), instead of `url`/`urls`
    discover: Discover | None = None
    local_file: str | None = None  # curated inputs kept in the repository
    # No automated download: where a person downloads the files, to drop them into the
    # inbox (pipelines/inbox.py) or give them to `eudap load` (`eudap sources` says so).
    download_by_hand: str | None = None
    edition: str | None = None  # the publisher's edition/release the URL belongs to
    default_period: str | None = None  # period of rows whose file gives none (reference year)
    # A file with no observation is refused (a filter that matched nothing, a truncated
    # export) unless the dataset may legitimately be empty (a curated file awaiting rows).
    allow_empty: bool = False
    format: str
    file_name: str
    licence: str
    attribution: str
    update_cadence: str
    expected_update_days: int = Field(gt=0)
    indicators: list[int]
    dimensions: list[str]
    geo_dimension: str | None = "geo"
    geo_codes: Literal["eurostat", "names"] = "eurostat"
    code_maps: dict[str, dict[str, str]] = Field(default_factory=dict)
    filters: dict[str, list[str]] = Field(default_factory=dict)
    # Filter dimensions whose codes cannot be checked (no bundled code list): dimension ->
    # the evidence for the code. They are sent as declared and named as unverified.
    unverified_codes: dict[str, str] = Field(default_factory=dict)
    parser_options: dict[str, Any] = Field(default_factory=dict)
    value_range: tuple[float, float] = (0.0, 1e12)
    # The years a staged period may take (inclusive); a period outside fails the gate.
    period_years: tuple[int, int] = (1980, 2100)
    # Staged columns every row must have (not null); the suite is generated from them.
    required: list[str] = Field(default_factory=lambda: ["period"])
    # Dimensions with a closed list of codes (those the indicator SQL maps): a staged row with
    # another code fails the gate. Unlike `filters`, which only shape the request.
    codes: dict[str, list[str]] = Field(default_factory=dict)
    max_bytes: int = Field(default=200_000_000, gt=0)
    limits: ReadLimits = Field(default_factory=ReadLimits)
    # A new snapshot with more than this share fewer observations than the previous good one
    # (the published release's, else the last that staged) is quarantined; null: no check.
    max_row_drop: float | None = Field(default=0.2, ge=0, le=1)
    # Snapshots (sha256, or its first 12+ hex digits) whose drop is known to be real.
    expected_drop: list[str] = Field(default_factory=list)
    breaks: list[DocumentedBreak] = Field(default_factory=list)
    bulletin_rules: list[BulletinRule] = Field(default_factory=list)
    # European Drug Report source data: each member table recognised by chapter and header
    table_rules: list[TableRule] = Field(default_factory=list)
    description: str = ""

    @field_validator("id")
    @classmethod
    def _id_form(cls, v: str) -> str:
        if not DATASET_ID.match(v):
            raise ValueError(f"{v!r} is not of the form <source>.<dataset> in lower case")
        return v

    @field_validator("format")
    @classmethod
    def _known_format(cls, v: str) -> str:
        if v not in FORMATS:
            raise ValueError(f"unknown format {v!r}; known: {', '.join(FORMATS)}")
        return v

    @field_validator("dimensions")
    @classmethod
    def _dimension_names(cls, v: list[str]) -> list[str]:
        for name in v:
            if not IDENT.match(name):
                raise ValueError(f"dimension {name!r} is not a lower-case identifier")
        return v

    @field_validator("required")
    @classmethod
    def _required_names(cls, v: list[str]) -> list[str]:
        for name in v:
            if not IDENT.match(name):
                raise ValueError(f"required column {name!r} is not a lower-case identifier")
        return v

    @field_validator("period_years")
    @classmethod
    def _period_years(cls, v: tuple[int, int]) -> tuple[int, int]:
        return _year_span(v)

    @field_validator("indicators")
    @classmethod
    def _indicator_numbers(cls, v: list[int]) -> list[int]:
        bad = [n for n in v if not 1 <= n <= 12]
        if bad:
            raise ValueError(f"indicator numbers must be 1..12, got {bad}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Dataset:
        if self.geo_dimension is not None and self.geo_dimension not in self.dimensions:
            raise ValueError(
                f"geo_dimension {self.geo_dimension!r} is not one of dimensions {self.dimensions}"
            )
        unknown = sorted(set(self.filters) - set(self.dimensions))
        if unknown:
            raise ValueError(f"filters name unknown dimensions {unknown}")
        if self.url and "{key}" in self.url:
            raise ValueError(
                "url: positional SDMX keys ({key}) are not allowed: a wrong dimension order "
                "selects the wrong data silently; use named filters ({filters})"
            )
        if self.url and "{filters}" in self.url and not filter_style(self.url):
            raise ValueError(
                "url: {filters} needs an SDMX 3.0 (/sdmx/3.0/) or statistics 1.0 "
                "(/statistics/1.0/) Eurostat URL"
            )
        unknown = sorted(set(self.codes) - set(self.dimensions))
        if unknown:
            raise ValueError(f"codes name unknown dimensions {unknown}")
        stray = sorted(set(self.unverified_codes) - set(self.filters))
        if stray:
            raise ValueError(f"unverified_codes name dimensions without a filter: {stray}")
        short = [s for s in self.expected_drop if not re.fullmatch(r"[0-9a-f]{12,64}", s)]
        if short:
            raise ValueError(f"expected_drop: {short} are not sha256 prefixes (12+ hex digits)")
        if self.urls and not self.collection:
            raise ValueError("urls (several files) is only for collection datasets; use url")
        if self.discover is not None and (self.url or self.urls or self.local_file):
            raise ValueError("discover replaces url/urls/local_file: give one of them, not both")
        if self.download_by_hand and self.downloads:
            raise ValueError("download_by_hand is for a dataset with no automated download")
        if self.table_rules:
            self._check_table_rules()
        return self

    def _check_table_rules(self) -> None:
        names = [r.name for r in self.table_rules]
        if len(set(names)) != len(names):
            raise ValueError(f"table_rules: rule names must be unique: {names}")
        for rule in self.table_rules:
            unknown = sorted(set(rule.constants) - set(self.dimensions))
            if unknown:
                raise ValueError(f"table_rules: {rule.name}: constants name unknown {unknown}")
            extra = sorted(set(rule.indicators) - set(self.indicators))
            if extra:
                raise ValueError(
                    f"table_rules: {rule.name}: indicators {extra} not in the dataset's "
                    f"indicators {self.indicators}"
                )

    @property
    def source(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.id.split(".", 1)[1]

    @property
    def table(self) -> str:
        """The staging table, e.g. staging.eurostat_crim_off_cat."""
        return f"staging.{self.source}_{self.name}"

    @property
    def asset_name(self) -> str:
        return f"{self.source}_{self.name}"

    def resolved_url(self) -> str | None:
        """The download URL with `{filters}` filled with named dimension filters.

        SDMX 3.0: `c[icd10]=TOXICO&c[sex]=T,M,F`; statistics 1.0 (JSON-stat):
        `icd10=TOXICO&sex=T&sex=M&sex=F`. Filters are named, so their order cannot matter.
        """
        if self.url is None:
            return None
        if "{filters}" not in self.url:
            return self.url
        style = filter_style(self.url)
        if style == "sdmx3":
            pairs = [f"c[{dim}]={','.join(codes)}" for dim, codes in self.filters.items()]
        else:
            pairs = [f"{dim}={code}" for dim, codes in self.filters.items() for code in codes]
        return self.url.replace("{filters}", "&".join(pairs))

    def filter_problems(self) -> tuple[list[str], list[str]]:
        """(refused, unverified): filter codes the publisher's code list does not have, and
        filter dimensions that no bundled code list covers."""
        refused: list[str] = []
        unverified: list[str] = []
        for dim, codes in self.filters.items():
            known = codelist_for(dim)
            if known is None:
                note = self.unverified_codes.get(dim)
                if note is None:
                    refused.append(
                        f"dimension {dim}: no bundled code list, and the dataset does not "
                        "declare it in unverified_codes"
                    )
                else:
                    unverified.append(f"{dim}={','.join(codes)} ({note})")
                continue
            for code in codes:
                if code not in known:
                    refused.append(
                        f"dimension {dim}: code {code!r} is not in Eurostat's "
                        f"{dim.upper()} code list"
                    )
        return refused, unverified

    def check_filters(self) -> None:
        """Refuse, before any request, a filter code unknown to the publisher."""
        refused, _ = self.filter_problems()
        if refused:
            raise FilterError(
                f"{self.id}: request refused before download: "
                + "; ".join(refused)
                + f" (assets/datasets/{self.id}.yaml)"
            )

    def download_targets(self) -> list[tuple[str, str]]:
        """(url, snapshot file name) of every file with a fixed URL (none for `discover`)."""
        targets = []
        if self.filters and self.url and "{filters}" in self.url:
            self.check_filters()
        if (url := self.resolved_url()) is not None:
            targets.append((url, self.file_name))
        for member in self.urls:
            targets.append((member, Path(urlsplit(member).path).name or self.file_name))
        return targets

    @property
    def downloads(self) -> bool:
        return bool(self.url or self.urls or self.local_file or self.discover)

    def allowed_hosts(self) -> set[str]:
        hosts = {urlsplit(url).hostname or "" for url, _ in self.download_targets()}
        return hosts | (self.discover.hosts if self.discover else set())


class Measure(_Strict):
    name: str
    unit: str
    description: str
    # A rate whose count measure is in the same table: EU27 rates are then weighted by the
    # population each Member State's pair implies (count / rate * per).
    rate_of: str | None = None
    per: float | None = None


def _year_span(v: tuple[int, int]) -> tuple[int, int]:
    first, last = v
    if not 1000 <= first <= last <= 9999:
        raise ValueError(f"period_years {list(v)} must be two 4-digit years, first <= last")
    return v


class Indicator(_Strict):
    """One of the 12 Action Plan indicators: names, polarity, measures, input datasets."""

    number: int = Field(ge=1, le=12)
    short_name: str
    name_en: str
    name_nl: str
    polarity: Polarity
    unit: str
    # The datasets whose staging tables the indicator's SQL reads, and only those: the
    # indicator's asset waits for exactly these (its failure radius), and
    # tests/unit/test_indicators.py checks the SQL (macros expanded) against the list.
    datasets: list[str]
    measures: list[Measure]
    measure_polarity: dict[str, Polarity] = Field(default_factory=dict)
    # Plausible values of every measure ([min, max]; max null: no upper bound) and the years
    # a period may take; the indicator table's gate is generated from them.
    value_range: tuple[float, float | None] = (0.0, None)
    period_years: tuple[int, int] = (1980, 2100)
    description: str = ""

    @field_validator("measures")
    @classmethod
    def _one_unit_per_measure(cls, v: list[Measure]) -> list[Measure]:
        names = [m.name for m in v]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"measures {twice} declared twice (one unit per measure)")
        return v

    @field_validator("period_years")
    @classmethod
    def _period_years(cls, v: tuple[int, int]) -> tuple[int, int]:
        return _year_span(v)

    @property
    def table_name(self) -> str:
        return f"ind{self.number:02d}_{self.short_name}"

    @property
    def table(self) -> str:
        return f"indicators.{self.table_name}"

    @field_validator("datasets")
    @classmethod
    def _datasets_once(cls, v: list[str]) -> list[str]:
        twice = sorted({d for d in v if v.count(d) > 1})
        if twice:
            raise ValueError(f"datasets listed twice: {twice}")
        return v

    @field_validator("short_name")
    @classmethod
    def _short_name_form(cls, v: str) -> str:
        if not IDENT.match(v):  # it names a table in SQL text
            raise ValueError(f"short_name {v!r} is not a lower-case identifier")
        return v

    def polarity_of(self, measure: str) -> Polarity:
        return self.measure_polarity.get(measure, self.polarity)


class GeoEntry(_Strict):
    code: str
    name: str
    level: Literal["country", "aggregate", "region"]
    eu27: bool = False
    aliases: list[str] = Field(default_factory=list)


class TrendMethod(_Strict):
    name: str
    edition: str
    short_term_years: int
    long_term_years: int
    min_span_short: int
    min_span_long: int
    thresholds: dict[str, float]
    baseline_year: int
    plan_years: tuple[int, int]
    mann_kendall_alpha: float
    mann_kendall_min_points: int
    suspected_break_min_factor: float
    suspected_break_mad_k: float
    wastewater_stable_band_pct: float


class Substance(_Strict):
    name: str
    label: str
    wastewater_marker: str | None = None


FilterColumn = Literal["sex", "age", "substance", "breakdown", "unit"]


class HeadlineCounterpartSeries(_Strict):
    """The computed series a headline figure is compared with: a measure, optionally filtered."""

    measure: str
    # column -> allowed values (null: the column is empty)
    filter: dict[FilterColumn, list[str | None]] = Field(default_factory=dict)


class HeadlineCounterpart(_Strict):
    """Like for like: another series of the same geography and year, or the sum over all 27
    Member States of the same year. Exactly one kind, with the definition in words."""

    same_geo: HeadlineCounterpartSeries | None = None
    member_state_sum: HeadlineCounterpartSeries | None = None
    definition: str

    @model_validator(mode="after")
    def _one_kind(self) -> HeadlineCounterpart:
        if (self.same_geo is None) == (self.member_state_sum is None):
            raise ValueError("give exactly one of same_geo and member_state_sum")
        return self


class HeadlineFigure(_Strict):
    """A curated EU headline figure and what it may be compared with, or why nothing."""

    indicator: int = Field(ge=1, le=12)
    measure: str
    geo: str
    counterpart: HeadlineCounterpart | None = None
    not_comparable: str | None = None

    @model_validator(mode="after")
    def _compared_or_not(self) -> HeadlineFigure:
        if (self.counterpart is None) == (self.not_comparable is None):
            raise ValueError("give exactly one of counterpart and not_comparable")
        return self


class HeadlineChecks(_Strict):
    dataset: str
    tolerance_pct: float = Field(ge=0)
    figures: list[HeadlineFigure]


class ScorecardHeadline(_Strict):
    """The series of an indicator the scorecard shows: a measure, pinned by dimension filters."""

    measure: str
    label: str
    filter: dict[FilterColumn, str] = Field(default_factory=dict)


class Scorecard(_Strict):
    """assets/reference/scorecard.yaml: what the report shows per indicator."""

    headlines: dict[int, ScorecardHeadline]
    wastewater_substances: list[str]
    countries_in_line_chart: int = Field(ge=1)


class DataDictionary(_Strict):
    """The text of the tables and columns the catalogue does not describe itself."""

    tables: dict[str, str] = Field(default_factory=dict)  # schema.table -> text
    columns: dict[str, str] = Field(default_factory=dict)  # column name -> text
    table_columns: dict[str, str] = Field(default_factory=dict)  # schema.table.column -> text

    @field_validator("tables", "columns", "table_columns", mode="before")
    @classmethod
    def _texts(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): str(t).strip() for k, t in v.items()}
        return v


# libyaml's loader (bundled in PyYAML's wheels) reads the catalogue about 9x faster than the
# pure-Python one, to the same data; every command and run loads the catalogue.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path}: not valid YAML: {exc}") from exc


def _validate(model: type[BaseModel], data: Any, path: Path) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(file)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise CatalogueError(f"{path}: {problems}") from exc


def _load_model(model: type[M], path: Path) -> M:
    return _validate(model, _load_yaml(path) or {}, path)  # type: ignore[no-any-return]


class SubstanceList(_Strict):
    substances: list[Substance]


class Catalogue:
    """Every dataset and indicator of the project and the reference lists, validated and
    cross-checked: loaded once per run and passed down, so nothing else reads the YAML."""

    def __init__(self, root: Path = ASSETS_DIR):
        self.root = root
        self.datasets: dict[str, Dataset] = {}
        for path in sorted((root / "datasets").glob("*.yaml")):
            ds = _validate(Dataset, _load_yaml(path), path)
            if path.stem != ds.id:
                raise CatalogueError(f"{path}: id: {ds.id!r} must match the file name")
            self.datasets[ds.id] = ds
        self.indicators: dict[int, Indicator] = {}
        for path in sorted((root / "indicators").glob("*.yaml")):
            ind = _validate(Indicator, _load_yaml(path), path)
            if ind.number in self.indicators:
                raise CatalogueError(f"{path}: number: indicator {ind.number} defined twice")
            for ds_id in ind.datasets:
                if ds_id not in self.datasets:
                    raise CatalogueError(f"{path}: datasets: unknown dataset {ds_id!r}")
                if ind.number not in self.datasets[ds_id].indicators:
                    raise CatalogueError(
                        f"{path}: datasets: {ds_id} does not list indicator {ind.number} "
                        f"in its `indicators` (assets/datasets/{ds_id}.yaml)"
                    )
            self.indicators[ind.number] = ind
        for ds in self.datasets.values():
            for number in ds.indicators:
                if number in self.indicators and ds.id not in self.indicators[number].datasets:
                    raise CatalogueError(
                        f"{root / 'datasets' / (ds.id + '.yaml')}: indicators: indicator "
                        f"{number} does not list {ds.id} among its datasets"
                    )
        ref = root / "reference"
        self.geo: list[GeoEntry] = _geo_reference(ref / "geo.yaml")
        self.trend_method: TrendMethod = _load_model(TrendMethod, ref / "trend_method.yaml")
        self.substances: dict[str, Substance] = {
            s.name: s for s in _load_model(SubstanceList, ref / "substances.yaml").substances
        }
        self.headline_checks: HeadlineChecks = _load_model(
            HeadlineChecks, ref / "headline_checks.yaml"
        )
        self.dictionary: DataDictionary = _load_model(DataDictionary, ref / "dictionary.yaml")
        self.scorecard: Scorecard = _load_model(Scorecard, ref / "scorecard.yaml")

    def dataset(self, dataset_id: str) -> Dataset:
        try:
            return self.datasets[dataset_id]
        except KeyError:
            known = ", ".join(sorted(self.datasets))
            raise CatalogueError(f"unknown dataset {dataset_id!r}; known: {known}") from None

    @cached_property
    def sources(self) -> list[str]:
        return sorted({d.source for d in self.datasets.values()})

    def indicator_list(self) -> list[Indicator]:
        return [self.indicators[n] for n in sorted(self.indicators)]

    def copy(self) -> Catalogue:
        """A catalogue sharing the (frozen) models, with dicts and lists of its own."""
        clone = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, dict | list):
                setattr(clone, name, copy.copy(value))
        return clone


def _geo_reference(geo_path: Path) -> list[GeoEntry]:
    """The geo reference: Eurostat's GEO code list plus the project's geo.yaml additions."""
    from pipelines.geo import generate_reference

    overrides = _load_yaml(geo_path)
    if not isinstance(overrides, dict):
        raise CatalogueError(f"{geo_path}: expected a mapping with eu27, levels, aliases, extra")
    try:
        rows = generate_reference(load_codelist("GEO"), overrides)
    except (ValueError, KeyError, TypeError) as exc:
        raise CatalogueError(f"{geo_path}: {exc}") from exc
    return [_geo_entry(row, geo_path) for row in rows]


def _geo_entry(row: dict[str, Any], geo_path: Path) -> GeoEntry:
    try:
        return GeoEntry.model_validate(row)
    except ValidationError:  # the same error, naming the row (a Path per row costs 0.1 s)
        return _validate(GeoEntry, row, Path(f"{geo_path} ({row.get('code')})"))


_LOADED: dict[Path, tuple[bytes, Catalogue]] = {}
_LOADED_ROOTS = 8  # tests load many temporary catalogues; keep the last few roots only
_LOADED_LOCK = threading.Lock()


def _files_digest(root: Path) -> bytes:
    """sha256 over the name and bytes of every file a catalogue of `root` can read (its
    folder and the bundled code lists): contents, not mtimes, so an edit within the file
    system's clock resolution is seen too."""
    digest = hashlib.sha256()
    for folder in dict.fromkeys([root, CODELIST_DIR]):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.digest()


def load_catalogue(root: Path = ASSETS_DIR) -> Catalogue:
    """The catalogue of `root`. Parsing and validating it costs ~70 ms; loading it again in
    the same process (commands, assets and tests each load it) reuses the last one while
    none of its files changed, as a copy: the caller may change its dicts and lists."""
    digest = _files_digest(root)
    with _LOADED_LOCK:
        hit = _LOADED.get(root)
    if hit is None or hit[0] != digest:
        hit = (digest, Catalogue(root))
        with _LOADED_LOCK:
            _LOADED.pop(root, None)
            _LOADED[root] = hit
            while len(_LOADED) > _LOADED_ROOTS:
                _LOADED.pop(next(iter(_LOADED)))
    return hit[1].copy()
