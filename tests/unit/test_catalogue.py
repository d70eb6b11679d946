"""Unit tests for pipelines.catalogue: the real catalogue, and errors naming file and field."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from helpers import dataset_fields, make_dataset

from pipelines.catalogue import Catalogue, CatalogueError, FilterError, load_catalogue
from pipelines.settings import ASSETS_DIR


# --------------------------------------------------------------------------- the real catalogue
@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue(ASSETS_DIR)


def test_twelve_indicators_numbered_one_to_twelve(catalogue: Catalogue):
    assert sorted(catalogue.indicators) == list(range(1, 13))
    assert [i.number for i in catalogue.indicator_list()] == list(range(1, 13))
    # each file is named after its table: ind01_organised_crime.yaml -> ind01_organised_crime
    stems = sorted(p.stem for p in (ASSETS_DIR / "indicators").glob("*.yaml"))
    assert stems == [i.table_name for i in catalogue.indicator_list()]


def test_dataset_ids_match_their_file_names(catalogue: Catalogue):
    files = sorted((ASSETS_DIR / "datasets").glob("*.yaml"))
    assert files, "the catalogue has no datasets"
    assert sorted(catalogue.datasets) == [p.stem for p in files]
    for ds_id, ds in catalogue.datasets.items():
        assert ds.id == ds_id
        assert catalogue.dataset(ds_id) is ds


def test_every_dataset_an_indicator_references_exists(catalogue: Catalogue):
    referenced = {ds_id for ind in catalogue.indicator_list() for ds_id in ind.datasets}
    assert referenced, "no indicator references a dataset"
    assert referenced <= set(catalogue.datasets), referenced - set(catalogue.datasets)
    assert {"eurostat.crim_off_cat", "eurostat.hlth_cd_aro"} <= referenced
    for ds in catalogue.datasets.values():
        assert set(ds.indicators) <= set(catalogue.indicators), ds.id


def test_real_download_urls_are_complete_https_urls(catalogue: Catalogue):
    for ds in catalogue.datasets.values():
        if ds.url is None:
            continue
        url = ds.resolved_url()
        assert url is not None and url.startswith("https://"), ds.id
        assert "{" not in url and "}" not in url, f"{ds.id}: unfilled placeholder in {url}"
        assert urlsplit(url).hostname in ds.allowed_hosts(), ds.id
    eurostat = [d for d in catalogue.datasets.values() if d.source == "eurostat"]
    assert eurostat and all(d.allowed_hosts() == {"ec.europa.eu"} for d in eurostat)


def test_resolved_url_sends_named_filters(catalogue: Catalogue):
    base = "https://ec.europa.eu/eurostat/api/dissemination/sdmx/3.0/data/dataflow/ESTAT"
    assert catalogue.dataset("eurostat.crim_off_cat").resolved_url() == (
        f"{base}/crim_off_cat/1.0/*?c[freq]=A&c[iccs]=ICCS0601,ICCS07041,ICCS0101"
        "&c[unit]=NR,P_HTHAB&format=TSV&compress=false"
    )
    aro = catalogue.dataset("eurostat.hlth_cd_aro").resolved_url() or ""
    assert "c[icd10]=TOXICO" in aro and "c[resid]=TOT_IN" in aro and "c[sex]=T,M,F" in aro
    sdg = catalogue.dataset("eurostat.sdg_16_10").resolved_url() or ""
    assert "/statistics/1.0/data/sdg_16_10?" in sdg and "icd10=X85-Y09_Y871" in sdg


def test_named_filters_do_not_depend_on_order():
    url = "https://ec.europa.eu/eurostat/api/dissemination/statistics/1.0/data/x?{filters}"
    ds = make_dataset(
        url=url,
        dimensions=["freq", "unit", "geo"],
        filters={"geo": ["AT", "BE"], "freq": ["A"]},
    )
    assert ds.resolved_url() == url.replace("{filters}", "geo=AT&geo=BE&freq=A")
    assert make_dataset(url="https://x.eu/plain.csv").resolved_url() == "https://x.eu/plain.csv"
    assert make_dataset(url=None).resolved_url() is None


def test_positional_key_urls_are_refused():
    with pytest.raises(Exception, match=r"positional SDMX keys"):
        make_dataset(url="https://x.eu/data/{key}?format=TSV", filters={"freq": ["A"]})


SDMX3 = "https://ec.europa.eu/eurostat/api/dissemination/sdmx/3.0/data/dataflow/ESTAT/x/1.0/*"


def test_unknown_filter_code_is_refused_before_any_request():
    ds = make_dataset(
        id="eurostat.x",
        url=SDMX3 + "?{filters}&format=TSV",
        dimensions=["freq", "unit", "geo"],
        filters={"freq": ["A"], "unit": ["NOT_A_UNIT"]},
    )
    with pytest.raises(FilterError, match=r"eurostat\.x: .*dimension unit: code 'NOT_A_UNIT'"):
        ds.download_targets()


def test_filter_without_code_list_must_be_declared_unverified():
    fields = dict(
        id="eurostat.x",
        url=SDMX3 + "?{filters}&format=TSV",
        dimensions=["icd10", "geo"],
        filters={"icd10": ["TOXICO"]},
    )
    with pytest.raises(FilterError, match=r"dimension icd10: no bundled code list"):
        make_dataset(**fields).download_targets()
    ds = make_dataset(**fields, unverified_codes={"icd10": "public evidence"})
    assert ds.download_targets()
    assert ds.filter_problems() == ([], ["icd10=TOXICO (public evidence)"])


def test_reference_lists_load(catalogue: Catalogue):
    codes = [g.code for g in catalogue.geo]
    assert all(isinstance(c, str) for c in codes)
    assert len(codes) == len(set(codes))
    assert {"EL", "NO", "EU27_2020"} <= set(codes)
    assert catalogue.trend_method.plan_years == (2021, 2025)


def test_unknown_dataset_lookup_lists_the_known_ones(catalogue: Catalogue):
    with pytest.raises(CatalogueError, match=r"unknown dataset 'eurostat\.nope'.*crim_off_cat"):
        catalogue.dataset("eurostat.nope")


# --------------------------------------------------------------------------- errors
def indicator_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "number": 1,
        "short_name": "organised_crime",
        "name_en": "Drug-related organised crime",
        "name_nl": "Drugsgerelateerde georganiseerde misdaad",
        "polarity": "down",
        "unit": "offences",
        "datasets": ["testsrc.sample"],
        "measures": [{"name": "offences", "unit": "count", "description": "Offences"}],
    }
    fields.update(overrides)
    return fields


def make_catalogue_dir(
    root: Path,
    datasets: dict[str, Any] | None = None,
    indicators: dict[str, Any] | None = None,
) -> Path:
    """A catalogue folder: the real reference lists plus the given files (dict or raw text)."""
    shutil.copytree(ASSETS_DIR / "reference", root / "reference")
    if datasets is None:
        datasets = {"testsrc.sample.yaml": dataset_fields()}
    if indicators is None:
        indicators = {"ind01_organised_crime.yaml": indicator_fields()}
    for sub, files in (("datasets", datasets), ("indicators", indicators)):
        (root / sub).mkdir(parents=True)
        for name, content in files.items():
            text = content if isinstance(content, str) else yaml.safe_dump(content)
            (root / sub / name).write_text(text, encoding="utf-8")
    return root


def test_a_small_valid_catalogue_loads(tmp_path: Path):
    cat = Catalogue(make_catalogue_dir(tmp_path / "cat"))
    assert list(cat.datasets) == ["testsrc.sample"]
    assert list(cat.indicators) == [1]
    assert cat.sources == ["testsrc"]


def test_loading_again_sees_an_edit_at_once_and_gives_a_catalogue_of_its_own(tmp_path: Path):
    root = make_catalogue_dir(tmp_path / "cat")
    first = load_catalogue(root)
    first.datasets.clear()  # the caller's copy: the next load is not affected
    path = root / "datasets" / "testsrc.sample.yaml"
    text = path.read_text(encoding="utf-8")
    title = yaml.safe_load(text)["title"]
    edited = title[:-1] + ("X" if title[-1] != "X" else "Y")  # same size, same clock tick
    path.write_text(text.replace(title, edited), encoding="utf-8")
    assert load_catalogue(root).datasets["testsrc.sample"].title == edited
    again = load_catalogue(root)
    assert again.datasets["testsrc.sample"].title == edited
    assert again.datasets is not load_catalogue(root).datasets
    path.write_text("id: [", encoding="utf-8")
    with pytest.raises(CatalogueError, match="testsrc.sample.yaml: not valid YAML"):
        load_catalogue(root)


def without(fields: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k != key}


@pytest.mark.parametrize(
    ("file_name", "content", "expected"),
    [
        ("testsrc.sample.yaml", "id: testsrc.sample\ntitle: [unclosed\n", "not valid YAML"),
        ("testsrc.sample.yaml", without(dataset_fields(), "format"), "format: Field required"),
        ("testsrc.sample.yaml", without(dataset_fields(), "licence"), "licence: Field required"),
        (
            "testsrc.sample.yaml",
            dataset_fields(format="xls"),
            "format: Value error, unknown format 'xls'",
        ),
        (
            "testsrc.other.yaml",
            dataset_fields(),
            "id: 'testsrc.sample' must match the file name",
        ),
        (
            "Testsrc.Sample.yaml",
            dataset_fields(id="Testsrc.Sample"),
            "id: Value error, 'Testsrc.Sample' is not of the form <source>.<dataset>",
        ),
        (
            "testsrc.sample.yaml",
            dataset_fields(geo_dimension="country"),
            "geo_dimension 'country' is not one of dimensions ['freq', 'unit', 'geo']",
        ),
        (
            "testsrc.sample.yaml",
            dataset_fields(filters={"sex": ["T"], "freq": ["A"]}),
            "filters name unknown dimensions ['sex']",
        ),
        ("testsrc.sample.yaml", dataset_fields(urll="https://x"), "urll: Extra inputs"),
        ("testsrc.sample.yaml", dataset_fields(indicators=[13]), "indicators: Value error"),
        (
            "testsrc.sample.yaml",
            dataset_fields(expected_update_days=0),
            "expected_update_days: Input should be greater than 0",
        ),
        (
            "testsrc.sample.yaml",
            dataset_fields(codes={"sex": ["T"]}),
            "codes name unknown dimensions ['sex']",
        ),
        (
            "testsrc.sample.yaml",
            dataset_fields(required=["Period"]),
            "required: Value error, required column 'Period' is not a lower-case identifier",
        ),
        (
            "testsrc.sample.yaml",
            dataset_fields(period_years=[2100, 1980]),
            "period_years: Value error, period_years [2100, 1980] must be two 4-digit years",
        ),
    ],
    ids=[
        "bad-yaml",
        "missing-format",
        "missing-licence",
        "unknown-format",
        "id-not-file-name",
        "id-form",
        "geo-dimension",
        "filters-dimension",
        "unknown-field",
        "indicator-number",
        "update-days",
        "codes-dimension",
        "required-name",
        "period-years",
    ],
)
def test_dataset_errors_name_the_file_and_the_field(
    tmp_path: Path, file_name: str, content: Any, expected: str
):
    root = make_catalogue_dir(tmp_path / "cat", datasets={file_name: content}, indicators={})
    with pytest.raises(CatalogueError) as exc:
        Catalogue(root)
    message = str(exc.value)
    assert message.startswith(f"{root / 'datasets' / file_name}: "), message
    assert expected in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (indicator_fields(datasets=["testsrc.nope"]), "datasets: unknown dataset 'testsrc.nope'"),
        (indicator_fields(number=13), "number: Input should be less than or equal to 12"),
        (indicator_fields(polarity="sideways"), "polarity: Input should be 'up', 'down'"),
        (without(indicator_fields(), "measures"), "measures: Field required"),
        (
            indicator_fields(
                measures=[
                    {"name": "offences", "unit": "count", "description": "Offences"},
                    {"name": "offences", "unit": "per 100 000", "description": "Rate"},
                ]
            ),
            "measures: Value error, measures ['offences'] declared twice (one unit per measure)",
        ),
        (indicator_fields(period_years=[1980]), "period_years"),
    ],
    ids=[
        "unknown-dataset",
        "number-range",
        "polarity",
        "missing-measures",
        "measure-twice",
        "period-years",
    ],
)
def test_indicator_errors_name_the_file_and_the_field(tmp_path: Path, content: Any, expected: str):
    root = make_catalogue_dir(tmp_path / "cat", indicators={"ind01_x.yaml": content})
    with pytest.raises(CatalogueError) as exc:
        Catalogue(root)
    message = str(exc.value)
    assert message.startswith(f"{root / 'indicators' / 'ind01_x.yaml'}: "), message
    assert expected in message


def test_an_indicator_defined_twice_is_refused(tmp_path: Path):
    root = make_catalogue_dir(
        tmp_path / "cat",
        indicators={"a.yaml": indicator_fields(), "b.yaml": indicator_fields(short_name="again")},
    )
    with pytest.raises(CatalogueError, match=re.escape(f"{root}/indicators/b.yaml: number:")):
        Catalogue(root)


def test_unquoted_norway_code_in_geo_yaml_is_refused(tmp_path: Path):
    """YAML 1.1 reads a bare NO as false: the catalogue must refuse it, not lose Norway."""
    root = make_catalogue_dir(tmp_path / "cat")
    geo = root / "reference" / "geo.yaml"
    text = geo.read_text(encoding="utf-8")
    assert '  "CZ": ["Czech Republic"]' in text
    geo.write_text(text.replace('  "CZ": ["Czech Republic"]', '  NO: ["Norge"]'))
    with pytest.raises(CatalogueError) as exc:
        Catalogue(root)
    message = str(exc.value)
    assert str(geo) in message and "neither ESTAT_GEO nor extra: [False]" in message


def test_geo_reference_is_generated_from_the_geo_code_list(catalogue: Catalogue):
    entries = {g.code: g for g in catalogue.geo}
    # every code of Eurostat's GEO list, plus the EUDA's own aggregates
    assert len(entries) == 4278 + 4
    assert entries["FX"].level == "country" and entries["EU28"].level == "aggregate"
    assert entries["AT13"].level == "region" and entries["EA20"].level == "aggregate"
    assert entries["EL"].name == "Greece" and entries["EL"].eu27
    assert "Czech Republic" in entries["CZ"].aliases and entries["SCORE"].level == "aggregate"


def test_a_dataset_must_list_the_indicators_that_use_it(tmp_path: Path):
    root = make_catalogue_dir(
        tmp_path / "cat",
        datasets={"testsrc.sample.yaml": dataset_fields(indicators=[2])},
    )
    with pytest.raises(CatalogueError, match="does not list indicator 1"):
        Catalogue(root)


def test_an_indicator_must_list_the_datasets_that_claim_it(tmp_path: Path):
    root = make_catalogue_dir(
        tmp_path / "cat", indicators={"ind01.yaml": indicator_fields(datasets=[])}
    )
    with pytest.raises(CatalogueError, match="does not list testsrc.sample"):
        Catalogue(root)


@pytest.mark.parametrize(
    ("file_name", "edit", "expected"),
    [
        ("headline_checks.yaml", lambda d: d.pop("tolerance_pct"), "tolerance_pct: Field required"),
        (
            "headline_checks.yaml",
            lambda d: d["figures"][1]["counterpart"]["member_state_sum"].update(
                filter={"geo": ["BE"]}
            ),
            "figures.1.counterpart.member_state_sum.filter.geo.[key]: Input should be 'sex'",
        ),
        (
            "headline_checks.yaml",
            lambda d: d["figures"][0].update(not_comparable="both given"),
            "give exactly one of counterpart and not_comparable",
        ),
        (
            "scorecard.yaml",
            lambda d: d["headlines"][1].pop("measure"),
            "headlines.1.measure: Field required",
        ),
        ("substances.yaml", lambda d: d["substances"][0].pop("label"), "substances.0.label"),
        ("dictionary.yaml", lambda d: d.update(chapters={}), "chapters: Extra inputs"),
    ],
    ids=[
        "headline-tolerance",
        "headline-filter-column",
        "headline-compared-or-not",
        "scorecard-measure",
        "substance-label",
        "dictionary-section",
    ],
)
def test_reference_lists_are_validated_with_the_catalogue(
    tmp_path: Path, file_name: str, edit: Any, expected: str
):
    root = make_catalogue_dir(tmp_path / "cat")
    path = root / "reference" / file_name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(CatalogueError) as exc:
        Catalogue(root)
    message = str(exc.value)
    assert message.startswith(f"{path}: "), message
    assert expected in message


def test_only_the_catalogue_reads_yaml():
    """One validated catalogue per run: no other module parses the YAML on its own."""
    readers = sorted(
        str(p.relative_to(ASSETS_DIR.parent))
        for p in (ASSETS_DIR.parent / "pipelines").rglob("*.py")
        if re.search(r"^\s*(import yaml|from yaml import)", p.read_text(encoding="utf-8"), re.M)
    )
    assert readers == ["pipelines/catalogue.py"]
