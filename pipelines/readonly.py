"""Read-only connections to the published warehouse, importing nothing but DuckDB.

The SQL shell, `eudap describe` and `eudap status` open the warehouse through this module so
that they start in well under a second: no Dagster, no Great Expectations, no pandas.
"""

from __future__ import annotations

import duckdb

from pipelines.settings import Paths

# For SQL typed by a user: nothing but the warehouse file itself can be read or written (no
# COPY TO, ATTACH, read_text, INSTALL/LOAD), and no SET/PRAGMA can undo that.
QUERY_ONLY_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,  # last: locks the settings above
}


def open_published(paths: Paths, *, user_sql: bool = False) -> duckdb.DuckDBPyConnection | None:
    """A read-only connection to the published warehouse, or None when there is none yet.
    With `user_sql`, locked down to queries over the warehouse's own tables."""
    if not paths.published_warehouse.exists():
        return None
    config = QUERY_ONLY_CONFIG if user_sql else {}
    return duckdb.connect(str(paths.published_warehouse), read_only=True, config=config)
