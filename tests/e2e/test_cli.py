"""The real `eudap` console script, driven as a user would, in a temporary data dir.

Every command runs in a subprocess with `EUDAP_DATA_DIR` and `DAGSTER_HOME` pointing into a
temporary folder (telemetry off), so nothing touches the repository's data/ or ~/.dagster.
Full builds are slow, so the demo is built once per test session (tests/conftest.py) and the
commands that only read it share it. One more run, on a copy of the demo's data folder,
serves two stories (`second_release`): a second crim_off_cat vintage loaded by hand shows up
in `eudap diff` as exactly what changed, and the run (an HTML page in a copy of the sample
mirror, with --quiet) fails naming the dataset yet publishes while an analyst's read-only
connection stays open. Two runs at once: tests/e2e/test_cli_concurrent.py.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from console import EUDAP, SAMPLE_DIR, TIMEOUT, Result, environment, eudap, published
from helpers import mirror_download_keys

from pipelines.catalogue import load_catalogue

pytestmark = pytest.mark.e2e

HTML_DATASET = "euda.edr"  # its gps-current member is served as an HTML page
HTML_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Maintenance</title></head>\n"
    "<body>Back soon</body></html>\n"
)

# An analyst's session: opens the published warehouse read-only, reports what it sees,
# waits (on stdin, not on a clock) while a run publishes, then reads again on the SAME
# connection.
READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
def view():
    n, latest = con.execute(
        "SELECT count(*), arg_max(release_id, published_at) FROM meta.releases"
    ).fetchone()
    rows = con.execute("SELECT count(*) FROM indicators.ind01_organised_crime").fetchone()[0]
    return f"{n} {latest} {rows}"
print("BEFORE", view(), flush=True)
sys.stdin.readline()
print("AFTER", view(), flush=True)
con.close()
"""


@pytest.fixture(scope="module", autouse=True)
def console_script() -> None:
    if not EUDAP.exists():
        pytest.skip(f"the console script {EUDAP} is not installed in this environment")


# --------------------------------------------------------------- without a warehouse
def test_sql_without_a_warehouse_fails_with_a_clear_first_line(tmp_path: Path) -> None:
    env = environment(tmp_path)
    res = eudap(env, "sql", "select 1")
    assert res.code == 1
    assert res.out == ""  # errors go to stderr: `--csv > out.csv` never holds one
    assert res.first_error_line.startswith("FAILED:"), res.err
    assert "no published warehouse" in res.first_error_line
    assert "eudap demo" in res.first_error_line  # and says what to do
    assert "Traceback" not in res.out + res.err


def test_load_of_an_html_page_fails_with_a_clear_message(tmp_path: Path) -> None:
    env = environment(tmp_path)
    page = tmp_path / "crim_off_cat.tsv.gz"  # the name a user saved it under
    page.write_text(HTML_PAGE, encoding="utf-8")
    res = eudap(env, "load", "eurostat.crim_off_cat", str(page))
    assert res.code != 0
    assert res.first_line.startswith("FAILED: eurostat.crim_off_cat"), res.out
    assert "HTML" in res.first_line
    assert "Traceback" not in res.out + res.err
    raw = Path(env["EUDAP_DATA_DIR"]) / "raw"
    # refused: kept aside for inspection, never a snapshot
    assert list((raw / "_rejected" / "eurostat" / "crim_off_cat").rglob("crim_off_cat*"))
    assert not (raw / "eurostat" / "crim_off_cat").exists() or not list(
        (raw / "eurostat" / "crim_off_cat").glob("2*")
    )


# ----------------------------------------------------------------------------- the demo
def test_demo_builds_and_publishes_the_sample_warehouse(demo: tuple[dict, Result]) -> None:
    env, res = demo
    assert res.code == 0, res.out + res.err
    ok = [line for line in res.out.splitlines() if line.startswith("OK:")]
    assert ok, res.out
    assert "SAMPLE" in ok[0]
    with duckdb.connect(str(published(env)), read_only=True) as con:
        tables = con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'indicators' ORDER BY 1"
        ).fetchall()
        assert len(tables) == 12
        for (name,) in tables:
            (rows,) = con.execute(f"SELECT count(*) FROM indicators.{name}").fetchone()
            assert rows > 0, f"indicators.{name} is empty in the demo"


def test_demo_publishes_the_real_wastewater_release_found_on_its_landing_page(
    demo: tuple[dict, Result],
) -> None:
    env, res = demo
    assert res.code == 0, res.out + res.err
    with duckdb.connect(str(published(env)), read_only=True) as con:
        (value,) = con.execute(
            "SELECT value FROM indicators.ind02_emerging_threats "
            "WHERE measure = 'wastewater_daily_mean' AND breakdown = 'AT001 (Graz)' "
            "AND substance = 'MDMA' AND period = 2024"
        ).fetchone()
        sources = con.execute(
            "SELECT dataset, url, resolved_from FROM meta.snapshots "
            "WHERE dataset LIKE 'euda.wastewater%' ORDER BY dataset"
        ).fetchall()
    assert value == 15.53  # the real 2025 release, bundled in the mirror
    page = (
        "https://www.euda.europa.eu/data/repository/"
        "drugs-municipal-wastewater-europe-source-data-2025_en"
    )
    assert [(d, u.rsplit("/", 1)[1], p) for d, u, p in sources] == [
        ("euda.wastewater", "ww2025-all-data.csv", page),
        ("euda.wastewater_sites", "ww2025-site-info-table.csv", page),
    ]


def test_demo_labels_real_captures_and_synthetic_files_apart(demo: tuple[dict, Result]) -> None:
    env, res = demo
    rows = {line.split()[0]: line for line in res.out.splitlines() if line.startswith("  ")}
    for ds in ("eurostat.crim_off_cat", "euda.wastewater", "euda.edr"):
        assert "[bundled copy, capture date unknown (" in rows[ds] and "sample" not in rows[ds], (
            rows[ds]
        )
    for ds in ("eurostat.hlth_cd_aro", "curated.prison_policy", "euda.bulletin"):
        assert "[sample data: synthetic]" in rows[ds], rows[ds]
    with duckdb.connect(str(published(env)), read_only=True) as con:
        (cz,) = con.execute(
            "SELECT count(*) FROM indicators.ind07_prevalence WHERE geo = 'CZ' AND period = 2020 "
            "AND substance = 'cannabis' AND age = 'All adults (15-64)' AND value = 29.9"
        ).fetchone()
        (ind01_sample,) = con.execute(
            "SELECT bool_or(is_sample) FROM indicators.ind01_organised_crime "
            "WHERE source_dataset = 'eurostat.crim_off_cat'"
        ).fetchone()
        captures = dict(
            con.execute("SELECT dataset, capture FROM meta.release_datasets").fetchall()
        )
    assert cz > 0 and ind01_sample is False  # real EDR 2024 and Eurostat figures
    assert captures["euda.edr"].startswith("bundled copy, capture date unknown (")
    assert captures["eurostat.hlth_cd_aro"] is None
    report = (Path(env["EUDAP_DATA_DIR"]) / "warehouse/exports/current/report.html").read_text()
    assert (
        "(bundled copy, capture date unknown (" in report and "(sample data: synthetic)" in report
    )


def test_a_live_offline_run_after_the_demo_serves_the_bundled_real_captures(
    demo: tuple[dict, Result], tmp_path: Path
) -> None:
    """Real bundled captures may be a live release's last good snapshot, with their capture
    label; the synthetic datasets never reach it (missing)."""
    env, first = demo
    assert first.code == 0, "the demo must have published first"
    live = environment(tmp_path)
    shutil.copytree(env["EUDAP_DATA_DIR"], live["EUDAP_DATA_DIR"])
    res = eudap(live, "run", "--offline")
    assert res.code == 1, res.out + res.err  # the synthetic-only datasets are missing
    with duckdb.connect(str(published(live)), read_only=True) as con:
        release = con.execute(
            "SELECT release_id, uses_sample_data FROM meta.releases ORDER BY built_at DESC LIMIT 1"
        ).fetchone()
        states = {
            d: (state, sample, capture)
            for d, state, sample, capture in con.execute(
                "SELECT dataset, state, is_sample, capture FROM meta.release_datasets "
                "WHERE release_id = ?",
                [release[0]],
            ).fetchall()
        }
        (offences,) = con.execute(
            "SELECT value FROM indicators.ind01_organised_crime WHERE geo = 'AT' "
            "AND measure = 'drug_law_offences' AND period = 2022"
        ).fetchone()
    assert release[1] is False
    for ds in ("eurostat.crim_off_cat", "euda.wastewater", "euda.wastewater_sites", "euda.edr"):
        state, sample, capture = states[ds]
        assert state == "unchanged" and sample is False, (ds, states[ds])
        assert capture.startswith("bundled copy, capture date unknown ("), (ds, capture)
        assert f"{ds} " in res.out and "[bundled copy, capture date unknown (" in res.out
    for ds in ("eurostat.hlth_cd_aro", "eurostat.sdg_16_10", "euda.bulletin"):
        assert states[ds][0] == "missing", (ds, states[ds])
    assert offences == 35232


def test_sql_prints_a_positive_count(demo: tuple[dict, Result]) -> None:
    env, _ = demo
    res = eudap(env, "sql", "select count(*) from indicators.ind01_organised_crime", "--csv")
    assert res.code == 0, res.out + res.err
    count = int(res.out.strip().splitlines()[-1])
    assert count > 0
    with duckdb.connect(str(published(env)), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM indicators.ind01_organised_crime").fetchone() == (
            count,
        )


def test_sql_error_is_reported_on_the_first_line_of_stderr(demo: tuple[dict, Result]) -> None:
    env, _ = demo
    res = eudap(env, "sql", "select * from indicators.no_such_table", "--csv")
    assert res.code == 1
    assert res.out == ""
    assert res.first_error_line.startswith("FAILED:"), res.err
    assert "no_such_table" in res.first_error_line


def test_status_prints_the_release_and_every_dataset(demo: tuple[dict, Result]) -> None:
    env, _ = demo
    res = eudap(env, "status")
    assert res.code == 0, res.out + res.err
    with duckdb.connect(str(published(env)), read_only=True) as con:
        (release,) = con.execute(
            "SELECT release_id FROM meta.releases ORDER BY published_at DESC LIMIT 1"
        ).fetchone()
    assert release in res.first_line, res.out
    lines = res.out.splitlines()
    for ds_id in load_catalogue().datasets:
        assert any(line.split()[:1] == [ds_id] for line in lines), f"{ds_id} not listed"


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under root (symlinks by their target) with its content hash."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            out[str(path)] = f"-> {os.readlink(path)}"
        elif path.is_file():
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def test_sql_runs_only_queries_over_the_warehouse_tables(
    demo: tuple[dict, Result], tmp_path: Path
) -> None:
    env, first = demo
    assert first.code == 0, "the demo must have published first"
    data = Path(env["EUDAP_DATA_DIR"])
    export = data / "warehouse" / "exports" / "current" / "indicators.ind01_organised_crime.parquet"
    snapshot = next(
        p for p in (data / "raw").rglob("2*/*") if p.is_file() and not p.name.endswith(".meta.json")
    )
    outside = tmp_path / "outside"
    attempts = [
        f"COPY (SELECT 1 AS x) TO '{export}' (FORMAT parquet)",
        f"COPY (SELECT 'x' AS x) TO '{snapshot}' (FORMAT csv)",
        f"COPY indicators.ind01_organised_crime TO '{outside}.csv'",
        f"ATTACH '{outside}.duckdb' AS other (READ_WRITE)",
        f"ATTACH '{published(env)}' AS again (READ_WRITE)",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM read_csv('/etc/passwd')",
        f"EXPORT DATABASE '{outside}'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "RESET enable_external_access",
        "SET lock_configuration = false",
        f"PRAGMA profiling_output = '{outside}.json'",
        "PRAGMA enable_profiling",
        "CREATE TABLE meta.planted AS SELECT 1 AS x",
        "INSERT INTO meta.releases (release_id) VALUES ('forged')",
        "DELETE FROM indicators.ind01_organised_crime",
    ]
    before = tree_digest(data)
    for statement in attempts:
        res = eudap(env, "sql", statement)
        assert res.code != 0, f"not refused: {statement}\n{res.out}"
        assert res.first_error_line.startswith("FAILED:"), (statement, res.err)
        assert res.out == "", (statement, res.out)
        assert "Traceback" not in res.out + res.err
    assert tree_digest(data) == before, "a refused statement changed the data folder"
    assert not list(tmp_path.iterdir()), "a refused statement wrote outside the data folder"
    # and the warehouse's own tables are still queried as before
    res = eudap(env, "sql", "SELECT count(*) AS n FROM meta.releases", "--csv")
    assert res.code == 0 and res.out.splitlines() == ["n", "1"], res.out + res.err


# ---------------------- a second vintage loaded by hand, an HTML page upstream, an analyst reading
CRIM = "eurostat.crim_off_cat"
CRIM_MIRROR = "ec.europa.eu/eurostat/api/dissemination/sdmx/3.0/data/dataflow/ESTAT/crim_off_cat"


def crim_mirror_file(sample_dir: Path) -> Path:
    (path,) = (sample_dir / CRIM_MIRROR).rglob("*format=TSV")
    return path


def second_vintage(original: str) -> str:
    """DE 2021 revised, XK given 2022 (it had none), the EL line of drug law offences gone."""
    lines = original.splitlines(keepends=True)
    header = lines[0].split("\t")
    col = {year.strip(): i for i, year in enumerate(header)}
    out = []
    for line in lines:
        cells = line.split("\t")
        key = cells[0]
        if key == "A,ICCS0601,NR,EL":
            continue
        if key == "A,ICCS0601,NR,DE":
            assert cells[col["2021"]] == "361048 "
            cells[col["2021"]] = "361050 "
        if key == "A,ICCS0601,NR,XK":
            assert cells[col["2022"]].strip() == ":"
            cells[col["2022"]] = cells[col["2022"]].replace(":", "300")
        out.append("\t".join(cells))
    assert len(out) == len(lines) - 1
    return "".join(out)


@dataclass(frozen=True)
class SecondRelease:
    """The run on a copy of the demo's data folder after a second crim_off_cat vintage was
    loaded by hand, with an analyst's connection open and an HTML page upstream."""

    env: dict[str, str]
    first: str  # the demo's latest release, before the run
    bundled_sha: str  # the crim_off_cat file of the demo
    vintage_sha: str  # the second vintage, loaded by hand
    loaded: Result  # `eudap load`
    run: Result  # `eudap run --mirror <copy of the sample mirror> --select euda.edr --quiet`
    before: list[str]  # what the reader saw before the run
    after: list[str]  # what the same connection saw after it
    reader: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def second_release(
    demo: tuple[dict, Result], sample_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> SecondRelease:
    """One build for two stories: the release diff of a second vintage loaded by hand (it is
    staged from the load; the one dataset downloaded, the EDR, keeps its published values as
    it turns stale), and a run that fails on an HTML page upstream while an analyst reads."""
    shared, first = demo
    assert first.code == 0, "the demo must have published first"
    base = tmp_path_factory.mktemp("second_release")
    # A copy of the demo's data folder: the shared demo stays one release for the other
    # end-to-end tests (tests/e2e/test_report.py reads its exports).
    env = environment(base / "html")
    shutil.copytree(shared["EUDAP_DATA_DIR"], env["EUDAP_DATA_DIR"], symlinks=True)
    with duckdb.connect(str(published(env)), read_only=True) as con:
        (first_release,) = con.execute(
            "SELECT release_id FROM meta.releases ORDER BY published_at DESC LIMIT 1"
        ).fetchone()  # the demo's latest release (other tests may have run the demo again)
    bundled = crim_mirror_file(sample_dir).read_bytes()
    vintage = base / "crim_off_cat-second-vintage.tsv"
    vintage.write_text(second_vintage(crim_mirror_file(sample_dir).read_text()), encoding="utf-8")
    loaded = eudap(env, "load", CRIM, str(vintage))

    mirror = base / "mirror"
    shutil.copytree(sample_dir, mirror)
    (mirror / edr_gps_current_key()).write_text(HTML_PAGE, encoding="utf-8")
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(published(env))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        before = reader.stdout.readline().split()  # type: ignore[union-attr]
        assert before[:1] == ["BEFORE"], (before, reader.stderr.read())  # type: ignore[union-attr]
        # Rebuilt from the store as the demo was: fed by the sample mirror (so its sample
        # files may be staged), downloading one other dataset only; crim_off_cat is staged
        # from the load.
        res = eudap(env, "run", "--mirror", str(mirror), "--select", HTML_DATASET, "--quiet")
        out, err = reader.communicate("\n", timeout=TIMEOUT)
    finally:
        if reader.poll() is None:
            reader.kill()
    return SecondRelease(
        env=env,
        first=first_release,
        bundled_sha=hashlib.sha256(bundled).hexdigest(),
        vintage_sha=hashlib.sha256(vintage.read_bytes()).hexdigest(),
        loaded=loaded,
        run=res,
        before=before,
        after=out.split(),
        reader=subprocess.CompletedProcess(reader.args, reader.returncode, out, err),
    )


def test_html_upstream_fails_naming_the_dataset_while_a_reader_keeps_its_view(
    second_release: SecondRelease,
) -> None:
    env, res = second_release.env, second_release.run
    before, after = second_release.before, second_release.after
    assert second_release.reader.returncode == 0, second_release.reader.stderr

    # the run: non-zero, and the FIRST line says which dataset and why
    assert res.code != 0, res.out
    assert res.first_line.startswith(f"FAILED: {HTML_DATASET} is stale"), res.out
    assert "HTML" in res.first_line
    # only that: no step failed (the open reader did not get in the way), and the
    # release was still published from the last good snapshot
    assert not [line for line in res.out.splitlines() if "step " in line], res.out
    assert "Published release" in res.out and "anyway" in res.out
    assert "Traceback" not in res.out + res.err
    # --quiet (a build that has problems and still publishes): only the outcome and the
    # problems, the release published once, no table, no progress
    assert res.code == 1, res.out + res.err
    lines = res.out.splitlines()
    assert lines[0].startswith("FAILED: "), res.out
    assert all(line.startswith("  - ") for line in lines[1:-1]), res.out
    assert lines[-1].startswith("Published release "), res.out
    assert "rows  snapshot" not in res.out
    assert not [line for line in res.err.splitlines() if line.startswith("[")], res.err

    # the reader's open connection still sees the release it opened, consistently
    assert after[:1] == ["AFTER"], second_release.reader.stdout
    assert after[1:] == before[1:], "the open connection's view changed under it"
    # a new connection sees the new release
    with duckdb.connect(str(published(env)), read_only=True) as con:
        n, latest = con.execute(
            "SELECT count(*), arg_max(release_id, published_at) FROM meta.releases"
        ).fetchone()
        state, reason = con.execute(
            "SELECT state, reason FROM meta.release_datasets WHERE release_id = ? AND dataset = ?",
            [latest, HTML_DATASET],
        ).fetchone()
    assert n == int(before[1]) + 1
    assert latest != before[2]
    assert state == "stale" and "HTML" in reason


def test_diff_lists_exactly_what_a_second_vintage_changed(second_release: SecondRelease) -> None:
    """Acceptance: a second vintage of a dataset, loaded by hand and built again, shows up in
    `eudap diff` as exactly what changed - one revised value, one new period, one vanished
    series. (Was tests/e2e/test_release_diff.py with a build of its own, downloading
    eurostat.sdg_16_20; it now shares the HTML-upstream run, which downloads the EDR only.)"""
    env, first, loaded = second_release.env, second_release.first, second_release.loaded
    sha, bundled = second_release.vintage_sha, second_release.bundled_sha
    assert loaded.code == 0, loaded.out + loaded.err
    run = second_release.run
    assert "Published release " in run.out, run.out + run.err
    # "Published release <id> anyway, from last good snapshots: ..." (--quiet)
    second = run.out.splitlines()[-1].split()[2]

    res = eudap(env, "diff")

    assert (res.code, res.err) == (0, ""), res.err
    lines = res.out.splitlines()
    assert lines[0].startswith(f"From release {first} (published ")
    assert lines[1].startswith(f"  to release {second} (published ")
    assert lines[2:] == [
        "  1 revised value, 1 new period, 0 new series, 0 withdrawn values, 1 vanished series",
        "",
        "Revised values (old -> new; the snapshot that revised them):",
        "  ind01 drug_law_offences DE 2021 (count): 361048 -> 361050; "
        f"snapshot {sha[:12]} ({CRIM})",
        "",
        "New periods:",
        f"  ind01 drug_law_offences XK 2022 (count): 300; snapshot {sha[:12]} ({CRIM})",
        "",
        "Vanished series (no longer published at all):",
        "  ind01 drug_law_offences EL (count) 2008-2022 (15 values), last 12025; "
        f"snapshot {bundled[:12]} ({CRIM})",
    ]
    # the same in the warehouse, with the full snapshot that revised the value
    with duckdb.connect(str(published(env)), read_only=True) as con:
        rows = con.execute(
            "SELECT change, geo, period, old_value, new_value, new_snapshot_sha256 "
            "FROM meta.revisions WHERE release_id = ? ORDER BY change",
            [second],
        ).fetchall()
    assert rows == [
        ("new_period", "XK", 2022, None, 300.0, sha),
        ("revised", "DE", 2021, 361048.0, 361050.0, sha),
        ("vanished_series", "EL", None, 12025.0, None, None),
    ]
    unknown = eudap(env, "diff", "no-such-release")
    assert unknown.code == 2 and unknown.out == ""
    assert (
        unknown.first_error_line
        == "error: no release 'no-such-release'; the releases, oldest first:"
    )
    assert first in unknown.err and second in unknown.err


def edr_gps_current_key() -> str:
    """The mirror path of the EDR gps-current table, as discovery finds it."""
    keys = mirror_download_keys(load_catalogue().dataset("euda.edr"), SAMPLE_DIR)
    return next(k for k in keys if "gps-current" in k)
