"""The bundled demo mirror (data/sample/) is what scripts/make_sample.py makes, and covers
every download of the catalogue with files that parse as their datasets promise: copies of
real publisher files (crim_off_cat, wastewater 2025, EDR 2024 tables) and synthetic files
where none exists, each recorded in MIRROR.json `files`. The script regenerates real copies
from ../shared/upstream when present, else from the committed mirror, so the determinism
tests run either way; the comparisons with the real reference files skip without it."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import requests
from helpers import mirror_download_keys

from pipelines.catalogue import ReadLimits, load_catalogue
from pipelines.fetch import Mirror, capture_label, sniff
from pipelines.settings import PROJECT_ROOT, SAMPLE_MIRROR_DIR
from pipelines.stage import check_layout, parse_file

LIMITS = ReadLimits()
SCRIPT = PROJECT_ROOT / "scripts" / "make_sample.py"
UPSTREAM = PROJECT_ROOT.parent / "shared" / "upstream"
MANIFEST = json.loads((SAMPLE_MIRROR_DIR / "MIRROR.json").read_text(encoding="utf-8"))
REAL = sorted(k for k, e in MANIFEST["files"].items() if e["kind"] == "real")


def needs_upstream() -> None:
    if not (UPSTREAM / "MANIFEST.json").is_file():
        pytest.skip(f"{UPSTREAM} is absent: no real reference files to compare with")


@pytest.fixture(scope="module")
def make_sample() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_sample", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_regenerating_gives_the_committed_mirror_byte_for_byte(
    make_sample: ModuleType, tmp_path: Path
) -> None:
    out = tmp_path / "sample"
    assert make_sample.main(["--out", str(out)]) == 0
    made, committed = files_under(out), files_under(SAMPLE_MIRROR_DIR)
    assert sorted(made) == sorted(committed), "run `make sample` and commit data/sample/"
    changed = sorted(name for name in made if made[name] != committed[name])
    assert not changed, f"data/sample/ is out of date for {changed}: run `make sample`"


def test_generation_is_deterministic(make_sample: ModuleType) -> None:
    cat = load_catalogue()
    assert make_sample.build(cat) == make_sample.build(cat)


def test_every_catalogue_download_is_in_the_mirror() -> None:
    cat = load_catalogue()
    mirror = Mirror(str(SAMPLE_MIRROR_DIR))
    missing = [
        (ds.id, url)
        for ds in cat.datasets.values()
        for url, _ in ds.download_targets()
        if not Path(mirror.resolve(url)).is_file()
    ]
    assert not missing
    # a discovered dataset finds its file(s) through the mirror's landing-page stand-in
    for ds in cat.datasets.values():
        if ds.discover is not None:
            keys = mirror_download_keys(ds, SAMPLE_MIRROR_DIR)
            assert keys and all((SAMPLE_MIRROR_DIR / k).is_file() for k in keys), ds.id


def test_mirror_json_marks_the_data_as_synthetic_sample() -> None:
    manifest = json.loads((SAMPLE_MIRROR_DIR / "MIRROR.json").read_text(encoding="utf-8"))
    assert manifest["sample"] is True
    assert "synthetic" in manifest["description"].lower()
    assert "scripts/make_sample.py" in manifest["description"]
    readme = (SAMPLE_MIRROR_DIR / "README.md").read_text(encoding="utf-8")
    assert "synthetic" in readme.lower() and "is_sample" in readme and "make sample" in readme


def test_every_mirror_file_is_recorded_as_real_synthetic_or_stand_in_page() -> None:
    files = MANIFEST["files"]
    on_disk = set(files_under(SAMPLE_MIRROR_DIR)) - {"MIRROR.json", "README.md"}
    assert set(files) == on_disk
    for key, entry in files.items():
        assert entry["sha256"] == hashlib.sha256((SAMPLE_MIRROR_DIR / key).read_bytes()).hexdigest()
        assert entry["kind"] in ("real", "synthetic", "stand_in_page"), key
        if entry["kind"] == "real":
            assert entry["publisher"] and entry["capture_note"] and entry["cut"], key
            # no capture date is recorded upstream (MANIFEST.json): none is made up
            assert entry["captured"] is None, key
            assert {"repo", "path", "commit", "sha256", "bytes"} <= set(entry["found_in"]), key
        else:
            assert entry["note"], key
        if entry["kind"] == "stand_in_page":
            body = (SAMPLE_MIRROR_DIR / key).read_bytes()
            assert b"Stand-in made by scripts/make_sample.py" in body
            assert all(name.encode() in body for name in entry["lists"]), key
    kinds = {e["dataset"]: e["kind"] for e in files.values() if e["kind"] != "stand_in_page"}
    assert kinds == {
        "curated.prison_policy": "synthetic",
        "euda.bulletin": "synthetic",
        "euda.edr": "real",
        "euda.wastewater": "real",
        "euda.wastewater_sites": "real",
        "eurostat.crim_off_cat": "real",
        "eurostat.hlth_cd_aro": "synthetic",
        "eurostat.hlth_cd_asdr2": "synthetic",
        "eurostat.sdg_16_10": "synthetic",
        "eurostat.sdg_16_20": "synthetic",
    }


@pytest.mark.parametrize("key", REAL, ids=lambda k: k.rsplit("/", 1)[-1][:60])
def test_every_bundled_real_file_matches_its_real_reference_file(key: str) -> None:
    """Same header (layout), and every record a record of the real file (codes and values):
    cut to fewer records at most, never rewritten; uncut files are byte-identical."""
    needs_upstream()
    entry = MANIFEST["files"][key]
    real = (UPSTREAM / entry["upstream_file"]).read_bytes()
    assert hashlib.sha256(real).hexdigest() == entry["found_in"]["sha256"]
    bundled = (SAMPLE_MIRROR_DIR / key).read_bytes()
    if entry["cut"] == "none":
        assert bundled == real
        return
    header, *records = bundled.split(b"\n")
    real_header, *real_records = real.split(b"\n")
    assert header == real_header
    assert set(records) - {b""} <= set(real_records)
    assert len(records) < len(real_records)


def test_a_real_file_snapshot_is_not_sample_data_and_carries_its_capture() -> None:
    mirror = Mirror(str(SAMPLE_MIRROR_DIR))
    session = requests.Session()
    sample, extra = mirror.file_origin(session, REAL[0])
    assert sample is False
    entry = MANIFEST["files"][REAL[0]]
    assert entry["captured"] is None  # ../shared/upstream/MANIFEST.json records no date
    assert extra["bundled_capture"] == (
        f"bundled copy, capture date unknown ({entry['capture_note']})"
    )
    dated = {**entry, "captured": "2026-03-01"}
    assert capture_label(dated) == "bundled copy captured 2026-03-01"
    synthetic = next(k for k, e in MANIFEST["files"].items() if e["kind"] == "synthetic")
    assert mirror.file_origin(session, synthetic) == (True, {})


def test_the_mirror_is_small() -> None:
    total = sum(len(b) for b in files_under(SAMPLE_MIRROR_DIR).values())
    assert total < 1_000_000


def test_every_sample_file_parses_with_its_catalogue_layout() -> None:
    cat = load_catalogue()
    for ds in cat.datasets.values():
        paths = [SAMPLE_MIRROR_DIR / k for k in mirror_download_keys(ds, SAMPLE_MIRROR_DIR)]
        if ds.local_file and (SAMPLE_MIRROR_DIR / "repository" / ds.local_file).is_file():
            paths.append(SAMPLE_MIRROR_DIR / "repository" / ds.local_file)
        for path in paths:
            head = path.read_bytes()[:4096]
            assert sniff(ds.format, head) is None, path
            parsed = parse_file(ds, path)
            check_layout(ds, parsed, path)
            rows = list(parsed.rows)
            assert rows or parsed.attributes.get("known_unused"), f"{path} gives no observations"
            if ds.format == "eurostat_tsv":
                # the requests say compress=false: plain TSV, as Eurostat would answer
                assert head[:2] != b"\x1f\x8b", f"{path}: compress=false answers are plain"
                for dim, codes in ds.filters.items():
                    assert {r[dim] for r in rows} <= set(codes), (path, dim)


def test_only_stand_ins_for_curated_files_without_verified_rows() -> None:
    cat = load_catalogue()
    stand_ins = sorted(
        ds.id
        for ds in cat.datasets.values()
        if ds.local_file and (SAMPLE_MIRROR_DIR / "repository" / ds.local_file).exists()
    )
    assert stand_ins == ["curated.prison_policy"]
    text = (SAMPLE_MIRROR_DIR / "repository" / "assets/curated/prison_policy.csv").read_text()
    assert "SYNTHETIC SAMPLE - not a real figure" in text


def test_the_samples_carry_the_quirks_the_pipeline_must_handle() -> None:
    """Spot checks that the synthetic files exercise the real formats' features."""
    cat = load_catalogue()

    def content(ds_id: str, index: int = 0) -> bytes:
        key = mirror_download_keys(cat.dataset(ds_id), SAMPLE_MIRROR_DIR)[index]
        data = (SAMPLE_MIRROR_DIR / key).read_bytes()
        return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data

    crime = content("eurostat.crim_off_cat").decode()  # the real file, cut to the filters
    assert ": \t" in crime and ",UKC-L\t" in crime and "A,ICCS0601,NR,AT\t" in crime
    assert " b\t" in content("eurostat.sdg_16_20").decode()  # one break in series
    edr = {
        key.rsplit("/", 1)[-1]: (SAMPLE_MIRROR_DIR / key).read_bytes()
        for key in mirror_download_keys(cat.dataset("euda.edr"), SAMPLE_MIRROR_DIR)
    }
    annex = edr["edr2024-annex-table-5a-cannabis-prevalence.csv"]
    assert annex.startswith(b"\xef\xbb\xbf") and b"\r\n" in annex and "‒".encode() in annex
    assert b"T\xfcrkiye" in edr["edr2024-annex-table-2c-cocaine-treatment.csv"]  # cp1252
    nps = edr["edr2024-nps-table-6-notifications.csv"]
    assert not nps.startswith(b"\xef\xbb\xbf") and b";;" in nps  # semicolons, no BOM
    assert "\u00a0".encode() in edr["edr2024-harm-reduction-table-1.csv"]  # NBSP empty cells
    assert b"< 1" in edr["edr2024-annex-table-7-seizures.csv"]
    assert "Å".encode() in edr["edr2024-cannabis-table-3.csv"]  # double-encoded city names
    wastewater = content("euda.wastewater").decode()
    for code in ('"GR"', '"GB"', '"H"', '"NO"', '"TR"'):
        assert code in wastewater
    assert ",0\n" in wastewater and ",," in wastewater  # below LOQ; missing
