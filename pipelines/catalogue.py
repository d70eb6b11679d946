"""The declarative catalogue: assets/datasets/*.yaml, assets/indicators/*.yaml, reference lists.

Loading validates every file against a pydantic model; an error names the file and the
field (`assets/datasets/eurostat.crim_off_cat.yaml: url: field required`). Nothing here
fetches or parses data: this is the description the engine is built from.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipelines.settings import ASSETS_DIR

FORMATS = ("eurostat_tsv", "sdmx_csv", "jsonstat", "tabular_csv", "bulletin_xlsx", "curated_csv")
Polarity = Literal["up", "down", "context"]
DATASET_ID = re.compile(r"^(?P<source>[a-z][a-z0-9]*)\.(?P<name>[a-z][a-z0-9_]*)$")
IDENT = re.compile(r"^[a-z][a-z0-9_]*$")


class CatalogueError(ValueError):
    """A catalogue file that does not describe a usable dataset or indicator."""


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
    local_file: str | None = None  # curated inputs kept in the repository
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
    parser_options: dict[str, Any] = Field(default_factory=dict)
    value_range: tuple[float, float] = (0.0, 1e12)
    max_bytes: int = Field(default=200_000_000, gt=0)
    breaks: list[DocumentedBreak] = Field(default_factory=list)
    bulletin_rules: list[BulletinRule] = Field(default_factory=list)
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
        if self.urls and not self.collection:
            raise ValueError("urls (several files) is only for collection datasets; use url")
        return self

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
        """The download URL with `{key}` filled from the filters (SDMX key: dims in order)."""
        if self.url is None:
            return None
        if "{key}" not in self.url:
            return self.url
        key_dims = [d for d in self.dimensions]
        key = ".".join("+".join(self.filters.get(d, [])) for d in key_dims)
        return self.url.replace("{key}", key)

    def download_targets(self) -> list[tuple[str, str]]:
        """(url, snapshot file name) of every file this dataset downloads."""
        targets = []
        if (url := self.resolved_url()) is not None:
            targets.append((url, self.file_name))
        for member in self.urls:
            targets.append((member, Path(urlsplit(member).path).name or self.file_name))
        return targets

    @property
    def downloads(self) -> bool:
        return bool(self.url or self.urls or self.local_file)

    def allowed_hosts(self) -> set[str]:
        return {urlsplit(url).hostname or "" for url, _ in self.download_targets()}


class Measure(_Strict):
    name: str
    unit: str
    description: str
    # A rate whose count measure is in the same table: EU27 rates are then weighted by the
    # population each Member State's pair implies (count / rate * per).
    rate_of: str | None = None
    per: float | None = None


class Indicator(_Strict):
    """One of the 12 Action Plan indicators: names, polarity, measures, input datasets."""

    number: int = Field(ge=1, le=12)
    short_name: str
    name_en: str
    name_nl: str
    polarity: Polarity
    unit: str
    datasets: list[str]
    measures: list[Measure]
    measure_polarity: dict[str, Polarity] = Field(default_factory=dict)
    description: str = ""

    @property
    def table_name(self) -> str:
        return f"ind{self.number:02d}_{self.short_name}"

    @property
    def table(self) -> str:
        return f"indicators.{self.table_name}"

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
    level: Literal["country", "aggregate"]
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


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
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


class Catalogue:
    """Every dataset and indicator of the project, validated and cross-checked."""

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
        geo_path = ref / "geo.yaml"
        self.geo: list[GeoEntry] = [
            _validate(GeoEntry, item, Path(f"{geo_path} (entry {n})"))
            for n, item in enumerate(_load_yaml(geo_path)["geo"], start=1)
        ]
        self.trend_method: TrendMethod = _validate(
            TrendMethod, _load_yaml(ref / "trend_method.yaml"), ref / "trend_method.yaml"
        )

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


def load_catalogue(root: Path = ASSETS_DIR) -> Catalogue:
    return Catalogue(root)
