"""Downloading upstream files into the snapshot store, with mirror support.

One code path for the live job, the offline demo and the tests: a `Fetcher` always builds
the real upstream URL from the catalogue, then a `Mirror` (if configured) redirects it to a
local folder or a local HTTP server laid out as ``<mirror>/<host>/<path>``.

Mirror file names (stable, documented in the README): the URL's host and path, then, when
the URL has a query string, ``@`` and the query parameters sorted by name (then value),
written ``name=value`` and joined by ``&``, each name and value percent-encoded except for
letters, digits and ``-._~+``. For example::

    https://ec.europa.eu/eurostat/api/.../data/crim_off_cat/A...?format=TSV&compressed=true
    -> <mirror>/ec.europa.eu/eurostat/api/.../data/crim_off_cat/A...@compressed=true&format=TSV

A mirror folder (or server) may hold ``MIRROR.json`` with ``{"sample": true}``: every
snapshot taken from it is then marked as sample data in its provenance, except the files its
``files`` map records as real publisher files (``kind: real``): those are real data, labelled
``bundled copy captured <captured>``, or ``bundled copy, capture date unknown (<capture_note>)``
when no date is recorded (`capture_label`). Its ``datasets``
entries that start with ``repository/`` stand in for files kept in this repository
(curated inputs), e.g. ``repository/assets/curated/prison_policy.csv``; those that start
with ``inbox/`` are files of datasets that no script downloads (the Statistical Bulletin),
taken in like a person's inbox by `pipelines.inbox.take_in_mirror`: there is no URL to
make up for them.

A dataset with a `discover:` block has no fixed URL: `Fetcher.fetch` reads its landing page
(through the mirror like any URL; a conditional request when a snapshot of the page exists),
lets `pipelines.discover` pick the newest edition's link(s), then downloads them as usual.
The page is kept as a snapshot of its own under ``<raw>/_pages/<source>/<dataset>/`` (outside
the dataset's history), and every data snapshot's sidecar records the resolved URL (`url`,
`final_url`) and, in `extra`, `resolved_from` (the page), `edition`, `page_sha256` and
`page_snapshot`. A refused or unreadable page fails the dataset, which keeps its last snapshot.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import os
import random
import shutil
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, unquote, urljoin, urlsplit

import requests
import urllib3

from pipelines.attempts import REFUSAL_PHRASE, record_attempt
from pipelines.catalogue import Dataset
from pipelines.discover import DiscoveryError, Page, discover, link_file_name, member_file_name
from pipelines.parsers.admission import content_problem
from pipelines.parsers.detect import effective_format
from pipelines.parsers.jsonstat import error_document
from pipelines.progress import download_progress
from pipelines.redact import redact_text, redact_url, url_credentials
from pipelines.settings import PROJECT_ROOT
from pipelines.snapshots import Snapshot, SnapshotMeta, SnapshotStore, utc_now

USER_AGENT = "eudap/0.1 (EU Drugs Action Plan indicator pipeline)"
SNIFF_BYTES = 4096
# Landing pages read to discover download URLs, snapshotted like data but outside the
# datasets' history: data/raw/_pages/<source>/<dataset>/<YYYY-MM-DD>[-N]/<page>.html
PAGES_DIR = "_pages"
MAX_PAGE_BYTES = 5_000_000
# Mirror files of datasets with no automated download (the Statistical Bulletin): the mirror's
# own inbox, taken in like data/inbox/ (`Mirror.inbox_files`).
INBOX_PREFIX = "inbox/"


class FetchError(RuntimeError):
    """A download that failed or whose content was refused; the message says why."""


class IncompleteTransfer(FetchError):
    """The body could not be proven complete (cut short, or no way to tell): retried."""


class FetchRefused(FetchError):
    """The publisher refused an automated download (HTTP 403, or a bot-challenge page).

    Final: never retried, and never worked around (no other User-Agent, no challenge
    solving). `why` is e.g. "HTTP 403"; the outcome's reason tells the user to download
    the file in a browser and drop it into the inbox.
    """

    def __init__(self, why: str, url: str | None = None):
        super().__init__(why)
        self.why = why
        self.url = url  # the upstream URL refused (a landing page), when known


# Bot-shield challenge pages (Cloudflare "Just a moment...", its challenge scripts).
CHALLENGE_MARKERS = (
    b"<title>just a moment...</title>",
    b"challenge-platform",
    b"cf_chl_opt",
    b"cf-chl-",
    b"attention required! | cloudflare",
)


def refusal_of(status: int, headers: Any, head: bytes = b"") -> str | None:
    """Why an answer is a refusal of automated downloads (None: it is not one)."""
    if str(headers.get("cf-mitigated", "")).lower() == "challenge":
        return f"HTTP {status}, a bot-challenge page"
    lowered = head[:SNIFF_BYTES].lower()
    if any(marker in lowered for marker in CHALLENGE_MARKERS):
        return f"HTTP {status}, a bot-challenge page"
    if status == 403:
        return "HTTP 403"
    return None


def refusal_reason(dataset_id: str, why: str, browser_url: str, inbox: str) -> str:
    """The one line that reports a refusal, with what the user does about it."""
    return (
        f"{dataset_id}: {REFUSAL_PHRASE} ({why}); download "
        f"{redact_url(browser_url)} in a browser and drop it into {inbox}"
    )


@dataclass(frozen=True)
class FetchPolicy:
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    attempts: int = 4
    backoff_base: float = 2.0  # seconds; wait = base * 2**n + jitter
    max_wait: float = 120.0  # cap for backoff and Retry-After
    max_redirects: int = 5

    @classmethod
    def from_env(cls) -> FetchPolicy:
        """The defaults, overridden by EUDAP_FETCH_ATTEMPTS, EUDAP_FETCH_BACKOFF (seconds)
        and EUDAP_FETCH_READ_TIMEOUT (seconds)."""
        env = os.environ
        default = cls()
        return cls(
            attempts=int(env.get("EUDAP_FETCH_ATTEMPTS", default.attempts)),
            backoff_base=float(env.get("EUDAP_FETCH_BACKOFF", default.backoff_base)),
            read_timeout=float(env.get("EUDAP_FETCH_READ_TIMEOUT", default.read_timeout)),
        )


@dataclass(frozen=True)
class FetchOutcome:
    dataset: str
    status: Literal["new", "unchanged", "failed", "refused"]
    snapshot: Snapshot | None  # the new snapshot, or the latest one when unchanged
    reason: str | None
    url: str
    requests_made: int


def mirror_key(url: str) -> str:
    """The path of `url` inside a mirror (see the module docstring)."""
    parts = urlsplit(url)
    key = f"{parts.hostname}{parts.path}"
    if parts.query:
        pairs = sorted(parse_qsl(parts.query, keep_blank_values=True))
        safe = "-._~+"
        key += "@" + "&".join(f"{quote(k, safe=safe)}={quote(v, safe=safe)}" for k, v in pairs)
    return key


def capture_label(entry: dict[str, Any]) -> str:
    """What a snapshot of a bundled real file says of its capture: the date its mirror
    manifest records, else that the date is unknown, with what is known. Never a made-up
    date: ../shared/upstream/MANIFEST.json records none for the files bundled so far."""
    captured = entry.get("captured")
    if captured:
        return f"bundled copy captured {captured}"
    note = entry.get("capture_note")
    return "bundled copy, capture date unknown" + (f" ({note})" if note else "")


class MirrorLocationError(ValueError):
    """A mirror location that cannot be used (the message never repeats a credential)."""


def mirror_url_problem(location: str) -> str | None:
    """Why an http(s) mirror location is refused, or None.

    Credentials are never taken from a URL (it would end up in logs, sidecars and the
    warehouse): requests reads them from ~/.netrc (or the file $NETRC names) for the
    mirror's host. A mirror is a base folder, so it has no query string either.
    """
    shown = redact_url(location)
    why = url_credentials(location)
    if why:
        return (
            f"the mirror URL {shown} is refused: {why}. Put the credentials in ~/.netrc "
            "(or the file named by $NETRC): `machine <host> login <user> password <secret>`"
        )
    parts = urlsplit(location)
    if parts.query or parts.fragment:
        return f"the mirror URL {shown} is refused: a mirror is a base URL, without ?query or #"
    return None


# The manifest of each HTTP mirror this process has read, with its validators: every later
# read (each asset opens its own Mirror) is a conditional request, answered 304 when unchanged.
_MANIFESTS: dict[str, tuple[dict[str, str | None], dict[str, Any]]] = {}


class Mirror:
    """Redirects upstream URLs to a local folder or a local HTTP server."""

    def __init__(self, location: str):
        self.location = location.rstrip("/")
        self.is_http = self.location.startswith(("http://", "https://"))
        self._manifest: dict[str, Any] | None = None
        if self.is_http:
            problem = mirror_url_problem(self.location)
            if problem:
                raise MirrorLocationError(problem)

    def resolve(self, url: str) -> str:
        key = mirror_key(url)
        if self.is_http:
            return f"{self.location}/{quote(key, safe='/@=&+-._~,')}"
        return str(Path(self.location) / key)

    @property
    def host(self) -> str | None:
        return urlsplit(self.location).hostname if self.is_http else None

    def is_sample(self, session: requests.Session) -> bool:
        """Whether the mirror is a sample mirror (the demo's): `"sample": true`."""
        return self.manifest(session).get("sample", False) is True

    def file_origin(self, session: requests.Session, key: str) -> tuple[bool, dict[str, str]]:
        """Whether the mirror file `key` is sample data, and what its sidecar's `extra` says.

        A sample mirror's files are sample data, except those its manifest's `files` map
        records as real publisher files (`kind: real`): their snapshots are real data,
        labelled `bundled_capture` (`capture_label`).
        """
        files = self.manifest(session).get("files")
        entry = files.get(key) if isinstance(files, dict) else None
        if isinstance(entry, dict) and entry.get("kind") == "real":
            return False, {"bundled_capture": capture_label(entry)}
        return self.is_sample(session), {}

    def repository_files(self, session: requests.Session) -> set[str]:
        """Repository files the mirror stands in for: its manifest's `repository/...` entries."""
        listed = self.manifest(session).get("datasets", {})
        paths = [p for files in listed.values() for p in files] if isinstance(listed, dict) else []
        return {p.removeprefix("repository/") for p in paths if p.startswith("repository/")}

    def inbox_files(self, session: requests.Session) -> dict[str, str]:
        """The files the mirror holds for datasets no script downloads (`inbox/<name>`
        entries of its manifest's `datasets`): key -> the dataset the manifest names.
        Taken in like files a person drops into the inbox (`pipelines.inbox.take_in_mirror`)."""
        listed = self.manifest(session).get("datasets", {})
        if not isinstance(listed, dict):
            return {}
        return {
            key: ds_id
            for ds_id, keys in listed.items()
            for key in keys
            if isinstance(key, str) and key.startswith(INBOX_PREFIX)
        }

    def manifest(self, session: requests.Session) -> dict[str, Any]:
        if self._manifest is None:
            self._manifest = self._read_manifest(session)
        return self._manifest

    def _read_manifest(self, session: requests.Session) -> dict[str, Any]:
        if not self.is_http:
            path = Path(self.location) / "MIRROR.json"
            return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        url = f"{self.location}/MIRROR.json"
        cached = _MANIFESTS.get(url)
        headers = {}
        if cached is not None:
            headers = {k: v for k, v in cached[0].items() if v}
        try:
            with session.get(url, timeout=10, headers=headers) as resp:
                if resp.status_code == 304 and cached is not None:
                    return cached[1]
                if resp.status_code != 200:
                    return {}
                manifest = resp.json()
                validators = {
                    "If-None-Match": resp.headers.get("ETag"),
                    "If-Modified-Since": resp.headers.get("Last-Modified"),
                }
        except (requests.RequestException, ValueError) as exc:
            raise FetchError(
                f"the mirror's manifest {url} cannot be read: {type(exc).__name__}: {exc}"
            ) from exc
        manifest = manifest if isinstance(manifest, dict) else {}
        if any(validators.values()):
            _MANIFESTS[url] = (validators, manifest)
        return manifest


def sample_mirror(mirror: Mirror | None, session: requests.Session) -> bool:
    """Whether a run fed from `mirror` (None: no mirror) is a sample run (the demo): only
    then may sample snapshots be staged. A mirror whose manifest cannot be read (down, or
    refused) is no sample mirror: staging goes on from the last good real snapshots, and
    the downloads that needed the mirror fail with their own reasons."""
    if mirror is None:
        return False
    try:
        return mirror.is_sample(session)
    except FetchError:
        return False


def sniff(fmt: str, head: bytes) -> str | None:
    """Why the first bytes of a body cannot be a file of format `fmt` (None if plausible)."""
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, SNIFF_BYTES)
        except zlib.error:
            return "corrupt gzip stream"
    if not head.strip():
        return "empty body"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in text[:512]:
        return "body is an HTML page, not data"
    if fmt == "bulletin_xlsx":
        return None if head.startswith(b"PK\x03\x04") else "not an XLSX (zip) file"
    if head.startswith(b"PK\x03\x04"):
        return "body is a ZIP archive (an XLSX?), not text"
    if fmt == "jsonstat":
        return None if text.startswith(b"{") else "not a JSON document"
    if text.startswith(b"{") and b'"error"' in text[:512]:
        return "body is a JSON error message, not data"
    if text.startswith(b"<?xml") or text.startswith(b"<"):
        return "body is XML/markup, not delimited text"
    first_line = text.split(b"\n", 1)[0]
    if fmt == "eurostat_tsv" and (
        b"\t" not in first_line or not any(s in first_line for s in (b"\\", b"/"))
    ):
        return "first line is not a Eurostat TSV header (dimensions\\time, tab-separated)"
    if (
        fmt in ("sdmx_csv", "tabular_csv", "edr_csv", "curated_csv")
        and not any(sep in first_line for sep in (b",", b";", b"\t"))
        and not first_line.startswith(b"#")
    ):
        return "first line has no delimiter: not a CSV header"
    return None


def shown_inbox(inbox: Path | None) -> str:
    """The inbox as a person reads it: relative to the project when inside it."""
    if inbox is None:
        return "the inbox (data/inbox/, setting EUDAP_INBOX)"
    inbox = inbox.resolve()
    shown = inbox.relative_to(PROJECT_ROOT) if inbox.is_relative_to(PROJECT_ROOT) else inbox
    return f"{shown.as_posix()}/"


def conditional_headers(latest: Snapshot | None) -> dict[str, str]:
    """Request headers for a file whose last snapshot is `latest`: If-None-Match and
    If-Modified-Since from that answer's validators, so an unchanged file costs a 304."""
    headers = {"Accept-Encoding": "gzip, deflate"}
    if latest is not None and latest.meta.etag:
        headers["If-None-Match"] = latest.meta.etag
    if latest is not None and latest.meta.last_modified:
        headers["If-Modified-Since"] = latest.meta.last_modified
    return headers


@dataclass(frozen=True)
class Received:
    """How a file to register arrived over HTTP (recorded in its sidecar)."""

    final_url: str
    status: int
    etag: str | None
    last_modified: str | None
    content_type: str | None


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" or no zone: an HTTP-date is always UTC
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - utc_now()).total_seconds())


class Fetcher:
    """Fetches catalogue datasets into a snapshot store."""

    def __init__(
        self,
        store: SnapshotStore,
        mirror: Mirror | None = None,
        policy: FetchPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        inbox: Path | None = None,
    ):
        self.store = store
        self.inbox = inbox
        self.mirror = mirror
        self.policy = policy or FetchPolicy()
        self.session = session or requests.Session()
        # a new Session already carries requests' own User-Agent: replace that, keep a custom one
        if self.session.headers.get("User-Agent") == requests.utils.default_user_agent():
            self.session.headers["User-Agent"] = USER_AGENT
        self.sleep = sleep
        # sidecar fields of the files being fetched for a discovered dataset (resolved_from...)
        self._provenance: dict[str, object] = {}
        # where a person downloads the file when the publisher refuses (the landing page)
        self._browser_url: str | None = None

    # -- public -------------------------------------------------------------------------
    def fetch(self, ds: Dataset) -> list[FetchOutcome]:
        """Download every file of a dataset (one, or each member of a collection), and
        append the attempt to the dataset's attempt log (`pipelines.attempts`)."""
        previous = self.store.snapshots(ds.id)
        try:
            outcomes = self._fetch_all(ds)
        except FetchError as exc:
            record_attempt(self.store, ds.id, [_failed_outcome(ds, exc, ds.id, 0)], previous)
            raise
        record_attempt(self.store, ds.id, outcomes, previous)
        return outcomes

    def _fetch_all(self, ds: Dataset) -> list[FetchOutcome]:
        if ds.discover is not None:
            return self._fetch_discovered(ds)
        targets = ds.download_targets()
        if not targets:
            raise FetchError(f"{ds.id}: the catalogue gives no URL (use `eudap load`)")
        return self._fetch_targets(ds, targets)

    def _fetch_targets(self, ds: Dataset, targets: list[tuple[str, str]]) -> list[FetchOutcome]:
        outcomes: list[FetchOutcome] = []
        for url, file_name in targets:
            outcomes.append(self.fetch_url(ds, url, file_name))
            if outcomes[-1].status == "refused":
                break  # the publisher said no: one refusal per dataset, no more requests
        return outcomes

    def fetch_url(self, ds: Dataset, url: str, file_name: str) -> FetchOutcome:
        self._requests = self._failures = 0
        try:
            if self.mirror is not None and not self.mirror.is_http:
                return self._from_folder(ds, url, file_name)
            return self._from_http(ds, url, file_name)
        except FetchRefused as exc:
            return self._refused_outcome(ds, exc, self._browser_url or url, url)
        except FetchError as exc:
            return _failed_outcome(ds, exc, url, self._requests)

    @property
    def inbox_shown(self) -> str:
        return shown_inbox(self.inbox)

    def _refused_outcome(
        self, ds: Dataset, exc: FetchRefused, browser_url: str, url: str
    ) -> FetchOutcome:
        reason = refusal_reason(ds.id, exc.why, browser_url, self.inbox_shown)
        return FetchOutcome(ds.id, "refused", None, reason, redact_url(url) or "", self._requests)

    def load_file(
        self,
        ds: Dataset,
        path: Path,
        origin: str = "load",
        *,
        sample: bool = False,
        extra: dict[str, object] | None = None,
        received: Received | None = None,
    ) -> FetchOutcome:
        """Register a local file as a snapshot, with the checks of a download.

        Used by `eudap load` (a file downloaded by hand), the inbox (origin "inbox"), a
        mirror's inbox files (origin "mirror", `sample` and `extra` as its manifest says,
        `received` when they came over HTTP) and for curated files kept in the repository
        (origin "repository"). Raises FetchError when the file is refused.
        """
        self._requests = self._failures = 0
        if path.is_symlink():
            # Only the name and the reason are kept: the link may point at anything.
            reason = "a symbolic link is refused: load the file itself"
            meta = {"dataset": ds.id, "file": path.name, "origin": origin, "reason": reason}
            kept = self.store.reject(ds.id, None, meta)
            raise FetchError(f"{ds.id}: {path}: {reason} (refusal recorded at {kept})")
        if not path.is_file():
            raise FetchError(f"{ds.id}: {path} is not a file")
        return self._admit_copy(
            ds,
            path,
            file_name=path.name if ds.collection else ds.file_name,
            origin=origin,
            url=None,
            sample=sample,
            extra=extra if extra is not None else {"loaded_from": str(path.resolve())},
            received=received,
        )

    def fetch_local(self, ds: Dataset, path: Path) -> FetchOutcome:
        """A curated file kept in the repository, registered like a download.

        A mirror (folder or HTTP) may stand in for repository files under
        `repository/<path relative to the project>`: the sample mirror does, so the demo
        covers indicators whose curated file has no verified rows yet, with its rows marked
        as sample data. Without a stand-in, the repository file itself is registered.
        """
        self._requests = self._failures = 0
        path = path.resolve()
        try:
            relative = (
                path.relative_to(PROJECT_ROOT).as_posix()
                if path.is_relative_to(PROJECT_ROOT)
                else None
            )
            if self.mirror is not None and relative in self.mirror.repository_files(self.session):
                if self.mirror.is_http:
                    stand_in_url = f"{self.mirror.location}/repository/{quote(relative)}"
                    return self._from_http(ds, stand_in_url, ds.file_name, direct=True)
                stand_in = Path(self.mirror.location).resolve() / "repository" / relative
                return self._from_folder(ds, stand_in.as_uri(), ds.file_name, path=stand_in)
            return self.load_file(ds, path, origin="repository")
        except FetchError as exc:
            return _failed_outcome(ds, exc, path.as_uri(), self._requests)

    # -- probing (`eudap sources --check`) ----------------------------------------------
    def probe(self, ds: Dataset, known: SnapshotStore) -> list[FetchOutcome]:
        """Whether each file of `ds` changed since its last snapshot in `known`, without
        downloading it: per file a conditional GET (If-None-Match / If-Modified-Since from
        that snapshot, `conditional_headers`) whose body is never read. 304 is
        `unchanged`, 200 `new` (a newer file waits), a refusal `refused`, anything else
        `failed`; the outcomes carry no snapshot. A discovered dataset's landing page is
        asked for conditionally too (its last snapshot in `known`): unchanged, its links
        are read from that snapshot; changed, it is read (a page, not a data file) into this
        fetcher's store. From a folder mirror, a file is `unchanged` when its sha256 is the
        last snapshot's. A curated file kept in the repository (`local_file`) is compared
        the way `fetch_local` takes it: its mirror stand-in, when the mirror has one, else
        the repository file itself against the dataset's newest snapshot. An `unchanged`
        outcome carries the snapshot it matched; no outcome carries a new one.
        """
        self._requests = self._failures = 0
        if ds.local_file:
            return [self._probe_local(ds, PROJECT_ROOT / ds.local_file, known)]
        if ds.discover is not None:
            pages: dict[str, Snapshot] = {}
            known_pages = SnapshotStore(known.root / PAGES_DIR)
            try:
                found = discover(
                    ds.id,
                    ds.discover,
                    lambda url: self._read_page(ds, url, pages, known_pages),
                    utc_now().date(),
                    ds.collection,
                )
            except FetchRefused as exc:
                page = exc.url or ds.discover.page
                return [self._refused_outcome(ds, exc, page, page)]
            except (DiscoveryError, FetchError) as exc:
                return [_failed_outcome(ds, FetchError(str(exc)), ds.discover.page, 0)]
            self._browser_url = found.page.url
            urls = list(found.links)
        else:
            urls = [url for url, _ in ds.download_targets()]
        page_requests, outcomes = self._requests, []
        try:
            for url in urls:
                outcomes.append(self._probe_url(ds, url, known))
                if outcomes[-1].status == "refused":
                    break
        finally:
            self._browser_url = None
        if outcomes:  # the landing page's requests count with the first file, as in `fetch`
            first = outcomes[0]
            outcomes[0] = replace(first, requests_made=first.requests_made + page_requests)
        return outcomes

    def _probe_url(
        self,
        ds: Dataset,
        url: str,
        known: SnapshotStore,
        *,
        direct: bool = False,
        latest: Snapshot | None = None,
    ) -> FetchOutcome:
        """One file of `ds`, asked conditionally (`probe`): through the mirror unless
        `direct` (`url` is the mirror's own, or a file URL in a folder mirror). `latest`: the
        snapshot to compare with (default: the newest one in `known` taken from `url`)."""
        self._requests = self._failures = 0
        shown = redact_url(url) or ""
        if latest is None:
            latest = next((s for s in known.snapshots(ds.id) if s.meta.url in {url, shown}), None)
        try:
            if self.mirror is not None and not self.mirror.is_http:
                path = (
                    Path(unquote(urlsplit(url).path)) if direct else Path(self.mirror.resolve(url))
                )
                if not path.is_file():
                    raise FetchError(f"{ds.id}: not in the mirror: {path} (for {url})")
                return self._probe_file(ds, path, latest, known, shown)
            allowed = set(ds.allowed_hosts())
            if self.mirror and self.mirror.host:
                allowed.add(self.mirror.host)
            target = self.mirror.resolve(url) if self.mirror and not direct else url
            resp, final_url = self._get_following(ds, target, conditional_headers(latest), allowed)
            with resp:
                why = refusal_of(resp.status_code, resp.headers, _peek(resp))
                status = resp.status_code
            if why:
                raise FetchRefused(why)
            if status == 304 and latest is not None:
                return FetchOutcome(ds.id, "unchanged", latest, None, shown, self._requests)
            if status == 200:
                return FetchOutcome(ds.id, "new", None, None, shown, self._requests)
            raise FetchError(f"{ds.id}: HTTP {status} from {redact_url(final_url)}")
        except FetchRefused as exc:
            return self._refused_outcome(ds, exc, self._browser_url or url, url)
        except FetchError as exc:
            return _failed_outcome(ds, exc, url, self._requests)

    def _probe_file(
        self, ds: Dataset, path: Path, latest: Snapshot | None, known: SnapshotStore, shown: str
    ) -> FetchOutcome:
        """A local file (a folder mirror's, a curated one): `unchanged` when taking it would
        add no snapshot: its sha256 is that of `latest` (the snapshot last taken from it), or
        of the newest snapshot (of any snapshot, for a collection), as `SnapshotStore.add`
        dedupes."""
        with open(path, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        stored = known.snapshots(ds.id)
        candidates = ([latest] if latest else []) + (stored if ds.collection else stored[:1])
        same = next((s for s in candidates if s.meta.sha256 == digest), None)
        if same is not None:
            return FetchOutcome(ds.id, "unchanged", same, None, shown, self._requests)
        return FetchOutcome(ds.id, "new", None, None, shown, self._requests)

    def _probe_local(self, ds: Dataset, path: Path, known: SnapshotStore) -> FetchOutcome:
        """A curated file kept in the repository, asked the way `fetch_local` takes it."""
        path = path.resolve()
        relative = (
            path.relative_to(PROJECT_ROOT).as_posix() if path.is_relative_to(PROJECT_ROOT) else None
        )
        try:
            if self.mirror is not None and relative in self.mirror.repository_files(self.session):
                if self.mirror.is_http:
                    stand_in_url = f"{self.mirror.location}/repository/{quote(relative)}"
                    return self._probe_url(ds, stand_in_url, known, direct=True)
                stand_in = Path(self.mirror.location).resolve() / "repository" / relative
                return self._probe_url(ds, stand_in.as_uri(), known, direct=True)
            if not path.is_file():
                raise FetchError(f"{ds.id}: {path} is not a file")
            return self._probe_file(ds, path, None, known, path.as_uri())
        except FetchError as exc:
            return _failed_outcome(ds, exc, path.as_uri(), self._requests)

    def probe_mirror_inbox(self, key: str, hint: Dataset, known: SnapshotStore) -> FetchOutcome:
        """A file of the mirror's inbox (`Mirror.inbox_files`), asked the way
        `mirror_inbox_file` takes it, without downloading it: an HTTP mirror's conditionally
        (from the snapshot of `hint` last taken from the same URL), a folder mirror's by its
        sha256 (`_probe_file`: `load_file` would add nothing)."""
        assert self.mirror is not None
        self._requests = self._failures = 0
        if not self.mirror.is_http:
            path = Path(self.mirror.location) / key
            if not path.is_file():
                why = FetchError(f"{hint.id}: not in the mirror: {path}")
                return _failed_outcome(hint, why, path.as_uri(), 0)
            return self._probe_file(hint, path, None, known, path.as_uri())
        url = f"{self.mirror.location}/{quote(key)}"
        shown = redact_url(url) or ""
        latest = next((s for s in known.snapshots(hint.id) if s.meta.final_url == shown), None)
        if latest is None:
            return FetchOutcome(hint.id, "new", None, None, shown, 0)  # never taken from there
        return self._probe_url(hint, url, known, direct=True, latest=latest)

    # -- discovery ----------------------------------------------------------------------
    def _fetch_discovered(self, ds: Dataset) -> list[FetchOutcome]:
        """Find the download URLs on the dataset's landing page, then fetch each of them.

        Each snapshot's sidecar records the resolved URL (`url`), the page it was found on
        (`extra.resolved_from`) and that page's own snapshot (`extra.page_sha256`, `page_snapshot`).
        """
        assert ds.discover is not None
        self._requests = self._failures = 0
        pages: dict[str, Snapshot] = {}
        try:
            found = discover(
                ds.id,
                ds.discover,
                lambda url: self._read_page(ds, url, pages),
                utc_now().date(),
                ds.collection,
            )
        except FetchRefused as exc:
            page = exc.url or ds.discover.page
            return [self._refused_outcome(ds, exc, page, page)]
        except (DiscoveryError, FetchError) as exc:
            return [_failed_outcome(ds, FetchError(str(exc)), ds.discover.page, self._requests)]
        page_requests, page_snap = self._requests, pages[found.page.url]
        self._provenance = {
            "resolved_from": found.page.url,
            "edition": found.edition,
            "page_sha256": page_snap.meta.sha256,
            "page_snapshot": page_snap.path.relative_to(self.store.root).as_posix(),
        }
        self._browser_url = found.page.url
        try:
            outcomes = self._fetch_targets(
                ds,
                [
                    (url, member_file_name(url, ds.file_name) if ds.collection else ds.file_name)
                    for url in found.links
                ],
            )
        finally:
            self._provenance = {}
            self._browser_url = None
        outcomes[0] = replace(outcomes[0], requests_made=outcomes[0].requests_made + page_requests)
        return outcomes

    def _read_page(
        self,
        ds: Dataset,
        url: str,
        pages: dict[str, Snapshot],
        known: SnapshotStore | None = None,
    ) -> Page | None:
        """Read a landing page (through the mirror, if any) and snapshot it; None: no such page.
        The conditional request uses the page's last snapshot in `known` (default: this
        fetcher's own pages store)."""
        store = SnapshotStore(self.store.root / PAGES_DIR)
        latest = next((s for s in (known or store).snapshots(ds.id) if s.meta.url == url), None)
        status, etag, last_modified, content_type = None, None, None, None
        if self.mirror is not None and not self.mirror.is_http:
            path = Path(self.mirror.resolve(url))
            if not path.is_file():
                return None
            body, final_url = path.read_bytes(), path.resolve().as_uri()
        else:
            target = self.mirror.resolve(url) if self.mirror else url
            allowed = set(ds.allowed_hosts())
            if self.mirror and self.mirror.host:
                allowed.add(self.mirror.host)
            headers = conditional_headers(latest)
            self._failures = 0
            resp, final_url, tmp, _, _ = self._download_verified(ds, target, headers, allowed)
            if resp.status_code in (404, 410):
                return None
            if resp.status_code == 403:
                raise FetchRefused(refusal_of(403, resp.headers) or "HTTP 403", url)
            if resp.status_code == 304 and latest is not None:
                pages[url] = latest
                base = url if self.mirror else final_url
                return Page(url, latest.verified_path().read_bytes(), base)
            if tmp is None:
                raise FetchError(
                    f"{ds.id}: landing page {url} answered HTTP {resp.status_code} "
                    f"(from {final_url}); the download URL cannot be discovered"
                )
            body = tmp.read_bytes()
            tmp.unlink()
            status, etag = resp.status_code, resp.headers.get("ETag")
            last_modified = resp.headers.get("Last-Modified")
            content_type = resp.headers.get("Content-Type")
        why = refusal_of(status or 200, {}, body) if status != 403 else None
        if why:
            raise FetchRefused(why, url)
        if len(body) > MAX_PAGE_BYTES or b"<" not in body[:SNIFF_BYTES]:
            raise FetchError(f"{ds.id}: landing page {url} (from {final_url}) is not an HTML page")
        meta = SnapshotMeta(
            dataset=ds.id,
            file=f"{link_file_name(url) or 'index'}.html",
            sha256=hashlib.sha256(body).hexdigest(),
            bytes=len(body),
            fetched_at=utc_now().isoformat(timespec="seconds").replace("+00:00", "Z"),
            origin="mirror" if self.mirror else "download",
            url=url,
            final_url=final_url,
            status=status,
            etag=etag,
            last_modified=last_modified,
            content_type=content_type,
            licence=ds.licence,
            attribution=ds.attribution,
            sample=bool(self.mirror and self.mirror.is_sample(self.session)),
            extra={"landing_page_of": ds.id},
        )
        tmp = self._temp_for(ds)
        tmp.write_bytes(body)
        snap = store.add(ds.id, tmp, meta, dedupe_any=True)
        pages[url] = snap or next(s for s in store.snapshots(ds.id) if s.meta.sha256 == meta.sha256)
        return Page(url, body, url if self.mirror else final_url)

    # -- sources ------------------------------------------------------------------------
    def _from_folder(
        self, ds: Dataset, url: str, file_name: str, path: Path | None = None
    ) -> FetchOutcome:
        assert self.mirror is not None
        path = path or Path(self.mirror.resolve(url))
        if not path.is_file():
            raise FetchError(f"{ds.id}: not in the mirror: {path} (for {url})")
        key = path.resolve().relative_to(Path(self.mirror.location).resolve()).as_posix()
        sample, extra = self.mirror.file_origin(self.session, key)
        # A folder has no validators: the snapshot last taken from this same file stands in
        # for the HTTP conditional request, so a file loaded by hand since then stays newest.
        source = path.resolve().as_uri()
        taken = next((s for s in self.store.snapshots(ds.id) if s.meta.final_url == source), None)
        return self._admit_copy(
            ds,
            path,
            file_name=file_name,
            origin="mirror",
            url=url,
            sample=sample,
            extra=extra,
            last_taken=taken,
        )

    def _admit_copy(
        self,
        ds: Dataset,
        path: Path,
        *,
        file_name: str,
        origin: str,
        url: str | None,
        sample: bool,
        extra: dict[str, object] | None = None,
        received: Received | None = None,
        last_taken: Snapshot | None = None,
    ) -> FetchOutcome:
        """Copy a local file into the store (hashing as it goes), with a download's checks.

        `last_taken`: the snapshot last taken from the same file; identical content is
        `unchanged` even when a newer snapshot of another origin (a file loaded by hand) exists.
        """
        tmp = self._temp_for(ds)
        digest, size = _copy_hashing(path, tmp, ds)
        if last_taken is not None and last_taken.meta.sha256 == digest:
            tmp.unlink()
            return FetchOutcome(
                ds.id, "unchanged", last_taken, None, redact_url(url) or "", self._requests
            )
        return self._admit(
            ds,
            tmp,
            digest,
            size,
            file_name=file_name,
            origin=origin,
            url=url,
            final_url=received.final_url if received else path.resolve().as_uri(),
            status=received.status if received else None,
            etag=received.etag if received else None,
            last_modified=received.last_modified if received else None,
            content_type=received.content_type if received else None,
            sample=sample,
            extra=extra,
        )

    def mirror_inbox_file(
        self, key: str, hint: Dataset, folder: Path
    ) -> tuple[Path, Received | None] | FetchOutcome:
        """A file of the mirror's inbox (`Mirror.inbox_files`): its local path (a folder
        mirror's file itself; an HTTP mirror's, downloaded into `folder` under its own name),
        with how it was received, or the `unchanged` outcome when an HTTP mirror answers
        304 to the conditional request made from the snapshot of `hint` (the dataset the
        manifest names) last taken from the same URL."""
        assert self.mirror is not None
        self._requests = self._failures = 0
        if not self.mirror.is_http:
            path = Path(self.mirror.location) / key
            if not path.is_file():
                raise FetchError(f"{hint.id}: not in the mirror: {path}")
            return path, None
        url = f"{self.mirror.location}/{quote(key)}"
        shown = redact_url(url)
        latest = next((s for s in self.store.snapshots(hint.id) if s.meta.final_url == shown), None)
        allowed = {self.mirror.host or ""}
        headers = conditional_headers(latest)
        resp, final_url, tmp, _, _ = self._download_verified(hint, url, headers, allowed)
        if resp.status_code == 304 and latest is not None:
            return FetchOutcome(hint.id, "unchanged", latest, None, shown or "", self._requests)
        if tmp is None:
            raise FetchError(f"{hint.id}: HTTP {resp.status_code} from {shown}")
        path = folder / Path(key).name
        shutil.move(tmp, path)
        received = Received(
            final_url=final_url,
            status=resp.status_code,
            etag=resp.headers.get("ETag"),
            last_modified=resp.headers.get("Last-Modified"),
            content_type=resp.headers.get("Content-Type"),
        )
        return path, received

    def _from_http(
        self, ds: Dataset, url: str, file_name: str, direct: bool = False
    ) -> FetchOutcome:
        """GET `url` (through the mirror, unless `direct`: the URL is the mirror's own).

        A body cut short is retried like a failed request, within the same attempt budget.
        """
        target = self.mirror.resolve(url) if self.mirror and not direct else url
        allowed = set(ds.allowed_hosts())
        if self.mirror and self.mirror.host:
            allowed.add(self.mirror.host)
        recorded = {url, redact_url(url)}  # sidecars hold the redacted URL
        latest = next((s for s in self.store.snapshots(ds.id) if s.meta.url in recorded), None)
        headers = conditional_headers(latest)
        resp, final_url, tmp, digest, size = self._download_verified(ds, target, headers, allowed)
        if resp.status_code == 304:
            return FetchOutcome(
                ds.id, "unchanged", latest, None, redact_url(url) or "", self._requests
            )
        if tmp is None:
            why = refusal_of(resp.status_code, resp.headers)
            if why:
                raise FetchRefused(why)
            raise FetchError(f"{ds.id}: HTTP {resp.status_code} from {final_url}")
        with open(tmp, "rb") as fh:
            why = refusal_of(resp.status_code, resp.headers, fh.read(SNIFF_BYTES))
        if why:
            tmp.unlink(missing_ok=True)
            raise FetchRefused(why)
        sample, extra = False, {}
        if self.mirror is not None:
            key = unquote(target.removeprefix(self.mirror.location + "/"))
            sample, extra = self.mirror.file_origin(self.session, key)
        return self._admit(
            ds,
            tmp,
            digest,
            size,
            file_name=file_name,
            origin="mirror" if self.mirror else "download",
            url=url,
            final_url=final_url,
            status=resp.status_code,
            etag=resp.headers.get("ETag"),
            last_modified=resp.headers.get("Last-Modified"),
            content_type=resp.headers.get("Content-Type"),
            sample=sample,
            extra=extra,
        )

    def _download_verified(
        self, ds: Dataset, target: str, headers: dict[str, str], allowed: set[str]
    ) -> tuple[requests.Response, str, Path | None, str, int]:
        """GET `target`; a 200 body is streamed into a temp file and counts only when proven
        whole (a body cut short is retried like a failed request, within the same attempt
        budget). Returns (response, final URL, temp file or None when not 200, sha256, bytes).
        """
        while True:
            resp, final_url = self._get_following(ds, target, headers, allowed)
            with resp:
                if resp.status_code != 200:
                    return resp, final_url, None, "", 0
                tmp = self._temp_for(ds)
                try:
                    digest, size = _stream_verified(resp, tmp, ds, final_url)
                except IncompleteTransfer as exc:
                    tmp.unlink(missing_ok=True)
                    self._attempt_failed(ds, target, str(exc).removeprefix(f"{ds.id}: "))
                    continue
                except FetchError:
                    tmp.unlink(missing_ok=True)
                    raise
            return resp, final_url, tmp, digest, size

    def _get_following(
        self, ds: Dataset, url: str, headers: dict[str, str], allowed: set[str]
    ) -> tuple[requests.Response, str]:
        """GET with retries, following redirects only to allowed hosts."""
        for _hop in range(self.policy.max_redirects + 1):
            host = urlsplit(url).hostname or ""
            if host not in allowed:
                raise FetchError(
                    f"{ds.id}: refused to fetch {url}: host {host!r} is not in the allow-list "
                    f"{sorted(allowed)}"
                )
            resp = self._get_with_retries(ds, url, headers)
            if resp.is_redirect:
                location = resp.headers.get("Location", "")
                resp.close()
                url = urljoin(url, location)
                continue
            return resp, url
        raise FetchError(f"{ds.id}: more than {self.policy.max_redirects} redirects from {url}")

    def _get_with_retries(
        self, ds: Dataset, url: str, headers: dict[str, str]
    ) -> requests.Response:
        while True:
            self._requests += 1
            try:
                resp = self.session.get(
                    url,
                    headers=headers,
                    stream=True,
                    allow_redirects=False,
                    timeout=(self.policy.connect_timeout, self.policy.read_timeout),
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                self._attempt_failed(ds, url, f"{type(exc).__name__}: {exc}")
                continue
            if resp.status_code == 429 or resp.status_code >= 500:
                why = refusal_of(resp.status_code, resp.headers, _peek(resp))
                if why:  # a challenge page behind a 503/429 is a refusal: never retried
                    resp.close()
                    raise FetchRefused(why)
                retry_after = _retry_after_seconds(resp.headers.get("Retry-After"))
                resp.close()
                self._attempt_failed(ds, url, f"HTTP {resp.status_code}", retry_after)
                continue
            return resp

    def _attempt_failed(
        self, ds: Dataset, url: str, problem: str, retry_after: float | None = None
    ) -> None:
        """Count a failed attempt (request or body): wait before the next one, or give up
        when the policy's attempts are used up. One budget for a whole file."""
        self._failures += 1
        if self._failures >= self.policy.attempts:
            raise FetchError(
                f"{ds.id}: gave up on {url} after {self._failures} attempts: {problem}"
            )
        self.sleep(self._wait(self._failures, retry_after))

    def _wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.policy.max_wait)
        base = self.policy.backoff_base * (2 ** (attempt - 1))
        return min(base + random.uniform(0, self.policy.backoff_base), self.policy.max_wait)

    # -- admission ----------------------------------------------------------------------
    def _temp_for(self, ds: Dataset) -> Path:
        folder = self.store.dataset_dir(ds.id)
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".download-{os.getpid()}-", dir=folder)
        os.close(fd)
        return Path(name)

    def _admit(
        self,
        ds: Dataset,
        tmp: Path,
        digest: str,
        size: int,
        *,
        file_name: str,
        origin: str,
        url: str | None,
        final_url: str | None,
        status: int | None,
        etag: str | None,
        last_modified: str | None,
        content_type: str | None,
        sample: bool,
        extra: dict[str, object] | None = None,
    ) -> FetchOutcome:
        meta = SnapshotMeta(
            dataset=ds.id,
            file=file_name,
            sha256=digest,
            bytes=size,
            fetched_at=utc_now().isoformat(timespec="seconds").replace("+00:00", "Z"),
            origin=origin,
            url=redact_url(url),
            final_url=redact_url(final_url),
            status=status,
            etag=etag,
            last_modified=last_modified,
            content_type=content_type,
            licence=ds.licence,
            attribution=ds.attribution,
            sample=sample,
            extra={**(extra or {}), **self._provenance},
        )
        # A Eurostat dataset may come in any of the publisher's formats (a Data Browser
        # download, an SDMX-CSV or JSON-stat response): checked as the format its content shows.
        fmt = effective_format(ds.format, tmp)
        with open(tmp, "rb") as fh:
            problem = sniff(fmt, fh.read(SNIFF_BYTES))
        if problem is None and fmt == "jsonstat" and (error := error_document(tmp)):
            problem = f"body is a JSON error message, not data: {error}"
        encoding = ds.parser_options.get("encoding")
        problem = problem or content_problem(fmt, tmp, ds.limits, encoding)
        if problem is not None:
            kept = self.store.reject(ds.id, tmp, {**meta.__dict__, "reason": problem})
            raise FetchError(
                f"{ds.id}: rejected {'file' if origin == 'load' else 'download'} from "
                f"{meta.final_url}: {problem} (kept for inspection at {kept})"
            )
        # A collection's members are all current: identical to any member is not new.
        snap = self.store.add(ds.id, tmp, meta, dedupe_any=ds.collection)
        if snap is None:
            same = next(s for s in self.store.snapshots(ds.id) if s.meta.sha256 == digest)
            return FetchOutcome(ds.id, "unchanged", same, None, meta.url or "", self._requests)
        return FetchOutcome(ds.id, "new", snap, None, meta.url or "", self._requests)


def _copy_hashing(src: Path, dst: Path, ds: Dataset) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(1 << 20):
            size += len(chunk)
            if size > ds.max_bytes:
                dst.unlink(missing_ok=True)
                raise FetchError(f"{ds.id}: {src} is larger than max_bytes={ds.max_bytes}")
            digest.update(chunk)
            fout.write(chunk)
            download_progress(ds.id, size, None)
    download_progress(ds.id, size, size)
    return digest.hexdigest(), size


def _peek(resp: requests.Response) -> bytes:
    """The first bytes of an error answer's body (to recognise a challenge page)."""
    if "html" not in resp.headers.get("Content-Type", "").lower():
        return b""
    try:
        return resp.raw.read(SNIFF_BYTES, decode_content=True) or b""
    except (urllib3.exceptions.HTTPError, requests.RequestException, OSError):
        return b""


def _failed_outcome(ds: Dataset, exc: FetchError, url: str, requests_made: int) -> FetchOutcome:
    reason = redact_text(str(exc))
    return FetchOutcome(ds.id, "failed", None, reason, redact_url(url) or "", requests_made)


class EncodingError(ValueError):
    """A Content-Encoding that is unsupported, or a stream that is not valid in it."""


DECODE_STEP = 1 << 20  # decoded bytes per step: memory stays flat whatever the ratio


class _BodyDecoder:
    """Undoes a Content-Encoding (gzip, deflate, or none) and tells whether the encoded
    stream reached its own end: urllib3 does not check that, so a gzip body cut short
    would otherwise pass for a complete one."""

    def __init__(self, encoding: str):
        self.encoding = encoding
        if encoding in ("", "identity"):
            self._obj = None
        elif encoding in ("gzip", "x-gzip"):
            self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._obj = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            raise EncodingError(f"unsupported Content-Encoding {encoding!r}")
        self._started = False

    @property
    def complete(self) -> bool:
        return self._obj is None or self._obj.eof

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._obj is None:
            yield data
            return
        pending = data
        while pending:
            try:
                out = self._obj.decompress(pending, DECODE_STEP)
            except zlib.error as exc:
                if self.encoding == "deflate" and not self._started:
                    self._obj = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, no header
                    self._started = True
                    continue
                raise EncodingError(f"corrupt {self.encoding} stream: {exc}") from exc
            self._started = True
            yield out
            if self._obj.eof:
                pending = self._obj.unused_data
                if pending and self.encoding in ("gzip", "x-gzip"):
                    self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)  # a next member
                elif pending:
                    raise EncodingError(f"data after the end of the {self.encoding} stream")
            else:
                pending = self._obj.unconsumed_tail


def _content_length(resp: requests.Response) -> int | None:
    if "chunked" in resp.headers.get("Transfer-Encoding", "").lower():
        return None  # chunked framing wins over a Content-Length (RFC 9112 6.3)
    value = resp.headers.get("Content-Length")
    if value is None:
        return None
    if not value.strip().isdigit():
        raise FetchError(f"invalid Content-Length {value!r}")
    return int(value)


def _stream_verified(resp: requests.Response, dst: Path, ds: Dataset, url: str) -> tuple[str, int]:
    """Stream the body to `dst` (content-decoded), hashing as it goes; enforce max_bytes.

    The body counts only when the transport proves it whole: the raw bytes on the wire
    match Content-Length, chunked encoding ended with its last chunk (urllib3 raises
    otherwise), and a gzip/deflate Content-Encoding reached its trailer. A body ended by
    the connection closing, with neither, is accepted only when the file's own format
    has an end that can be checked. Otherwise IncompleteTransfer (retried by the caller).
    """
    chunked = "chunked" in resp.headers.get("Transfer-Encoding", "").lower()
    length = _content_length(resp)
    digest, size, wire = hashlib.sha256(), 0, 0
    try:
        decoder = _BodyDecoder(resp.headers.get("Content-Encoding", "").strip().lower())
        with open(dst, "wb") as fout:
            for raw in resp.raw.stream(1 << 16, decode_content=False):
                wire += len(raw)
                download_progress(ds.id, wire, length)
                for piece in decoder.feed(raw):
                    size += len(piece)
                    if size > ds.max_bytes:
                        raise FetchError(
                            f"{ds.id}: download from {url} exceeds max_bytes={ds.max_bytes}"
                        )
                    digest.update(piece)
                    fout.write(piece)
    except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
        got = f"got {wire} of {length} bytes (Content-Length)" if length else f"got {wire} bytes"
        raise IncompleteTransfer(
            f"{ds.id}: incomplete transfer from {url}: {got}, then {type(exc).__name__}: {exc}"
        ) from exc
    except EncodingError as exc:
        raise FetchError(f"{ds.id}: download from {url}: {exc}") from exc
    if length is not None and wire != length:
        raise IncompleteTransfer(
            f"{ds.id}: incomplete transfer from {url}: got {wire} of {length} bytes "
            "(Content-Length)"
        )
    if not decoder.complete:
        raise IncompleteTransfer(
            f"{ds.id}: incomplete transfer from {url}: the {decoder.encoding} stream ended "
            f"without its trailer (got {wire} bytes)"
        )
    if length is None and not chunked and decoder.encoding in ("", "identity"):
        problem = close_delimited_problem(dst, ds.format)
        if problem:
            raise IncompleteTransfer(f"{ds.id}: incomplete transfer from {url}: {problem}")
    download_progress(ds.id, wire, wire)
    return digest.hexdigest(), size


# -- formats whose own end can be checked ------------------------------------------------
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"


def format_end_problem(path: Path) -> str | None:
    """Why a file whose format marks its own end is not whole (None: whole, or a format
    without such a mark). A gzip file is decompressed in full (CRC-32 and size trailer of
    every member checked); a ZIP (XLSX) must have a readable central directory."""
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic[:2] == GZIP_MAGIC:
        return _gzip_end_problem(path)
    if magic == ZIP_MAGIC:
        try:
            with zipfile.ZipFile(path) as zf:
                zf.infolist()
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            return f"ZIP central directory missing or unreadable (truncated file?): {exc}"
    return None


def _gzip_end_problem(path: Path) -> str | None:
    decoder = _BodyDecoder("gzip")
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 16):
                for _ in decoder.feed(chunk):
                    pass
    except EncodingError as exc:
        return f"corrupt gzip file: {exc}"
    if not decoder.complete:
        return "gzip file ends without its trailer (CRC-32 and size): truncated"
    return None


def close_delimited_problem(path: Path, fmt: str) -> str | None:
    """Why a body ended only by the connection closing cannot be proven whole (or None)."""
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic[:2] == GZIP_MAGIC or magic == ZIP_MAGIC:
        return format_end_problem(path)
    if fmt == "jsonstat":
        try:
            with open(path, "rb") as fh:
                json.load(fh)
        except ValueError as exc:
            return f"the JSON document is cut short or broken: {exc}"
        return None
    return (
        f"the body ({path.stat().st_size} bytes) ended when the connection closed, with no "
        f"Content-Length and no chunked encoding, and a {fmt} file has no end mark to "
        "check: it cannot be proven complete"
    )
