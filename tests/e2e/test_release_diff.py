"""Acceptance: a second vintage of a dataset, loaded by hand and built again, shows up in
`eudap diff` as exactly what changed - one revised value, one new period, one vanished series.

Runs the real console script on a copy of the demo's data folder (the shared demo stays a
single release for the other end-to-end tests).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import duckdb
import pytest
from console import Result, environment, eudap, published

pytestmark = pytest.mark.e2e

CRIM = "eurostat.crim_off_cat"
CRIM_MIRROR = "ec.europa.eu/eurostat/api/dissemination/sdmx/3.0/data/dataflow/ESTAT/crim_off_cat"


def mirror_file(sample_dir: Path) -> Path:
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


def test_diff_lists_exactly_what_a_second_vintage_changed(
    demo: tuple[dict, Result], sample_dir: Path, tmp_path: Path
) -> None:
    demo_env, built = demo
    assert built.code == 0, built.out + built.err
    env = environment(tmp_path)
    shutil.copytree(demo_env["EUDAP_DATA_DIR"], env["EUDAP_DATA_DIR"], symlinks=True)
    with duckdb.connect(str(published(env)), read_only=True) as con:
        (first,) = con.execute(
            "SELECT release_id FROM meta.releases ORDER BY published_at DESC LIMIT 1"
        ).fetchone()  # the demo's latest release (other tests may have run the demo again)
    bundled = hashlib.sha256(mirror_file(sample_dir).read_bytes()).hexdigest()
    vintage = tmp_path / "crim_off_cat-second-vintage.tsv"
    vintage.write_text(second_vintage(mirror_file(sample_dir).read_text()), encoding="utf-8")
    sha = hashlib.sha256(vintage.read_bytes()).hexdigest()

    loaded = eudap(env, "load", CRIM, str(vintage))
    assert loaded.code == 0, loaded.out + loaded.err
    # Rebuilt from the store as the demo was: fed by the sample mirror (so its sample files may
    # be staged), downloading one other dataset only; crim_off_cat is staged from the load.
    run = eudap(env, "run", "--mirror", str(sample_dir), "--select", "eurostat.sdg_16_20")
    assert run.code == 0, run.out + run.err
    second = run.first_line.split()[3].rstrip(":")  # "OK: published release <id>: ..."

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
