"""Where things live. Every path can be moved with an environment variable, nothing else."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ASSETS_DIR = PROJECT_ROOT / "assets"
SQL_DIR = PROJECT_ROOT / "sql"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
SAMPLE_MIRROR_DIR = PROJECT_ROOT / "data" / "sample"


@dataclass(frozen=True)
class Paths:
    """The two stores a run may write: the raw snapshot store and the warehouse folder."""

    data_dir: Path

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def warehouse_dir(self) -> Path:
        return self.data_dir / "warehouse"

    @property
    def published_warehouse(self) -> Path:
        return self.warehouse_dir / "warehouse.duckdb"

    @property
    def previous_warehouse(self) -> Path:
        return self.warehouse_dir / "warehouse.previous.duckdb"

    @property
    def exports_dir(self) -> Path:
        return self.warehouse_dir / "exports"

    @property
    def runs_dir(self) -> Path:
        return self.warehouse_dir / "runs"

    @property
    def inbox_dir(self) -> Path:
        """Files downloaded by hand, taken in by the next run (see pipelines/inbox.py)."""
        inbox = os.environ.get("EUDAP_INBOX")
        return Path(inbox).resolve() if inbox else self.data_dir / "inbox"

    @property
    def run_lock(self) -> Path:
        """Held by the one run (or load) writing the stores: see pipelines/runlock.py."""
        return self.warehouse_dir / "run.lock"

    def build_warehouse(self, run_id: str) -> Path:
        return self.warehouse_dir / f"build-{run_id}.duckdb"

    def build_parts(self, run_id: str) -> Path:
        """The run's build folder: what its steps hand to the one step that writes the
        build file (see pipelines/parts.py)."""
        return self.warehouse_dir / f"build-{run_id}.parts"

    @property
    def failure_log(self) -> Path:
        """Where the run-failure sensor appends a line per failed run (pipelines/notify.py)."""
        log = os.environ.get("EUDAP_FAILURE_LOG")
        return Path(log).resolve() if log else self.warehouse_dir / "run-failures.log"


def failure_webhook_from_env() -> str | None:
    """An http(s) URL the run-failure sensor POSTs each notice to as JSON (optional)."""
    return os.environ.get("EUDAP_FAILURE_WEBHOOK") or None


def data_dir_from_env() -> Path:
    return Path(os.environ.get("EUDAP_DATA_DIR", str(PROJECT_ROOT / "data"))).resolve()


# Query parameters whose value is a credential: `redact.redact_url` masks them (matched
# case-insensitively) wherever a URL is written (sidecars, meta tables, logs, run reports).
SECRET_QUERY_PARAMETERS = (
    "token",
    "access_token",
    "auth",
    "api_key",
    "apikey",
    "key",
    "sig",
    "signature",
    "password",
    "passwd",
    "secret",
    "client_secret",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
)
