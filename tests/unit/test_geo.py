"""Unit tests for pipelines.geo: publishers' geographic codes and names to Eurostat codes."""

from __future__ import annotations

import pytest
import yaml

from pipelines.catalogue import Catalogue
from pipelines.geo import GeoMatch, GeoResolver
from pipelines.settings import ASSETS_DIR


@pytest.fixture(scope="module")
def geo() -> GeoResolver:
    """The resolver over the real reference list (assets/reference/geo.yaml)."""
    return GeoResolver(Catalogue(ASSETS_DIR).geo)


@pytest.mark.parametrize(
    ("raw", "code", "level"),
    [
        ("AT", "AT", "country"),
        ("DE", "DE", "country"),
        ("EL", "EL", "country"),  # Eurostat's code for Greece (not ISO GR)
        ("UK", "UK", "country"),  # Eurostat's code for the United Kingdom (not ISO GB)
        ("  BE ", "BE", "country"),  # surrounding blanks are ignored
        ("EU27_2020", "EU27_2020", "aggregate"),
        ("EA20", "EA20", "aggregate"),
        ("EU_NO_TR", "EU_NO_TR", "aggregate"),
    ],
)
def test_eurostat_codes(geo: GeoResolver, raw: str, code: str, level: str):
    assert geo.resolve(raw) == GeoMatch(code, level)


@pytest.mark.parametrize("raw", ["AT13", "UKC-L", "UKM", "EL30", "DE1", "FR10"])
def test_nuts_regions_of_a_known_country_are_kept(geo: GeoResolver, raw: str):
    assert geo.resolve(raw) == GeoMatch(raw, "region")


@pytest.mark.parametrize("raw", ["EA21", "ZZ", "XX1", "ZZ12", "AT1234", "EU27_2031"])
def test_well_formed_unknown_codes_are_kept_as_other(geo: GeoResolver, raw: str):
    """A new aggregate (EA21) or code is kept with level 'other' (a warning, not a failure)."""
    assert geo.resolve(raw) == GeoMatch(raw, "other")


@pytest.mark.parametrize(("raw", "level"), [("FX", "country"), ("EU28", "aggregate")])
def test_codes_of_real_hlth_cd_aro_pass(geo: GeoResolver, raw: str, level: str):
    assert geo.resolve(raw) == GeoMatch(raw, level)


def test_euda_eu_means_eu27_in_names_mode_only(geo: GeoResolver):
    assert geo.resolve("EU", mode="names") == GeoMatch("EU27_2020", "aggregate")
    assert geo.resolve("EU") == GeoMatch("EU", "aggregate")  # Eurostat's own EU code


@pytest.mark.parametrize(
    "raw",
    [
        "at13",  # lower case is not a Eurostat code
        "Atlantis",
        "",
        "   ",
        None,
    ],
)
def test_unknown_codes_resolve_to_level_none(geo: GeoResolver, raw: str | None):
    assert geo.resolve(raw) == GeoMatch(None, None)
    assert geo.resolve(raw, mode="names") == GeoMatch(None, None)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("Czechia", "CZ"),
        ("Czech Republic", "CZ"),
        ("czech  republic ", "CZ"),  # case and inner blanks do not matter
        ("CZECHIA", "CZ"),
        ("Türkiye", "TR"),
        ("Turkiye", "TR"),  # accents do not matter
        ("TÜRKIYE", "TR"),
        ("Turkey", "TR"),
        ("Greece", "EL"),
        ("The Netherlands", "NL"),
        ("Kosovo*", "XK"),
        ("Germany (until 1990 former territory of the FRG)", "DE"),
    ],
)
def test_names_mode(geo: GeoResolver, raw: str, code: str):
    match = geo.resolve(raw, mode="names")
    assert match == GeoMatch(code, "country")


def test_names_mode_still_accepts_codes_and_regions(geo: GeoResolver):
    assert geo.resolve("European Union", mode="names") == GeoMatch("EU27_2020", "aggregate")
    assert geo.resolve("EU-27", mode="names") == GeoMatch("EU27_2020", "aggregate")
    assert geo.resolve("CZ", mode="names") == GeoMatch("CZ", "country")
    assert geo.resolve("AT13", mode="names") == GeoMatch("AT13", "region")


def test_a_name_in_mixed_case_resolves_in_eurostat_mode(geo: GeoResolver):
    """Only all-capital text is taken for a code; a name such as "Czechia" is looked up."""
    assert geo.resolve("Czechia") == GeoMatch("CZ", "country")
    assert geo.resolve("Türkiye") == GeoMatch("TR", "country")


def test_yaml_boolean_trap_norway_stays_norway(geo: GeoResolver):
    # a bare NO in YAML 1.1 is the boolean false: geo.yaml must quote it
    assert yaml.safe_load("code: NO") == {"code": False}
    assert geo.resolve("NO") == GeoMatch("NO", "country")
    assert geo.resolve("Norway", mode="names") == GeoMatch("NO", "country")
    assert geo.resolve("NO", mode="names") == GeoMatch("NO", "country")
    assert geo.entries["NO"].name == "Norway"
    # every code of the reference list is a string (none turned into a boolean)
    assert all(isinstance(code, str) for code in geo.entries)
    assert False not in geo.entries and True not in geo.entries


def test_eu27_membership_of_the_reference_list(geo: GeoResolver):
    eu27 = sorted(code for code, entry in geo.entries.items() if entry.eu27)
    assert len(eu27) == 27
    assert "EL" in eu27 and "UK" not in eu27 and "NO" not in eu27


def test_a_country_code_in_mixed_case_resolves_in_names_mode(geo: GeoResolver):
    # the Statistical Bulletin's purity tables write the United Kingdom as `Uk`
    assert geo.resolve("Uk", "names") == GeoMatch("UK", "country")
