"""The contract every upstream-format parser follows.

A parser turns one snapshot file into tidy observations: one row per non-empty cell, with
its dimension codes, period, value and raw flags, plus the physical line it came from so
an error or a number can be traced back to the file. Parsers stream: `rows` is a lazy
iterator, so memory does not grow with the size of the file.

Every parser module exposes::

    @guarded
    def parse(path: Path, options: Mapping[str, Any], limits: ReadLimits | None = None)
        -> ParsedFile

`options` is the `parser_options` mapping of the dataset's catalogue entry (may be empty);
`limits` the dataset's read limits (defaults when None). `guarded` makes every failure while
reading the file (a truncated gzip, bytes that are not text, a csv error, a limit) a
ParseError naming the file, also while `rows` is iterated.
"""

from __future__ import annotations

import codecs
import csv
import functools
import gzip
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from pipelines.catalogue import ReadLimits

M = TypeVar("M", bound=BaseModel)

# Keys every row dict carries besides its dimension columns.
PERIOD = "period"  # str: "2022", "2022-Q1", survey year ...
VALUE = "value"  # float | None (None = missing / not numeric)
VALUE_TEXT = "value_text"  # str | None: a non-numeric cell kept as text (e.g. "Y"), else None
FLAGS = "flags"  # str | None: the raw flag string as published ("bep", "c", "<LOQ")
NOTE = "note"  # str | None: footnotes or remarks attached to the observation
LINE = "line"  # int: 1-based line (or sheet row) in the file the value came from

ROW_KEYS: tuple[str, ...] = (PERIOD, VALUE, VALUE_TEXT, FLAGS, NOTE, LINE)


class ParseError(ValueError):
    """A file that does not have the format its catalogue entry promises.

    The message always names the file, the line (when there is one) and the rule that failed.
    """

    def __init__(self, file: Path | str, rule: str, detail: str, line: int | None = None):
        self.file = str(file)
        self.rule = rule
        self.detail = detail
        self.line = line
        where = f"{self.file}, line {line}" if line is not None else self.file
        super().__init__(f"{where}: {rule}: {detail}")


class LimitExceeded(ParseError):
    """A file that would cost more to read than its dataset's `limits` allow."""

    def __init__(self, file: Path | str, limit: str, detail: str, line: int | None = None):
        self.limit = limit
        super().__init__(file, f"limit {limit}", detail, line)


# Failures of reading bytes that are not what the catalogue promises: a truncated or corrupt
# gzip/zip, bytes that do not decode, a csv syntax error, a document nested too deeply.
# Anything else escaping a parser is a bug of ours and is left to surface.
READ_ERRORS: tuple[type[BaseException], ...] = (
    EOFError,
    UnicodeError,
    zlib.error,
    gzip.BadGzipFile,
    zipfile.BadZipFile,
    csv.Error,
    RecursionError,
    MemoryError,
)


def read_error(file: Path | str, exc: BaseException, after_line: int | None = None) -> ParseError:
    """A READ_ERRORS exception as a ParseError naming the file (and the last line read)."""
    rule = {
        EOFError: "truncated file",
        zlib.error: "corrupt compressed data",
        gzip.BadGzipFile: "corrupt gzip",
        zipfile.BadZipFile: "corrupt zip",
        csv.Error: "csv syntax",
        RecursionError: "nesting too deep",
        MemoryError: "out of memory",
    }.get(type(exc), "undecodable bytes" if isinstance(exc, UnicodeError) else "unreadable")
    where = f" (after line {after_line})" if after_line is not None else ""
    detail = f"{type(exc).__name__}: {str(exc)[:200]}{where}"
    return ParseError(file, rule, detail)


@dataclass
class ParsedFile:
    """The header-level facts of a file and a lazy iterator over its observations."""

    dimensions: list[str]
    rows: Iterator[dict[str, Any]]
    # File-level facts worth keeping as provenance (e.g. the Bulletin breadcrumb, the encoding).
    attributes: dict[str, Any] = field(default_factory=dict)


GZIP_MAGIC = b"\x1f\x8b"
DEFAULT_LIMITS = ReadLimits()


class _BoundedRaw(io.RawIOBase):
    """The (un-gzipped) bytes of a file, refused past `max_decompressed_bytes` or past
    `max_expansion_ratio` while they are read, before they are held anywhere."""

    def __init__(self, path: Path, limits: ReadLimits):
        self.path, self.limits = path, limits
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._gzip = self._file.peek(2)[:2] == GZIP_MAGIC
        self._src: Any = gzip.GzipFile(fileobj=self._file, mode="rb") if self._gzip else self._file
        self.produced = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._src.read(min(len(buffer), 1 << 16))  # check the limits in small steps
        self.produced += len(data)
        self._check()
        buffer[: len(data)] = data
        return len(data)

    def _check(self) -> None:
        limits = self.limits
        if self.produced > limits.max_decompressed_bytes:
            raise LimitExceeded(
                self.path,
                "max_decompressed_bytes",
                f"more than {limits.max_decompressed_bytes} bytes once decompressed",
            )
        if self._gzip and self.produced > limits.ratio_check_after_bytes:
            ratio = self.produced / max(1, self._file.tell())
            if ratio > limits.max_expansion_ratio:
                raise LimitExceeded(
                    self.path,
                    "max_expansion_ratio",
                    f"gzip expands {ratio:.0f}-fold (limit {limits.max_expansion_ratio:g}) "
                    f"after {self.produced} bytes",
                )

    def close(self) -> None:
        if not self.closed:
            if self._gzip:
                self._src.close()
            self._file.close()
        super().close()


def open_binary(path: Path, limits: ReadLimits | None = None) -> io.BufferedReader:
    """Open a file for reading, transparently un-gzipping it when it starts with gzip magic;
    reading past the size or expansion limits raises LimitExceeded."""
    return io.BufferedReader(_BoundedRaw(Path(path), limits or DEFAULT_LIMITS), 1 << 16)


class BoundedText:
    """A text stream whose lines are refused past `max_line_bytes` characters before they
    are held whole (a 10 GB line of zeros never reaches memory). Iterates like a file."""

    def __init__(self, fh: io.TextIOWrapper, path: Path, max_line: int):
        self._fh, self.path, self.max_line = fh, path, max_line
        self.lines_read = 0

    def readline(self) -> str:
        line = self._fh.readline(self.max_line + 1)
        if len(line) > self.max_line and not line.endswith("\n"):
            raise LimitExceeded(
                self.path,
                "max_line_bytes",
                f"a line longer than {self.max_line} characters",
                self.lines_read + 1,
            )
        if line:
            self.lines_read += 1
        return line

    def read(self, size: int = -1) -> str:
        return self._fh.read(size)

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> BoundedText:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def guarded(
    parse: Callable[[Path, Mapping[str, Any], ReadLimits | None], ParsedFile],
) -> Callable[..., ParsedFile]:
    """Make a parser's READ_ERRORS ParseErrors naming the file, in `parse` and in `rows`."""

    @functools.wraps(parse)
    def wrapper(
        path: Path, options: Mapping[str, Any], limits: ReadLimits | None = None
    ) -> ParsedFile:
        try:
            parsed = parse(Path(path), options, limits)
        except READ_ERRORS as exc:
            raise read_error(path, exc) from exc
        parsed.rows = _guarded_rows(Path(path), parsed.rows)
        return parsed

    return wrapper


def _guarded_rows(path: Path, rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    last_line: int | None = None
    try:
        for row in rows:
            last_line = row.get(LINE, last_line)
            yield row
    except READ_ERRORS as exc:
        raise read_error(path, exc, last_line) from exc


def detect_encoding(
    path: Path, sample_bytes: int = 1 << 20, limits: ReadLimits | None = None
) -> str:
    """Return "utf-8-sig" when the file decodes as UTF-8 (BOM or not), else "cp1252".

    The check decodes the whole file incrementally, so a stray latin-1 byte deep in a large
    file is still found, while memory stays bounded by `sample_bytes`.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open_binary(path, limits) as fh:
        while chunk := fh.read(sample_bytes):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return "cp1252"
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8-sig"


def open_text(
    path: Path, encoding: str | None = None, limits: ReadLimits | None = None
) -> BoundedText:
    """Open a (possibly gzipped) text file with universal newlines (LF, CRLF, CR), within
    `limits` (decompressed size, expansion, line length).

    `encoding=None` detects it (see `detect_encoding`). A UTF-8 byte-order mark is dropped.
    """
    limits = limits or DEFAULT_LIMITS
    enc = encoding or detect_encoding(path, limits=limits)
    if enc.replace("_", "-").lower() in ("utf-8", "utf8"):
        enc = "utf-8-sig"
    text = io.TextIOWrapper(open_binary(path, limits), encoding=enc, newline=None)
    return BoundedText(text, Path(path), limits.max_line_bytes)


def validate_options(model: type[M], options: Mapping[str, Any], file: Path | str) -> M:
    """A parser's `parser_options` checked against its pydantic model; a mistake is a
    ParseError "invalid options" naming each wrong field."""
    try:
        return model.model_validate(dict(options))
    except ValidationError as exc:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'options'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ParseError(file, "invalid options", detail) from None


# A published number: optional sign, digits with an optional decimal part, optional exponent
# ("15.53", "3e+05", "32.799999999999997"). Stricter than float(), which also takes "nan",
# "inf" and "1_000".
NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def parse_number(text: str) -> float | None:
    """The float a strictly numeric text holds, else None."""
    return float(text) if NUMBER_RE.fullmatch(text) else None
