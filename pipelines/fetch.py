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
snapshot taken from it is then marked as sample data in its provenance. Its ``datasets``
entries that start with ``repository/`` stand in for files kept in this repository
(curated inputs), e.g. ``repository/assets/curated/prison_policy.csv``.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import json
import os
import random
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urljoin, urlsplit

import requests

from pipelines.catalogue import Dataset
from pipelines.settings import PROJECT_ROOT
from pipelines.snapshots import Snapshot, SnapshotMeta, SnapshotStore, utc_now

USER_AGENT = "eudap/0.1 (EU Drugs Action Plan indicator pipeline)"
SNIFF_BYTES = 4096


class FetchError(RuntimeError):
    """A download that failed or whose content was refused; the message says why."""


@dataclass(frozen=True)
class FetchPolicy:
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    attempts: int = 4
    backoff_base: float = 2.0  # seconds; wait = base * 2**n + jitter
    max_wait: float = 120.0  # cap for backoff and Retry-After
    max_redirects: int = 5


@dataclass(frozen=True)
class FetchOutcome:
    dataset: str
    status: Literal["new", "unchanged", "failed"]
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


class Mirror:
    """Redirects upstream URLs to a local folder or a local HTTP server."""

    def __init__(self, location: str):
        self.location = location.rstrip("/")
        self.is_http = self.location.startswith(("http://", "https://"))
        self._manifest: dict[str, Any] | None = None

    def resolve(self, url: str) -> str:
        key = mirror_key(url)
        if self.is_http:
            return f"{self.location}/{quote(key, safe='/@=&+-._~,')}"
        return str(Path(self.location) / key)

    @property
    def host(self) -> str | None:
        return urlsplit(self.location).hostname if self.is_http else None

    def is_sample(self, session: requests.Session) -> bool:
        return self.manifest(session).get("sample", False) is True

    def repository_files(self, session: requests.Session) -> set[str]:
        """Repository files the mirror stands in for: its manifest's `repository/...` entries."""
        listed = self.manifest(session).get("datasets", {})
        paths = [p for files in listed.values() for p in files] if isinstance(listed, dict) else []
        return {p.removeprefix("repository/") for p in paths if p.startswith("repository/")}

    def manifest(self, session: requests.Session) -> dict[str, Any]:
        if self._manifest is None:
            self._manifest = self._read_manifest(session)
        return self._manifest

    def _read_manifest(self, session: requests.Session) -> dict[str, Any]:
        if not self.is_http:
            path = Path(self.location) / "MIRROR.json"
            return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        resp = session.get(f"{self.location}/MIRROR.json", timeout=10)
        return resp.json() if resp.status_code == 200 else {}


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
        fmt in ("sdmx_csv", "tabular_csv", "curated_csv")
        and not any(sep in first_line for sep in (b",", b";", b"\t"))
        and not first_line.startswith(b"#")
    ):
        return "first line has no delimiter: not a CSV header"
    return None


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
    ):
        self.store = store
        self.mirror = mirror
        self.policy = policy or FetchPolicy()
        self.session = session or requests.Session()
        # a new Session already carries requests' own User-Agent: replace that, keep a custom one
        if self.session.headers.get("User-Agent") == requests.utils.default_user_agent():
            self.session.headers["User-Agent"] = USER_AGENT
        self.sleep = sleep

    # -- public -------------------------------------------------------------------------
    def fetch(self, ds: Dataset) -> list[FetchOutcome]:
        """Download every file of a dataset (one, or each member of a collection)."""
        targets = ds.download_targets()
        if not targets:
            raise FetchError(f"{ds.id}: the catalogue gives no URL (use `eudap load`)")
        return [self.fetch_url(ds, url, file_name) for url, file_name in targets]

    def fetch_url(self, ds: Dataset, url: str, file_name: str) -> FetchOutcome:
        self._requests = 0
        try:
            if self.mirror is not None and not self.mirror.is_http:
                return self._from_folder(ds, url, file_name)
            return self._from_http(ds, url, file_name)
        except FetchError as exc:
            return FetchOutcome(ds.id, "failed", None, str(exc), url, self._requests)

    def load_file(self, ds: Dataset, path: Path, origin: str = "load") -> FetchOutcome:
        """Register a local file as a snapshot, with the checks of a download.

        Used by `eudap load` (a file downloaded by hand) and for curated files kept in the
        repository (origin "repository"). Raises FetchError when the file is refused.
        """
        self._requests = 0
        if not path.is_file():
            raise FetchError(f"{ds.id}: {path} is not a file")
        return self._admit_copy(
            ds,
            path,
            file_name=path.name if ds.collection else ds.file_name,
            origin=origin,
            url=None,
            sample=False,
            extra={"loaded_from": str(path.resolve())},
        )

    def fetch_local(self, ds: Dataset, path: Path) -> FetchOutcome:
        """A curated file kept in the repository, registered like a download.

        A mirror (folder or HTTP) may stand in for repository files under
        `repository/<path relative to the project>`: the sample mirror does, so the demo
        covers indicators whose curated file has no verified rows yet, with its rows marked
        as sample data. Without a stand-in, the repository file itself is registered.
        """
        self._requests = 0
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
            return FetchOutcome(ds.id, "failed", None, str(exc), path.as_uri(), 0)

    # -- sources ------------------------------------------------------------------------
    def _from_folder(
        self, ds: Dataset, url: str, file_name: str, path: Path | None = None
    ) -> FetchOutcome:
        assert self.mirror is not None
        path = path or Path(self.mirror.resolve(url))
        if not path.is_file():
            raise FetchError(f"{ds.id}: not in the mirror: {path} (for {url})")
        return self._admit_copy(
            ds,
            path,
            file_name=file_name,
            origin="mirror",
            url=url,
            sample=self.mirror.is_sample(self.session),
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
    ) -> FetchOutcome:
        """Copy a local file into the store (hashing as it goes), with a download's checks."""
        tmp = self._temp_for(ds)
        digest, size = _copy_hashing(path, tmp, ds)
        return self._admit(
            ds,
            tmp,
            digest,
            size,
            file_name=file_name,
            origin=origin,
            url=url,
            final_url=path.resolve().as_uri(),
            status=None,
            etag=None,
            last_modified=None,
            content_type=None,
            sample=sample,
            extra=extra,
        )

    def _from_http(
        self, ds: Dataset, url: str, file_name: str, direct: bool = False
    ) -> FetchOutcome:
        """GET `url` (through the mirror, unless `direct`: the URL is the mirror's own)."""
        target = self.mirror.resolve(url) if self.mirror and not direct else url
        allowed = set(ds.allowed_hosts())
        if self.mirror and self.mirror.host:
            allowed.add(self.mirror.host)
        latest = next((s for s in self.store.snapshots(ds.id) if s.meta.url == url), None)
        headers = {"Accept-Encoding": "gzip, deflate"}
        if latest is not None:
            if latest.meta.etag:
                headers["If-None-Match"] = latest.meta.etag
            if latest.meta.last_modified:
                headers["If-Modified-Since"] = latest.meta.last_modified
        resp, final_url = self._get_following(ds, target, headers, allowed)
        with resp:
            if resp.status_code == 304:
                return FetchOutcome(ds.id, "unchanged", latest, None, url, self._requests)
            if resp.status_code != 200:
                raise FetchError(f"{ds.id}: HTTP {resp.status_code} from {final_url}")
            tmp = self._temp_for(ds)
            digest, size = _stream_hashing(resp, tmp, ds)
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
            sample=bool(self.mirror and self.mirror.is_sample(self.session)),
        )

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
        last_problem = ""
        retry_after: float | None = None  # what the server asked for in its last answer
        for attempt in range(self.policy.attempts):
            if attempt:
                self.sleep(self._wait(attempt, retry_after))
                retry_after = None
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
                last_problem = f"{type(exc).__name__}: {exc}"
                continue
            if resp.status_code == 429 or resp.status_code >= 500:
                retry_after = _retry_after_seconds(resp.headers.get("Retry-After"))
                last_problem = f"HTTP {resp.status_code}"
                resp.close()
                continue
            return resp
        raise FetchError(
            f"{ds.id}: gave up on {url} after {self.policy.attempts} attempts: {last_problem}"
        )

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
            url=url,
            final_url=final_url,
            status=status,
            etag=etag,
            last_modified=last_modified,
            content_type=content_type,
            licence=ds.licence,
            attribution=ds.attribution,
            sample=sample,
            extra=dict(extra or {}),
        )
        with open(tmp, "rb") as fh:
            problem = sniff(ds.format, fh.read(SNIFF_BYTES))
        if problem is not None:
            kept = self.store.reject(ds.id, tmp, {**meta.__dict__, "reason": problem})
            raise FetchError(
                f"{ds.id}: rejected {'file' if origin == 'load' else 'download'} from "
                f"{final_url}: {problem} (kept for inspection at {kept})"
            )
        # A collection's members are all current: identical to any member is not new.
        snap = self.store.add(ds.id, tmp, meta, dedupe_any=ds.collection)
        if snap is None:
            same = next(s for s in self.store.snapshots(ds.id) if s.meta.sha256 == digest)
            return FetchOutcome(ds.id, "unchanged", same, None, url or "", self._requests)
        return FetchOutcome(ds.id, "new", snap, None, url or "", self._requests)


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
    return digest.hexdigest(), size


def _stream_hashing(resp: requests.Response, dst: Path, ds: Dataset) -> tuple[str, int]:
    """Stream the (transfer-decoded) body to `dst`, hashing as it goes; enforce max_bytes."""
    digest, size = hashlib.sha256(), 0
    try:
        with open(dst, "wb") as fout:
            for chunk in resp.iter_content(chunk_size=1 << 16):
                size += len(chunk)
                if size > ds.max_bytes:
                    raise FetchError(
                        f"{ds.id}: download from {resp.url} exceeds max_bytes={ds.max_bytes}"
                    )
                digest.update(chunk)
                fout.write(chunk)
    except (requests.RequestException, gzip.BadGzipFile, zlib.error) as exc:
        dst.unlink(missing_ok=True)
        raise FetchError(f"{ds.id}: download from {resp.url} broke off: {exc}") from exc
    except FetchError:
        dst.unlink(missing_ok=True)
        raise
    return digest.hexdigest(), size
