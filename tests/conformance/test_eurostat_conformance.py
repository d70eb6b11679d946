"""The Eurostat parsers against the real publisher files in ../shared/upstream/eurostat.

Each expectation is computed here independently of the parsers, with plain string splitting
(TSV) or the csv module (SDMX-CSV), so that a parser bug cannot hide behind itself.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from pipelines.parsers import eurostat_tsv, sdmx_csv
from pipelines.parsers.base import ParseError

pytestmark = pytest.mark.conformance

TSV_FILES = [
    "estat_crim_off_cat.tsv",
    "estat_hlth_cd_asdr2_filtered.tsv",
    "estat_hlth_cd_asdr2_defaultview_filtered.tsv",
    "estat_sdg_13_10.tsv",
    "hlth_cd_acdr_subset_alcohol_geo_time.tsv",
]
SDMX_FILES = [
    "estat_ilc_mddw06_filtered_en.csv",
    "estat_lfsa_ugadra_filtered_en.csv",
    "estat_spr_exp_type_filtered_en.csv",
    "estat_tesov110_filtered_en.csv",
    "estat_tipsna40_filtered_en.csv",
]


def test_flag_letters_cover_the_obs_flag_code_list(upstream_dir: Path) -> None:
    lines = (upstream_dir / "eurostat" / "ESTAT_OBS_FLAG.tsv").read_text().splitlines()
    codes = [line.split("\t")[0] for line in lines[1:] if line.strip()]
    assert len(codes) == 46
    letters = set("".join(codes))
    assert letters <= eurostat_tsv.FLAG_LETTERS
    assert all(eurostat_tsv.check_flags(code) is None for code in codes)
    assert letters == set("bcdefnpsuz")  # the code list's own single letters


def expected_tsv_cells(path: Path) -> list[tuple[int, str, str]]:
    """(line, period, flags) of every cell that is not a bare ':', by naive splitting."""
    lines = path.read_text(encoding="utf-8").splitlines()
    periods = [p.strip() for p in lines[0].split("\t")[1:]]
    out = []
    for line_no, line in enumerate(lines[1:], start=2):
        for period, cell in zip(periods, line.split("\t")[1:], strict=True):
            parts = cell.strip().split(" ", 1)
            if parts == [":"]:
                continue
            out.append((line_no, period, parts[1].strip() if len(parts) == 2 else ""))
    return out


@pytest.mark.parametrize("name", TSV_FILES)
def test_tsv_row_count_and_flags_match_the_file(upstream_dir: Path, name: str) -> None:
    path = upstream_dir / "eurostat" / name
    expected = expected_tsv_cells(path)
    rows = list(eurostat_tsv.parse(path, {}).rows)
    assert len(rows) == len(expected)
    got = [(r["line"], r["period"], r["flags"] or "") for r in rows]
    assert got == expected


@pytest.mark.parametrize(
    ("name", "dims", "time_key", "series"),
    [
        ("estat_crim_off_cat.tsv", ["freq", "iccs", "unit", "geo"], "TIME_PERIOD", 1558),
        (
            "estat_hlth_cd_asdr2_defaultview_filtered.tsv",
            ["freq", "unit", "sex", "age", "icd10", "geo"],
            "TIME_PERIOD",
            4419,
        ),
        (
            "hlth_cd_acdr_subset_alcohol_geo_time.tsv",
            ["unit", "sex", "age", "icd10", "geo"],
            "time",
            107,
        ),
    ],
)
def test_tsv_header(upstream_dir: Path, name: str, dims: list[str], time_key: str, series: int):
    parsed = eurostat_tsv.parse(upstream_dir / "eurostat" / name, {})
    assert parsed.dimensions == dims
    assert parsed.attributes["time_key"] == time_key
    assert len({tuple(r[d] for d in dims) for r in parsed.rows}) == series


def test_crim_off_cat_known_value(upstream_dir: Path) -> None:
    # Line 1085: A,ICCS0601,NR,AT ... 35461 (2021), 35232 (2022); unflagged.
    rows = eurostat_tsv.parse(upstream_dir / "eurostat" / "estat_crim_off_cat.tsv", {}).rows
    hits = [
        r
        for r in rows
        if (r["iccs"], r["unit"], r["geo"], r["period"]) == ("ICCS0601", "NR", "AT", "2022")
    ]
    assert len(hits) == 1
    assert hits[0]["value"] == 35232.0 and hits[0]["flags"] is None and hits[0]["line"] == 1085


def test_asdr2_defaultview_flags(upstream_dir: Path) -> None:
    path = upstream_dir / "eurostat" / "estat_hlth_cd_asdr2_defaultview_filtered.tsv"
    rows = list(eurostat_tsv.parse(path, {}).rows)
    assert Counter(r["flags"] for r in rows if r["flags"]) == {"d": 2544, "p": 45}
    # Line 227: A,RT,F,TOTAL,A-R_V-Y,HR04  1164.42 d ... 1143.25 p (2018)
    hr04 = {r["period"]: r for r in rows if r["line"] == 227}
    assert hr04["2012"]["geo"] == "HR04" and hr04["2012"]["sex"] == "F"
    assert (hr04["2012"]["value"], hr04["2012"]["flags"]) == (1164.42, "d")
    assert (hr04["2018"]["value"], hr04["2018"]["flags"]) == (1143.25, "p")
    assert "2019" not in hr04  # ':' cells are no rows


def test_asdr2_filtered_first_value_and_crlf(upstream_dir: Path) -> None:
    path = upstream_dir / "eurostat" / "estat_hlth_cd_asdr2_filtered.tsv"
    assert b"\r\n" in path.read_bytes()[:500]
    first = next(eurostat_tsv.parse(path, {}).rows)
    assert (first["geo"], first["period"], first["value"], first["flags"]) == (
        "AT",
        "2012",
        1014.65,
        None,
    )


def test_sdg_13_10_combined_flags_and_negative_values(upstream_dir: Path) -> None:
    rows = list(eurostat_tsv.parse(upstream_dir / "eurostat" / "estat_sdg_13_10.tsv", {}).rows)
    flags = Counter(r["flags"] for r in rows if r["flags"])
    assert flags == {"b": 56, "e": 40, "p": 8, "ep": 6, "bep": 6, "bp": 4}
    # Line 44: A,GHG,TOTX4_MEMONIA,T_HAB,EU27_2020 ... 8.3 bep
    bep = [r for r in rows if r["line"] == 44 and r["flags"] == "bep"]
    assert bep[0]["value"] == 8.3 and bep[0]["geo"] == "EU27_2020"
    assert any(r["value"] is not None and r["value"] < 0 for r in rows)


def expected_sdmx_rows(path: Path) -> list[tuple[str, str]]:
    """(OBS_VALUE, OBS_FLAG) of every data line with a value or a flag, by the csv module."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        records = list(csv.DictReader(fh))
    return [
        (rec["OBS_VALUE"], rec["OBS_FLAG"])
        for rec in records
        if rec["OBS_VALUE"] or rec["OBS_FLAG"]
    ]


@pytest.mark.parametrize("name", SDMX_FILES)
def test_sdmx_row_count_and_flags_match_the_file(upstream_dir: Path, name: str) -> None:
    path = upstream_dir / "eurostat" / "sdmx_csv" / name
    expected = expected_sdmx_rows(path)
    parsed = sdmx_csv.parse(path, {"keep_labels": True})
    rows = list(parsed.rows)
    assert len(rows) == len(expected)
    got = [(r["value"], r["flags"] or "") for r in rows]
    assert got == [(float(v) if v else None, f) for v, f in expected]
    assert parsed.attributes["variant"] == "labels"
    assert parsed.attributes["dataflow"].startswith("ESTAT:")
    assert parsed.attributes["last_update"]
    assert parsed.dimensions[0] == "freq" and parsed.dimensions[-1] == "geo"
    assert all(r["freq"] == "Annual" for r in rows)


def test_sdmx_flags_seen_across_the_samples(upstream_dir: Path) -> None:
    flags: set[str] = set()
    empty_with_flag = 0
    for name in SDMX_FILES:
        path = upstream_dir / "eurostat" / "sdmx_csv" / name
        for row in sdmx_csv.parse(path, {"keep_labels": True}).rows:
            flags.add(row["flags"] or "")
            empty_with_flag += row["value"] is None
    assert flags == {"", "b", "e", "p", "u", "d", "bu", "bd"}
    assert empty_with_flag == 115  # lfsa_ugadra: empty OBS_VALUE with u / bu


@pytest.mark.parametrize("name", SDMX_FILES)
def test_real_labels_files_are_refused_naming_the_unmappable_dimensions(
    upstream_dir: Path, name: str
) -> None:
    """Each real labels file has a dimension with no bundled code list (wstatus, na_item...)."""
    path = upstream_dir / "eurostat" / "sdmx_csv" / name
    with pytest.raises(ParseError) as exc:
        sdmx_csv.parse(path, {})
    header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
    unmappable = [h for h in header[2:-3] if h not in ("freq", "unit", "sex", "geo")]
    assert exc.value.rule == "labels variant" and exc.value.line == 2
    assert f"dimension(s) {', '.join(unmappable)}" in str(exc.value)


def test_real_sdmx_csv_2_0_file_parses_with_codes(upstream_dir: Path) -> None:
    path = upstream_dir / "eurostat" / "sdmx_csv_2_0" / "tps00001__custom_20122499_linear_2_0.csv"
    parsed = sdmx_csv.parse(path, {})
    rows = list(parsed.rows)
    assert parsed.dimensions == ["freq", "indic_de", "geo"]
    assert len(rows) == 312 and {r["freq"] for r in rows} == {"A"}
    assert {r["flags"] for r in rows} >= {None, "p", "b"}
    assert all(r["value"] is not None for r in rows)


def test_sdmx_labels_variant_rejected_when_codes_only(upstream_dir: Path) -> None:
    path = upstream_dir / "eurostat" / "sdmx_csv" / SDMX_FILES[0]
    with pytest.raises(ParseError) as exc:
        sdmx_csv.parse(path, {"codes_only": True})
    assert exc.value.rule == "labels variant" and exc.value.line == 2


# --------------------------------------------------------------------------- catalogue vs reality
# Dimension order of each Eurostat dataset: the header of a real file of that dataset, or the
# documented order (../shared/upstream/README.md "Facts about the live endpoints").
# sdg_16_20: no evidence exists; its order is the catalogue's unverified guess.
DOCUMENTED_DIMENSIONS = {
    "eurostat.crim_off_cat": ["freq", "iccs", "unit", "geo"],
    "eurostat.hlth_cd_asdr2": ["freq", "unit", "sex", "age", "icd10", "geo"],
    "eurostat.hlth_cd_aro": ["freq", "unit", "sex", "age", "icd10", "resid", "geo"],
    "eurostat.sdg_16_10": ["freq", "unit", "icd10", "sex", "age", "geo"],
}
REAL_HEADER_FILES = {
    "eurostat.crim_off_cat": "estat_crim_off_cat.tsv",
    "eurostat.hlth_cd_asdr2": "estat_hlth_cd_asdr2_filtered.tsv",
}


def _real_codes(upstream_dir: Path, dim: str) -> set[str] | None:
    from pipelines.codelists import DIMENSION_CODELISTS

    name = DIMENSION_CODELISTS.get(dim)
    if name is None:
        return None
    path = upstream_dir / "eurostat" / "codelists" / f"ESTAT_{name}.tsv"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return {row["CODE"] for row in csv.DictReader(fh, delimiter="\t")}


def _eurostat_datasets():
    from pipelines.catalogue import load_catalogue

    return [d for d in load_catalogue().datasets.values() if d.source == "eurostat"]


def test_every_eurostat_filter_code_is_in_the_real_code_lists(upstream_dir: Path) -> None:
    """Checked against the real files in ../shared, not the bundled copies; a dimension with
    no real list must be declared unverified in the catalogue."""
    for ds in _eurostat_datasets():
        for dim, codes in ds.filters.items():
            real = _real_codes(upstream_dir, dim)
            if real is None:
                assert dim in ds.unverified_codes, f"{ds.id}: {dim} is neither checked nor declared"
            else:
                assert set(codes) <= real, (ds.id, dim, sorted(set(codes) - real))


def test_bundled_code_lists_are_the_real_lists(upstream_dir: Path) -> None:
    from pipelines.codelists import DIMENSION_CODELISTS, load_codelist

    for dim, name in DIMENSION_CODELISTS.items():
        path = upstream_dir / "eurostat" / "codelists" / f"ESTAT_{name}.tsv"
        with path.open(encoding="utf-8-sig", newline="") as fh:
            real = {r["CODE"]: r["Label - English"] for r in csv.DictReader(fh, delimiter="\t")}
        assert load_codelist(name) == real, dim


def test_eurostat_layouts_match_the_real_reference(upstream_dir: Path) -> None:
    for ds in _eurostat_datasets():
        if ds.id in DOCUMENTED_DIMENSIONS:
            assert ds.dimensions == DOCUMENTED_DIMENSIONS[ds.id], ds.id
        if ds.id in REAL_HEADER_FILES:
            real = eurostat_tsv.parse(upstream_dir / "eurostat" / REAL_HEADER_FILES[ds.id], {})
            assert real.dimensions == ds.dimensions, ds.id


def test_every_bundled_eurostat_file_matches_the_real_reference(upstream_dir: Path) -> None:
    """Each mirror file: the dataset's real dimension order, codes in the real code lists
    (geo: also the documented new aggregate EA21), and the real crim_off_cat bytes."""
    from pipelines.fetch import mirror_key
    from pipelines.parsers.detect import effective_format
    from pipelines.settings import SAMPLE_MIRROR_DIR
    from pipelines.stage import parser_for

    for ds in _eurostat_datasets():
        for url, _ in ds.download_targets():
            path = SAMPLE_MIRROR_DIR / mirror_key(url)
            fmt = effective_format(ds.format, path)
            assert fmt == ds.format, path
            parsed = parser_for(fmt)(path, {})
            assert parsed.dimensions == DOCUMENTED_DIMENSIONS.get(ds.id, ds.dimensions), path
            rows = list(parsed.rows)
            for dim in parsed.dimensions:
                real = _real_codes(upstream_dir, dim)
                if real is not None:
                    unknown = {r[dim] for r in rows} - real - ({"EA21"} if dim == "geo" else set())
                    assert not unknown, (ds.id, dim, sorted(unknown))
            for dim, codes in ds.filters.items():
                assert {r[dim] for r in rows} <= set(codes), (ds.id, dim)
    real = (upstream_dir / "eurostat" / "estat_crim_off_cat.tsv").read_bytes().split(b"\n")
    crim = _eurostat_datasets()[0]
    assert crim.id == "eurostat.crim_off_cat"
    bundled = (SAMPLE_MIRROR_DIR / mirror_key(crim.download_targets()[0][0])).read_bytes()
    lines = bundled.split(b"\n")
    assert lines[0] == real[0] and set(lines) <= set(real) and len(lines) > 200


def test_no_invented_icd10_code_remains_anywhere() -> None:
    from pipelines.settings import PROJECT_ROOT

    # joined at run time so that neither this file nor its bytecode holds the code
    wrong = "_".join(["F11-F16", "F18", "F19"])
    hits = []
    for folder in ("assets", "pipelines", "sql", "scripts", "tests", "data/sample", "expectations"):
        for path in (PROJECT_ROOT / folder).rglob("*"):
            if "__pycache__" in path.parts:  # compiled copies of the sources read here
                continue
            if path.is_file() and wrong.encode() in path.read_bytes():
                hits.append(str(path.relative_to(PROJECT_ROOT)))
            if path.is_file() and wrong in path.name:
                hits.append(path.name)
    assert hits == []


def test_format_is_detected_from_content_not_the_name(upstream_dir: Path, tmp_path: Path) -> None:
    """A Data Browser download is parsed by what it is, whatever the catalogue requests."""
    from pipelines.parsers.detect import effective_format

    eurostat = upstream_dir / "eurostat"
    for tsv in ("estat_crim_off_cat.tsv", "hlth_cd_acdr_subset_alcohol_geo_time.tsv"):
        assert effective_format("sdmx_csv", eurostat / tsv) == "eurostat_tsv"
    for csv_file in [
        *(eurostat / "sdmx_csv").glob("*.csv"),
        *(eurostat / "sdmx_csv_2_0").glob("*"),
    ]:
        assert effective_format("eurostat_tsv", csv_file) == "sdmx_csv"
    renamed = tmp_path / "download.tsv"
    renamed.write_text('{"version":"2.0","class":"dataset","id":[],"size":[],"value":{}}')
    assert effective_format("eurostat_tsv", renamed) == "jsonstat"
    assert effective_format("tabular_csv", eurostat / "estat_crim_off_cat.tsv") == "tabular_csv"
