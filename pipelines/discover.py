"""Download URLs found on a landing page, for publishers that move their files each release.

A catalogue entry with a `discover:` block (pipelines.catalogue.Discover) names a page and a
regular expression for the file name of the links it wants::

    discover:
      page: "https://www.euda.europa.eu/data/repository/drugs-municipal-wastewater-europe-source-data-{year}_en"
      pattern: "ww{year}-all-data(_en)?\\.csv"
      years_back: 3
      allowed_hosts: [d9www.euda.europa.eu]

`{year}` is replaced by an edition year, from this year back `years_back` years. For each
edition the page is read (a page that does not exist is skipped) and its links are matched:
every `<a href>`, relative or absolute, entities decoded, query string kept, fragment
dropped, on the page's host or an allowed host. The pattern must match the whole file name
(the last path segment, percent-decoded). The first edition with a match wins: a plain
dataset takes its one link (several different ones are an error), a collection takes every
matching link of that edition. A page that is refused (any answer but 200/304/404/410), or no
match in any edition, fails the dataset with a reason naming the pages tried; it then stays
on its last good snapshot.

Reading the page is the fetcher's job (`pipelines.fetch.Fetcher`, which also snapshots it);
this module only decides, so it is tested on pages of any shape without a network.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from html.parser import HTMLParser
from pathlib import PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from pipelines.catalogue import YEAR, Discover


class DiscoveryError(RuntimeError):
    """No usable link was found; the message names the dataset and the pages tried."""


@dataclass(frozen=True)
class Page:
    """A landing page as read: its upstream URL, its bytes, and the URL its relative links
    resolve against (where a live request ended up; the upstream URL when read from a mirror)."""

    url: str
    body: bytes
    base_url: str


# Returns the page, or None when it does not exist (HTTP 404/410, not in the mirror);
# raises (FetchError) when it is refused or cannot be read.
PageReader = Callable[[str], Page | None]


@dataclass(frozen=True)
class Found:
    """The links chosen for a dataset and the page they were found on."""

    page: Page
    edition: int | None  # the `{year}` that matched, None without `{year}`
    links: list[str]
    tried: list[str]  # pages read or skipped before (and including) this one


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # decodes entities in attribute values too
        self.base: str | None = None
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v for k, v in attrs if v is not None}
        if tag == "base" and self.base is None and values.get("href"):
            self.base = values["href"].strip()
        elif tag == "a" and values.get("href"):
            self.hrefs.append(values["href"].strip())


def extract_links(html: str, page_url: str) -> list[str]:
    """Every http(s) link of an HTML page as an absolute URL, in page order, without repeats."""
    collector = _LinkCollector()
    collector.feed(html)
    collector.close()
    base = urljoin(page_url, collector.base) if collector.base else page_url
    links: list[str] = []
    for href in collector.hrefs:
        parts = urlsplit(urljoin(base, href))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            continue  # mailto:, javascript:, a bare "#fragment" on a page without a host...
        url = urlunsplit(parts._replace(fragment=""))
        if url not in links:
            links.append(url)
    return links


def link_file_name(url: str) -> str:
    """The last path segment of a link, percent-decoded (`ww2026-all-data_en.csv`)."""
    return unquote(PurePosixPath(urlsplit(url).path).name)


def editions(spec: Discover, today: date) -> list[int | None]:
    """The edition years to try, newest first ([None] when nothing depends on the year)."""
    if YEAR not in spec.page + spec.pattern:
        return [None]
    return [today.year - n for n in range(spec.years_back + 1)]


def _fill(template: str, year: int | None) -> str:
    return template if year is None else template.replace(YEAR, str(year))


def matching_links(links: list[str], pattern: str, hosts: set[str]) -> list[str]:
    """Links on an allowed host whose file name matches `pattern` entirely."""
    regex = re.compile(pattern)
    return [
        url
        for url in links
        if (urlsplit(url).hostname or "") in hosts and regex.fullmatch(link_file_name(url))
    ]


def decode_page(body: bytes) -> str:
    """HTML text: UTF-8 (with or without BOM) as the EUDA serves it, else CP1252."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace")


def discover(
    dataset_id: str, spec: Discover, read_page: PageReader, today: date, collection: bool
) -> Found:
    """The links of the newest edition that lists any (see the module docstring)."""
    tried: list[str] = []
    read: dict[str, Page | None] = {}  # a page without {year} is read once
    for year in editions(spec, today):
        page_url = _fill(spec.page, year)
        if page_url not in read:
            read[page_url] = read_page(page_url)
        page = read[page_url]
        if page is None:
            tried.append(f"{page_url} (no such page)")
            continue
        pattern = _fill(spec.pattern, year)
        hosts = spec.hosts | {urlsplit(page.base_url).hostname or ""}
        links = extract_links(decode_page(page.body), page.base_url)
        found = matching_links(links, pattern, hosts)
        tried.append(f"{page_url} ({len(found)} link(s) matching {pattern!r})")
        if not found:
            continue
        if len(found) > 1 and not collection:
            raise DiscoveryError(
                f"{dataset_id}: {page_url} has {len(found)} links matching {pattern!r}, "
                f"expected one: {', '.join(found)}"
            )
        return Found(page, year, found, tried)
    raise DiscoveryError(
        f"{dataset_id}: no link matching the catalogue's discover pattern on any page tried: "
        + "; ".join(tried)
    )


def member_file_name(url: str, fallback: str) -> str:
    """The snapshot file name of a discovered collection member: the link's file name."""
    name = link_file_name(url)
    return name if name and "/" not in name and not name.startswith(".") else fallback
