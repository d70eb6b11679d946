"""The inbox: files a person downloaded by hand (the publisher refused the script), taken in.

`data/inbox/` (setting EUDAP_INBOX). Each file is identified by ONE function driven by the
catalogue, `identify`: every dataset is asked "does this file belong to you?" through its
format's recogniser, never by per-dataset code:

- Eurostat (`eurostat_tsv`, `sdmx_csv`, `jsonstat`): the dataset code in the content (the
  SDMX-CSV `DATAFLOW` column, JSON-stat `extension.id`), else in the Data Browser's file
  name `estat_<code>...`, else (a TSV, which carries no code) the header's dimensions;
- `edr_csv`: chapter (file name) + header signature against the catalogue's `table_rules`;
- `bulletin_xlsx`: the breadcrumb in A2 against the catalogue's `bulletin_rules`;
- a discovered dataset (`discover:`): the publisher's file-name pattern (any year), with the
  header holding the columns its `parser_options.dimensions` name (e.g. `ww<year>-all-data`).

A file one dataset claims is registered with the checks of `eudap load`
(`Fetcher.load_file`) and moved to `inbox/done/<YYYY-MM-DD>/`; a file that none (or more
than one) claims, or that the checks refuse, is moved to `inbox/rejected/<YYYY-MM-DD>/` with
`<name>.reason.txt` naming the candidates considered and why each declined. Nothing is
ever overwritten: a name already taken gets `-2`, `-3`, ... before its extension.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.catalogue import Catalogue, Dataset
from pipelines.fetch import Fetcher, FetchError, FetchOutcome
from pipelines.parsers.base import READ_ERRORS, ParseError, open_binary
from pipelines.parsers.detect import EUROSTAT_FORMATS, sniff
from pipelines.settings import Paths
from pipelines.snapshots import SnapshotStore, utc_now

DONE, REJECTED = "done", "rejected"
HEAD_BYTES = 65536


@dataclass
class Claim:
    dataset: Dataset
    why: str


@dataclass
class Identification:
    claims: list[Claim] = field(default_factory=list)
    declined: list[str] = field(default_factory=list)  # "<dataset>: why not"


@dataclass
class InboxResult:
    taken: list[str] = field(default_factory=list)  # "<file> -> <dataset> (new|unchanged)"
    rejected: list[str] = field(default_factory=list)  # "<file>: <reason>"

    def lines(self) -> list[str]:
        return [f"inbox: took in {t}" for t in self.taken] + [
            f"inbox: rejected {r}" for r in self.rejected
        ]


# -- recognisers: (dataset, file) -> why it is claimed; raise Declined to say why not ----------
class Declined(Exception):
    """This dataset does not claim the file; the message says why."""


def _first_line(path: Path) -> str:
    with open_binary(path) as fh:
        head = fh.read(HEAD_BYTES).decode("utf-8", errors="replace").lstrip("\ufeff")
    return head.splitlines()[0] if head else ""


def eurostat_code(path: Path) -> tuple[str | None, str]:
    """The Eurostat dataset code a file names (lower case) and where it was read."""
    fmt = sniff(path)
    try:
        if fmt == "sdmx_csv":
            with open_binary(path) as fh:
                text = fh.read(HEAD_BYTES).decode("utf-8", errors="replace").lstrip("\ufeff")
            rows = list(csv.DictReader(io.StringIO(text)))
            flow = next((r.get("DATAFLOW") or r.get("STRUCTURE_ID") for r in rows), None)
            if flow:  # "ESTAT:CRIM_OFF_CAT(1.0)"
                return flow.split(":")[-1].split("(")[0].lower(), "its DATAFLOW column"
        if fmt == "jsonstat":
            with open_binary(path) as fh:
                doc = json.load(fh)
            code = (doc.get("extension") or {}).get("id") if isinstance(doc, dict) else None
            if code:
                return str(code).lower(), "its JSON-stat extension.id"
    except (*READ_ERRORS, ValueError, csv.Error):
        pass
    named = re.match(
        r"estat_([a-z0-9_]+?)(?:_(?:filtered|defaultview|page|linear)\w*)?\.", path.name.lower()
    )
    if named:
        return named.group(1), f"its file name {path.name}"
    return None, ""


def _recognise_eurostat(ds: Dataset, path: Path) -> str:
    if sniff(path) is None:
        raise Declined("not a Eurostat TSV, SDMX-CSV or JSON-stat file")
    code, where = eurostat_code(path)
    if code is not None:
        if code != ds.name:
            raise Declined(f"{where} names dataset {code}, not {ds.name}")
        return f"dataset code {code} in {where}"
    if sniff(path) != "eurostat_tsv":
        raise Declined("no dataset code in the file or its name")
    key = _first_line(path).split("\t", 1)[0]
    dims = [d.strip() for d in re.split(r"[,\\/]", key)][:-1]  # drop "TIME_PERIOD"/"time"
    if dims != list(ds.dimensions):
        raise Declined(f"TSV header dimensions {dims} are not {list(ds.dimensions)}")
    return f"TSV header dimensions {dims} (no dataset code in the file)"


def _recognise_edr(ds: Dataset, path: Path) -> str:
    from pipelines.parsers.edr_csv import match_rule, read_header, table_name

    table, chapter = table_name(path)
    if chapter is None:
        raise Declined(
            f"{path.name} is not named like an EDR table (edr<year>-<chapter>-table-...)"
        )
    try:
        rule = match_rule(
            [r.model_dump() for r in ds.table_rules], path, read_header(path, ds.limits)
        )
    except (ParseError, *READ_ERRORS) as exc:
        raise Declined(str(exc)) from None
    return f"EDR table {table} (chapter {chapter}) matches table rule {rule['name']}"


def _recognise_bulletin(ds: Dataset, path: Path) -> str:
    from pipelines.parsers import bulletin_xlsx

    try:
        parsed = bulletin_xlsx.parse(path, ds.parser_options, ds.limits)
        crumb = [str(p) for p in parsed.attributes.get("measure_path", [])]
        rule = bulletin_xlsx.match_rule(crumb, [r.model_dump() for r in ds.bulletin_rules], path)
    except (ParseError, *READ_ERRORS, ValueError) as exc:
        raise Declined(f"not a Bulletin table export it maps: {exc}") from None
    return f"Bulletin breadcrumb {' > '.join(crumb)!r} matches rule {rule['measure']}"


def _recognise_discovered(ds: Dataset, path: Path) -> str:
    assert ds.discover is not None
    pattern = ds.discover.pattern.replace("{year}", r"\d{4}")
    if not re.fullmatch(pattern, path.name, flags=re.IGNORECASE):
        raise Declined(f"file name does not match the publisher's pattern {pattern!r}")
    columns = list(ds.parser_options.get("dimensions", {}))
    try:
        header = next(csv.reader([_first_line(path)]))
    except (*READ_ERRORS, csv.Error, StopIteration):
        header = []
    missing = [c for c in columns if c not in header]
    if missing:
        raise Declined(f"file name matches, but the header lacks {missing}")
    return f"file name matches {pattern!r} and the header has {columns}"


def recogniser_for(ds: Dataset):  # noqa: ANN201 - a (Dataset, Path) -> str callable or None
    if ds.local_file:
        return None  # curated files live in the repository
    if ds.format in EUROSTAT_FORMATS:
        return _recognise_eurostat
    if ds.format == "edr_csv" and ds.table_rules:
        return _recognise_edr
    if ds.format == "bulletin_xlsx" and ds.bulletin_rules:
        return _recognise_bulletin
    if ds.discover is not None:
        return _recognise_discovered
    return None


def identify(path: Path, cat: Catalogue) -> Identification:
    """Ask every catalogue dataset whether `path` belongs to it (see the module docstring)."""
    result = Identification()
    for ds in cat.datasets.values():
        recognise = recogniser_for(ds)
        if recognise is None:
            continue
        try:
            result.claims.append(Claim(ds, recognise(ds, path)))
        except Declined as exc:
            result.declined.append(f"{ds.id}: {exc}")
    return result


# -- taking files in ---------------------------------------------------------------------------
# Names browsers give a download still being written; taken in once it is renamed.
PARTIAL_SUFFIXES = (".crdownload", ".part", ".partial", ".download")


def inbox_files(inbox: Path) -> list[Path]:
    """The files waiting in the inbox (not its done/ and rejected/ folders, not dot files,
    not a browser download still in progress)."""
    if not inbox.is_dir():
        return []
    return sorted(
        p
        for p in inbox.iterdir()
        if p.is_file()
        and not p.name.startswith(".")
        and not p.name.lower().endswith(PARTIAL_SUFFIXES)
    )


def inbox_state(inbox: Path) -> list[tuple[str, int, int]]:
    """(name, mtime in ns, size) of every waiting file, sorted: what the Dagster sensor
    compares with its cursor, so that the same files never start a second run."""
    state = []
    for path in inbox_files(inbox):
        try:
            st = path.stat()
        except FileNotFoundError:  # taken in (moved) meanwhile
            continue
        state.append((path.name, st.st_mtime_ns, st.st_size))
    return state


def take_in_store(paths: Paths, cat: Catalogue) -> InboxResult:
    """Take in `paths.inbox_dir` into `paths.raw_dir`: what every run does first (`eudap
    run`, `eudap inbox`, a Dagster-launched run). The caller holds the run lock."""
    fetcher = Fetcher(SnapshotStore(paths.raw_dir), inbox=paths.inbox_dir)
    return take_in(paths.inbox_dir, cat, fetcher)


def sole_claim(path: Path, cat: Catalogue) -> Claim | str:
    """The one dataset claiming `path`, or why none (or several) does."""
    found = identify(path, cat)
    if len(found.claims) == 1:
        return found.claims[0]
    if found.claims:
        return "ambiguous: claimed by " + "; ".join(
            f"{c.dataset.id} ({c.why})" for c in found.claims
        )
    return "no catalogue dataset claims it; candidates considered: " + (
        "; ".join(found.declined) or "none"
    )


def take_in(inbox: Path, cat: Catalogue, fetcher: Fetcher) -> InboxResult:
    """Identify, register and move every file of the inbox. Hold the run lock around it."""
    result = InboxResult()
    for path in inbox_files(inbox):
        claim = sole_claim(path, cat)
        if isinstance(claim, str):
            result.rejected.append(f"{path.name}: {claim}")
            _reject(inbox, path, claim)
            continue
        try:
            outcome = fetcher.load_file(claim.dataset, path, origin="inbox")
        except FetchError as exc:
            why = f"claimed by {claim.dataset.id} ({claim.why}), but refused: {exc}"
            result.rejected.append(f"{path.name}: {why}")
            _reject(inbox, path, why)
            continue
        status = "new snapshot" if outcome.status == "new" else "identical to a snapshot"
        result.taken.append(f"{path.name} -> {claim.dataset.id} ({status}; {claim.why})")
        _move(path, inbox / DONE)
    return result


def take_in_mirror(cat: Catalogue, fetcher: Fetcher) -> InboxResult:
    """The mirror's inbox: files of datasets that no script downloads (the Statistical
    Bulletin), which a mirror such as the demo's bundles under `inbox/` (`Mirror.inbox_files`).

    The same path as a person's inbox: each file is identified by its content (`identify`)
    and registered by `Fetcher.load_file`, never through a made-up URL. The mirror is only
    read (nothing is moved), its manifest must name the dataset that claims the file, and
    the snapshot is sample data or a real capture as the manifest's `files` entry says.
    """
    result = InboxResult()
    mirror = fetcher.mirror
    if mirror is None:
        return result
    try:
        listed = mirror.inbox_files(fetcher.session)
    except FetchError as exc:  # a mirror that is down: its datasets stay as they are
        result.rejected.append(f"mirror inbox: {exc}")
        return result
    with tempfile.TemporaryDirectory(prefix="eudap-mirror-inbox-") as tmp:
        for key, listed_for in sorted(listed.items()):
            hint = cat.datasets.get(listed_for)
            if hint is None:
                result.rejected.append(
                    f"mirror {key}: listed for {listed_for}, not in the catalogue"
                )
                continue
            try:
                got = fetcher.mirror_inbox_file(key, hint, Path(tmp))
                if isinstance(got, FetchOutcome):
                    result.taken.append(f"mirror {key} -> {hint.id} (unchanged: HTTP 304)")
                    continue
                path, received = got
                claim = sole_claim(path, cat)
                if isinstance(claim, str) or claim.dataset.id != hint.id:
                    why = claim if isinstance(claim, str) else f"claimed by {claim.dataset.id}"
                    result.rejected.append(f"mirror {key}: listed for {hint.id}, but {why}")
                    continue
                sample, extra = mirror.file_origin(fetcher.session, key)
                outcome = fetcher.load_file(
                    claim.dataset,
                    path,
                    origin="mirror",
                    sample=sample,
                    extra={**extra, "mirror_inbox": key},
                    received=received,
                )
            except FetchError as exc:
                result.rejected.append(f"mirror {key}: {exc}")
                continue
            status = "new snapshot" if outcome.status == "new" else "identical to a snapshot"
            result.taken.append(f"mirror {key} -> {hint.id} ({status}; {claim.why})")
    return result


def _reject(inbox: Path, path: Path, why: str) -> None:
    moved = _move(path, inbox / REJECTED)
    moved.with_name(f"{moved.name}.reason.txt").write_text(
        f"{path.name}: rejected from the inbox: {why}\n", encoding="utf-8"
    )


def _move(path: Path, folder: Path) -> Path:
    """Move into `folder/<today>/`, never overwriting: `name-2.ext`, `name-3.ext`, ..."""
    day = folder / utc_now().date().isoformat()
    day.mkdir(parents=True, exist_ok=True)
    target, n = day / path.name, 1
    while target.exists() or target.with_name(f"{target.name}.reason.txt").exists():
        n += 1
        target = day / f"{path.stem}-{n}{path.suffix}"
    shutil.move(str(path), target)
    return target
