"""Eurostat code lists bundled in assets/reference/codelists/ (CODE + English label).

They answer three questions at run time, without the network and without ../shared:
is a catalogue filter code known to the publisher (checked before any request), which code
an SDMX-CSV label stands for (`Austria` -> `AT`), and which geographic codes exist (the geo
reference is generated from ESTAT_GEO). Dimensions with no bundled list (ICD10, ICCS, AGE,
RESID, INCGRP: no public copy found) cannot be checked; callers name them as unverified.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pipelines.settings import ASSETS_DIR

CODELIST_DIR = ASSETS_DIR / "reference" / "codelists"
# Dimension name (as Eurostat spells it in data files, lower case) -> bundled code list.
DIMENSION_CODELISTS: dict[str, str] = {"freq": "FREQ", "sex": "SEX", "unit": "UNIT", "geo": "GEO"}


class CodeListError(ValueError):
    """A code list that is missing or not in the bundled two-column form."""


def codelist_path(name: str, root: Path = CODELIST_DIR) -> Path:
    return root / f"ESTAT_{name}.tsv"


@cache
def load_codelist(name: str, root: Path = CODELIST_DIR) -> dict[str, str]:
    """{code: English label} of one bundled list, in the publisher's order."""
    path = codelist_path(name, root)
    if not path.exists():
        raise CodeListError(f"no bundled code list {path}")
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].split("\t")[:2] != ["CODE", "Label - English"]:
        raise CodeListError(f"{path}: line 1: header must be 'CODE<TAB>Label - English'")
    codes: dict[str, str] = {}
    for n, line in enumerate(lines[1:], start=2):
        code, _, label = line.partition("\t")
        if not code or code in codes:
            raise CodeListError(f"{path}: line {n}: empty or repeated code {code!r}")
        codes[code] = label
    return codes


def codelist_for(dimension: str) -> dict[str, str] | None:
    """The bundled list of a dimension, or None when the project has none for it."""
    name = DIMENSION_CODELISTS.get(dimension.lower())
    return load_codelist(name) if name else None


@cache
def label_index(dimension: str) -> dict[str, str] | None:
    """{English label: code} of a dimension's list (None without a list).

    A label that several codes share (rare: historic variants) maps to the first code.
    """
    codes = codelist_for(dimension)
    if codes is None:
        return None
    index: dict[str, str] = {}
    for code, label in codes.items():
        index.setdefault(label.strip(), code)
    return index
