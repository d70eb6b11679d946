"""The contract every upstream-format parser follows.

A parser turns one snapshot file into tidy observations: one row per non-empty cell, with
its dimension codes, period, value and raw flags, plus the physical line it came from so
an error or a number can be traced back to the file. Parsers stream: `rows` is a lazy
iterator, so memory does not grow with the size of the file.

Every parser module exposes::

    def parse(path: Path, options: Mapping[str, Any]) -> ParsedFile

`options` is the `parser_options` mapping of the dataset's catalogue entry (may be empty).
"""

from __future__ import annotations

import codecs
import gzip
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

from pydantic import BaseModel, ValidationError

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


@dataclass
class ParsedFile:
    """The header-level facts of a file and a lazy iterator over its observations."""

    dimensions: list[str]
    rows: Iterator[dict[str, Any]]
    # File-level facts worth keeping as provenance (e.g. the Bulletin breadcrumb, the encoding).
    attributes: dict[str, Any] = field(default_factory=dict)


GZIP_MAGIC = b"\x1f\x8b"


def open_binary(path: Path) -> io.BufferedIOBase:
    """Open a file for reading, transparently un-gzipping it when it starts with gzip magic."""
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    magic = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    if magic == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def detect_encoding(path: Path, sample_bytes: int = 1 << 20) -> str:
    """Return "utf-8-sig" when the file decodes as UTF-8 (BOM or not), else "cp1252".

    The check decodes the whole file incrementally, so a stray latin-1 byte deep in a large
    file is still found, while memory stays bounded by `sample_bytes`.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open_binary(path) as fh:
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


def open_text(path: Path, encoding: str | None = None) -> TextIO:
    """Open a (possibly gzipped) text file with universal newlines (LF, CRLF, CR).

    `encoding=None` detects it (see `detect_encoding`). A UTF-8 byte-order mark is dropped.
    """
    enc = encoding or detect_encoding(path)
    if enc.replace("_", "-").lower() in ("utf-8", "utf8"):
        enc = "utf-8-sig"
    return io.TextIOWrapper(open_binary(path), encoding=enc, newline=None)


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
