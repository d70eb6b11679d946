"""Revisions made visible: meta.published_values keeps every release's values, meta.revisions
lists what each release changed, `eudap diff` prints it.

Real builds published by `publish_build` (made as tests/unit/test_publish.py makes them) from
three vintages of a Eurostat TSV, into temporary DuckDB files.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from test_publish import make_build

from pipelines.catalogue import Catalogue, load_catalogue
from pipelines.cli import main
from pipelines.publish import publish_build
from pipelines.revisions import compare_releases, diff_command, record_revisions, values_of_sql
from pipelines.settings import Paths

HEADER = b"freq,iccs,unit,geo\\TIME_PERIOD\t2019 \t2020 \t2021 "
V1 = HEADER + (
    b"\n"
    b"A,ICCS0601,NR,AT\t9 \t10 \t12 p\n"
    b"A,ICCS0601,NR,BE\t6 \t7 \t: c\n"
    b"A,ICCS0601,NR,DK\t3 \t4 \t5 \n"
)
# AT 2021 revised (12 p -> 13) and a new period 2022, BE unchanged, DK gone, FR new.
V2 = HEADER + (
    b"\t2022 \n"
    b"A,ICCS0601,NR,AT\t9 \t10 \t13 \t14 \n"
    b"A,ICCS0601,NR,BE\t6 \t7 \t: c\t: \n"
    b"A,ICCS0601,NR,FR\t1 \t2 \t3 \t: \n"
)
KEY = ("change", "geo", "period", "first_period", "last_period", "n_values")


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def history(cat: Catalogue, tmp_path_factory: pytest.TempPathFactory) -> tuple[Paths, Paths]:
    """Three releases: r1 from V1, r2 from V2, r3 from V1 again (a revision taken back); and
    a copy of the data folder as it was with r1 alone published."""
    base = tmp_path_factory.mktemp("revisions")
    paths, first_only = Paths(base / "data"), Paths(base / "r1-only" / "data")
    for release, tsv in (("r1", V1), ("r2", V2), ("r3", V1)):
        make_build(paths, cat, release, tsv)
        publish_build(paths, release, cat)
        if release == "r1":
            shutil.copytree(paths.data_dir, first_only.data_dir, symlinks=True)
    return paths, first_only


@pytest.fixture(scope="module")
def published(history: tuple[Paths, Paths]) -> Paths:
    return history[0]


@pytest.fixture
def r1_published(history: tuple[Paths, Paths], tmp_path: Path) -> Paths:
    """A data folder of its own with r1 (from V1) alone published."""
    paths = Paths(tmp_path / "data")
    shutil.copytree(history[1].data_dir, paths.data_dir, symlinks=True)
    return paths


def connect(paths: Paths) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(paths.published_warehouse), read_only=True)


def revisions(con: duckdb.DuckDBPyConnection, release: str) -> list[tuple]:
    return con.execute(
        f"SELECT {', '.join(KEY)}, old_value, new_value, old_flags, new_flags, "
        "previous_release_id, new_snapshot_sha256 IS NOT NULL "
        "FROM meta.revisions WHERE release_id = ? ORDER BY change, geo, period",
        [release],
    ).fetchall()


def test_each_release_lists_what_it_changed(published: Paths) -> None:
    with connect(published) as con:
        assert revisions(con, "r1") == []  # the first release: nothing to compare with
        assert revisions(con, "r2") == [
            ("new_period", "AT", 2022, 2022, 2022, 1, None, 14.0, None, None, "r1", True),
            ("new_series", "FR", None, 2019, 2021, 3, None, 3.0, None, None, "r1", True),
            ("revised", "AT", 2021, 2021, 2021, 1, 12.0, 13.0, "p", None, "r1", True),
            ("vanished_series", "DK", None, 2019, 2021, 3, 5.0, None, None, None, "r1", False),
        ]
        assert revisions(con, "r3") == [
            ("new_series", "DK", None, 2019, 2021, 3, None, 5.0, None, None, "r2", True),
            ("revised", "AT", 2021, 2021, 2021, 1, 13.0, 12.0, None, "p", "r2", True),
            ("vanished_series", "FR", None, 2019, 2021, 3, 3.0, None, None, None, "r2", False),
            ("withdrawn", "AT", 2022, 2022, 2022, 1, 14.0, None, None, None, "r2", False),
        ]
        # the snapshot that revised a value is the one r2 staged
        sha = con.execute(
            "SELECT new_snapshot_sha256 FROM meta.revisions WHERE release_id = 'r2' "
            "AND change = 'revised'"
        ).fetchone()[0]
        staged = con.execute(
            "SELECT snapshot_sha256 FROM meta.release_datasets WHERE release_id = 'r2'"
        ).fetchone()[0]
        assert sha == staged


def test_every_release_keeps_what_it_published(published: Paths) -> None:
    query = (
        f"SELECT geo, period, value, flags FROM ({values_of_sql('$r')}) "
        "WHERE measure = 'drug_law_offences' ORDER BY geo, period"
    )
    with connect(published) as con:
        of = {r: con.execute(query, {"r": r}).fetchall() for r in ("r1", "r2", "r3")}
        current = con.execute(
            "SELECT geo, period, value, flags FROM indicators.ind01_organised_crime "
            "WHERE measure = 'drug_law_offences' ORDER BY geo, period"
        ).fetchall()
        # versions are stored once: 9 values of r1, 3 changed or new in r2, 3 more in r3
        stored = con.execute("SELECT count(*) FROM meta.published_values").fetchone()[0]
    assert of["r1"] == of["r3"] == current
    assert ("AT", 2021, 12.0, "p") in of["r1"] and ("DK", 2019, 3.0, None) in of["r1"]
    assert ("AT", 2021, 13.0, None) in of["r2"] and ("AT", 2022, 14.0, None) in of["r2"]
    assert not any(geo == "DK" for geo, *_ in of["r2"])
    assert stored == 9 + 5 + 4  # r1: 9; r2: AT 2021, AT 2022, FR x3; r3: AT 2021, DK x3


def test_any_two_releases_compare_from_the_history(published: Paths) -> None:
    with connect(published) as con:
        assert compare_releases(con, "r1", "r3") == []
        forward = compare_releases(con, "r1", "r2")
        stored = con.execute("SELECT count(*) FROM meta.revisions WHERE release_id = 'r2'")
        assert len(forward) == stored.fetchone()[0] == 4


def test_recording_a_release_twice_changes_nothing(cat: Catalogue, r1_published: Paths) -> None:
    paths = r1_published
    make_build(paths, cat, "r2", V2)
    con = duckdb.connect(str(paths.build_warehouse("r2")))
    try:
        con.execute(
            "INSERT INTO meta.releases (release_id, built_at, published_at) "
            "VALUES ('r2', now(), now())"
        )
        snapshot = "SELECT * FROM meta.published_values ORDER BY ALL"
        assert record_revisions(con, "r2") == 4
        once = (con.execute(snapshot).fetchall(), revisions(con, "r2"))
        assert record_revisions(con, "r2") == 4
        assert (con.execute(snapshot).fetchall(), revisions(con, "r2")) == once
    finally:
        con.close()


def test_diff_prints_the_last_two_releases_by_default(published: Paths) -> None:
    with connect(published) as con:
        code, out, err = diff_command(con, None, None)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("From release r2 (published ")
    assert lines[1].startswith("  to release r3 (published ")
    assert lines[2] == (
        "  1 revised value, 0 new periods, 1 new series, 1 withdrawn value, 1 vanished series"
    )
    assert "  ind01 drug_law_offences AT 2021 (count): 13 -> 12 [p]; snapshot " in out
    assert "  ind01 drug_law_offences AT 2022 (count): was 14; snapshot " in out
    assert "  ind01 drug_law_offences DK (count) 2019-2021 (3 values), latest 5; " in out
    assert "  ind01 drug_law_offences FR (count) 2019-2021 (3 values), last 3; " in out


def test_diff_takes_releases_by_id_or_prefix(published: Paths) -> None:
    with connect(published) as con:
        code, out, _ = diff_command(con, "r1", "r2")
        assert code == 0 and "From release r1 " in out and "1 new period," in out
        code, out, _ = diff_command(con, "r1", None)  # B defaults to the latest
        assert code == 0 and "to release r3 " in out and "No published value changed." in out


def test_diff_of_an_unknown_release_exits_2_listing_the_known_ones(
    published: Paths, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("EUDAP_DATA_DIR", str(published.data_dir))
    assert main(["diff", "r9", "r2"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[0] == "error: no release 'r9'; the releases, oldest first:"
    assert [line.split()[0] for line in err.splitlines()[1:]] == ["r1", "r2", "r3"]
    assert main(["diff", "r"]) == 2  # a prefix of more than one release
    assert "more than one release starts with 'r'" in capsys.readouterr().err


def test_diff_with_a_single_release_has_nothing_to_compare(history: tuple[Paths, Paths]) -> None:
    with connect(history[1]) as con:
        assert diff_command(con, None, None) == (
            0,
            "Only 1 release (r1): nothing to compare.\n",
            "",
        )


def test_diff_opens_the_warehouse_without_dagster(published: Paths) -> None:
    code = (
        "import sys; from pipelines.cli import main; status = main(['diff']); "
        "assert not [m for m in sys.modules if m.split('.')[0] in ('dagster', "
        "'great_expectations', 'pandas')], 'heavy imports'; sys.exit(status)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={"EUDAP_DATA_DIR": str(published.data_dir), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("From release r2 ")
