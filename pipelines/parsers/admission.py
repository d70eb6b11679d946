"""Content checks at admission: bytes that are not the declared format never become snapshots.

`sniff` (in fetch) looks at the first bytes; `content_problem` reads the whole file once,
streaming and within the dataset's read limits, before it is stored:

- gzip: the stream must end with its trailer (a truncated or corrupt stream is refused) and
  stay within `max_decompressed_bytes` and `max_expansion_ratio`;
- text formats (TSV, CSV, JSON-stat): no control bytes (a ZIP/XLSX or random bytes), text
  that decodes as the configured encoding, else as UTF-8 or CP1252 (what the parsers
  accept), and for line-based formats no line longer than `max_line_bytes`;
- XLSX: `bulletin_xlsx.inspect_workbook` (central directory, member sizes, sheet grid).
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from pipelines.parsers.base import READ_ERRORS, ParseError, ReadLimits, open_binary, read_error
from pipelines.parsers.bulletin_xlsx import inspect_workbook

CHUNK = 1 << 16
# C0 control bytes never found in the publishers' text files (tab, LF, VT, FF, CR and the
# DOS end-of-file mark 0x1A are allowed).
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x19\x1b-\x1f]")
LINE_BASED = ("eurostat_tsv", "sdmx_csv", "tabular_csv", "edr_csv", "curated_csv")


def content_problem(
    fmt: str, path: Path, limits: ReadLimits, encoding: str | None = None
) -> str | None:
    """Why the file at `path` is not a readable file of format `fmt` (None if it is)."""
    try:
        if fmt == "bulletin_xlsx":
            inspect_workbook(path, limits)
        else:
            check_text(path, limits, encoding, line_based=fmt in LINE_BASED)
    except ParseError as exc:
        where = f" (line {exc.line})" if exc.line is not None else ""
        return f"{exc.rule}: {exc.detail}{where}"
    except READ_ERRORS as exc:
        error = read_error(path, exc)
        return f"{error.rule}: {error.detail}"
    return None


class _TextCheck:
    """Decoding and line-length state across the chunks of one file."""

    def __init__(self, path: Path, limits: ReadLimits, encoding: str | None, line_based: bool):
        self.path, self.limits, self.line_based = path, limits, line_based
        self.decoders = {
            enc: codecs.getincrementaldecoder(enc)()
            for enc in ([encoding] if encoding else ["utf-8", "cp1252"])
        }
        self.offset = 0
        self.line = 1
        self.run = 0  # bytes of the current line so far

    def feed(self, chunk: bytes, final: bool = False) -> None:
        if (bad := CONTROL_BYTES.search(chunk)) is not None:
            line = self.line + chunk.count(b"\n", 0, bad.start())
            raise ParseError(
                self.path,
                "binary content",
                f"control byte 0x{chunk[bad.start()]:02x} at byte {self.offset + bad.start()}:"
                " not a text file (a ZIP/XLSX, or random bytes?)",
                line,
            )
        self._decode(chunk, final)
        if self.line_based:
            self._lines(chunk)
        self.line += chunk.count(b"\n")
        self.offset += len(chunk)

    def _decode(self, chunk: bytes, final: bool) -> None:
        for enc, decoder in list(self.decoders.items()):
            try:
                decoder.decode(chunk, final)
            except UnicodeDecodeError as exc:
                del self.decoders[enc]
                if not self.decoders:
                    raise ParseError(
                        self.path,
                        "undecodable bytes",
                        f"byte 0x{chunk[exc.start]:02x} at byte {self.offset + exc.start} "
                        f"is not valid {enc}: not text in the expected encoding",
                    ) from None

    def _lines(self, chunk: bytes) -> None:
        parts = chunk.replace(b"\r", b"\n").split(b"\n")
        runs = [self.run + len(parts[0]), *(len(p) for p in parts[1:])]
        self.run = runs[-1]
        if max(runs) > self.limits.max_line_bytes:
            raise ParseError(
                self.path,
                "limit max_line_bytes",
                f"a line longer than {self.limits.max_line_bytes} bytes",
                self.line,
            )


def check_text(path: Path, limits: ReadLimits, encoding: str | None, line_based: bool) -> None:
    """Read the whole (un-gzipped) file once; raise ParseError at the first problem."""
    check = _TextCheck(path, limits, encoding, line_based)
    with open_binary(path, limits) as fh:
        while chunk := fh.read(CHUNK):
            check.feed(chunk)
    check.feed(b"", final=True)
