"""The bundled sample mirror (data/sample/) is what scripts/make_sample.py makes, and covers
every download of the catalogue with files that parse as their datasets promise: synthetic
files, and copies of the real EDR 2024 files (regenerating those needs ../shared/upstream:
without it the determinism tests skip and the committed copy is what ships)."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from helpers import mirror_download_keys

from pipelines.catalogue import ReadLimits, load_catalogue
from pipelines.fetch import Mirror, mirror_key, sniff
from pipelines.parsers.edr_csv import read_header, signature
from pipelines.settings import PROJECT_ROOT, SAMPLE_MIRROR_DIR
from pipelines.stage import check_layout, parse_file

LIMITS = ReadLimits()
SCRIPT = PROJECT_ROOT / "scripts" / "make_sample.py"
EDR_UPSTREAM = PROJECT_ROOT.parent / "shared" / "upstream" / "euda_edr2024"


def needs_upstream() -> None:
    if not EDR_UPSTREAM.is_dir():
        pytest.skip(f"{EDR_UPSTREAM} is absent: the bundled EDR copies cannot be regenerated")


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
    needs_upstream()
    out = tmp_path / "sample"
    assert make_sample.main(["--out", str(out)]) == 0
    made, committed = files_under(out), files_under(SAMPLE_MIRROR_DIR)
    assert sorted(made) == sorted(committed), "run `make sample` and commit data/sample/"
    changed = sorted(name for name in made if made[name] != committed[name])
    assert not changed, f"data/sample/ is out of date for {changed}: run `make sample`"


def test_generation_is_deterministic(make_sample: ModuleType) -> None:
    needs_upstream()
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


def test_real_files_are_labelled_with_origin_and_capture_date() -> None:
    manifest = json.loads((SAMPLE_MIRROR_DIR / "MIRROR.json").read_text(encoding="utf-8"))
    real = manifest["real_files"]
    cat = load_catalogue()
    wastewater = {
        key
        for ds_id in ("euda.wastewater", "euda.wastewater_sites")
        for key in mirror_download_keys(cat.dataset(ds_id), SAMPLE_MIRROR_DIR)
    }
    assert wastewater <= set(real)
    for key, entry in real.items():
        assert entry["label"] == "real publisher file (not synthetic)"
        assert entry["captured"] and entry["cut"]
        origin = entry["origin"]
        assert origin["shared_upstream_file"].startswith("euda_wastewater/")
        assert {"repo", "path", "commit", "sha256", "bytes"} <= set(origin)
        assert (
            manifest["files"][key]
            == hashlib.sha256((SAMPLE_MIRROR_DIR / key).read_bytes()).hexdigest()
        )
    # the landing-page stand-ins say what they are
    for key in manifest["stand_in_pages"]:
        assert b"Stand-in made by scripts/make_sample.py" in (SAMPLE_MIRROR_DIR / key).read_bytes()


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
        url.rsplit("/", 1)[-1]: content("euda.edr", i)
        for i, (url, _) in enumerate(cat.dataset("euda.edr").download_targets())
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


def test_bundled_edr_files_are_copies_of_the_real_files_with_their_origin() -> None:
    """Every EDR file of the mirror is a real file, recorded with its origin in MIRROR.json."""
    manifest = json.loads((SAMPLE_MIRROR_DIR / "MIRROR.json").read_text(encoding="utf-8"))
    paths = manifest["datasets"]["euda.edr"]
    assert len(paths) >= 10
    for path in paths:
        origin = manifest["origins"][path]
        assert origin["real"] is True and origin["commit"] and origin["captured"], path
        assert origin["upstream_file"].endswith("euda_edr2024/" + path.rsplit("/", 1)[-1])


@pytest.mark.parametrize(
    "url",
    [u for u, _ in load_catalogue().dataset("euda.edr").download_targets()],
    ids=lambda u: u.rsplit("/", 1)[-1],
)
def test_every_bundled_edr_file_has_the_layout_of_the_real_reference_file(url: str) -> None:
    """Header signature (and the bytes: rows are not cut) equal to the real 2024 file."""
    needs_upstream()
    bundled = SAMPLE_MIRROR_DIR / mirror_key(url)
    real = EDR_UPSTREAM / url.rsplit("/", 1)[-1]
    assert real.is_file(), f"no real reference file for {url}"
    assert signature(read_header(bundled, LIMITS)) == signature(read_header(real, LIMITS))
    assert read_header(bundled, LIMITS) == read_header(real, LIMITS)
    assert bundled.read_bytes() == real.read_bytes()
