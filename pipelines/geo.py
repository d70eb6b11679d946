"""Resolving publishers' geographic codes and names to Eurostat codes.

Known codes and names map; sub-national codes (NUTS, e.g. `AT13`, `UKC-L`) are kept when
their country prefix is known; anything else resolves to level None, which the staging gate
reports as an unknown code rather than guessing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from pipelines.catalogue import GeoEntry

REGION = re.compile(r"^(?P<country>[A-Z]{2})[0-9A-Z]{1,3}(-[0-9A-Z]{1,3})?$")
# Footnote markers publishers attach to names: "Sweden (1)", "Austria *", "Spain (a)".
NAME_MARKERS = re.compile(r"(\s*(\(\w{1,3}\)|\*))+$")


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"\s+", " ", text).strip().casefold()


@dataclass(frozen=True)
class GeoMatch:
    code: str | None
    level: str | None  # "country" | "aggregate" | "region" | None (unknown)


class GeoResolver:
    def __init__(self, entries: list[GeoEntry]):
        self.entries = {e.code: e for e in entries}
        self.by_name: dict[str, str] = {}
        for e in entries:
            for label in (e.code, e.name, *e.aliases):
                self.by_name[_fold(label)] = e.code

    def resolve(self, raw: str | None, mode: str = "eurostat") -> GeoMatch:
        if raw is None or not raw.strip():
            return GeoMatch(None, None)
        text = raw.strip()
        if text in self.entries:
            return GeoMatch(text, self.entries[text].level)
        if mode == "names" or not text.isupper():
            code = self.by_name.get(_fold(text)) or self.by_name.get(
                _fold(NAME_MARKERS.sub("", text))
            )
            if code is not None:
                return GeoMatch(code, self.entries[code].level)
        m = REGION.match(text)
        if m and m.group("country") in self.entries:
            return GeoMatch(text, "region")
        return GeoMatch(None, None)
