"""The data dictionary: the text `COMMENT ON` gives every published table and column.

Indicator and staging tables are described by the catalogue (an indicator's name, polarity,
measures and its sources' attribution; a dataset's title, description and licence); every
other table, and every column name, by the one dictionary file
assets/reference/dictionary.yaml (loaded and validated with the catalogue). `eudap describe`
reads the comments back.
"""

from __future__ import annotations

import duckdb

from pipelines.catalogue import Catalogue, Dataset, Indicator
from pipelines.warehouse import comment_tables

SCHEMAS = ("indicators", "trends", "meta", "staging")


class Describer:
    """The comment of each table and column of a build, from the catalogue and the file."""

    def __init__(self, cat: Catalogue):
        self.dictionary = cat.dictionary
        self.indicators = {i.table_name: i for i in cat.indicator_list()}
        self.datasets = {d.table.split(".", 1)[1]: d for d in cat.datasets.values()}
        self.cat = cat

    def table(self, schema: str, table: str) -> str:
        if schema == "indicators" and table in self.indicators:
            return self._indicator_table(self.indicators[table])
        if schema == "staging" and table in self.datasets:
            ds = self.datasets[table]
            text = f"Staged rows of {ds.title} ({ds.id}), as parsed from its snapshot."
            return f"{text} {ds.attribution} ({ds.licence})"
        return self.dictionary.tables.get(f"{schema}.{table}", "")

    def _indicator_table(self, ind: Indicator) -> str:
        credits = "; ".join(
            f"{self.cat.datasets[d].attribution} ({self.cat.datasets[d].licence})"
            for d in ind.datasets
        )
        return f"Indicator {ind.number}: {ind.name_en}. Polarity {ind.polarity}. {credits}"

    def column(self, schema: str, table: str, column: str) -> str:
        special = self.dictionary.table_columns.get(f"{schema}.{table}.{column}")
        if special:
            return special
        if schema == "indicators" and column == "measure" and table in self.indicators:
            return _measures(self.indicators[table])
        if schema == "staging" and table in self.datasets:
            ds = self.datasets[table]
            if column in ds.dimensions and column not in self.dictionary.columns:
                return _dimension(ds, column)
        return self.dictionary.columns.get(column, "")


def _measures(ind: Indicator) -> str:
    listed = "; ".join(f"{m.name} ({m.unit}): {m.description}" for m in ind.measures)
    return f"Measure of indicator {ind.number}, one of: {listed}"


def _dimension(ds: Dataset, column: str) -> str:
    return f"Dimension {column} of {ds.id} ({ds.title}), the publisher's code as published."


def apply_dictionary(con: duckdb.DuckDBPyConnection, cat: Catalogue) -> list[str]:
    """COMMENT ON every table and column of the build's published schemas. Returns what no
    source describes (`schema.table` or `schema.table.column`), which stays without comment."""
    describe = Describer(cat)
    return comment_tables(con, SCHEMAS, describe.table, describe.column)
