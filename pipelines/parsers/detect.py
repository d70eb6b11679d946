"""Which Eurostat format a file is in, read from its content (never its name).

A user may download a dataset from the Data Browser as TSV, SDMX-CSV (1.0 or 2.0, codes or
labels) or JSON-stat, whatever the catalogue requests: `eudap load` and staging parse it with
the parser its first bytes call for. Only the Eurostat family is detected; other formats are
taken as the catalogue declares them.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.parsers.base import READ_ERRORS, open_binary

EUROSTAT_FORMATS = ("eurostat_tsv", "sdmx_csv", "jsonstat")
SNIFF_BYTES = 8192


def sniff(path: Path) -> str | None:
    """ "jsonstat", "eurostat_tsv", "sdmx_csv" or None (none of them, or unreadable)."""
    try:
        with open_binary(path) as fh:
            raw = fh.read(SNIFF_BYTES)
    except READ_ERRORS:  # the declared format's parser names what is wrong, with the file
        return None
    head = raw.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if head.startswith("{"):
        return "jsonstat"
    first = head.splitlines()[0] if head else ""
    key_cell = first.split("\t", 1)[0]
    if "\t" in first and ("\\" in key_cell or "/" in key_cell):
        return "eurostat_tsv"
    upper = first.upper()
    if "," in first and "TIME_PERIOD" in upper and "OBS_VALUE" in upper:
        return "sdmx_csv"
    return None


def effective_format(declared: str, path: Path) -> str:
    """The parser to use: for a Eurostat format, the one the content shows; else `declared`.

    A file that shows no known format keeps the declared one, whose parser then reports
    precisely what is wrong with it.
    """
    if declared not in EUROSTAT_FORMATS:
        return declared
    return sniff(path) or declared
