"""The commands that do not run the graph start without Dagster, Great Expectations or pandas.

Each command's entry (`pipelines.cli.main`) runs for real, in one fresh interpreter, one
command after the other: against the shared demo warehouse for the commands that read it,
and in an empty data folder for `inbox` and `load` (they write the snapshot store). After
each command the interpreter lists the heavy packages it has imported so far, so the first
command that pulls one in is named.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from console import SAMPLE_DIR, TIMEOUT, Result, environment

pytestmark = pytest.mark.e2e

CRIM = "eurostat.crim_off_cat"
CRIM_MIRROR = "ec.europa.eu/eurostat/api/dissemination/sdmx/3.0/data/dataflow/ESTAT/crim_off_cat"

# argv: a JSON list of [data folder, command line]; prints one JSON line per command.
PROBE = """
import contextlib, io, json, os, sys

def heavy():
    return sorted(
        name for name in sys.modules
        if "." not in name
        and (name.startswith("dagster") or name in ("great_expectations", "pandas"))
    )

from pipelines.cli import main

print(json.dumps({"args": ["import pipelines.cli"], "code": 0, "out": "-", "heavy": heavy()}))
for data_dir, args in json.loads(sys.argv[1]):
    os.environ["EUDAP_DATA_DIR"] = data_dir
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    text = out.getvalue() + err.getvalue()
    print(json.dumps({"args": args, "code": code, "out": text, "heavy": heavy()}), flush=True)
"""


def test_commands_that_do_not_run_the_graph_import_no_dagster_gx_or_pandas(
    demo: tuple[dict, Result], tmp_path: Path
) -> None:
    env, first = demo
    assert first.code == 0, "the demo must have published first"
    (crim,) = (SAMPLE_DIR / CRIM_MIRROR).rglob("*format=TSV")
    empty = environment(tmp_path / "fresh")
    fresh = empty["EUDAP_DATA_DIR"]
    (Path(fresh) / "inbox").mkdir(parents=True)
    (Path(fresh) / "inbox" / "estat_crim_off_cat.tsv").write_bytes(crim.read_bytes())
    demo_dir = env["EUDAP_DATA_DIR"]
    # (data folder, command line, accepted exit statuses)
    commands: list[tuple[str, list[str], set[int]]] = [
        (demo_dir, ["sql", "SELECT count(*) AS n FROM meta.releases", "--csv"], {0}),
        # 1 when the last run in the shared demo folder failed (test_cli's HTML run)
        (demo_dir, ["status"], {0, 1}),
        (demo_dir, ["describe"], {0}),
        (demo_dir, ["describe", "indicators.ind01_organised_crime"], {0}),
        (demo_dir, ["diff"], {0}),
        (demo_dir, ["sources"], {0}),
        (demo_dir, ["suites"], {0}),
        (demo_dir, ["report", "--out", str(tmp_path / "report")], {0}),
        (fresh, ["inbox"], {0}),
        (fresh, ["load", CRIM, str(crim)], {0}),
    ]
    plan = [[data_dir, args] for data_dir, args, _ in commands]
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(plan)],
        env={**env, "DAGSTER_HOME": empty["DAGSTER_HOME"]},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["args"] for r in results] == [["import pipelines.cli"]] + [a for _, a, _ in commands]
    for result, (_, args, codes) in zip(results[1:], commands, strict=True):
        assert result["code"] in codes, (args, result["code"], result["out"])
        assert result["out"].strip(), (args, "printed nothing")
    loaded = {" ".join(r["args"]): r["heavy"] for r in results}
    assert all(heavy == [] for heavy in loaded.values()), loaded
    assert "took in" in results[-2]["out"], results[-2]["out"]
    assert (tmp_path / "report" / "report.html").is_file()
