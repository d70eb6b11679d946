"""The claims of SECURITY.md that no other test covers: TLS verification is never turned off,
table names in SQL text come only from validated catalogue identifiers, and the Dagster UI
listens on the loopback interface only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from pipelines.catalogue import Dataset, Indicator, load_catalogue
from pipelines.fetch import Fetcher
from pipelines.settings import PROJECT_ROOT
from pipelines.snapshots import SnapshotStore

CODE_DIRS = ("pipelines", "scripts", "bench")


def test_no_code_turns_tls_verification_off() -> None:
    offending = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}"
        for folder in CODE_DIRS
        for path in (PROJECT_ROOT / folder).rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"verify\s*=\s*False|CURL_CA_BUNDLE|REQUESTS_CA_BUNDLE", line)
    ]
    assert offending == []


def test_the_download_session_verifies_certificates(tmp_path: Path) -> None:
    assert Fetcher(SnapshotStore(tmp_path)).session.verify is True


@pytest.mark.parametrize("short_name", ["organised crime", "x; DROP TABLE y", 'a"b', "Upper"])
def test_an_indicator_short_name_must_be_an_identifier(short_name: str) -> None:
    fields = load_catalogue().indicators[1].model_dump()
    with pytest.raises(ValidationError, match="not a lower-case identifier"):
        Indicator.model_validate({**fields, "short_name": short_name})


@pytest.mark.parametrize(
    ("field", "value"),
    [("id", "eurostat.crim off"), ("id", "eurostat.x;drop"), ("dimensions", ["geo", "a-b"])],
)
def test_dataset_identifiers_must_be_identifiers(field: str, value: object) -> None:
    fields = load_catalogue().dataset("eurostat.crim_off_cat").model_dump()
    with pytest.raises(ValidationError):
        Dataset.model_validate({**fields, field: value})


def test_the_dagster_ui_listens_on_loopback_only() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    dev = [line for line in makefile.splitlines() if "bin/dg dev" in line]
    assert dev and all("-h 127.0.0.1" in line for line in dev), dev
