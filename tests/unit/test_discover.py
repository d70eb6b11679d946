"""pipelines.discover: links found on landing pages, and the catalogue's `discover:` block.

Pages are our own HTML (no real EUDA page is available); the fetcher's side (reading pages
over HTTP, snapshots, sidecars) is tested in test_fetch.py against pytest-httpserver.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from helpers import dataset_fields, make_dataset
from pydantic import ValidationError

from pipelines.catalogue import (
    Catalogue,
    CatalogueError,
    Dataset,
    Discover,
    _validate,
    load_catalogue,
)
from pipelines.discover import (
    DiscoveryError,
    Page,
    discover,
    editions,
    extract_links,
    link_file_name,
    matching_links,
)
from pipelines.fetch import mirror_key
from pipelines.settings import SAMPLE_MIRROR_DIR

PAGE = "https://www.euda.europa.eu/data/repository/source-data-2025_en"
WW_PAGE = (
    "https://www.euda.europa.eu/data/repository/"
    "drugs-municipal-wastewater-europe-source-data-{year}_en"
)
EUDA_HOSTS = {"www.euda.europa.eu", "d9www.euda.europa.eu"}
TODAY = date(2026, 3, 15)


def spec(**overrides: object) -> Discover:
    fields = {"page": WW_PAGE, "pattern": r"ww{year}-all-data(_en)?\.csv", "years_back": 3}
    return Discover.model_validate({**fields, **overrides})


def reader(pages: dict[str, str]):
    """A page reader over a dict (URL -> HTML); an absent URL is a page that does not exist."""
    calls: list[str] = []

    def read(url: str) -> Page | None:
        calls.append(url)
        return Page(url, pages[url].encode(), url) if url in pages else None

    read.calls = calls  # type: ignore[attr-defined]
    return read


# ----------------------------------------------------------------------------- links
def test_links_relative_absolute_entities_queries_and_fragments() -> None:
    html = """<html><body>
      <a href="/sites/default/files/data/ww2025-all-data_en.csv">all data</a>
      <a href="files/site%20table.csv#top">relative to the page's folder</a>
      <A HREF='https://d9www.euda.europa.eu/x/ww2025-site-info-table_en.csv?download=1&amp;lang=en'>x</A>
      <a href="//www.euda.europa.eu/y.csv">scheme-relative</a>
      <a href="mailto:info@euda.europa.eu">mail</a> <a href="#main">skip</a> <a>no href</a>
      <a href="/sites/default/files/data/ww2025-all-data_en.csv">the same file again</a>
    </body></html>"""
    assert extract_links(html, PAGE) == [
        "https://www.euda.europa.eu/sites/default/files/data/ww2025-all-data_en.csv",
        "https://www.euda.europa.eu/data/repository/files/site%20table.csv",
        "https://d9www.euda.europa.eu/x/ww2025-site-info-table_en.csv?download=1&lang=en",
        "https://www.euda.europa.eu/y.csv",
        "https://www.euda.europa.eu/data/repository/source-data-2025_en",  # "#main": the page
    ]


def test_links_resolve_against_a_base_element() -> None:
    html = '<head><base href="https://d9www.euda.europa.eu/files/"></head><a href="a.csv">a</a>'
    assert extract_links(html, PAGE) == ["https://d9www.euda.europa.eu/files/a.csv"]


def test_file_name_is_the_decoded_last_path_segment_without_query() -> None:
    assert link_file_name("https://h.eu/a/ww2026-all-data_en.csv?x=1") == "ww2026-all-data_en.csv"
    assert link_file_name("https://h.eu/a/site%20table.csv") == "site table.csv"


def test_only_allowed_hosts_and_whole_file_names_match() -> None:
    links = [
        "https://www.euda.europa.eu/f/ww2025-all-data_en.csv",
        "https://d9www.euda.europa.eu/f/ww2025-all-data.csv",
        "https://evil.example.org/f/ww2025-all-data_en.csv",  # host not allowed
        "https://www.euda.europa.eu/f/ww2025-all-data_en.csv.zip",  # not the whole name
        "https://www.euda.europa.eu/f/old-ww2025-all-data_en.csv",
    ]
    assert matching_links(links, r"ww2025-all-data(_en)?\.csv", EUDA_HOSTS) == links[:2]


# -------------------------------------------------------------------------- editions
def test_editions_this_year_first_then_earlier() -> None:
    assert editions(spec(), TODAY) == [2026, 2025, 2024, 2023]
    assert editions(spec(page=PAGE, pattern=r"data\.csv", years_back=0), TODAY) == [None]


def test_newest_edition_with_a_page_wins() -> None:
    read = reader(
        {
            WW_PAGE.replace("{year}", "2025"): '<a href="/f/ww2025-all-data_en.csv">2025</a>',
            WW_PAGE.replace("{year}", "2024"): '<a href="/f/ww2024-all-data_en.csv">2024</a>',
        }
    )
    found = discover("euda.wastewater", spec(), read, TODAY, collection=False)
    assert found.edition == 2025
    assert found.links == ["https://www.euda.europa.eu/f/ww2025-all-data_en.csv"]
    assert read.calls == [WW_PAGE.replace("{year}", y) for y in ("2026", "2025")]


def test_a_page_without_a_match_falls_back_to_the_previous_edition() -> None:
    read = reader(
        {
            WW_PAGE.replace("{year}", "2026"): "<p>Coming soon</p>",
            WW_PAGE.replace("{year}", "2025"): '<a href="/f/ww2025-all-data_en.csv">x</a>',
        }
    )
    found = discover("euda.wastewater", spec(), read, TODAY, collection=False)
    assert found.edition == 2025 and "2026_en (0 link(s)" in found.tried[0]


def test_no_page_at_all_fails_naming_every_page_tried() -> None:
    with pytest.raises(DiscoveryError) as err:
        discover("euda.wastewater", spec(years_back=1), reader({}), TODAY, collection=False)
    message = str(err.value)
    assert message.startswith("euda.wastewater: no link matching")
    assert "source-data-2026_en (no such page)" in message
    assert "source-data-2025_en (no such page)" in message


def test_several_different_links_for_a_plain_dataset_are_an_error() -> None:
    page = '<a href="/a/ww2026-all-data_en.csv">a</a><a href="/b/ww2026-all-data.csv">b</a>'
    read = reader({WW_PAGE.replace("{year}", "2026"): page})
    with pytest.raises(DiscoveryError, match="2 links matching .* expected one"):
        discover("euda.wastewater", spec(), read, TODAY, collection=False)


def test_a_collection_takes_every_matching_link_of_the_newest_edition() -> None:
    page = '<a href="/a/ww2026-all-data_en.csv">a</a><a href="/b/ww2026-all-data.csv">b</a>'
    read = reader({WW_PAGE.replace("{year}", "2026"): page})
    found = discover("euda.wastewater", spec(), read, TODAY, collection=True)
    assert [link_file_name(u) for u in found.links] == [
        "ww2026-all-data_en.csv",
        "ww2026-all-data.csv",
    ]


# ------------------------------------------------------------------ the catalogue block
def test_catalogue_discover_block_is_validated_with_clear_errors(tmp_path: Path) -> None:
    good = {"page": WW_PAGE, "pattern": r"ww{year}\.csv"}
    problems = {
        "not a URL": ({"page": "euda.europa.eu/page"}, "is not an absolute http(s) URL"),
        "bad regex": ({"pattern": "ww{year}-(all.csv"}, "is not a regular expression"),
        "no year": (
            {"page": PAGE, "pattern": r"a\.csv", "years_back": 2},
            "years_back needs {year}",
        ),
        "host": ({"allowed_hosts": ["https://d9www.euda.europa.eu/"]}, "bare host names"),
        "unknown key": ({"year": 2026}, "Extra inputs are not permitted"),
    }
    for name, (change, expected) in problems.items():
        data = dataset_fields(url=None, discover={**good, **change})
        with pytest.raises(CatalogueError) as err:
            _validate(Dataset, data, tmp_path / "x.yaml")
        assert "discover" in str(err.value) and expected in str(err.value), name


def test_discover_replaces_url() -> None:
    with pytest.raises(ValidationError, match="discover replaces url"):
        make_dataset(discover={"page": PAGE, "pattern": r"a\.csv", "years_back": 0})
    ds = make_dataset(url=None, discover={"page": WW_PAGE, "pattern": r"a{year}\.csv"})
    assert ds.downloads and ds.download_targets() == []
    assert ds.allowed_hosts() == {"www.euda.europa.eu"}


def test_wastewater_datasets_are_discovered_on_the_release_page() -> None:
    cat: Catalogue = load_catalogue()
    for ds_id in ("euda.wastewater", "euda.wastewater_sites"):
        ds = cat.dataset(ds_id)
        assert ds.url is None and ds.discover is not None
        assert ds.discover.page == WW_PAGE
        assert ds.allowed_hosts() == EUDA_HOSTS
    assert spec().pattern == cat.dataset("euda.wastewater").discover.pattern  # type: ignore[union-attr]
    # the 2026 names, as verified under .../data-nodes/33337/versions/5/
    for ds_id, name in (
        ("euda.wastewater", "ww2026-all-data_en.csv"),
        ("euda.wastewater_sites", "ww2026-site-info-table_en.csv"),
    ):
        link = f"https://www.euda.europa.eu/sites/default/files/data/data-nodes/33337/versions/5/{name}"
        pattern = cat.dataset(ds_id).discover.pattern.replace("{year}", "2026")  # type: ignore[union-attr]
        assert matching_links([link], pattern, EUDA_HOSTS) == [link]


# ------------------------------------------------------------ the mirror's stand-in pages
def mirror_reader(url: str) -> Page | None:
    path = SAMPLE_MIRROR_DIR / mirror_key(url)
    return Page(url, path.read_bytes(), url) if path.is_file() else None


def test_edr_is_discovered_on_the_mirror_hub_stand_in_and_every_link_is_bundled() -> None:
    """The catalogue's own `discover:` block finds the EDR tables on the stand-in hub page;
    the page lists exactly the files the mirror bundles, each at the path it links to."""
    ds = load_catalogue().dataset("euda.edr")
    assert ds.discover is not None and ds.collection
    found = discover("euda.edr", ds.discover, mirror_reader, TODAY, collection=True)
    assert found.edition == 2024  # the 2026 and 2025 hub pages are not in the mirror
    assert found.tried[:2] == [
        "https://www.euda.europa.eu/data/source-data/edr/2026/complete_en (no such page)",
        "https://www.euda.europa.eu/data/source-data/edr/2025/complete_en (no such page)",
    ]
    names = [link_file_name(u) for u in found.links]
    assert len(names) == len(set(names)) >= 10
    assert "edr2024-nps-table-6-notifications.csv" in names
    for link in found.links:
        assert (SAMPLE_MIRROR_DIR / mirror_key(link)).is_file(), link
    manifest = json.loads((SAMPLE_MIRROR_DIR / "MIRROR.json").read_text(encoding="utf-8"))
    page = manifest["files"][mirror_key(found.page.url)]
    assert page["kind"] == "stand_in_page" and sorted(page["lists"]) == sorted(names)


def test_edr_hub_stand_in_names_are_real_file_names(upstream_dir: Path) -> None:
    hub = Discover(
        page="https://www.euda.europa.eu/data/source-data/edr/2024/complete_en",
        pattern=r"edr2024-.+\.csv",
        years_back=0,
    )
    found = discover("euda.edr", hub, mirror_reader, TODAY, collection=True)
    real = {p.name for p in (upstream_dir / "euda_edr2024").glob("*.csv")}
    assert {link_file_name(u) for u in found.links} <= real


def test_a_hub_page_with_all_116_files_of_an_edition_gives_all_116(upstream_dir: Path) -> None:
    """A hub page listing every 2024 table (the real file names, at data-node style paths,
    with other links around them) is discovered whole by the catalogue's pattern."""
    real = sorted(p.name for p in (upstream_dir / "euda_edr2024").glob("*.csv"))
    assert len(real) == 116
    links = "\n".join(
        f'<li><a href="/sites/default/files/data/data-nodes/{9000 + i}/versions/2/{n}">{n}</a></li>'
        for i, n in enumerate(real)
    )
    html = (
        f'<html><body><a href="/data/source-data/edr/2023/complete_en">2023</a><ul>{links}</ul>'
        '<a href="/sites/default/files/edr2024-report.pdf">report</a></body></html>'
    )
    ds = load_catalogue().dataset("euda.edr")
    assert ds.discover is not None
    hub = ds.discover.page.replace("{year}", "2024")
    found = discover("euda.edr", ds.discover, reader({hub: html}), TODAY, collection=True)
    assert found.edition == 2024
    assert sorted(link_file_name(u) for u in found.links) == real


def test_the_edr_pattern_matches_the_2026_names() -> None:
    ds = load_catalogue().dataset("euda.edr")
    assert ds.discover is not None
    pattern = ds.discover.pattern.replace("{year}", "2026")
    link = (
        "https://www.euda.europa.eu/sites/default/files/data/data-nodes/33313/versions/56/"
        "edr2026-cocaine-table-8_en.csv"
    )
    assert matching_links([link], pattern, EUDA_HOSTS) == [link]


def test_wastewater_stand_in_page_leads_to_the_mirror_files() -> None:
    cat = load_catalogue()
    for ds_id in ("euda.wastewater", "euda.wastewater_sites"):
        ds = cat.dataset(ds_id)
        assert ds.discover is not None
        found = discover(ds_id, ds.discover, mirror_reader, TODAY, collection=False)
        assert found.edition == 2025
        (link,) = found.links
        assert (SAMPLE_MIRROR_DIR / mirror_key(link)).is_file(), link
