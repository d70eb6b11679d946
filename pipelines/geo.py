"""The geography reference and the resolution of publishers' codes and names to it.

The reference is generated, not kept by hand: every code of Eurostat's GEO code list
(assets/reference/codelists/ESTAT_GEO.tsv, with its English label), plus what
assets/reference/geo.yaml adds for the project: EU-27 membership, the EUDA's own spellings
(aliases such as "Czech Republic", "EU+2") and the few aggregates the EUDA uses that
Eurostat does not have (`EU_NO_TR`, `SCORE`, ...).

Levels: a code of geo.yaml has the level written there; a two-letter code of the GEO list is a
country; a longer one is a region when its first two letters are a country (NUTS, `AT13`,
`UKC-L`, `DE_TOT`), else an aggregate (`EU28`, `EA20`, `EUR`). A code that is well formed but
in neither list (a new aggregate such as `EA21`, a NUTS code of a newer edition) resolves to
itself with level `other`: it is kept, and a warning check reports it. Only malformed text
(lower case, a name nobody spells that way, blanks) resolves to level None, which the staging
gate refuses.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.catalogue import GeoEntry

REGION = re.compile(r"^(?P<country>[A-Z]{2})[0-9A-Z]{1,3}(-[0-9A-Z]{1,3})?$")
# The shape of every code of Eurostat's GEO list (`AT`, `EU27_2020`, `UKC-L`, `G20`, `MERCOSUR`).
WELL_FORMED = re.compile(r"^[A-Z][A-Z0-9]{1,7}(?:[_-][A-Z0-9]{1,6})*$")
# Footnote markers publishers attach to names: "Sweden (1)", "Austria *", "Spain (a)".
NAME_MARKERS = re.compile(r"(\s*(\(\w{1,3}\)|\*))+$")
OTHER = "other"


@functools.lru_cache(maxsize=16384)  # a file of names folds the same few names on every row
def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"\s+", " ", text).strip().casefold()


def generate_reference(codelist: dict[str, str], overrides: dict[str, Any]) -> list[dict[str, Any]]:
    """The geo reference rows (GeoEntry fields) from the GEO code list and geo.yaml."""
    eu27 = set(overrides.get("eu27", []))
    levels: dict[str, str] = dict(overrides.get("levels", {}))
    aliases: dict[str, list[str]] = {k: list(v) for k, v in overrides.get("aliases", {}).items()}
    extra = {e["code"]: e for e in overrides.get("extra", [])}
    unknown = sorted((eu27 | set(levels) | set(aliases)) - set(codelist) - set(extra))
    if unknown:
        raise ValueError(f"geo.yaml names codes that are in neither ESTAT_GEO nor extra: {unknown}")

    def level_of(code: str) -> str:
        if code in levels:
            return levels[code]
        if len(code) == 2:
            return "country"
        prefix = code[:2]
        is_country = prefix in codelist and len(prefix) == 2 and levels.get(prefix, "country")
        return "region" if is_country == "country" else "aggregate"

    rows = [
        {
            "code": code,
            "name": label,
            "level": level_of(code),
            "eu27": code in eu27,
            "aliases": aliases.get(code, []),
        }
        for code, label in codelist.items()
    ]
    for code, entry in extra.items():
        rows.append(
            {
                "code": code,
                "name": entry["name"],
                "level": entry["level"],
                "eu27": False,
                "aliases": list(entry.get("aliases", [])),
            }
        )
    return rows


@dataclass(frozen=True)
class GeoMatch:
    code: str | None
    level: str | None  # "country" | "aggregate" | "region" | "other" | None (malformed)


class GeoResolver:
    def __init__(self, entries: list[GeoEntry]):
        self.entries = {e.code: e for e in entries}
        self._listed = list(entries)

    # The name indexes fold every name of the GEO list (~35 ms): built on the first lookup by
    # name, which a file of codes never makes.
    @functools.cached_property
    def by_alias(self) -> dict[str, str]:
        return {_fold(alias): e.code for e in self._listed for alias in e.aliases}

    @functools.cached_property
    def by_name(self) -> dict[str, str]:
        by_name: dict[str, str] = {}
        for e in self._listed:
            by_name.setdefault(_fold(e.name), e.code)
        # A country code written in mixed case in a names file (the Bulletin's `Uk`).
        for e in self._listed:
            if e.level == "country":
                by_name.setdefault(_fold(e.code), e.code)
        # The project's spellings win over a publisher label that happens to read the same.
        by_name.update(self.by_alias)
        return by_name

    def _by_name(self, text: str) -> str | None:
        return self.by_name.get(_fold(text)) or self.by_name.get(_fold(NAME_MARKERS.sub("", text)))

    def resolve(self, raw: str | None, mode: str = "eurostat") -> GeoMatch:
        if raw is None or not raw.strip():
            return GeoMatch(None, None)
        text = raw.strip()
        if mode == "names" and (alias := self.by_alias.get(_fold(text))) is not None:
            return GeoMatch(alias, self.entries[alias].level)  # EUDA "EU" means EU27_2020
        if text in self.entries:
            return GeoMatch(text, self.entries[text].level)
        if mode == "names" or not text.isupper():
            code = self._by_name(text)
            if code is not None:
                return GeoMatch(code, self.entries[code].level)
        m = REGION.match(text)
        country = self.entries.get(m.group("country")) if m else None
        if country is not None and country.level == "country":
            return GeoMatch(text, "region")
        if WELL_FORMED.match(text):
            return GeoMatch(text, OTHER)
        return GeoMatch(None, None)
